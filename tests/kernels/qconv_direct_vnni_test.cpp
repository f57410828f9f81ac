// qconv_direct_vnni (the channels-in-lanes INT8 direct convolution on AVX-512 VNNI) against its
// reference twin qconv_direct_ref, at 0 LSB: output grids cut into bands (rectangles of 1 to 20
// pixels a side) with their own random taps and row terms, so that tiles of 1 to 12 pixels span
// rows; 1 to 9 weight blocks (groups of 4, 3, 2 and 1 blocks); channel quads 1 to 40; row and
// column steps of strided convolutions; uint8 and int8 ranges with zero points, lo / hi clamps,
// multipliers above 1 and tiny ones, sums near the int32 ends (wrapping row terms), blocks on the
// single-precision epilogue (flagged as the engine flags them) and on the double one; channel
// sub-ranges [m0, m1); and no write outside the rows and pixels the contract names. Then
// qconv_direct_hwc_vnni against plain loops, and qconv_direct_pack's layout.
#include "kernels/avx512/qconv_direct_vnni.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "kernels/avx2/qgemm_avx2.h"
#include "kernels/ref/qconv_direct_ref.h"

namespace octet::kernels {
namespace {

constexpr uint8_t kSentinel = 0xA5;

bool vnni() { return qgemm_isa_supported(QgemmIsa::Avx512Vnni); }

struct Case {
  int64_t M, Cq, taps, rows, ldo, row_step_px, col_step_px;
  std::vector<int64_t> row_cuts, col_cuts;
  bool is_signed;
  int64_t m0, m1;
  bool extreme = false;  // weights -128 or 127, inputs 0 or 255
  bool with_small = true;  // the bands' single-precision flags (else none)
};

int64_t small_blocks = 0;  // (band, block) pairs flagged for the single-precision epilogue
int64_t wide_small_blocks = 0;  // those with multipliers up to 1 and products past 2^22

void run_case(const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "M=" << c.M << " Cq=" << c.Cq << " taps=" << c.taps << " grid " << c.rows << "x"
                                    << c.ldo << " m=[" << c.m0 << "," << c.m1 << ") seed=" << seed);
  std::mt19937 rng(seed);
  auto u = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  const int64_t C4 = 4 * c.Cq;
  // The input: a grid of pixels of C4 bytes, large enough for every band's reads.
  const int64_t max_off_px = 40;
  const int64_t in_px = (c.rows * c.row_step_px + c.ldo * c.col_step_px + max_off_px + 1);
  std::vector<uint8_t> x(static_cast<size_t>(in_px * C4));
  for (auto& v : x) v = static_cast<uint8_t>(c.extreme ? 255 * u(0, 1) : u(0, 255));
  std::vector<int8_t> w(static_cast<size_t>(c.M * C4 * c.taps));
  for (auto& v : w) v = static_cast<int8_t>(c.extreme ? (u(0, 1) ? 127 : -128) : u(-128, 127));
  std::vector<int8_t> packed(static_cast<size_t>(qconv_direct_packed_bytes(c.M, c.taps, c.Cq)));
  qconv_direct_pack(c.M, C4, c.taps, w.data(), packed.data());
  // Multipliers above 1 only in every third block, so that the others may take the
  // single-precision epilogue; in the blocks after those, multipliers of 1, 1/2 and 1/4 (exact
  // ties) or up to 1, with row terms that take products past 2^22.
  std::vector<float> mult(static_cast<size_t>(c.M));
  for (int64_t m = 0; m < c.M; ++m) {
    float& v = mult[static_cast<size_t>(m)];
    if (m / 16 % 3 == 1) {
      const int kind = static_cast<int>(u(0, 3));
      v = kind == 0 ? 1.f : kind == 1 ? 0.5f : kind == 2 ? 0.25f : std::uniform_real_distribution<float>(0.f, 1.f)(rng);
    } else {
      const int kind = static_cast<int>(u(m / 16 % 3 == 2 ? 0 : 1, 9));
      v = kind == 0 ? 1.75f : kind == 1 ? 1e-9f : std::uniform_real_distribution<float>(0.f, 2e-4f)(rng);
    }
  }
  QconvDirectParams p;
  p.M = c.M;
  p.Cq = c.Cq;
  p.block_bytes = c.taps * c.Cq * 64;
  p.ldo = c.ldo;
  p.row_step = c.row_step_px * C4;
  p.col_step = c.col_step_px * C4;
  p.multiplier = mult.data();
  p.qmin = c.is_signed ? -128 : 0;
  p.qmax = c.is_signed ? 127 : 255;
  p.zero_point = static_cast<int32_t>(u(p.qmin, p.qmax));
  p.lo = u(0, 3) == 0 ? static_cast<int32_t>(u(p.qmin, p.zero_point)) : p.qmin;
  p.hi = u(0, 3) == 0 ? static_cast<int32_t>(u(p.lo, p.qmax)) : p.qmax;
  // Bands: the grid cut into rectangles, each with a random subset of the taps (possibly none)
  // at random pixel offsets, and its own row terms.
  std::vector<int64_t> rc = {0}, cc = {0};
  rc.insert(rc.end(), c.row_cuts.begin(), c.row_cuts.end());
  cc.insert(cc.end(), c.col_cuts.begin(), c.col_cuts.end());
  rc.push_back(c.rows);
  cc.push_back(c.ldo);
  std::vector<QconvDirectBand> bands;
  std::vector<std::vector<int32_t>> offs, w_offs, rowterms;
  std::vector<std::vector<uint8_t>> smalls;
  for (size_t r = 0; r + 1 < rc.size(); ++r)
    for (size_t k = 0; k + 1 < cc.size(); ++k) {
      std::vector<int32_t> off, w_off, rt(static_cast<size_t>(c.M));
      for (int64_t t = 0; t < c.taps; ++t)
        if (u(0, 5) > 0) {
          off.push_back(static_cast<int32_t>(u(0, max_off_px) * C4));
          w_off.push_back(static_cast<int32_t>(t * c.Cq * 64));
        }
      for (size_t m = 0; m < rt.size(); ++m)
        rt[m] = static_cast<int32_t>(m / 16 % 3 == 1 ? u(-6000000, 6000000)
                                     : u(0, 4) == 0 ? u(-2147483647 - 1, 2147483647) : u(-200000, 200000));
      // The single-precision epilogue where 255 * sum |w| over the band's taps + |row term| and
      // the multipliers allow it (as the engine decides).
      std::vector<uint8_t> small(static_cast<size_t>(c.M / 16), 1);
      for (int64_t m = 0; m < c.M; ++m) {
        double bound = std::abs(static_cast<double>(rt[static_cast<size_t>(m)]));
        for (const int32_t wo : w_off)
          for (int64_t ch = 0; ch < C4; ++ch) bound += 255.0 * std::abs(w[static_cast<size_t>((m * C4 + ch) * c.taps + wo / (c.Cq * 64))]);
        if (mult[static_cast<size_t>(m)] > 1.f || bound >= kQconvDirectSmallAcc) small[static_cast<size_t>(m / 16)] = 0;
      }
      small_blocks += std::count(small.begin(), small.end(), 1);
      for (size_t b = 1; b < small.size(); b += 3) wide_small_blocks += small[b];
      offs.push_back(off);
      w_offs.push_back(w_off);
      rowterms.push_back(rt);
      smalls.push_back(small);
    }
  for (size_t r = 0, i = 0; r + 1 < rc.size(); ++r)
    for (size_t k = 0; k + 1 < cc.size(); ++k, ++i) {
      QconvDirectBand b;
      b.rows = rc[r + 1] - rc[r];
      b.cols = cc[k + 1] - cc[k];
      b.x = x.data() + (rc[r] * c.row_step_px + cc[k] * c.col_step_px) * C4;
      b.out = rc[r] * c.ldo + cc[k];
      b.taps = static_cast<int64_t>(offs[i].size());
      b.off = offs[i].data();
      b.w_off = w_offs[i].data();
      b.rowterm = rowterms[i].data();
      b.small = c.with_small ? smalls[i].data() : nullptr;
      bands.push_back(b);
    }
  const int64_t Q = c.rows * c.ldo, ldy = Q + 7, rows_out = c.m1 - c.m0;
  std::vector<uint8_t> got(static_cast<size_t>((rows_out + 1) * ldy), kSentinel), want = got;
  std::vector<uint8_t> scratch(qconv_direct_scratch_bytes(Q, c.m0, c.m1));
  qconv_direct_vnni(p, bands.data(), static_cast<int64_t>(bands.size()), Q, packed.data(), c.m0, c.m1, got.data(),
                    ldy, scratch.data());
  qconv_direct_ref(p, bands.data(), static_cast<int64_t>(bands.size()), packed.data(), c.m0, c.m1, want.data(), ldy);
  int64_t bad = 0;
  for (int64_t m = 0; m <= rows_out; ++m)
    for (int64_t q = 0; q < ldy; ++q) {
      const size_t i = static_cast<size_t>(m * ldy + q);
      if (m < rows_out && q < Q) {
        if (got[i] != want[i] && ++bad <= 5) ADD_FAILURE() << "channel " << c.m0 + m << " pixel " << q << ": " << int(got[i]) << " != " << int(want[i]);
      } else if (got[i] != kSentinel && ++bad <= 5) {
        ADD_FAILURE() << "wrote outside: row " << m << " column " << q;
      }
    }
  EXPECT_EQ(bad, 0);
}

TEST(QconvDirectVnni, MatchesTwinOnRandomBands) {
  if (!vnni()) GTEST_SKIP() << "no AVX-512 VNNI";
  std::mt19937 rng(20261124);
  auto u = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int it = 0; it < 120; ++it) {
    Case c;
    const int64_t blocks = u(1, 9);
    c.M = 16 * blocks;
    c.Cq = it % 7 == 0 ? u(20, 40) : u(1, 8);
    c.taps = u(1, 9);
    c.rows = u(1, 12);
    c.ldo = u(1, 20);
    c.row_step_px = c.ldo * u(1, 2) + u(0, 2);
    c.col_step_px = u(1, 2);
    for (int64_t r = 1; r < c.rows; ++r)
      if (u(0, 3) == 0) c.row_cuts.push_back(r);
    for (int64_t k = 1; k < c.ldo; ++k)
      if (u(0, 4) == 0) c.col_cuts.push_back(k);
    c.is_signed = u(0, 1) == 1;
    c.with_small = it % 4 != 3;
    const int64_t b0 = u(0, blocks - 1), b1 = u(b0, blocks);
    c.m0 = 16 * (it % 3 == 0 ? 0 : b0);
    c.m1 = 16 * (it % 3 == 0 ? blocks : b1);
    run_case(c, static_cast<uint32_t>(1000 + it));
    if (HasFailure()) return;
  }
  EXPECT_GT(small_blocks, 50) << "the single-precision epilogue was hardly exercised";
  EXPECT_GT(wide_small_blocks, 10) << "multipliers near 1 hardly reached the single-precision epilogue";
}

TEST(QconvDirectVnni, ExtremeSumsWrapAsTheTwin) {
  if (!vnni()) GTEST_SKIP() << "no AVX-512 VNNI";
  // Every weight -128 or 127 and inputs 0 or 255 over 40 quads and 9 taps: |sums| up to 2^23; the row
  // terms near the int32 ends make the total wrap, which both sides must do alike.
  Case c{64, 40, 9, 7, 7, 9, 1, {1, 6}, {1, 6}, false, 0, 64, true};
  run_case(c, 7);
  c.is_signed = true;
  run_case(c, 8);
}

TEST(QconvDirectVnni, HwcLayoutMatchesPlainLoops) {
  if (!vnni()) GTEST_SKIP() << "no AVX-512 VNNI";
  std::mt19937 rng(5);
  auto u = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int it = 0; it < 60; ++it) {
    // A run of n pixels starting at p0 of planes of HW pixels.
    const int64_t C = u(1, 70), HW = u(1, 90), C4 = (C + 3) / 4 * 4, p0 = u(0, HW - 1), n = u(0, HW - p0);
    SCOPED_TRACE(::testing::Message() << "C=" << C << " HW=" << HW << " p0=" << p0 << " n=" << n);
    std::vector<uint8_t> x(static_cast<size_t>(C * HW));
    for (auto& v : x) v = static_cast<uint8_t>(u(0, 255));
    std::vector<uint8_t> got(static_cast<size_t>((n + 1) * C4 + 16), kSentinel);
    qconv_direct_hwc_vnni(x.data() + p0, C, HW, n, C4, got.data());
    for (int64_t p = 0; p < n; ++p)
      for (int64_t c = 0; c < C4; ++c) {
        const uint8_t want = c < C ? x[static_cast<size_t>(c * HW + p0 + p)] : 0;
        ASSERT_EQ(got[static_cast<size_t>(p * C4 + c)], want) << "pixel " << p << " channel " << c;
      }
    for (size_t i = static_cast<size_t>(n * C4); i < got.size(); ++i) ASSERT_EQ(got[i], kSentinel);
  }
}

TEST(QconvDirectVnni, PackLayout) {
  // Channel m, input channel c, tap t at ((m / 16 * taps + t) * Cq + c / 4) * 64 + m % 16 * 4 + c % 4.
  const int64_t M = 20, C = 6, taps = 3, Cq = 2;
  std::vector<int8_t> w(static_cast<size_t>(M * C * taps));
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<int8_t>(i % 251 - 125);
  std::vector<int8_t> packed(static_cast<size_t>(qconv_direct_packed_bytes(M, taps, Cq)), 99);
  qconv_direct_pack(M, C, taps, w.data(), packed.data());
  ASSERT_EQ(packed.size(), static_cast<size_t>(2 * taps * Cq * 64));
  for (int64_t m = 0; m < 32; ++m)
    for (int64_t t = 0; t < taps; ++t)
      for (int64_t c = 0; c < 4 * Cq; ++c) {
        const int8_t want = m < M && c < C ? w[static_cast<size_t>((m * C + c) * taps + t)] : 0;
        EXPECT_EQ(packed[static_cast<size_t>(((m / 16 * taps + t) * Cq + c / 4) * 64 + m % 16 * 4 + c % 4)], want);
      }
}

}  // namespace
}  // namespace octet::kernels
