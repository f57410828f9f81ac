// Direct FP32 convolution, channels in the lanes, for AVX2 + FMA; the contract is in
// sconv_direct_avx2.h.
//
// Design: for each band, for each 16-channel weight block, for each tile of up to 6 of its
// pixels, a 6x16 register tile (12 accumulators) runs over the band's K taps: per tap one offset
// is read (and, for a band that skips padded taps, one weight offset), 6 input floats are
// broadcast (one per pixel, each from its own row base) and 2 ymm of packed weights are loaded
// for 12 FMAs. A band's pixels are cut into tiles of nearly equal size (25 pixels: 5 x 5, not
// 4 x 6 + 1), since a tile of under 4 pixels has too few accumulators to hide the FMA latency; a
// band of one pixel (a corner) runs up to 4 weight blocks at once for the same reason. The block's
// weights (K x 64 bytes) are re-read by every tile, from L1 or L2; a task's input stays in L2. Each
// tile stores its sums pixel-major into the scratch (2 ymm per pixel, wherever the pixel lies);
// the epilogue then adds the bias and clamps 8 pixels at a time with channels in the lanes,
// transposes them in registers and stores 8 floats per channel row, so the output rows are
// written whole whatever the bands' shapes. All of this runs per pass of a few output rows
// (sconv_direct_pass_rows), so that the scratch stays in L2. On an AVX-512 CPU the rows of a band
// at least 4 pixels wide, of column step 1 or 2, run instead in runs of up to 24 pixels
// (sconv_direct_zmm.h): the same FMAs in the same order.
#include "kernels/avx2/sconv_direct_avx2.h"

#include <immintrin.h>

#include <algorithm>

#include "kernels/avx2/qgemm_avx2.h"
#include "kernels/avx2/sgemm_kloop.h"
#include "kernels/avx2/store_lanes.h"
#include "kernels/avx2/transpose_avx2.h"
#include "kernels/avx512/sconv_direct_zmm.h"

namespace octet::kernels {
namespace {

constexpr int64_t MR = kSconvDirectMR, PR = kSconvDirectPR;
static_assert(MR == 16 && PR == 6, "the k loop below is written for 6 x 16 tiles");

// Where tap k's 16 packed weights are: row k of the block, or the row w_off names (a band that
// skips the taps in the padding).
template <bool kIndexed>
inline const float* weight_row(const float* w, const int32_t* w_off, int64_t k) {
  if constexpr (kIndexed) return w + w_off[k];
  return w + k * MR;
}

// Pixel r's sums go to out[r][0, 16): out[r][l] = sum_k w(k)[l] * xp[r][off[k]], in k order, one
// FMA per product (the shared 6x16 k loop, sgemm_kloop.h, with the pixels as its broadcast rows).
// Out of line so that the 12 accumulators, 2 weight vectors and the broadcast register fit the 16
// ymm registers.
template <bool kIndexed>
__attribute__((noinline)) void kloop_direct_6x16(int64_t K, const float* w, int64_t /*block*/, const int32_t* w_off,
                                                 const int32_t* off, const float* const xp[PR], float* const out[PR]) {
  const float* const x[PR] = {xp[0], xp[1], xp[2], xp[3], xp[4], xp[5]};
  float* const o[PR] = {out[0], out[1], out[2], out[3], out[4], out[5]};
  kloop_6x16_rows_to(K, [&x, off](int64_t k, int r) { return x[r] + off[k]; },
                     [w, w_off](int64_t k) { return weight_row<kIndexed>(w, w_off, k); },
                     [&o](int r) { return o[r]; });
}

// Stores 16 sums (two ymm) at dst.
inline void store16(float* dst, __m256 lo, __m256 hi) {
  _mm256_storeu_ps(dst, lo);
  _mm256_storeu_ps(dst + 8, hi);
}

// The partial tiles: NP < 6 pairs of accumulators (16 channels each), pair i's sums at out[i].
//   kPixels: pair i is pixel xs[i] (NP pixels, one weight block): a last tile of a band's pixels,
//     each element's FMAs in the same k order as the 6-pixel loop (so the same bits);
//   else: pair i is pixel xs[0] with weight block i (at w + i * block): a band of one pixel (a
//     corner), whose lone pair of accumulators would wait on the FMA latency every tap.
// Named accumulators (an array of them made GCC keep them on the stack inside the loop).
template <int NP, bool kPixels, bool kIndexed>
__attribute__((noinline)) void kloop_pairs(int64_t K, const float* w, int64_t block, const int32_t* w_off,
                                           const int32_t* off, const float* const xs[PR], float* const out[PR]) {
  static_assert(NP >= 1 && NP < PR, "a partial tile");
  const __m256 z = _mm256_setzero_ps();
  __m256 c00 = z, c01 = z, c10 = z, c11 = z, c20 = z, c21 = z, c30 = z, c31 = z, c40 = z, c41 = z;
  auto x_of = [xs](int i) { return xs[kPixels && NP > i ? i : 0]; };
  const float *x0 = x_of(0), *x1 = x_of(1), *x2 = x_of(2), *x3 = x_of(3), *x4 = x_of(4);
  for (int64_t k = 0; k < K; ++k) {
    const float* wk = weight_row<kIndexed>(w, w_off, k);
    const int32_t o = off[k];
    auto pair = [&](int i, const float* x, __m256& lo, __m256& hi) {
      const float* wi = kPixels ? wk : wk + i * block;  // kPixels: the same two loads, once
      const __m256 a = _mm256_broadcast_ss(x + o);
      lo = _mm256_fmadd_ps(a, _mm256_loadu_ps(wi), lo);
      hi = _mm256_fmadd_ps(a, _mm256_loadu_ps(wi + 8), hi);
    };
    pair(0, x0, c00, c01);
    if constexpr (NP > 1) pair(1, x1, c10, c11);
    if constexpr (NP > 2) pair(2, x2, c20, c21);
    if constexpr (NP > 3) pair(3, x3, c30, c31);
    if constexpr (NP > 4) pair(4, x4, c40, c41);
  }
  const __m256 acc[5][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}};
  for (int i = 0; i < NP; ++i) store16(out[i], acc[i][0], acc[i][1]);
}

using KLoop = void (*)(int64_t, const float*, int64_t, const int32_t*, const int32_t*, const float* const[PR],
                       float* const[PR]);

// The k loop for n pairs of accumulators: a tile of n pixels (kPixels, 1 <= n <= 6), or one
// pixel over n weight blocks (1 <= n <= 4).
template <bool kPixels, bool kIndexed>
KLoop kloop_for(int64_t n) {
  switch (n) {
    case 1: return kloop_pairs<1, kPixels, kIndexed>;
    case 2: return kloop_pairs<2, kPixels, kIndexed>;
    case 3: return kloop_pairs<3, kPixels, kIndexed>;
    case 4: return kloop_pairs<4, kPixels, kIndexed>;
    case 5: return kloop_pairs<5, kPixels, kIndexed>;
    default: return kloop_direct_6x16<kIndexed>;
  }
}

// Band b's sums for blocks [b0, b1) (of the call's, from m0) into the scratch, [block][Q8][16];
// with `zmm`, a band at least kSconvZmmMinRun pixels wide, of column step 1 or 2, runs its rows on
// the AVX-512 loop (sconv_direct_zmm.h), two blocks at a time where there are two.
template <bool kIndexed>
void run_band(const SconvDirectParams& p, const SconvDirectBand& b, const float* packed_w, int64_t m0, int64_t b0,
              int64_t b1, float* scratch, int64_t q8, bool zmm) {
  const int64_t block = MR * p.packed_K, n = b.rows * b.cols;
  if (n == 0) return;
  // A band without taps reads no input: its pixels' pointers stay at b.x, never formed outside
  // the input (b.x may be any pointer into it there).
  const int64_t row_step = b.K ? p.row_step : 0, col_step = b.K ? p.col_step : 0;
  if (n == 1) {  // one pixel: up to 4 blocks per pass
    for (int64_t bl = b0; bl < b1; bl += 4) {
      const int64_t nb = std::min<int64_t>(4, b1 - bl);
      float* out[PR];
      const float* xs[PR];
      for (int64_t i = 0; i < PR; ++i) {
        out[i] = scratch + ((bl + std::min(i, nb - 1)) * q8 + b.out) * MR;
        xs[i] = b.x;
      }
      kloop_for<false, kIndexed>(nb)(b.K, packed_w + (m0 / MR + bl) * block, block, b.w_off, b.off, xs, out);
    }
    return;
  }
  if (zmm && b.K > 0 && (p.col_step == 1 || p.col_step == 2) && b.cols >= kSconvZmmMinRun) {  // rows in AVX-512 runs
    for (int64_t bl = b0; bl < b1;) {
      const int64_t nb = b1 - bl >= 2 ? 2 : 1, widest = nb == 2 ? kSconvZmmMaxRun2 : kSconvZmmMaxRun1;
      // Runs of nearly equal length: ceil(cols / widest) of them, the first cols % runs one longer.
      const int64_t runs = (b.cols + widest - 1) / widest, shorter = b.cols / runs, longer = b.cols % runs;
      const float* w = packed_w + (m0 / MR + bl) * block;
      for (int64_t i = 0; i < b.rows; ++i)
        for (int64_t r = 0, j = 0; r < runs; ++r) {
          const int64_t len = shorter + (r < longer ? 1 : 0), q = b.out + i * p.ldo + j;
          float* const out[2] = {scratch + (bl * q8 + q) * MR, scratch + ((bl + nb - 1) * q8 + q) * MR};
          sconv_direct_run_zmm(len, p.col_step, nb, b.K, w, block, b.w_off, b.off,
                               b.x + i * row_step + j * col_step, out);
          j += len;
        }
      bl += nb;
    }
    return;
  }
  // Tiles of nearly equal size: ceil(n / 6) of them, the first n % tiles one pixel longer.
  const int64_t tiles = (n + PR - 1) / PR, small = n / tiles, longer = n % tiles;
  for (int64_t bl = b0; bl < b1; ++bl) {
    const float* w = packed_w + (m0 / MR + bl) * block;
    float* sb = scratch + bl * q8 * MR;
    int64_t i = 0, j = 0;  // the next pixel's row and column in the band
    for (int64_t t = 0; t < tiles; ++t) {
      const int64_t len = small + (t < longer ? 1 : 0);
      const float* xp[PR];
      float* out[PR];
      for (int64_t r = 0; r < len; ++r) {
        xp[r] = b.x + i * row_step + j * col_step;
        out[r] = sb + (b.out + i * p.ldo + j) * MR;
        if (++j == b.cols) {
          j = 0;
          ++i;
        }
      }
      for (int64_t r = len; r < PR; ++r) xp[r] = xp[len - 1], out[r] = out[len - 1];  // not read or written
      kloop_for<true, kIndexed>(len)(b.K, w, block, b.w_off, b.off, xp, out);
    }
  }
}

// Bias (when `bias`), the transpose of block bl's scratch [Q8][16] into channel rows [0, mr) of c
// (8 pixels at a time, the last group's stores cut at Q), the residual `sum` (c's layout; kSum)
// and the clamp. Every loop over r[] has constant bounds, so that r stays in registers.
template <bool kSum>
void store_block(const float* sb, const float* bias16, bool bias, const float* sum, bool clamp, __m256 lo,
                 __m256 hi, int64_t mr, int64_t Q, float* c, int64_t ldc) {
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int64_t h = 0; h < 2 && 8 * h < mr; ++h) {
    const __m256 b = _mm256_loadu_ps(bias16 + 8 * h);
    const int64_t ls = std::min<int64_t>(8, mr - 8 * h);
    for (int64_t q = 0; q < Q; q += 8) {
      __m256 r[8];
      for (int p = 0; p < 8; ++p) {
        __m256 v = _mm256_load_ps(sb + (q + p) * MR + 8 * h);
        if (bias) v = _mm256_add_ps(v, b);
        if (!kSum && clamp) v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));  // lo/hi first: NaN stays NaN
        r[p] = v;
      }
      avx2::transpose8x8_ps(r);  // r[l]: channel 8h + l, pixels q.. in the lanes
      float* row = c + 8 * h * ldc + q;
      const int64_t n = std::min<int64_t>(8, Q - q);
      if (kSum) {  // rows past ls and lanes past Q are neither read nor stored
        const float* srow = sum + 8 * h * ldc + q;
        const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(n)), lane);
#pragma GCC unroll 8
        for (int l = 0; l < 8; ++l) {
          if (l < ls)
            r[l] = _mm256_add_ps(r[l], n == 8 ? _mm256_loadu_ps(srow + l * ldc) : _mm256_maskload_ps(srow + l * ldc, mask));
          if (clamp) r[l] = _mm256_min_ps(hi, _mm256_max_ps(lo, r[l]));
        }
      }
      if (n == 8 && ls == 8) {
#pragma GCC unroll 8
        for (int l = 0; l < 8; ++l) _mm256_storeu_ps(row + l * ldc, r[l]);
      } else {
        for (int64_t l = 0; l < ls; ++l) avx2::store_first_ps(row + l * ldc, r[l], n);
      }
    }
  }
}

}  // namespace

void sconv_direct_pack_avx2(int64_t M, int64_t K, const float* w, int64_t ldw, float* packed) {
  for (int64_t m0 = 0; m0 < M; m0 += MR)
    for (int64_t k = 0; k < K; ++k)
      for (int64_t l = 0; l < MR; ++l) *packed++ = m0 + l < M ? w[(m0 + l) * ldw + k] : 0.f;
}

void sconv_direct_avx2(const SconvDirectParams& p, const SconvDirectBand* bands, int64_t nbands,
                       const float* packed_w, float* c, int64_t ldc, int64_t m0, int64_t m1, float* scratch) {
  if (m1 <= m0 || p.Q <= 0) return;
  const int64_t blocks = (m1 - m0 + MR - 1) / MR, rows = p.Q / p.ldo;
  const int64_t pass = sconv_direct_pass_rows(p.Q, p.ldo, m0, m1);
  // The AVX-512 runs where the INT8 GEMM runs its VNNI loop (the CPU has AVX-512 F, BW, VL, VNNI
  // and FMA, and OCTET_ISA does not force AVX2), one switch for every AVX-512 loop.
  const bool zmm = p.allow_zmm && qgemm_default_isa() == QgemmIsa::Avx512Vnni;
  const bool clamp = p.lo != -INFINITY || p.hi != INFINITY;
  const __m256 lo = _mm256_set1_ps(p.lo), hi = _mm256_set1_ps(p.hi);
  alignas(32) float bias16[MR];
  for (int64_t r0 = 0; r0 < rows; r0 += pass) {  // output rows [r0, r1), pixels from r0 * ldo
    const int64_t r1 = std::min(rows, r0 + pass), q = (r1 - r0) * p.ldo, q8 = (q + 7) / 8 * 8;
    for (int64_t i = 0; i < nbands; ++i) {
      const SconvDirectBand& b = bands[i];
      const int64_t first = b.out / p.ldo;  // the band's first output row
      const int64_t i0 = std::max<int64_t>(0, r0 - first), i1 = std::min(b.rows, r1 - first);
      if (i0 >= i1) continue;
      SconvDirectBand part = b;  // its rows in this pass
      part.x = b.K ? b.x + i0 * p.row_step : b.x;
      part.rows = i1 - i0;
      part.out = b.out + (i0 - r0) * p.ldo;
      if (b.w_off) {
        run_band<true>(p, part, packed_w, m0, 0, blocks, scratch, q8, zmm);
      } else {
        run_band<false>(p, part, packed_w, m0, 0, blocks, scratch, q8, zmm);
      }
    }
    for (int64_t bl = 0; bl < blocks; ++bl) {
      const int64_t m = m0 + bl * MR, mr = std::min(MR, m1 - m);
      for (int64_t l = 0; l < MR; ++l) bias16[l] = p.bias && l < mr ? p.bias[m + l] : 0.f;
      float* sb = scratch + bl * q8 * MR;
      // The last group's pixels past q are transposed with the rest but never stored; zeros keep
      // whatever the scratch held (a NaN, a denormal's slow path) out of the arithmetic.
      std::fill(sb + q * MR, sb + q8 * MR, 0.f);
      const int64_t at = (m - m0) * ldc + r0 * p.ldo;
      if (p.sum) {
        store_block<true>(sb, bias16, p.bias != nullptr, p.sum + at, clamp, lo, hi, mr, q, c + at, ldc);
      } else {
        store_block<false>(sb, bias16, p.bias != nullptr, nullptr, clamp, lo, hi, mr, q, c + at, ldc);
      }
    }
  }
}

}  // namespace octet::kernels
