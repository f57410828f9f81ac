// INT8 direct convolution on AVX-512 VNNI; see qconv_direct_vnni.h.
// GCC 12 reports its own AVX-512 conversion intrinsics (an undefined pass-through vector by design)
// as uninitialized when they are inlined (GCC bug 105593, as in qgemm_vnni.cpp); nothing here reads
// an uninitialized value.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/avx512/qconv_direct_vnni.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <utility>

namespace octet::kernels {
namespace {

constexpr int kMaxBlocks = 4;
// Pixels per tile for 1 .. 4 weight blocks: at most 28 accumulators, so that the weight vectors
// and a broadcast fit the 32 zmm registers beside them, and at most 12 pixel pointers. One block
// takes 8, not 12: measured alone (16 -> 16 channels, 28x28), 12 pixels ran at 176 G
// multiply-adds/s, 7 or 8 at 202-216 (12 pointers and the loop's own registers exceed the 16
// general registers).
constexpr int kMaxPixels1 = 8, kMaxPixels2 = 12, kMaxPixels3 = 8, kMaxPixels4 = 7;
constexpr int kMaxPixels = 12;  // the largest of them
constexpr int max_pixels(int blocks) {
  return blocks == 1 ? kMaxPixels1 : blocks == 2 ? kMaxPixels2 : blocks == 3 ? kMaxPixels3 : kMaxPixels4;
}

// What the epilogue of a channel group's tiles shares.
struct Epilogue {
  const int32_t* rowterm;  // at the group's first channel
  const float* mult;       // at the group's first channel
  const uint8_t* small;    // at the group's first block, or null
  __m512d lo_zp, hi_zp;    // max(lo, qmin) - zp, min(hi, qmax) - zp
  __m512i lo_zp_i, hi_zp_i, zp;
};

// 16 sums (one channel block of one pixel) to 16 bytes: INT8 GEMM's requant8_wide on a zmm of
// int32 (its comment says why the clamp may come before the rounding).
inline __attribute__((always_inline)) __m128i requant16(__m512i acc, const float* mult, const Epilogue& e) {
  const __m512d m0 = _mm512_cvtps_pd(_mm256_loadu_ps(mult)), m1 = _mm512_cvtps_pd(_mm256_loadu_ps(mult + 8));
  __m512d d0 = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(acc)), m0);
  __m512d d1 = _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(acc, 1)), m1);
  d0 = _mm512_min_pd(_mm512_max_pd(d0, e.lo_zp), e.hi_zp);
  d1 = _mm512_min_pd(_mm512_max_pd(d1, e.lo_zp), e.hi_zp);
  const __m256i i0 = _mm512_cvt_roundpd_epi32(d0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256i i1 = _mm512_cvt_roundpd_epi32(d1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512i v = _mm512_add_epi32(_mm512_inserti64x4(_mm512_castsi256_si512(i0), i1, 1), e.zp);
  return _mm512_cvtepi32_epi8(v);  // in [qmin, qmax]: the narrowing is exact
}

// requant16 for a block whose every |acc| < 1.5 * 2^23 and whose multipliers lie in [0, 1]
// (QconvDirectBand::small): the INT8 GEMM's single-precision form (avx2::small_round8 in
// dw_requant_avx2.h says why the FMA rounds the exact product to round_half_even of it, or to a
// value beyond 2^22 of its sign, which the clamp to [lo', hi'] - zp then takes as the exact value
// would), 7 operations per 16 values where requant16 takes 14.
inline __attribute__((always_inline)) __m128i requant16_small(__m512i acc, const float* mult, const Epilogue& e) {
  const __m512 c = _mm512_set1_ps(static_cast<float>(kQconvDirectSmallAcc));
  __m512i r = _mm512_castps_si512(_mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), _mm512_loadu_ps(mult), c));
  r = _mm512_sub_epi32(r, _mm512_set1_epi32(0x4B400000));
  r = _mm512_min_epi32(_mm512_max_epi32(r, e.lo_zp_i), e.hi_zp_i);
  return _mm512_cvtepi32_epi8(_mm512_add_epi32(r, e.zp));
}

// One tile: NB blocks of 16 channels x the pixels R. The accumulators are named by the fold
// expressions' constant indices, so that GCC keeps them in registers.
template <int NB, size_t... R>
void tile(int64_t taps, int64_t Cq, const uint8_t* const* px, const int32_t* off, const int32_t* w_off,
          const int8_t* w, int64_t block_bytes, const Epilogue& e, uint8_t* const* dst, std::index_sequence<R...>) {
  constexpr int T = sizeof...(R);
  __m512i a0[T], a1[T], a2[T], a3[T];
  ((a0[R] = _mm512_setzero_si512()), ...);
  if constexpr (NB > 1) ((a1[R] = _mm512_setzero_si512()), ...);
  if constexpr (NB > 2) ((a2[R] = _mm512_setzero_si512()), ...);
  if constexpr (NB > 3) ((a3[R] = _mm512_setzero_si512()), ...);
  for (int64_t t = 0; t < taps; ++t) {
    const int8_t* wk = w + w_off[t];
    const uint8_t* xk[T] = {(px[R] + off[t])...};
    for (int64_t q = 0; q < Cq; ++q) {
      const __m512i b0 = _mm512_loadu_si512(wk + 64 * q);
      __m512i b1, b2, b3;
      if constexpr (NB > 1) b1 = _mm512_loadu_si512(wk + block_bytes + 64 * q);
      if constexpr (NB > 2) b2 = _mm512_loadu_si512(wk + 2 * block_bytes + 64 * q);
      if constexpr (NB > 3) b3 = _mm512_loadu_si512(wk + 3 * block_bytes + 64 * q);
      auto pixel = [&](const uint8_t* p, __m512i& c0, __m512i& c1, __m512i& c2, __m512i& c3) {
        int32_t quad;
        __builtin_memcpy(&quad, p + 4 * q, 4);
        const __m512i v = _mm512_set1_epi32(quad);
        c0 = _mm512_dpbusd_epi32(c0, v, b0);
        if constexpr (NB > 1) c1 = _mm512_dpbusd_epi32(c1, v, b1);
        if constexpr (NB > 2) c2 = _mm512_dpbusd_epi32(c2, v, b2);
        if constexpr (NB > 3) c3 = _mm512_dpbusd_epi32(c3, v, b3);
      };
      (pixel(xk[R], a0[R], a1[R], a2[R], a3[R]), ...);
    }
  }
  auto store = [&](int b, __m512i acc, uint8_t* d) {
    acc = _mm512_add_epi32(acc, _mm512_loadu_si512(e.rowterm + 16 * b));
    const __m128i bytes = e.small && e.small[b] ? requant16_small(acc, e.mult + 16 * b, e)
                                                : requant16(acc, e.mult + 16 * b, e);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(d + 16 * b), bytes);
  };
  (store(0, a0[R], dst[R]), ...);
  if constexpr (NB > 1) (store(1, a1[R], dst[R]), ...);
  if constexpr (NB > 2) (store(2, a2[R], dst[R]), ...);
  if constexpr (NB > 3) (store(3, a3[R], dst[R]), ...);
}

using TileFn = void (*)(int64_t, int64_t, const uint8_t* const*, const int32_t*, const int32_t*, const int8_t*,
                        int64_t, const Epilogue&, uint8_t* const*);

template <int NB, int T>
__attribute__((noinline)) void tile_fixed(int64_t taps, int64_t Cq, const uint8_t* const* px, const int32_t* off,
                                          const int32_t* w_off, const int8_t* w, int64_t block_bytes,
                                          const Epilogue& e, uint8_t* const* dst) {
  tile<NB>(taps, Cq, px, off, w_off, w, block_bytes, e, dst, std::make_index_sequence<T>());
}

// The tiles of NB blocks for 1 .. max_pixels(NB) pixels (entry T - 1).
template <int NB, size_t... T>
constexpr std::array<TileFn, sizeof...(T)> tiles(std::index_sequence<T...>) {
  return {tile_fixed<NB, static_cast<int>(T) + 1>...};
}
constexpr auto kTiles1 = tiles<1>(std::make_index_sequence<kMaxPixels1>());
constexpr auto kTiles2 = tiles<2>(std::make_index_sequence<kMaxPixels2>());
constexpr auto kTiles3 = tiles<3>(std::make_index_sequence<kMaxPixels3>());
constexpr auto kTiles4 = tiles<4>(std::make_index_sequence<kMaxPixels4>());

TileFn tile_fn(int blocks, int pixels) {
  switch (blocks) {
    case 1: return kTiles1[pixels - 1];
    case 2: return kTiles2[pixels - 1];
    case 3: return kTiles3[pixels - 1];
    default: return kTiles4[pixels - 1];
  }
}

// A 16 x 16 byte block: rows [0, s_rows) of s (row r at s + r * lds, bytes [0, s_cols)), the other
// rows and bytes read as 0, transposed; row j < s_cols of the result goes to d + j * ldd, its
// bytes [0, d_cols). Masked loads and stores touch no byte outside those ranges.
inline void transpose16_u8(const uint8_t* s, int64_t lds, int s_rows, int s_cols, uint8_t* d, int64_t ldd,
                           int d_cols) {
  const __mmask16 load_mask = static_cast<__mmask16>((1u << s_cols) - 1);
  __m128i r[16], a[16];
  for (int i = 0; i < 16; ++i)
    r[i] = i < s_rows ? _mm_maskz_loadu_epi8(load_mask, s + i * lds) : _mm_setzero_si128();
  // a[k] (k < 8): 16-bit unit j = column j of rows 2k, 2k + 1; a[k + 8]: column 8 + j.
  for (int k = 0; k < 8; ++k) {
    a[k] = _mm_unpacklo_epi8(r[2 * k], r[2 * k + 1]);
    a[k + 8] = _mm_unpackhi_epi8(r[2 * k], r[2 * k + 1]);
  }
  // r[h + 4 c + k]: 32-bit unit j = column h + 4 c + j of rows 4k .. 4k + 3.
  for (int h = 0; h < 16; h += 8)
    for (int k = 0; k < 4; ++k) {
      r[h + k] = _mm_unpacklo_epi16(a[h + 2 * k], a[h + 2 * k + 1]);
      r[h + 4 + k] = _mm_unpackhi_epi16(a[h + 2 * k], a[h + 2 * k + 1]);
    }
  // a[g + 2 c + k]: 64-bit unit j = column g + 2 c + j of rows 8k .. 8k + 7.
  for (int g = 0; g < 16; g += 4)
    for (int k = 0; k < 2; ++k) {
      a[g + k] = _mm_unpacklo_epi32(r[g + 2 * k], r[g + 2 * k + 1]);
      a[g + 2 + k] = _mm_unpackhi_epi32(r[g + 2 * k], r[g + 2 * k + 1]);
    }
  const __mmask16 store_mask = static_cast<__mmask16>((1u << d_cols) - 1);
  for (int e = 0; e < 16; e += 2) {
    const __m128i c0 = _mm_unpacklo_epi64(a[e], a[e + 1]), c1 = _mm_unpackhi_epi64(a[e], a[e + 1]);
    if (e < s_cols) _mm_mask_storeu_epi8(d + e * ldd, store_mask, c0);
    if (e + 1 < s_cols) _mm_mask_storeu_epi8(d + (e + 1) * ldd, store_mask, c1);
  }
}

}  // namespace

void qconv_direct_vnni(const QconvDirectParams& p, const QconvDirectBand* bands, int64_t nbands, int64_t Q,
                       const int8_t* packed, int64_t m0, int64_t m1, uint8_t* y, int64_t ldy, uint8_t* scratch) {
  if (m0 >= m1 || Q <= 0) return;
  const int64_t Mt = m1 - m0;  // the scratch's channels per pixel, a multiple of 16
  const int32_t lo_zp = std::max(p.lo, p.qmin) - p.zero_point, hi_zp = std::min(p.hi, p.qmax) - p.zero_point;
  Epilogue e;
  e.lo_zp = _mm512_set1_pd(lo_zp);
  e.hi_zp = _mm512_set1_pd(hi_zp);
  e.lo_zp_i = _mm512_set1_epi32(lo_zp);
  e.hi_zp_i = _mm512_set1_epi32(hi_zp);
  e.zp = _mm512_set1_epi32(p.zero_point);
  const uint8_t* px[kMaxPixels];
  uint8_t* dst[kMaxPixels];
  for (int64_t mb = m0; mb < m1; mb += 16 * kMaxBlocks) {
    const int blocks = static_cast<int>(std::min<int64_t>(kMaxBlocks, (m1 - mb) / 16));
    const int8_t* w = packed + mb / 16 * p.block_bytes;
    e.mult = p.multiplier + mb;
    for (int64_t bi = 0; bi < nbands; ++bi) {
      const QconvDirectBand& b = bands[bi];
      const int64_t n = b.rows * b.cols;
      if (n == 0) continue;
      e.rowterm = b.rowterm + mb;
      e.small = b.small ? b.small + mb / 16 : nullptr;
      // Tiles of nearly equal sizes: 25 pixels are 5 x 5, not 7 + 7 + 7 + 4.
      const int64_t count = (n + max_pixels(blocks) - 1) / max_pixels(blocks), base = n / count, extra = n % count;
      int64_t i = 0, j = 0;  // the band's next pixel (no division per pixel: small layers felt it)
      // A band without taps reads no input: its pixels' pointers stay at b.x, never formed
      // outside the input (b.x may be any pointer into it there).
      const int64_t row_step = b.taps ? p.row_step : 0, col_step = b.taps ? p.col_step : 0;
      for (int64_t t = 0; t < count; ++t) {
        const int T = static_cast<int>(base + (t < extra ? 1 : 0));
        for (int r = 0; r < T; ++r) {
          px[r] = b.x + i * row_step + j * col_step;
          dst[r] = scratch + (b.out + i * p.ldo + j) * Mt + (mb - m0);
          if (++j == b.cols) j = 0, ++i;
        }
        tile_fn(blocks, T)(b.taps, p.Cq, px, b.off, b.w_off, w, p.block_bytes, e, dst);
      }
    }
  }
  // The pixel-major scratch into the channel planes of y, 16 x 16 bytes at a time.
  for (int64_t c = 0; c < Mt; c += 16)
    for (int64_t q = 0; q < Q; q += 16) {
      const int n = static_cast<int>(std::min<int64_t>(16, Q - q));
      transpose16_u8(scratch + q * Mt + c, Mt, n, 16, y + c * ldy + q, ldy, n);
    }
}

void qconv_direct_hwc_vnni(const uint8_t* x, int64_t C, int64_t ldx, int64_t n, int64_t C4, uint8_t* dst) {
  for (int64_t c = 0; c < C4; c += 16)
    for (int64_t p = 0; p < n; p += 16) {
      const int rows = static_cast<int>(std::clamp<int64_t>(C - c, 0, 16));
      transpose16_u8(x + c * ldx + p, ldx, rows, static_cast<int>(std::min<int64_t>(16, n - p)), dst + p * C4 + c,
                     C4, static_cast<int>(std::min<int64_t>(16, C4 - c)));
    }
}

}  // namespace octet::kernels
