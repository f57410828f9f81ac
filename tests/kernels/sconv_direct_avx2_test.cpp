// sconv_direct_avx2 (the channels-in-lanes direct FP32 convolution kernel) against its reference
// twin sconv_direct_ref: output grids cut into bands (rectangles of 1 to 30 pixels a side, with
// their own taps: all packed rows in order, or random ones as a band that skips padded taps
// has), random channel and pixel counts that leave partial 16-channel blocks and tiles of 1-6
// pixels spanning rows, rows of up to 30 pixels (the AVX-512 runs of 4-24, which must give the
// AVX2 tiles' bits), one-pixel bands over up to 5 blocks, row and column steps of strided
// convolutions, random and convolution-shaped tap offsets, bands of no taps, bias, residual and
// clamp epilogues (the residual read from a buffer that ends at its last element, so that a read
// past Q shows under AddressSanitizer), channel sub-ranges [m0, m1), and no write outside the rows and pixels the contract
// names (the kernel stores whole vectors where the range has room, so the check runs at every
// range end).
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
#include <cstring>
#include <random>
#include <vector>

#include "kernels/avx2/sgemm_avx2.h"
#include "kernels/ref/sconv_direct_ref.h"

namespace octet::kernels {
namespace {

constexpr float kSentinel = -12345.678f;

// An output grid of `rows` x `ldo` pixels cut into bands along row_cuts x col_cuts (each band a
// rectangle), each band with its own taps: K, offsets (random, or those of a 3x3 layout) and
// either every packed row in order (no w_off) or random rows.
struct Case {
  int64_t M, packed_K, rows, ldo, row_step, col_step;
  std::vector<int64_t> row_cuts, col_cuts;  // interior cut points, ascending
  bool conv_offsets;
  bool bias;
  float lo, hi;
  int64_t m0, m1;
  bool sum = false;  // a residual added before the clamp
};

int multi_pass_cases = 0;  // cases whose scratch takes more than one pass

void run_case(const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "M=" << c.M << " packed_K=" << c.packed_K << " grid " << c.rows << "x" << c.ldo
                                    << " steps " << c.row_step << "," << c.col_step << " m=[" << c.m0 << "," << c.m1
                                    << ") seed=" << seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  auto u = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  std::vector<int64_t> rc = {0}, cc = {0};
  rc.insert(rc.end(), c.row_cuts.begin(), c.row_cuts.end());
  cc.insert(cc.end(), c.col_cuts.begin(), c.col_cuts.end());
  rc.push_back(c.rows);
  cc.push_back(c.ldo);
  struct Taps {
    std::vector<int32_t> off, w_off;
    int64_t base = 0;
  };
  std::vector<Taps> taps;
  std::vector<SconvDirectBand> bands;
  int64_t xn = 1;
  for (size_t a = 0; a + 1 < rc.size(); ++a)
    for (size_t b = 0; b + 1 < cc.size(); ++b) {
      Taps t;
      const bool indexed = rng() % 2;
      const int64_t K = indexed ? u(0, 40) : u(0, c.packed_K);
      for (int64_t k = 0; k < K; ++k) {
        const int64_t conv_off = (k / 9) * 40 * c.row_step + (k % 9 / 3) * c.row_step + k % 3;  // a 3x3 layout
        t.off.push_back(static_cast<int32_t>(c.conv_offsets ? conv_off : u(0, 300)));
        if (indexed) t.w_off.push_back(static_cast<int32_t>(16 * u(0, c.packed_K - 1)));
      }
      t.base = u(0, 50);
      SconvDirectBand band;
      band.rows = rc[a + 1] - rc[a];
      band.cols = cc[b + 1] - cc[b];
      band.out = rc[a] * c.ldo + cc[b];
      band.K = K;
      const int64_t last = (band.rows - 1) * c.row_step + (band.cols - 1) * c.col_step;
      for (int32_t o : t.off) xn = std::max<int64_t>(xn, t.base + o + last + 1);
      taps.push_back(std::move(t));
      bands.push_back(band);
    }
  std::vector<float> x(static_cast<size_t>(xn)), w(static_cast<size_t>(c.M * c.packed_K)),
      bias(static_cast<size_t>(c.M));
  for (auto& v : x) v = dist(rng);
  for (auto& v : w) v = dist(rng);
  for (auto& v : bias) v = dist(rng);
  const int64_t ldc = c.rows * c.ldo + 3;
  // The residual: rows [0, M) of ldc floats for the twin; the kernel's copy holds rows [m0, m1)
  // and ends at the last one's column Q.
  std::vector<float> sum_full(static_cast<size_t>(c.M * ldc));
  for (auto& v : sum_full) v = 4.f * dist(rng);
  std::vector<float> sum_kernel(sum_full.begin() + c.m0 * ldc, sum_full.begin() + (c.m1 - 1) * ldc + c.rows * c.ldo);
  for (size_t i = 0; i < bands.size(); ++i) {
    bands[i].x = x.data() + taps[i].base;
    bands[i].off = taps[i].off.data();
    bands[i].w_off = taps[i].w_off.empty() ? nullptr : taps[i].w_off.data();
  }
  SconvDirectParams p;
  p.M = c.M;
  p.packed_K = c.packed_K;
  p.Q = c.rows * c.ldo;
  p.ldo = c.ldo;
  p.row_step = c.row_step;
  p.col_step = c.col_step;
  p.bias = c.bias ? bias.data() : nullptr;
  p.sum = c.sum ? sum_kernel.data() : nullptr;
  p.lo = c.lo;
  p.hi = c.hi;

  std::vector<float> packed(sconv_direct_packed_floats(c.M, c.packed_K) + 1);
  sconv_direct_pack_avx2(c.M, c.packed_K, w.data(), c.packed_K, packed.data() + 1);  // +1: not 32-byte aligned
  std::vector<float> got(static_cast<size_t>((c.m1 - c.m0 + 1) * ldc), kSentinel);
  if (c.rows > 1 && p.Q * ((c.m1 - c.m0 + 15) / 16 * 16) > kSconvDirectScratchBudget) {
    ++multi_pass_cases;
    EXPECT_LT(sconv_direct_pass_rows(p.Q, p.ldo, c.m0, c.m1), c.rows) << "several passes";
  }
  std::vector<float> scratch(sconv_direct_scratch_floats(p.Q, p.ldo, c.m0, c.m1) + 8, std::nanf(""));
  float* aligned = scratch.data() + (8 - reinterpret_cast<uintptr_t>(scratch.data()) / 4 % 8) % 8;
  sconv_direct_avx2(p, bands.data(), static_cast<int64_t>(bands.size()), packed.data() + 1, got.data(), ldc, c.m0,
                    c.m1, aligned);
  // The AVX2 tiles alone (on an AVX-512 CPU the rows of bands 4+ pixels wide and of column step
  // 1 or 2 run on the zmm loop): the same FMAs in the same order, so the same bits.
  std::vector<float> avx2(got.size(), kSentinel);
  SconvDirectParams p2 = p;
  p2.allow_zmm = false;
  sconv_direct_avx2(p2, bands.data(), static_cast<int64_t>(bands.size()), packed.data() + 1, avx2.data(), ldc, c.m0,
                    c.m1, aligned);
  ASSERT_EQ(std::memcmp(avx2.data(), got.data(), got.size() * sizeof(float)), 0) << "AVX2 tiles and zmm runs differ";
  if (c.sum) {  // the residual and the clamp after the sum: the bits of the kernel without them, then an add
    SconvDirectParams pn = p;
    pn.sum = nullptr;
    pn.lo = -INFINITY;
    pn.hi = INFINITY;
    std::vector<float> plain(got.size(), kSentinel);
    sconv_direct_avx2(pn, bands.data(), static_cast<int64_t>(bands.size()), packed.data() + 1, plain.data(), ldc, c.m0,
                      c.m1, aligned);
    for (int64_t m = c.m0; m < c.m1; ++m)
      for (int64_t q = 0; q < p.Q; ++q) {
        const float v = std::min(c.hi, std::max(c.lo, plain[(m - c.m0) * ldc + q] + sum_full[m * ldc + q]));
        ASSERT_EQ(got[(m - c.m0) * ldc + q], v) << "m=" << m << " q=" << q << ": not the unfused add's bits";
      }
  }
  std::vector<float> ref(static_cast<size_t>(c.M * ldc), kSentinel);
  SconvDirectParams pr = p;
  pr.sum = c.sum ? sum_full.data() : nullptr;
  sconv_direct_ref(pr, bands.data(), static_cast<int64_t>(bands.size()), w.data(), ref.data(), ldc);

  for (const SconvDirectBand& b : bands)
    for (int64_t i = 0; i < b.rows; ++i)
      for (int64_t j = 0; j < b.cols; ++j) {
        const int64_t q = b.out + i * c.ldo + j;
        for (int64_t m = c.m0; m < c.m1; ++m) {
          double exact = 0, mag = 0;
          for (int64_t k = 0; k < b.K; ++k) {
            const int64_t row = b.w_off ? b.w_off[k] / 16 : k;
            const double prod =
                static_cast<double>(w[m * c.packed_K + row]) * b.x[b.off[k] + i * c.row_step + j * c.col_step];
            exact += prod;
            mag += std::fabs(prod);
          }
          if (c.bias) exact += bias[m], mag += std::fabs(bias[m]);
          if (c.sum) exact += sum_full[m * ldc + q], mag += std::fabs(sum_full[m * ldc + q]);
          exact = std::min<double>(c.hi, std::max<double>(c.lo, exact));
          const double tol = (b.K + 4) * std::ldexp(1.0, -24) * mag;
          const float g = got[(m - c.m0) * ldc + q];
          ASSERT_LE(std::fabs(g - exact), tol) << "m=" << m << " q=" << q << " band of K " << b.K;
          ASSERT_LE(std::fabs(g - ref[m * ldc + q]), 2 * tol) << "m=" << m << " q=" << q;
        }
      }
  // Nothing past column Q of a stored row, and no row outside [m0, m1).
  for (int64_t r = 0; r <= c.m1 - c.m0; ++r)
    for (int64_t q = (r < c.m1 - c.m0 ? p.Q : 0); q < ldc; ++q)
      ASSERT_EQ(got[r * ldc + q], kSentinel) << "row " << r << " column " << q << " written";
}

TEST(SconvDirectAvx2, MatchesReferenceOnAwkwardShapes) {
  if (!sgemm_avx2_supported()) GTEST_SKIP() << "CPU lacks AVX2 + FMA";
  std::mt19937 rng(20261124u);
  uint32_t seed = 1;
  // Fixed edge cases (one pixel, one tile, resnet8's stage-1 layer as one band and as its 9
  // bands, a stride-2 layer, a 7x7 layer whose 1-pixel corners run 4 blocks at once, partial
  // blocks and sub-ranges), then random ones.
  std::vector<Case> cases = {
      {1, 1, 1, 1, 1, 1, {}, {}, false, false, -INFINITY, INFINITY, 0, 1},
      {16, 9, 1, 6, 8, 1, {}, {}, true, true, 0.f, INFINITY, 0, 16},
      {16, 144, 28, 28, 30, 1, {}, {}, true, true, 0.f, INFINITY, 0, 16},
      {16, 144, 28, 28, 28, 1, {1, 27}, {1, 27}, true, true, 0.f, INFINITY, 0, 16},
      {32, 144, 14, 14, 58, 2, {1}, {1}, true, false, 0.f, INFINITY, 16, 32},
      {64, 576, 7, 7, 7, 1, {1, 6}, {1, 6}, true, true, 0.f, 6.f, 0, 64},
      {50, 576, 7, 7, 7, 1, {1, 6}, {1, 6}, true, true, 0.f, 6.f, 0, 50},
      {17, 27, 3, 5, 7, 1, {2}, {}, true, false, -0.5f, 0.25f, 16, 17},
      {40, 5, 9, 4, 9, 2, {}, {1, 3}, false, true, -INFINITY, INFINITY, 0, 40},
      {64, 576, 7, 7, 9, 1, {}, {}, true, true, 0.f, 6.f, 16, 45},
      // More pixels x channels than one pass's scratch holds (kSconvDirectScratchBudget): bands
      // cut across the passes' row boundaries.
      {64, 20, 60, 12, 12, 1, {1, 23, 59}, {1, 11}, false, true, -INFINITY, INFINITY, 0, 64},
      {40, 9, 130, 9, 9, 1, {1, 129}, {1, 8}, true, true, 0.f, INFINITY, 0, 40},
      {50, 30, 60, 12, 12, 1, {1, 30, 59}, {1, 11}, false, true, 0.f, INFINITY, 16, 50},  // m0 > 0, partial block
      // Residual blocks: resnet8's stage-1 second layer (+ Add + Relu), a 7x7 one without Relu,
      // and odd widths whose last 8-pixel group is partial.
      {16, 144, 28, 28, 28, 1, {1, 27}, {1, 27}, true, true, 0.f, INFINITY, 0, 16, true},
      {64, 576, 7, 7, 7, 1, {1, 6}, {1, 6}, true, true, -INFINITY, INFINITY, 0, 64, true},
      {50, 30, 5, 13, 13, 1, {1, 4}, {1, 12}, false, true, 0.f, 6.f, 16, 50, true},
      {40, 9, 130, 9, 9, 1, {1, 129}, {1, 8}, true, false, 0.f, INFINITY, 0, 40, true},
  };
  for (int i = 0; i < 200; ++i) {
    Case c;
    c.M = std::uniform_int_distribution<int64_t>(1, 70)(rng);
    c.packed_K = std::uniform_int_distribution<int64_t>(1, 60)(rng);
    c.rows = std::uniform_int_distribution<int64_t>(1, 9)(rng);
    c.ldo = std::uniform_int_distribution<int64_t>(1, i % 4 == 0 ? 30 : 12)(rng);
    c.col_step = std::uniform_int_distribution<int64_t>(1, 3)(rng);
    c.row_step = c.ldo * c.col_step + std::uniform_int_distribution<int64_t>(0, 4)(rng);
    for (int64_t r = 1; r < c.rows; ++r)
      if (rng() % 3 == 0) c.row_cuts.push_back(r);
    for (int64_t r = 1; r < c.ldo; ++r)
      if (rng() % 3 == 0) c.col_cuts.push_back(r);
    c.conv_offsets = rng() % 2;
    c.bias = rng() % 2;
    c.lo = rng() % 2 ? -INFINITY : -0.3f;
    c.hi = rng() % 2 ? INFINITY : 0.4f;
    c.m0 = std::uniform_int_distribution<int64_t>(0, (c.M - 1) / 16)(rng) * 16;
    c.m1 = std::uniform_int_distribution<int64_t>(c.m0 + 1, c.M)(rng);
    c.sum = rng() % 2;
    cases.push_back(c);
  }
  multi_pass_cases = 0;
  for (const Case& c : cases) run_case(c, seed++);
  EXPECT_GE(multi_pass_cases, 4) << "the fixed multi-pass cases";
}

TEST(SconvDirectAvx2, NaNPropagatesThroughTheClamp) {
  if (!sgemm_avx2_supported()) GTEST_SKIP() << "CPU lacks AVX2 + FMA";
  const int32_t off[2] = {0, 1};
  std::vector<float> x(40, 1.f), w = {1.f, 1.f}, packed(sconv_direct_packed_floats(1, 2));
  x[3] = std::nanf("");
  sconv_direct_pack_avx2(1, 2, w.data(), 2, packed.data());
  SconvDirectParams p;
  p.M = 1;
  p.packed_K = 2;
  p.Q = 9;
  p.ldo = 9;
  p.lo = 0.f;
  p.hi = 1.5f;
  SconvDirectBand b;
  b.x = x.data();
  b.rows = 1;
  b.cols = 9;
  b.K = 2;
  b.off = off;
  std::vector<float> c(16, kSentinel);
  alignas(32) float scratch[16 * 16];
  ASSERT_LE(sconv_direct_scratch_floats(p.Q, p.ldo, 0, 1), 16u * 16u);
  sconv_direct_avx2(p, &b, 1, packed.data(), c.data(), 16, 0, 1, scratch);
  EXPECT_EQ(c[0], 1.5f);  // 2 clamped to hi
  EXPECT_TRUE(std::isnan(c[2]) && std::isnan(c[3])) << "pixels 2 and 3 read the NaN";
  EXPECT_EQ(c[4], 1.5f);
  EXPECT_EQ(c[8], 1.5f);
  EXPECT_EQ(c[9], kSentinel);
  // A NaN in the residual too, and the residual's other values pulled below lo.
  std::vector<float> sum(9, -10.f);
  sum[6] = std::nanf("");
  p.sum = sum.data();
  std::fill(c.begin(), c.end(), kSentinel);
  sconv_direct_avx2(p, &b, 1, packed.data(), c.data(), 16, 0, 1, scratch);
  EXPECT_EQ(c[0], 0.f);  // 2 - 10 clamped to lo
  EXPECT_TRUE(std::isnan(c[2]) && std::isnan(c[3])) << "the input's NaN";
  EXPECT_TRUE(std::isnan(c[6])) << "the residual's NaN";
  EXPECT_EQ(c[8], 0.f);
  EXPECT_EQ(c[9], kSentinel);
}

}  // namespace
}  // namespace octet::kernels
