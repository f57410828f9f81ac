// quantize_ref: hand-computed values for ties, saturation and each parameter layout, and a random
// sweep against an independent formulation (std::nearbyint in the default FPU mode, which rounds
// half to even, instead of round.h).
#include "kernels/ref/quantize_ref.h"

#include <gtest/gtest.h>

#include <cfenv>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

namespace octet::kernels {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

QuantLayout per_tensor(int64_t n) {
  QuantLayout l;
  l.axis_len = n;
  return l;
}

TEST(QuantizeRef, TiesRoundHalfToEven) {
  const std::vector<float> x = {0.5f,  1.5f,  2.5f,       3.5f,      -0.5f,
                                -1.5f, -2.5f, 2.4999998f, 2.5000002f};
  const float scale = 1.f;
  std::vector<int8_t> y(x.size());
  quantize_linear_ref(x.data(), &scale, nullptr, per_tensor(9), -128, 127, y.data());
  EXPECT_EQ(y, (std::vector<int8_t>{0, 2, 2, 4, 0, -2, -2, 2, 3}));
}

TEST(QuantizeRef, TiesAfterDivisionAndZeroPoint) {
  // x / 2 = 0.5, 1.5, 2.5, -0.5, -1.5 -> 0, 2, 2, 0, -2, then + 10.
  const std::vector<float> x = {1, 3, 5, -1, -3};
  const float scale = 2.f;
  const int32_t zp = 10;
  std::vector<uint8_t> y(x.size());
  quantize_linear_ref(x.data(), &scale, &zp, per_tensor(5), 0, 255, y.data());
  EXPECT_EQ(y, (std::vector<uint8_t>{10, 12, 12, 10, 8}));
}

TEST(QuantizeRef, SaturatesAtBothEnds) {
  const std::vector<float> x = {0, 2, 3, 1000, -254, -1000};  // ONNX's QuantizeLinear example
  const float scale = 2.f;
  const int32_t zp = 128;
  std::vector<uint8_t> y(x.size());
  quantize_linear_ref(x.data(), &scale, &zp, per_tensor(6), 0, 255, y.data());
  EXPECT_EQ(y, (std::vector<uint8_t>{128, 129, 130, 255, 1, 0}));

  std::vector<int16_t> y16(2);
  const std::vector<float> big = {1e6f, -1e6f};
  const float one = 1.f;
  quantize_linear_ref(big.data(), &one, nullptr, per_tensor(2), -32768, 32767, y16.data());
  EXPECT_EQ(y16, (std::vector<int16_t>{32767, -32768}));
}

TEST(QuantizeRef, Int4AndUInt4Ranges) {
  const std::vector<float> x = {-9, -8.5f, -8, 6.5f, 7, 7.5f, 100};
  const float scale = 1.f;
  std::vector<int8_t> s4(x.size());
  quantize_linear_ref(x.data(), &scale, nullptr, per_tensor(7), -8, 7, s4.data());
  EXPECT_EQ(s4, (std::vector<int8_t>{-8, -8, -8, 6, 7, 7, 7}));
  const int32_t zp = 8;
  std::vector<uint8_t> u4(x.size());
  quantize_linear_ref(x.data(), &scale, &zp, per_tensor(7), 0, 15, u4.data());
  EXPECT_EQ(u4, (std::vector<uint8_t>{0, 0, 0, 14, 15, 15, 15}));
}

TEST(QuantizeRef, NaNAndDegenerateScalesDoNotCrash) {
  const std::vector<float> x = {kNaN, 1.f, -1.f, 0.f, kInf, -kInf};
  const float zero = 0.f;
  const int32_t zp = 100;
  std::vector<uint8_t> y(x.size());
  quantize_linear_ref(x.data(), &zero, &zp, per_tensor(6), 0, 255, y.data());
  // x/0 = +-inf saturates; NaN and 0/0 = NaN get round.h's NaN rule, whatever it is.
  const uint8_t nan_q = static_cast<uint8_t>(quantize_value(kNaN, 1.f, zp, 0, 255));
  EXPECT_EQ(y, (std::vector<uint8_t>{nan_q, 255, 0, nan_q, 255, 0}));
  const float nan_scale = kNaN;
  quantize_linear_ref(x.data(), &nan_scale, &zp, per_tensor(6), 0, 255, y.data());
  EXPECT_EQ(y, (std::vector<uint8_t>(6, nan_q)));
  const float neg = -2.f;
  const std::vector<float> x2 = {4.f, -4.f};
  std::vector<int8_t> y2(2);
  quantize_linear_ref(x2.data(), &neg, nullptr, per_tensor(2), -128, 127, y2.data());
  EXPECT_EQ(y2, (std::vector<int8_t>{-2, 2}));
}

TEST(QuantizeRef, PerAxisLayout) {
  // x [2, 3], axis 1: scales 1, 2, 4 and zero points 0, 1, -1 per column.
  const std::vector<float> x = {8, 8, 8, -8, -8, -8};
  const std::vector<float> s = {1, 2, 4};
  const std::vector<int32_t> zp = {0, 1, -1};
  QuantLayout l;
  l.outer = 2;
  l.axis_len = 3;
  l.inner = 1;
  l.param_axis_stride = 1;
  std::vector<int8_t> y(6);
  quantize_linear_ref(x.data(), s.data(), zp.data(), l, -128, 127, y.data());
  EXPECT_EQ(y, (std::vector<int8_t>{8, 5, 1, -8, -3, -3}));
}

TEST(QuantizeRef, BlockedLayoutWithRemainderBlock) {
  // x [2, 5] blocked along axis 1 with block 2: scale [2, 3], the last block holds one column.
  const std::vector<float> x = {1, 2, 3, 4, 5, 10, 20, 30, 40, 50};
  const std::vector<float> s = {1, 2, 5, 10, 20, 50};
  QuantLayout l;
  l.outer = 2;
  l.axis_len = 5;
  l.inner = 1;
  l.block = 2;
  l.param_outer_stride = 3;
  l.param_axis_stride = 1;
  l.param_inner_stride = 1;
  std::vector<int16_t> y(10);
  quantize_linear_ref(x.data(), s.data(), nullptr, l, -32768, 32767, y.data());
  // row 0: 1/1, 2/1, 3/2=1.5->2, 4/2, 5/5; row 1: 10/10, 20/10, 30/20=1.5->2, 40/20, 50/50
  EXPECT_EQ(y, (std::vector<int16_t>{1, 2, 2, 2, 1, 1, 2, 2, 2, 1}));
}

TEST(QuantizeRef, BlockedLayoutOnInnerAxis) {
  // x [4, 2] blocked along axis 0 with block 2: scale [2, 2]; element (a, i) uses s[a/2][i].
  const std::vector<float> x = {8, 8, 8, 8, 8, 8, 8, 8};
  const std::vector<float> s = {1, 2, 4, 8};
  QuantLayout l;
  l.outer = 1;
  l.axis_len = 4;
  l.inner = 2;
  l.block = 2;
  l.param_outer_stride = 4;
  l.param_axis_stride = 2;
  l.param_inner_stride = 1;
  std::vector<uint8_t> y(8);
  quantize_linear_ref(x.data(), s.data(), nullptr, l, 0, 255, y.data());
  EXPECT_EQ(y, (std::vector<uint8_t>{8, 4, 8, 4, 2, 1, 2, 1}));
}

TEST(QuantizeRef, RandomAgreesWithNearbyint) {
  ASSERT_EQ(std::fegetround(), FE_TONEAREST);
  const uint32_t seed = 20240611;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> xd(-300.f, 300.f), sd(0.01f, 3.f);
  std::uniform_int_distribution<int32_t> zd(-128, 127);
  for (int iter = 0; iter < 2000; ++iter) {
    // Every fourth value is an exact tie k + 0.5 at scale 1.
    float x = xd(rng), s = sd(rng);
    if (iter % 4 == 0) {
      x = std::floor(x) + 0.5f;
      s = 1.f;
    }
    const int32_t zp = zd(rng);
    int8_t got = 0;
    quantize_linear_ref(&x, &s, &zp, per_tensor(1), -128, 127, &got);
    const float want_f = std::nearbyint(x / s) + static_cast<float>(zp);
    const int want = static_cast<int>(std::fmin(127.f, std::fmax(-128.f, want_f)));
    ASSERT_EQ(got, want) << "x " << x << " scale " << s << " zp " << zp;
  }
}

TEST(DequantizeRef, PerTensorPerAxisAndWideTypes) {
  const std::vector<uint8_t> x = {0, 3, 128, 255};  // ONNX's DequantizeLinear example
  const float s = 2.f;
  const int32_t zp = 128;
  std::vector<float> y(4);
  dequantize_linear_ref(x.data(), &s, &zp, per_tensor(4), y.data());
  EXPECT_EQ(y, (std::vector<float>{-256, -250, 0, 254}));

  const std::vector<int8_t> x2 = {-8, 7, 7, -8};  // int4 values, per-axis over 2 columns
  const std::vector<float> s2 = {0.5f, 0.25f};
  const std::vector<int32_t> zp2 = {-8, 7};
  QuantLayout l;
  l.outer = 2;
  l.axis_len = 2;
  l.param_axis_stride = 1;
  dequantize_linear_ref(x2.data(), s2.data(), zp2.data(), l, y.data());
  EXPECT_EQ(y, (std::vector<float>{0, 0, 7.5f, -3.75f}));

  const std::vector<int32_t> x3 = {std::numeric_limits<int32_t>::min(), 1 << 24};
  const int32_t zp3 = 1;
  const float one = 1.f;
  std::vector<float> y3(2);
  dequantize_linear_ref(x3.data(), &one, &zp3, per_tensor(2), y3.data());
  EXPECT_EQ(y3[0], -2147483649.0f);  // x - zp does not wrap in int32
  EXPECT_EQ(y3[1], 16777215.0f);
}

TEST(DynamicQuantizeRef, ParametersOfOnnxExamples) {
  float scale;
  uint8_t zp;
  const std::vector<float> a = {0, 2, -3, -2.5f, 1.34f, 0.5f};
  dynamic_quantize_params_u8_ref(a.data(), 6, &scale, &zp);
  EXPECT_EQ(scale, 5.f / 255.f);                                       // range [-3, 2]
  EXPECT_EQ(zp, 153);                                                  // 3 / (5/255) = 153
  const std::vector<float> b = {-1, -2.1f, -1.3f, -2.5f, -3.34f, -4};  // max widened to 0
  dynamic_quantize_params_u8_ref(b.data(), 6, &scale, &zp);
  EXPECT_EQ(scale, 4.f / 255.f);
  EXPECT_EQ(zp, 255);
  const std::vector<float> c = {1, 2.1f, 1.3f, 2.5f, 3.34f, 4};  // min widened to 0
  dynamic_quantize_params_u8_ref(c.data(), 6, &scale, &zp);
  EXPECT_EQ(scale, 4.f / 255.f);
  EXPECT_EQ(zp, 0);
}

TEST(DynamicQuantizeRef, AllZeroEmptyAndNaNNeverDivideByZero) {
  float scale = 0;
  uint8_t zp = 7;
  const std::vector<float> z = {0, 0, -0.f};
  dynamic_quantize_params_u8_ref(z.data(), 3, &scale, &zp);
  EXPECT_EQ(scale, 1.f / 255.f);
  EXPECT_EQ(zp, 0);
  dynamic_quantize_params_u8_ref(nullptr, 0, &scale, &zp);
  EXPECT_EQ(scale, 1.f / 255.f);
  EXPECT_EQ(zp, 0);
  const std::vector<float> n = {kNaN, -1.f, 3.f};  // NaN is skipped: range [-1, 3]
  dynamic_quantize_params_u8_ref(n.data(), 3, &scale, &zp);
  EXPECT_EQ(scale, 4.f / 255.f);
  EXPECT_EQ(zp, 64);                                // 1 / (4/255) = 63.75
  const std::vector<float> huge = {-3e38f, 3e38f};  // max - min overflows to inf
  dynamic_quantize_params_u8_ref(huge.data(), 2, &scale, &zp);
  EXPECT_TRUE(std::isinf(scale));
  EXPECT_EQ(zp, 0);
}

TEST(RequantizeRef, TiesSaturationAndNaN) {
  EXPECT_EQ(requantize_value(5, 0.5f, 0, 0, 255), 2);    // 2.5 -> 2
  EXPECT_EQ(requantize_value(7, 0.5f, 0, 0, 255), 4);    // 3.5 -> 4
  EXPECT_EQ(requantize_value(-5, 0.5f, 10, 0, 255), 8);  // -2.5 -> -2, + 10
  EXPECT_EQ(requantize_value(-7, 0.5f, 0, -128, 127), -4);
  EXPECT_EQ(requantize_value(1000, 1.f, 0, -128, 127), 127);
  EXPECT_EQ(requantize_value(-1000, 1.f, 0, -128, 127), -128);
  EXPECT_EQ(requantize_value(-1, 1.f, 0, 0, 255), 0);
  // NaN products follow round.h's NaN rule, the same as quantize_value.
  const int32_t nan_q = quantize_value(kNaN, 1.f, 9, 0, 255);
  EXPECT_EQ(requantize_value(3, kNaN, 9, 0, 255), nan_q);
  EXPECT_EQ(requantize_value(3, kInf, 9, 0, 255), 255);
  EXPECT_EQ(requantize_value(0, kInf, 9, 0, 255), nan_q);  // 0 * inf = NaN
  // The product is taken in double: 16777217 * 1.0f is exact there (it is not in float).
  EXPECT_EQ(requantize_value(16777217, 1.f, -16777217, -128, 127), 0);
}

TEST(RequantizeRef, RowAndColumnScales) {
  // acc [2, 3]; multiplier (row_scale[r] * col_scale[c]) / 2.
  const std::vector<int32_t> acc = {10, 10, 10, -10, -10, -10};
  const std::vector<float> rs = {1, 3};
  const std::vector<float> cs = {1, 2, 0.5f};
  RequantParams p;
  p.rows = 2;
  p.cols = 3;
  p.row_scale = rs.data();
  p.row_scale_stride = 1;
  p.col_scale = cs.data();
  p.col_scale_stride = 1;
  p.out_scale = 2.f;
  p.zero_point = 1;
  p.qmin = -128;
  p.qmax = 127;
  std::vector<int8_t> y(6);
  requantize_s32_ref(acc.data(), p, y.data());
  // row 0: 5, 10, 2.5->2 (+1); row 1: -15, -30, -7.5->-8 (+1)
  EXPECT_EQ(y, (std::vector<int8_t>{6, 11, 3, -14, -29, -7}));
}

}  // namespace
}  // namespace octet::kernels
