// sconv_shift_avx2 (the shifted-B FP32 convolution kernel) against its reference twin
// sconv_shift_ref: random row and column counts that leave partial 6-row panels and 16-column
// tiles, random and convolution-shaped tap offsets, bias and clamp epilogues, row sub-ranges
// [m0, m1), and no write outside the rows and whole tiles the contract names.
//
// Tolerance: both compute a float sum of K products (the kernel with FMA, one rounding per step;
// the twin rounding products and sums), each within (K + 1) 2^-24 sum_k |a x| of the exact value
// to first order, plus one rounding for the bias. Elements are checked against the exact value in
// double with tol = (K + 4) 2^-24 (sum_k |a x| + |bias|) and against the twin with 2 tol. A dropped,
// doubled or misplaced product (about sum|a x| / K) exceeds tol for every K here.
#include "kernels/avx2/sconv_shift_avx2.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/avx2/sgemm_avx2.h"
#include "kernels/ref/sconv_shift_ref.h"

namespace octet::kernels {
namespace {

constexpr float kSentinel = -12345.678f;

struct Case {
  int64_t M, K, Q;
  bool conv_offsets;  // offsets of a real 3x3 layout (else random)
  bool bias;
  float lo, hi;
  int64_t m0, m1;
};

void run_case(const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "M=" << c.M << " K=" << c.K << " Q=" << c.Q << " m=[" << c.m0 << ","
                                    << c.m1 << ") seed=" << seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  const int64_t qpad = (c.Q + kSconvShiftNR - 1) / kSconvShiftNR * kSconvShiftNR;
  std::vector<int32_t> off(static_cast<size_t>(c.K));
  if (c.conv_offsets) {  // taps (ch, i, j) of a 3x3 kernel on planes of 7 x 9
    for (int64_t k = 0; k < c.K; ++k) off[k] = static_cast<int32_t>((k / 9) * 63 + (k % 9 / 3) * 9 + k % 3);
  } else {
    for (auto& o : off) o = std::uniform_int_distribution<int32_t>(0, 300)(rng);
  }
  const int64_t xn = *std::max_element(off.begin(), off.end()) + qpad;
  std::vector<float> x(static_cast<size_t>(xn)), a(static_cast<size_t>(c.M * c.K)), bias(static_cast<size_t>(c.M));
  for (auto& v : x) v = dist(rng);
  for (auto& v : a) v = dist(rng);
  for (auto& v : bias) v = dist(rng);
  SconvShiftParams p;
  p.M = c.M;
  p.K = c.K;
  p.Q = c.Q;
  p.off = off.data();
  p.bias = c.bias ? bias.data() : nullptr;
  p.lo = c.lo;
  p.hi = c.hi;

  std::vector<float> packed(sgemm_packed_a_floats(c.M, c.K) + 1);
  sgemm_pack_a_avx2(c.M, c.K, a.data(), c.K, 1, packed.data() + 1);  // +1: not 32-byte aligned
  const int64_t ldc = qpad + 3;
  std::vector<float> got(static_cast<size_t>((c.m1 - c.m0 + 1) * ldc), kSentinel);
  sconv_shift_avx2(p, packed.data() + 1, x.data(), got.data(), ldc, c.m0, c.m1);
  std::vector<float> ref(static_cast<size_t>(c.M * ldc), kSentinel);
  sconv_shift_ref(p, a.data(), x.data(), ref.data(), ldc);

  for (int64_t m = c.m0; m < c.m1; ++m)
    for (int64_t q = 0; q < c.Q; ++q) {
      double exact = 0, mag = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        exact += static_cast<double>(a[m * c.K + k]) * x[off[k] + q];
        mag += std::fabs(static_cast<double>(a[m * c.K + k]) * x[off[k] + q]);
      }
      if (c.bias) exact += bias[m], mag += std::fabs(bias[m]);
      exact = std::min<double>(c.hi, std::max<double>(c.lo, exact));
      const double tol = (c.K + 4) * std::ldexp(1.0, -24) * mag;
      const float g = got[(m - c.m0) * ldc + q];
      ASSERT_LE(std::fabs(g - exact), tol) << "m=" << m << " q=" << q;
      ASSERT_LE(std::fabs(g - ref[m * ldc + q]), 2 * tol) << "m=" << m << " q=" << q;
    }
  // Columns [Q, qpad) of stored rows may be written (whole tiles); nothing past them, and no row
  // outside [m0, m1).
  for (int64_t r = 0; r <= c.m1 - c.m0; ++r)
    for (int64_t q = (r < c.m1 - c.m0 ? qpad : 0); q < ldc; ++q)
      ASSERT_EQ(got[r * ldc + q], kSentinel) << "row " << r << " column " << q << " written";
}

TEST(SconvShiftAvx2, MatchesReferenceOnAwkwardShapes) {
  if (!sgemm_avx2_supported()) GTEST_SKIP() << "CPU lacks AVX2 + FMA";
  std::mt19937 rng(20261122u);
  uint32_t seed = 1;
  // Fixed edge cases, then random ones.
  std::vector<Case> cases = {
      {1, 1, 1, false, false, -INFINITY, INFINITY, 0, 1},
      {6, 9, 16, true, true, 0.f, INFINITY, 0, 6},
      {16, 144, 840, true, true, 0.f, INFINITY, 0, 16},
      {7, 27, 17, true, false, -0.5f, 0.25f, 6, 7},
      {13, 5, 33, false, true, -INFINITY, INFINITY, 6, 13},
      {64, 576, 81, true, true, 0.f, 6.f, 12, 30},
  };
  for (int i = 0; i < 200; ++i) {
    Case c;
    c.M = std::uniform_int_distribution<int64_t>(1, 20)(rng);
    c.K = std::uniform_int_distribution<int64_t>(1, 60)(rng);
    c.Q = std::uniform_int_distribution<int64_t>(1, 70)(rng);
    c.conv_offsets = rng() % 2;
    c.bias = rng() % 2;
    c.lo = rng() % 2 ? -INFINITY : -0.3f;
    c.hi = rng() % 2 ? INFINITY : 0.4f;
    c.m0 = std::uniform_int_distribution<int64_t>(0, (c.M - 1) / 6)(rng) * 6;
    c.m1 = std::uniform_int_distribution<int64_t>(c.m0 + 1, c.M)(rng);
    cases.push_back(c);
  }
  for (const Case& c : cases) run_case(c, seed++);
}

TEST(SconvShiftAvx2, NaNPropagatesThroughTheClamp) {
  if (!sgemm_avx2_supported()) GTEST_SKIP() << "CPU lacks AVX2 + FMA";
  const int32_t off[2] = {0, 1};
  std::vector<float> x(40, 1.f), a = {1.f, 1.f}, packed(sgemm_packed_a_floats(1, 2));
  x[3] = std::nanf("");
  sgemm_pack_a_avx2(1, 2, a.data(), 2, 1, packed.data());
  SconvShiftParams p;
  p.M = 1;
  p.K = 2;
  p.Q = 5;
  p.off = off;
  p.lo = 0.f;
  p.hi = 1.5f;
  std::vector<float> c(16);
  sconv_shift_avx2(p, packed.data(), x.data(), c.data(), 16, 0, 1);
  EXPECT_EQ(c[0], 1.5f);  // 2 clamped to hi
  EXPECT_TRUE(std::isnan(c[2]) && std::isnan(c[3])) << "columns 2 and 3 read the NaN";
  EXPECT_EQ(c[4], 1.5f);
}

}  // namespace
}  // namespace octet::kernels
