#include "quant/log_quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

namespace octet::quant {
namespace {

Tensor gaussian(const Shape& shape, uint32_t seed, float stddev) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, stddev);
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

std::vector<float> values_of(const Tensor& t) {
  return std::vector<float>(t.data<float>(), t.data<float>() + t.numel());
}

// True if v is 0 or +-2^e for an integer e in [lo, hi] (checked with frexp, not with the code
// under test).
bool is_signed_power_of_two_in(float v, int lo, int hi) {
  if (v == 0.f) return true;
  int ex = 0;
  const float f = std::frexp(std::fabs(v), &ex);  // |v| = f * 2^ex
  return f == 0.5f && ex - 1 >= lo && ex - 1 <= hi;
}

TEST(Pow2, HandValuesThreeBits) {
  // 3 bits: W = 3 exponents. max|w| = 1 -> candidates emax = 0 ({0, .25, .5, 1}) and -1
  // ({0, .125, .25, .5}); -1 would round 1.0 to 0.5 (error .25 alone) while emax = 0 costs
  // .05^2 + .25^2 + .1^2 + .0624^2 = 0.0789, so emax = 0.
  //  1 -> 1;  -0.3 -> -0.25;  0.75 -> 0.5 (a tie between .5 and 1: the smaller magnitude);
  //  0.1 -> 0 (below the midpoint .125 of 0 and .25);  0 -> 0;  -0.0624 -> 0.
  const Tensor w = Tensor::from_vector<float>({6}, {1.f, -0.3f, 0.75f, 0.1f, 0.f, -0.0624f});
  const Pow2Params p = choose_pow2_params(w, 3, -1);
  ASSERT_EQ(p.max_exponent, (std::vector<int32_t>{0}));
  const Codebook cb = pow2_codebook(w, 3, -1);
  EXPECT_EQ(cb.centroids, (std::vector<float>{-1.f, -0.5f, -0.25f, 0.f, 0.25f, 0.5f, 1.f, 1.f}));
  EXPECT_EQ(cb.indices, (std::vector<uint8_t>{6, 2, 5, 3, 3, 3}));
  EXPECT_EQ(values_of(decode(cb, w.shape())),
            (std::vector<float>{1.f, -0.25f, 0.5f, 0.f, 0.f, 0.f}));
}

TEST(Pow2, LowerWindowWinsWhenItCostsLess) {
  // max|w| = 1.1: ceil(log2) = 1 gives {0, .5, 1, 2}: 1.1 -> 1, +-0.3 -> +-0.5 (error .04 each);
  // emax = 0 gives {0, .25, .5, 1}: 1.1 -> 1, +-0.3 -> +-0.25 (error .0025 each): 0 wins.
  const Tensor w = Tensor::from_vector<float>({4}, {1.1f, 0.3f, 0.3f, -0.3f});
  EXPECT_EQ(choose_pow2_params(w, 3, -1).max_exponent, (std::vector<int32_t>{0}));
  EXPECT_EQ(values_of(decode(pow2_codebook(w, 3, -1), w.shape())),
            (std::vector<float>{1.f, 0.25f, 0.25f, -0.25f}));
}

TEST(Pow2, PerChannelByHand) {
  // [2, 4] on axis 0, 3 bits. Row 0 max 8: emax 3 -> {0, 2, 4, 8}, where 1 ties between 0 and 2
  // and goes to 0 (squared error 1; emax 2 would clip 8 to 4, error 16). Row 1 max 0.5: emax -1
  // -> {0, .125, .25, .5} holds every value exactly.
  const Tensor w = Tensor::from_vector<float>({2, 4}, {8.f, 4.f, 2.f, 1.f, 0.5f, -0.5f, 0.125f, 0.f});
  EXPECT_EQ(choose_pow2_params(w, 3, 0).max_exponent, (std::vector<int32_t>{3, -1}));
  EXPECT_EQ(values_of(decode(pow2_codebook(w, 3, 0), w.shape())),
            (std::vector<float>{8.f, 4.f, 2.f, 0.f, 0.5f, -0.5f, 0.125f, 0.f}));
}

TEST(Pow2, SaturatesAboveTheWindowWithGivenParams) {
  Pow2Params p;
  p.bits = 2;  // W = 1: {0, +-2^emax}
  p.max_exponent = {0};
  const Tensor w = Tensor::from_vector<float>({5}, {3.f, -3.f, 0.5f, 0.51f, -0.49f});
  // 0.5 is midway between 0 and 1: the smaller magnitude.
  EXPECT_EQ(values_of(decode(pow2_codebook(w, p), w.shape())),
            (std::vector<float>{1.f, -1.f, 0.f, 1.f, 0.f}));
}

TEST(Pow2, EveryValueIsZeroOrAPowerOfTwoInTheWindow) {
  const uint32_t seed = 31;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const Tensor w = gaussian({8, 3, 3, 3}, seed, 0.2f);
  for (int64_t axis : {int64_t{-1}, int64_t{0}, int64_t{1}})
    for (int bits = 2; bits <= 8; ++bits) {
      const Pow2Params p = choose_pow2_params(w, bits, axis);
      const int window = (1 << (bits - 1)) - 1;
      const ChannelLayout layout = channel_layout(w.shape(), axis, "w");
      ASSERT_EQ(static_cast<int64_t>(p.max_exponent.size()), layout.channels);
      // emax is ceil(log2 max|w|) or one below it, per group.
      std::vector<float> max_abs(static_cast<size_t>(layout.channels), 0.f);
      for (int64_t i = 0; i < w.numel(); ++i) {
        float& m = max_abs[static_cast<size_t>(layout.group_of(i))];
        m = std::max(m, std::fabs(w.data<float>()[i]));
      }
      for (size_t g = 0; g < max_abs.size(); ++g) {
        const int c = static_cast<int>(std::ceil(std::log2(static_cast<double>(max_abs[g]))));
        EXPECT_TRUE(p.max_exponent[g] == c || p.max_exponent[g] == c - 1)
            << "group " << g << " emax " << p.max_exponent[g] << " ceil(log2 max) " << c;
      }
      const Tensor y = decode(pow2_codebook(w, bits, axis), w.shape());
      for (int64_t i = 0; i < w.numel(); ++i) {
        const int emax = p.max_exponent[static_cast<size_t>(layout.group_of(i))];
        const float v = y.data<float>()[i];
        ASSERT_TRUE(is_signed_power_of_two_in(v, emax - window + 1, emax))
            << "bits " << bits << " axis " << axis << " element " << i << " decoded " << v;
        // Sign preserved (or zero), and symmetric: -w encodes to -y.
        ASSERT_TRUE(v == 0.f || (v > 0) == (w.data<float>()[i] > 0));
      }
      Tensor neg(DType::Float32, w.shape());
      for (int64_t i = 0; i < w.numel(); ++i) neg.data<float>()[i] = -w.data<float>()[i];
      const Tensor yneg = decode(pow2_codebook(neg, bits, axis), w.shape());
      for (int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(yneg.data<float>()[i], -y.data<float>()[i]);
    }
}

TEST(Pow2, NearestInTheLinearDomain) {
  // Against a brute-force search over the group's value set (4 bits, per tensor, emax chosen).
  const uint32_t seed = 8;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const Tensor w = gaussian({500}, seed, 1.f);
  const Pow2Params p = choose_pow2_params(w, 4, -1);
  const int emax = p.max_exponent[0];
  std::vector<float> set = {0.f};
  for (int e = emax - 6; e <= emax; ++e) {
    set.push_back(std::ldexp(1.f, e));
    set.push_back(-std::ldexp(1.f, e));
  }
  const Tensor y = decode(pow2_codebook(w, p), w.shape());
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float x = w.data<float>()[i];
    double best = INFINITY;
    for (float s : set) best = std::min(best, std::fabs(static_cast<double>(x) - s));
    ASSERT_EQ(std::fabs(static_cast<double>(x) - y.data<float>()[i]), best) << "element " << i;
  }
}

TEST(Pow2, ZeroAndTinyTensors) {
  const Tensor zeros(DType::Float32, {3, 4});
  const Codebook cb = pow2_codebook(zeros, 4, 0);
  for (float v : values_of(decode(cb, zeros.shape()))) EXPECT_EQ(v, 0.f);
  EXPECT_EQ(choose_pow2_params(zeros, 4, 0).max_exponent, (std::vector<int32_t>{0, 0, 0}));
  // The smallest subnormal, 2^-149: exact, with the window's lower exponents underflowing to 0.
  const float tiny = std::numeric_limits<float>::denorm_min();
  const Tensor t = Tensor::from_vector<float>({2}, {tiny, -tiny});
  EXPECT_EQ(values_of(decode(pow2_codebook(t, 4, -1), t.shape())), (std::vector<float>{tiny, -tiny}));
  // The largest float: 2^128 is not a float, so the window ends at 2^127.
  const float big = std::numeric_limits<float>::max();
  const Tensor b = Tensor::from_vector<float>({1}, {big});
  EXPECT_EQ(values_of(decode(pow2_codebook(b, 4, -1), b.shape())), (std::vector<float>{std::ldexp(1.f, 127)}));
}

TEST(Pow2, RejectsBadInput) {
  const Tensor w = Tensor::from_vector<float>({2, 2}, {1.f, 2.f, 3.f, 4.f});
  EXPECT_THROW(pow2_codebook(w, 1, -1), Error);
  EXPECT_THROW(pow2_codebook(w, 9, -1), Error);
  EXPECT_THROW(pow2_codebook(w, 4, 3), Error);
  try {
    pow2_codebook(Tensor::from_vector<float>({2}, {1.f, NAN}), 4, -1, "fc.weight");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fc.weight"), std::string::npos) << e.what();
  }
  Pow2Params p;
  p.bits = 4;
  p.axis = 0;
  p.max_exponent = {0};  // two channels on axis 0, one exponent
  EXPECT_THROW(pow2_codebook(w, p), Error);
  p.max_exponent = {0, 128};
  EXPECT_THROW(pow2_codebook(w, p), Error);
}

}  // namespace
}  // namespace octet::quant
