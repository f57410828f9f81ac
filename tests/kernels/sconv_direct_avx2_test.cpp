// sconv_direct_avx2 (the channels-in-lanes direct FP32 convolution kernel) against its reference
// twin sconv_direct_ref: random channel and pixel counts that leave partial 16-channel blocks and
// 6-pixel tiles, rows of 1 to 9 pixels so that tiles span rows, row and column steps of strided
// convolutions, random and convolution-shaped tap offsets, bias and clamp epilogues, channel
// sub-ranges [m0, m1), and no write outside the rows and pixels the contract names (the kernel
// stores whole vectors where the range has room, so the check runs at every range end).
//
// Tolerance: both compute a float sum of K products (the kernel with FMA, one rounding per step;
// the twin rounding products and sums), each within (K + 1) 2^-24 sum_k |w x| of the exact value
// to first order, plus one rounding for the bias. Elements are checked against the exact value in
// double with tol = (K + 4) 2^-24 (sum_k |w x| + |bias|) and against the twin with 2 tol. A dropped,
// doubled or misplaced product (about sum|w x| / K) exceeds tol for every K here.
#include "kernels/avx2/sconv_direct_avx2.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/avx2/sgemm_avx2.h"
#include "kernels/ref/sconv_direct_ref.h"

namespace octet::kernels {
namespace {

constexpr float kSentinel = -12345.678f;

struct Case {
  int64_t M, K, Q, OW, row_step, col_step;
  bool conv_offsets;  // offsets of a real 3x3 layout (else random)
  bool bias;
  float lo, hi;
  int64_t m0, m1;
};

void run_case(const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "M=" << c.M << " K=" << c.K << " Q=" << c.Q << " OW=" << c.OW << " steps "
                                    << c.row_step << "," << c.col_step << " m=[" << c.m0 << "," << c.m1
                                    << ") seed=" << seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<int32_t> off(static_cast<size_t>(c.K));
  if (c.conv_offsets) {  // taps (ch, i, j) of a 3x3 kernel on planes of 40 rows of row_step
    for (int64_t k = 0; k < c.K; ++k)
      off[k] = static_cast<int32_t>((k / 9) * 40 * c.row_step + (k % 9 / 3) * c.row_step + k % 3);
  } else {
    for (auto& o : off) o = std::uniform_int_distribution<int32_t>(0, 300)(rng);
  }
  auto base = [&](int64_t q) { return (q / c.OW) * c.row_step + (q % c.OW) * c.col_step; };
  const int64_t xn = *std::max_element(off.begin(), off.end()) + base(c.Q - 1) + 1;
  std::vector<float> x(static_cast<size_t>(xn)), w(static_cast<size_t>(c.M * c.K)), bias(static_cast<size_t>(c.M));
  for (auto& v : x) v = dist(rng);
  for (auto& v : w) v = dist(rng);
  for (auto& v : bias) v = dist(rng);
  SconvDirectParams p;
  p.M = c.M;
  p.K = c.K;
  p.Q = c.Q;
  p.OW = c.OW;
  p.row_step = c.row_step;
  p.col_step = c.col_step;
  p.off = off.data();
  p.bias = c.bias ? bias.data() : nullptr;
  p.lo = c.lo;
  p.hi = c.hi;

  std::vector<float> packed(sconv_direct_packed_floats(c.M, c.K) + 1);
  sconv_direct_pack_avx2(c.M, c.K, w.data(), c.K, packed.data() + 1);  // +1: not 32-byte aligned
  const int64_t ldc = c.Q + 3;
  std::vector<float> got(static_cast<size_t>((c.m1 - c.m0 + 1) * ldc), kSentinel);
  sconv_direct_avx2(p, packed.data() + 1, x.data(), got.data(), ldc, c.m0, c.m1);
  std::vector<float> ref(static_cast<size_t>(c.M * ldc), kSentinel);
  sconv_direct_ref(p, w.data(), x.data(), ref.data(), ldc);

  for (int64_t m = c.m0; m < c.m1; ++m)
    for (int64_t q = 0; q < c.Q; ++q) {
      double exact = 0, mag = 0;
      for (int64_t k = 0; k < c.K; ++k) {
        const double prod = static_cast<double>(w[m * c.K + k]) * x[off[k] + base(q)];
        exact += prod;
        mag += std::fabs(prod);
      }
      if (c.bias) exact += bias[m], mag += std::fabs(bias[m]);
      exact = std::min<double>(c.hi, std::max<double>(c.lo, exact));
      const double tol = (c.K + 4) * std::ldexp(1.0, -24) * mag;
      const float g = got[(m - c.m0) * ldc + q];
      ASSERT_LE(std::fabs(g - exact), tol) << "m=" << m << " q=" << q;
      ASSERT_LE(std::fabs(g - ref[m * ldc + q]), 2 * tol) << "m=" << m << " q=" << q;
    }
  // Nothing past column Q of a stored row, and no row outside [m0, m1).
  for (int64_t r = 0; r <= c.m1 - c.m0; ++r)
    for (int64_t q = (r < c.m1 - c.m0 ? c.Q : 0); q < ldc; ++q)
      ASSERT_EQ(got[r * ldc + q], kSentinel) << "row " << r << " column " << q << " written";
}

TEST(SconvDirectAvx2, MatchesReferenceOnAwkwardShapes) {
  if (!sgemm_avx2_supported()) GTEST_SKIP() << "CPU lacks AVX2 + FMA";
  std::mt19937 rng(20261123u);
  uint32_t seed = 1;
  // Fixed edge cases (one pixel, one tile, resnet8's stage-1 layer, a stride-2 layer, partial
  // blocks and sub-ranges), then random ones.
  std::vector<Case> cases = {
      {1, 1, 1, 1, 1, 1, false, false, -INFINITY, INFINITY, 0, 1},
      {16, 9, 6, 6, 8, 1, true, true, 0.f, INFINITY, 0, 16},
      {16, 144, 784, 28, 30, 1, true, true, 0.f, INFINITY, 0, 16},
      {32, 144, 196, 14, 58, 2, true, false, 0.f, INFINITY, 16, 32},
      {17, 27, 17, 5, 7, 1, true, false, -0.5f, 0.25f, 16, 17},
      {40, 5, 33, 4, 9, 2, false, true, -INFINITY, INFINITY, 0, 40},
      {64, 576, 49, 7, 9, 1, true, true, 0.f, 6.f, 16, 45},
  };
  for (int i = 0; i < 200; ++i) {
    Case c;
    c.M = std::uniform_int_distribution<int64_t>(1, 40)(rng);
    c.K = std::uniform_int_distribution<int64_t>(1, 60)(rng);
    c.Q = std::uniform_int_distribution<int64_t>(1, 70)(rng);
    c.OW = std::uniform_int_distribution<int64_t>(1, 9)(rng);
    c.col_step = std::uniform_int_distribution<int64_t>(1, 3)(rng);
    c.row_step = c.OW * c.col_step + std::uniform_int_distribution<int64_t>(0, 4)(rng);
    c.conv_offsets = rng() % 2;
    c.bias = rng() % 2;
    c.lo = rng() % 2 ? -INFINITY : -0.3f;
    c.hi = rng() % 2 ? INFINITY : 0.4f;
    c.m0 = std::uniform_int_distribution<int64_t>(0, (c.M - 1) / 16)(rng) * 16;
    c.m1 = std::uniform_int_distribution<int64_t>(c.m0 + 1, c.M)(rng);
    cases.push_back(c);
  }
  for (const Case& c : cases) run_case(c, seed++);
}

TEST(SconvDirectAvx2, NaNPropagatesThroughTheClamp) {
  if (!sgemm_avx2_supported()) GTEST_SKIP() << "CPU lacks AVX2 + FMA";
  const int32_t off[2] = {0, 1};
  std::vector<float> x(40, 1.f), w = {1.f, 1.f}, packed(sconv_direct_packed_floats(1, 2));
  x[3] = std::nanf("");
  sconv_direct_pack_avx2(1, 2, w.data(), 2, packed.data());
  SconvDirectParams p;
  p.M = 1;
  p.K = 2;
  p.Q = 9;
  p.OW = 9;
  p.off = off;
  p.lo = 0.f;
  p.hi = 1.5f;
  std::vector<float> c(16, kSentinel);
  sconv_direct_avx2(p, packed.data(), x.data(), c.data(), 16, 0, 1);
  EXPECT_EQ(c[0], 1.5f);  // 2 clamped to hi
  EXPECT_TRUE(std::isnan(c[2]) && std::isnan(c[3])) << "pixels 2 and 3 read the NaN";
  EXPECT_EQ(c[4], 1.5f);
  EXPECT_EQ(c[8], 1.5f);
  EXPECT_EQ(c[9], kSentinel);
}

}  // namespace
}  // namespace octet::kernels
