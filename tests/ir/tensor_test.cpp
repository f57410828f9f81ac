#include "ir/tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace octet {
namespace {

TEST(Tensor, ZeroInitialisedAndShaped) {
  Tensor t(DType::Float32, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data<float>()[i], 0.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
}

TEST(Tensor, WrongTypedAccessIsAnInternalError) {
  Tensor t(DType::Float32, {2});
  EXPECT_THROW(t.data<int32_t>(), InternalError);
}

TEST(Tensor, NegativeOrOverflowingShapeIsAnError) {
  EXPECT_THROW(Tensor(DType::Float32, {2, -1}), Error);
  EXPECT_THROW(Tensor(DType::Float32, {1LL << 40, 1LL << 40}), Error);
}

TEST(Tensor, CastFloatToIntTruncatesAndSaturates) {
  Tensor t = Tensor::from_vector<float>({5}, {1.7f, -1.7f, 300.f, -300.f, NAN});
  Tensor u = t.cast(DType::Int8);
  const int8_t* d = u.data<int8_t>();
  EXPECT_EQ(d[0], 1);
  EXPECT_EQ(d[1], -1);
  EXPECT_EQ(d[2], 127);
  EXPECT_EQ(d[3], -128);
  EXPECT_EQ(d[4], 0);
}

TEST(Tensor, HalfRoundTripsAndRoundsToNearestEven) {
  for (float f : {0.0f, 1.0f, -2.5f, 65504.0f, 6.1035156e-05f, 5.9604645e-08f})
    EXPECT_EQ(half_bits_to_float(float_to_half_bits(f)), f) << f;
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: ties to even (1.0).
  EXPECT_EQ(half_bits_to_float(float_to_half_bits(1.0f + std::ldexp(1.0f, -11))), 1.0f);
  EXPECT_TRUE(std::isinf(half_bits_to_float(float_to_half_bits(70000.f))));
  EXPECT_TRUE(std::isnan(half_bits_to_float(float_to_half_bits(NAN))));
}

TEST(Tensor, ReshapeSharesBuffer) {
  Tensor t = Tensor::from_vector<int32_t>({2, 2}, {1, 2, 3, 4});
  Tensor r = t.reshaped({4});
  r.data<int32_t>()[0] = 9;
  EXPECT_EQ(t.data<int32_t>()[0], 9);
  EXPECT_THROW(t.reshaped({3}), Error);
  Tensor c = t.clone();
  c.data<int32_t>()[0] = 1;
  EXPECT_EQ(t.data<int32_t>()[0], 9);
}

}  // namespace
}  // namespace octet
