// The element-wise AVX2 kernels against their reference formulas, bit for bit: quantize
// (round.h's quantize_value), dequantize, add + clamp, multiplication by a scalar, the quantized
// residual add (qadd_value); ties, NaN, infinities, saturation and
// lengths that are not multiples of 8.
#include "kernels/avx2/eltwise_avx2.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/ref/reduce_ref.h"
#include "kernels/ref/round.h"

namespace octet::kernels {
namespace {

bool avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

std::vector<float> awkward_inputs(uint32_t seed, int64_t n, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-300.f, 300.f);
  std::vector<float> x(static_cast<size_t>(n));
  for (auto& v : x) v = u(rng) * scale;
  // Exact ties (k + 0.5) * scale, NaN, infinities, huge values, signed zeros.
  const float special[] = {0.5f * scale, 1.5f * scale, -2.5f * scale, 127.5f * scale, -0.f, 0.f,
                           std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity(), 1e30f, -1e30f, 254.5f * scale};
  for (size_t i = 0; i < sizeof(special) / sizeof(special[0]) && i < x.size(); ++i) x[(i * 7) % x.size()] = special[i];
  return x;
}

TEST(EltwiseAvx2, QuantizeEqualsQuantizeValue) {
  if (!avx2()) GTEST_SKIP();
  for (int64_t n : {1, 7, 8, 9, 31, 64, 1000}) {
    for (float scale : {0.0078125f, 0.1f, 0.037f}) {
      const uint32_t seed = static_cast<uint32_t>(n * 31 + scale * 1000);
      const auto x = awkward_inputs(seed, n, scale);
      for (int32_t zp : {0, 3, 128, 255}) {
        std::vector<uint8_t> y(static_cast<size_t>(n));
        quantize_f32_u8_avx2(x.data(), n, scale, zp, 0, 255, y.data());
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(y[i], quantize_value(x[i], scale, zp, 0, 255)) << "seed " << seed << " i " << i << " x " << x[i];
      }
      for (int32_t zp : {-128, 0, 5, 127}) {
        std::vector<int8_t> y(static_cast<size_t>(n));
        quantize_f32_s8_avx2(x.data(), n, scale, zp, -128, 127, y.data());
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(y[i], quantize_value(x[i], scale, zp, -128, 127)) << "seed " << seed << " i " << i << " x " << x[i];
      }
    }
  }
}

TEST(EltwiseAvx2, DequantizeEqualsFormula) {
  if (!avx2()) GTEST_SKIP();
  std::vector<uint8_t> u(259);
  std::vector<int8_t> s(259);
  for (size_t i = 0; i < u.size(); ++i) {
    u[i] = static_cast<uint8_t>(i);
    s[i] = static_cast<int8_t>(i);
  }
  std::vector<float> y(u.size());
  for (int32_t zp : {0, 77, 255}) {
    dequantize_u8_f32_avx2(u.data(), static_cast<int64_t>(u.size()), 0.0123f, zp, y.data());
    for (size_t i = 0; i < u.size(); ++i) ASSERT_EQ(y[i], static_cast<float>(u[i] - zp) * 0.0123f);
  }
  for (int32_t zp : {-128, 0, 127}) {
    dequantize_s8_f32_avx2(s.data(), static_cast<int64_t>(s.size()), 0.5f, zp, y.data());
    for (size_t i = 0; i < s.size(); ++i) ASSERT_EQ(y[i], static_cast<float>(s[i] - zp) * 0.5f);
  }
}

TEST(EltwiseAvx2, AddClampPropagatesNaNAndClamps) {
  if (!avx2()) GTEST_SKIP();
  const int64_t n = 37;
  auto a = awkward_inputs(5, n, 0.01f), b = awkward_inputs(6, n, 0.02f);
  std::vector<float> y(static_cast<size_t>(n));
  const float inf = std::numeric_limits<float>::infinity();
  for (auto [lo, hi] : {std::pair<float, float>{-inf, inf}, {0.f, inf}, {0.f, 6.f}}) {
    add_clamp_f32_avx2(a.data(), b.data(), n, lo, hi, y.data());
    for (int64_t i = 0; i < n; ++i) {
      const float v = a[i] + b[i];
      if (std::isnan(v)) {
        EXPECT_TRUE(std::isnan(y[i])) << i;
      } else {
        EXPECT_EQ(y[i], std::min(hi, std::max(lo, v))) << i;
      }
    }
    add_clamp_f32_avx2(a.data(), nullptr, n, lo, hi, y.data());
    for (int64_t i = 0; i < n; ++i)
      if (!std::isnan(a[i])) {
        EXPECT_EQ(y[i], std::min(hi, std::max(lo, a[i]))) << i;
      }
  }
}

TEST(EltwiseAvx2, ScalarOpsEqualFloatArithmetic) {
  if (!avx2()) GTEST_SKIP();
  const ScalarOp ops[] = {ScalarOp::Add, ScalarOp::Sub, ScalarOp::RSub, ScalarOp::Mul, ScalarOp::Div, ScalarOp::RDiv};
  for (ScalarOp op : ops)
    for (int64_t n : {0, 1, 7, 8, 37}) {
      auto a = awkward_inputs(9, n, 0.01f);
      for (float s : {0.125f, -3.7f, 0.f, 1e-30f, std::numeric_limits<float>::infinity()}) {
        std::vector<float> y(static_cast<size_t>(n));
        scalar_op_f32_avx2(a.data(), n, s, op, y.data());
        for (int64_t i = 0; i < n; ++i) {
          const float x = a[i];
          const float want = op == ScalarOp::Add    ? x + s
                             : op == ScalarOp::Sub  ? x - s
                             : op == ScalarOp::RSub ? s - x
                             : op == ScalarOp::Mul  ? x * s
                             : op == ScalarOp::Div  ? x / s
                                                    : s / x;
          EXPECT_TRUE(std::memcmp(&y[i], &want, 4) == 0 || (std::isnan(want) && std::isnan(y[i])))
              << scalar_op_kernel_name(op) << " n=" << n << " s=" << s << " i=" << i << ": " << y[i] << " vs "
              << want;
        }
      }
    }
}

// A uniformly random value of the 8-bit type T.
template <class T>
T random_byte(std::mt19937& rng) {
  return static_cast<T>(
      std::uniform_int_distribution<int>(std::numeric_limits<T>::min(), std::numeric_limits<T>::max())(rng));
}

// Random QLinearAdd parameters for trial `trial`: scales from 2^-9 to 4 (a equal to b every third
// trial), huge ones every tenth (|fa|, |fb| overflow: inf, -inf and NaN sums), random zero
// points, the clamps none, Relu, Relu6 and a Clip in turn. odd_y_scale: y_scale times a random
// factor in [1, 2), so that it is rarely a power of two.
template <class A, class B, class Y>
QAddParams random_qadd_params(std::mt19937& rng, int trial, bool odd_y_scale) {
  std::uniform_real_distribution<float> log_scale(-9.f, 2.f);
  const float inf = std::numeric_limits<float>::infinity();
  const std::pair<float, float> clamps[] = {{-inf, inf}, {0.f, inf}, {0.f, 6.f}, {-1.5f, 0.25f}};
  QAddParams p;
  p.a_scale = std::exp2(log_scale(rng));
  p.b_scale = trial % 3 == 0 ? p.a_scale : std::exp2(log_scale(rng));
  p.y_scale = std::exp2(log_scale(rng));
  if (odd_y_scale) p.y_scale *= std::uniform_real_distribution<float>(1.f, 2.f)(rng);
  if (trial % 10 == 9) p.a_scale = p.b_scale = 3e37f;
  p.a_zp = random_byte<A>(rng);
  p.b_zp = random_byte<B>(rng);
  p.y_zp = random_byte<Y>(rng);
  p.qmin = std::numeric_limits<Y>::min();
  p.qmax = std::numeric_limits<Y>::max();
  p.lo = clamps[trial % 4].first;
  p.hi = clamps[trial % 4].second;
  return p;
}

// kernel(p, a, b, n, y) on n random operand pairs against qadd_value, bytes past y untouched.
template <class A, class B, class Y, class Kernel>
void expect_qadd_values(std::mt19937& rng, const QAddParams& p, int64_t n, Kernel kernel, const std::string& what) {
  std::vector<A> a(static_cast<size_t>(n));
  std::vector<B> b(static_cast<size_t>(n));
  for (auto& v : a) v = random_byte<A>(rng);
  for (auto& v : b) v = random_byte<B>(rng);
  std::vector<Y> y(static_cast<size_t>(n) + 16, Y(0x5a));
  kernel(p, a.data(), b.data(), n, y.data());
  for (int64_t i = 0; i < n; ++i)
    ASSERT_EQ(static_cast<int>(y[i]), qadd_value(a[i], b[i], p))
        << what << " n " << n << " i " << i << " a " << int(a[i]) << " b " << int(b[i]);
  for (int64_t i = n; i < n + 16; ++i) ASSERT_EQ(y[i], Y(0x5a)) << what << ": wrote past the end";
}

// One type combination of qadd_avx2 against qadd_value over lengths with every tail, random
// operands and parameters (random_qadd_params).
template <class A, class B, class Y>
void check_qadd(uint32_t seed) {
  std::mt19937 rng(seed);
  for (int trial = 0; trial < 60; ++trial) {
    const QAddParams p = random_qadd_params<A, B, Y>(rng, trial, false);
    const int64_t n = trial < 40 ? trial : 1000 + trial;
    expect_qadd_values<A, B, Y>(rng, p, n, qadd_avx2<A, B, Y>,
                                "seed " + std::to_string(seed) + " trial " + std::to_string(trial));
  }
}

TEST(EltwiseAvx2, QAddEqualsQAddValueForEveryTypeCombination) {
  if (!avx2()) GTEST_SKIP();
  check_qadd<uint8_t, uint8_t, uint8_t>(1);
  check_qadd<uint8_t, uint8_t, int8_t>(2);
  check_qadd<uint8_t, int8_t, uint8_t>(3);
  check_qadd<uint8_t, int8_t, int8_t>(4);
  check_qadd<int8_t, uint8_t, uint8_t>(5);
  check_qadd<int8_t, uint8_t, int8_t>(6);
  check_qadd<int8_t, int8_t, uint8_t>(7);
  check_qadd<int8_t, int8_t, int8_t>(8);
}

// qadd_recip_avx2 where qadd_recip_exact accepts the parameters: equal to qadd_value on lengths
// with every tail of its 16-wide loop and a long one. Parameters from random_qadd_params (the
// overflowing ones included, which the product form, without the NaN rule or saturation of
// infinities, gets right only where the clamps and the packs happen to agree). Returns {accepted,
// rejected}.
template <class A, class B, class Y>
std::pair<int, int> check_qadd_recip(uint32_t seed) {
  std::mt19937 rng(seed);
  int accepted = 0, rejected = 0;
  for (int trial = 0; trial < 40; ++trial) {
    const QAddParams p = random_qadd_params<A, B, Y>(rng, trial, true);
    if (!qadd_recip_exact<A, B, Y>(p)) {
      ++rejected;
      continue;
    }
    ++accepted;
    for (int64_t n : {0, 1, 7, 15, 16, 17, 31, 33, 47, 60, 4099})
      expect_qadd_values<A, B, Y>(rng, p, n, qadd_recip_avx2<A, B, Y>,
                                  "seed " + std::to_string(seed) + " trial " + std::to_string(trial));
  }
  return {accepted, rejected};
}

TEST(EltwiseAvx2, QAddRecipEqualsQAddValueWhereAccepted) {
  if (!avx2()) GTEST_SKIP();
  const std::pair<int, int> r[] = {
      check_qadd_recip<uint8_t, uint8_t, uint8_t>(11), check_qadd_recip<uint8_t, uint8_t, int8_t>(12),
      check_qadd_recip<uint8_t, int8_t, uint8_t>(13),  check_qadd_recip<uint8_t, int8_t, int8_t>(14),
      check_qadd_recip<int8_t, uint8_t, uint8_t>(15),  check_qadd_recip<int8_t, uint8_t, int8_t>(16),
      check_qadd_recip<int8_t, int8_t, uint8_t>(17),   check_qadd_recip<int8_t, int8_t, int8_t>(18),
  };
  int accepted = 0, rejected = 0;
  for (const auto& [acc, rej] : r) accepted += acc, rejected += rej;
  // Most parameter sets pass; the overflowing ones whose sums reach +inf unclamped (trials 9 and
  // 29 of each combination: saturated to qmax by the reference, not by vcvtps2dq) never do.
  std::printf("qadd_recip_exact: %d accepted, %d rejected\n", accepted, rejected);
  EXPECT_GE(accepted, 8 * 30);
  EXPECT_GE(rejected, 8 * 2);
}

// A parameter set whose product form differs from the quotient at one (a, b) pair is rejected:
// a_scale 0.5 and a - a_zp = 91 give the sum 45.5, and 45.5 / 7 = 6.5 exactly, a tie that rounds
// to 6, while 45.5 * float(1/7) = 6.5000005 rounds to 7.
TEST(EltwiseAvx2, QAddRecipRejectsAParameterSetItWouldGetWrong) {
  if (!avx2()) GTEST_SKIP();
  QAddParams p;
  p.a_scale = 0.5f;
  p.b_scale = 1.f;
  p.y_scale = 7.f;
  p.a_zp = 0;
  p.b_zp = 0;
  ASSERT_EQ(qadd_value(91, 0, p), 6);
  uint8_t a[16] = {}, b[16] = {}, y[16];
  a[0] = 91;
  qadd_recip_avx2(p, a, b, 16, y);
  ASSERT_EQ(y[0], 7) << "the product form's own result at this pair";
  EXPECT_FALSE((qadd_recip_exact<uint8_t, uint8_t, uint8_t>(p)));
  p.y_scale = 6.f;  // 45.5 / 6 is no tie: accepted
  EXPECT_TRUE((qadd_recip_exact<uint8_t, uint8_t, uint8_t>(p)));
}

TEST(EltwiseAvx2, QAddHandWorkedValues) {
  if (!avx2()) GTEST_SKIP();
  QAddParams p;
  p.a_scale = 0.5f;
  p.a_zp = 128;
  p.b_scale = 0.25f;
  p.b_zp = 10;
  p.y_scale = 1.f;
  p.y_zp = 3;
  // (a - 128) * 0.5 + (b - 10) * 0.25, then / 1 rounded half to even, + 3, saturated to [0, 255]:
  //   a 131, b 12: 1.5 + 0.5 = 2 -> 5;  a 129, b 10: 0.5 -> 0 (tie to even) -> 3;
  //   a 131, b 10: 1.5 -> 2 (tie to even) -> 5;  a 0, b 0: -64 - 2.5 -> -66 (tie: -66.5 -> -66)
  //   + 3 = -63 -> 0;  a 255, b 255: 63.5 + 61.25 = 124.75 -> 125 -> 128.
  // Eight values so the vector path runs; the ninth goes through the tail.
  const uint8_t a[9] = {131, 129, 131, 0, 255, 131, 129, 131, 0};
  const uint8_t b[9] = {12, 10, 10, 0, 255, 12, 10, 10, 0};
  const uint8_t want[9] = {5, 3, 5, 0, 128, 5, 3, 5, 0};
  uint8_t y[9];
  qadd_avx2(p, a, b, 9, y);
  for (int i = 0; i < 9; ++i) EXPECT_EQ(y[i], want[i]) << i;
  p.lo = 0.f;  // a fused Relu: negative sums become zero before quantization -> y_zp
  qadd_avx2(p, a, b, 9, y);
  EXPECT_EQ(y[3], 3);
  EXPECT_EQ(y[8], 3);
}

// In place (y is a or b, as a fused convolution's residual add runs), on every length from 1 to
// 40 (each tail of the 8- and 16-wide loops, run as one step on a padded copy) and a fused add's
// channel rows of 49 and 98: qadd_avx2 always, qadd_recip_avx2 where its parameters are accepted;
// y aliasing a where Y is A's type, b where it is B's.
template <class A, class B, class Y>
void check_qadd_in_place(uint32_t seed) {
  std::mt19937 rng(seed);
  using Kernel = void (*)(const QAddParams&, const A*, const B*, int64_t, Y*);
  for (int trial = 0; trial < 12; ++trial) {
    const QAddParams p = random_qadd_params<A, B, Y>(rng, trial, trial % 2 == 1);
    std::vector<Kernel> kernels = {qadd_avx2<A, B, Y>};
    if (qadd_recip_exact<A, B, Y>(p)) kernels.push_back(qadd_recip_avx2<A, B, Y>);
    std::vector<int64_t> lengths = {49, 98};
    for (int64_t n = 1; n <= 40; ++n) lengths.push_back(n);
    for (Kernel kernel : kernels)
      for (int64_t n : lengths) {
        std::vector<A> a(static_cast<size_t>(n));
        std::vector<B> b(static_cast<size_t>(n));
        for (auto& v : a) v = random_byte<A>(rng);
        for (auto& v : b) v = random_byte<B>(rng);
        std::vector<Y> got;
        if constexpr (std::is_same_v<A, Y>) {
          got.assign(a.begin(), a.end());
          kernel(p, got.data(), b.data(), n, got.data());
        } else {
          static_assert(std::is_same_v<B, Y>, "y aliases one operand");
          got.assign(b.begin(), b.end());
          kernel(p, a.data(), got.data(), n, got.data());
        }
        for (int64_t i = 0; i < n; ++i)
          ASSERT_EQ(static_cast<int>(got[i]), qadd_value(a[i], b[i], p))
              << "seed " << seed << " trial " << trial << " n " << n << " i " << i
              << (kernel == kernels[0] ? " qadd_avx2" : " qadd_recip_avx2");
      }
  }
}

TEST(EltwiseAvx2, QAddInPlaceEqualsQAddValueOnEveryTail) {
  if (!avx2()) GTEST_SKIP();
  check_qadd_in_place<uint8_t, uint8_t, uint8_t>(29);
  check_qadd_in_place<int8_t, uint8_t, int8_t>(30);
  check_qadd_in_place<uint8_t, int8_t, int8_t>(31);
  check_qadd_in_place<int8_t, int8_t, int8_t>(32);
}

// Calibration's one-pass range (minmax_finite_f32): the AVX2 kernel against the plain loop on
// every length to 100 and a few long ones (the overlapping last step), values that include both
// zeros, subnormals and extremes, and a NaN or an infinity placed at the start, the middle, inside
// the overlapped tail and at the end: the same first bad index, and when all are finite the same
// bits for the smallest and largest element.
TEST(EltwiseAvx2, MinMaxFiniteEqualsTheReference) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 3.f);
  const float specials[] = {0.f, -0.f, std::numeric_limits<float>::denorm_min(), -1e-40f,
                            std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest()};
  const float bad[] = {std::nanf(""), -std::nanf(""), INFINITY, -INFINITY};
  std::vector<int64_t> lengths;
  for (int64_t n = 0; n <= 100; ++n) lengths.push_back(n);
  for (int64_t n : {255, 256, 1000, 4099}) lengths.push_back(n);
  for (int64_t n : lengths) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = rng() % 8 == 0 ? specials[rng() % 6] : nd(rng);
    std::vector<int64_t> at = {-1};  // -1: all finite
    if (n > 0) at.insert(at.end(), {0, n / 2, std::max<int64_t>(0, n - 5), n - 1});
    for (int64_t pos : at) {
      std::vector<float> y = x;
      if (pos >= 0) y[static_cast<size_t>(pos)] = bad[rng() % 4];
      float lo_r = 7.f, hi_r = 7.f, lo_v = 7.f, hi_v = 7.f;
      const int64_t r = minmax_finite_f32(y.data(), n, &lo_r, &hi_r);
      const int64_t v = minmax_finite_f32_avx2(y.data(), n, &lo_v, &hi_v);
      ASSERT_EQ(r, pos) << "n " << n << ": the reference names the bad element";
      ASSERT_EQ(v, r) << "n " << n << " bad at " << pos;
      if (r < 0 && n > 0) {
        ASSERT_EQ(std::memcmp(&lo_r, &lo_v, 4), 0) << "n " << n << ": " << lo_r << " vs " << lo_v;
        ASSERT_EQ(std::memcmp(&hi_r, &hi_v, 4), 0) << "n " << n << ": " << hi_r << " vs " << hi_v;
      }
    }
  }
}

TEST(EltwiseAvx2, MinMaxFiniteHandWorkedValues) {
  const std::vector<float> x = {-0.f, 2.5f, -0.f, 0.f, -3.f, 1e30f, -0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f,
                                0.f,  0.f,  0.f,  0.f, 0.f,  0.f,   0.f,  0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, -0.f};
  float lo = 0, hi = 0;
  EXPECT_EQ(minmax_finite_f32(x.data(), 33, &lo, &hi), -1);
  EXPECT_EQ(lo, -3.f);
  EXPECT_EQ(hi, 1e30f);
  const std::vector<float> zeros(40, -0.f);  // a zero range comes out as +0
  EXPECT_EQ(minmax_finite_f32(zeros.data(), 40, &lo, &hi), -1);
  EXPECT_FALSE(std::signbit(lo));
  EXPECT_FALSE(std::signbit(hi));
  if (__builtin_cpu_supports("avx2")) {
    EXPECT_EQ(minmax_finite_f32_avx2(zeros.data(), 40, &lo, &hi), -1);
    EXPECT_FALSE(std::signbit(lo));
    EXPECT_FALSE(std::signbit(hi));
  }
  const float one_nan[] = {1.f, 2.f, INFINITY, std::nanf("")};
  EXPECT_EQ(minmax_finite_f32(one_nan, 4, &lo, &hi), 2) << "the first bad element";
}

}  // namespace
}  // namespace octet::kernels

#include "ir/half.h"

namespace octet::kernels {
namespace {

TEST(EltwiseAvx2, F16cWideningEqualsScalarForAllHalfValues) {
  if (!__builtin_cpu_supports("f16c") || !__builtin_cpu_supports("avx2")) GTEST_SKIP();
  std::vector<uint16_t> h(65536 + 3);
  for (size_t i = 0; i < h.size(); ++i) h[i] = static_cast<uint16_t>(i);
  std::vector<float> y(h.size());
  convert_f16_f32_f16c(h.data(), static_cast<int64_t>(h.size()), y.data());  // 3 in the tail
  for (size_t i = 0; i < h.size(); ++i) {
    const float want = half_bits_to_float(h[i]);
    if (std::isnan(want)) {
      ASSERT_TRUE(std::isnan(y[i])) << "half bits " << h[i];
    } else {
      ASSERT_EQ(std::memcmp(&y[i], &want, 4), 0) << "half bits " << h[i] << ": " << y[i] << " vs " << want;
    }
  }
}

}  // namespace
}  // namespace octet::kernels
