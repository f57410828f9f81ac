// FP32 GEMM for AVX2 + FMA; the contract (layouts, rounding, preconditions) is in sgemm_avx2.h.
//
// Design (the BLIS decomposition, both operands prepacked): for each K block, for each M block of
// kSgemmMC rows, for each 16-column B panel, for each 6-row A panel, run the 6x16 microkernel.
// The microkernel keeps the 6x16 C tile in 12 ymm accumulators; per k it loads 2 ymm of B,
// broadcasts 6 floats of A and issues 12 FMAs (6 cycles at 2 FMA/cycle against 8 loads, within
// the 2-3 loads/cycle the load ports sustain). The 16 x kc slice of B stays in L1 across the M
// block's A panels, which come from L2 (MC x kc = 144 KiB); the B slab of one K block is re-read
// from L2/L3 once per M block. Measured single-threaded on the development machine (whose FMA
// loop peaks at ~116 GFLOP/s): 1024^3 ~105 GFLOP/s, conv-shaped 64x784x576 ~108, GEMV 1024x1024
// ~40 (A streamed from L3), packing of B excluded.
#include "kernels/avx2/sgemm_avx2.h"

#include <immintrin.h>

#include <algorithm>

#include "kernels/avx2/sgemm_kloop.h"
#include "kernels/avx2/store_lanes.h"
#include "kernels/avx2/transpose_avx2.h"

namespace octet::kernels {
namespace {

constexpr int64_t MR = kSgemmMR, NR = kSgemmNR;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Lanes j < count (count may be <= 0 or >= 8) are all-ones.
inline __m256i lane_mask(int64_t count) {
  const int32_t c = static_cast<int32_t>(std::clamp<int64_t>(count, 0, 8));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// min(hi, max(lo, v)): written with lo/hi as the FIRST operand, so a NaN v is returned unchanged
// (maxps/minps return the second operand when either is NaN).
inline __m256 clamp_ps(__m256 v, __m256 lo, __m256 hi) {
  return _mm256_min_ps(hi, _mm256_max_ps(lo, v));
}
inline float clamp_scalar(float v, float lo, float hi) {
  v = lo > v ? lo : v;  // same NaN behaviour as clamp_ps
  return hi < v ? hi : v;
}

using avx2::transpose8x8_ps;

// Full tile, C transposed (c_rs == 1): column j of the tile is 6 contiguous floats at c + j*c_cs.
// Each 6x8 half of the tile is transposed in registers (rows 6, 7 are don't-care), so a column
// is stored as one 4-float and one 2-float access instead of 6 scalar ones.
inline void store_column6(float* cj, __m256 v) {
  _mm_storeu_ps(cj, _mm256_castps256_ps128(v));
  // The 2-float store through _mm_storel_epi64, whose pointer type is unaligned (a double* store
  // would claim 8-byte alignment, which cj + 4 need not have).
  _mm_storel_epi64(reinterpret_cast<__m128i*>(cj + 4), _mm_castps_si128(_mm256_extractf128_ps(v, 1)));
}

// ---------------------------------------------------------------------------------------------
// Microkernel, k loop (sgemm_kloop.h): t = A-slice · B-slice for one 6x16 tile over kc values of
// k, B here a packed panel slice (kc x 16, k-major). Kept out of line on purpose: inlined into the
// C-update code below, the register allocator spilled an accumulator inside the loop; storing 12
// vectors per tile and K block to the (L1-resident) buffer costs nothing next to 6*kc cycles of
// FMAs.
__attribute__((noinline)) void kloop_6x16(int64_t kc, const float* a, const float* b, float t[MR][NR]) {
  kloop_6x16_body(kc, a, [b](int64_t k) { return b + k * NR; }, t);
}

// The k loop with A read in place: row r of the tile at a[r] (k contiguous), B a packed panel.
__attribute__((noinline)) void kloop_rows_6x16(int64_t K, const float* const ap[MR], const float* b,
                                               float t[MR][NR]) {
  const float* const a[MR] = {ap[0], ap[1], ap[2], ap[3], ap[4], ap[5]};
  kloop_6x16_rows(K, [&a](int64_t k, int r) { return a[r] + k; }, [b](int64_t k) { return b + k * NR; }, t);
}

// One 6x16 tile of C over one K block: the k loop, then the C update.
//   c: C(m, n) of the tile's corner; mr x nr of the tile is valid (the rest is padding, computed
//   from the zero-padded panels and never stored).
//   load_c: add the partial sum that earlier K blocks left in C (only when c_cs == 1, see
//   sgemm_packed_avx2).
//   last: apply the epilogue (m, n locate the tile in the bias vectors).
// Full tiles with c_cs == 1 (dense) or c_rs == 1 (transposed) move C with vectors; other tiles
// (edges, general strides) go element by element through the buffer. All cases do the same
// arithmetic on the same values, so they round identically.
void tile_6x16(int64_t kc, const float* a, const float* b, float* c, int64_t c_rs, int64_t c_cs,
               int mr, int nr, bool load_c, bool last, const SgemmEpilogue& ep, int64_t m,
               int64_t n) {
  const bool full = mr == MR && nr == NR;
  const bool dense = full && c_cs == 1, transposed = full && !dense && c_rs == 1;
  // Start fetching the C tile now: it is read (later K blocks) and written after the k loop.
  if (c_cs == 1) {
    for (int r = 0; r < mr; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(c + r * c_rs), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + r * c_rs + nr - 1), _MM_HINT_T0);
    }
  } else if (c_rs == 1) {
    for (int j = 0; j < nr; ++j)
      _mm_prefetch(reinterpret_cast<const char*>(c + j * c_cs), _MM_HINT_T0);
  }
  alignas(32) float t[MR][NR];
  kloop_6x16(kc, a, b, t);

  __m256 acc[MR][2];
  for (int r = 0; r < MR; ++r) {
    acc[r][0] = _mm256_load_ps(t[r]);
    acc[r][1] = _mm256_load_ps(t[r] + 8);
  }
  if (load_c) {  // add the partial sum of the earlier K blocks
    if (dense) {
      for (int r = 0; r < MR; ++r) {
        acc[r][0] = _mm256_add_ps(_mm256_loadu_ps(c + r * c_rs), acc[r][0]);
        acc[r][1] = _mm256_add_ps(_mm256_loadu_ps(c + r * c_rs + 8), acc[r][1]);
      }
    } else {
      alignas(32) float p[MR][NR];
      for (int r = 0; r < MR; ++r)
        for (int j = 0; j < NR; ++j) p[r][j] = (r < mr && j < nr) ? c[r * c_rs + j * c_cs] : 0.f;
      for (int r = 0; r < MR; ++r) {
        acc[r][0] = _mm256_add_ps(_mm256_load_ps(p[r]), acc[r][0]);
        acc[r][1] = _mm256_add_ps(_mm256_load_ps(p[r] + 8), acc[r][1]);
      }
    }
  }

  if (last) {
    if (ep.bias_row) {
      for (int r = 0; r < MR; ++r) {
        const __m256 br = _mm256_set1_ps(r < mr ? ep.bias_row[m + r] : 0.f);
        acc[r][0] = _mm256_add_ps(acc[r][0], br);
        acc[r][1] = _mm256_add_ps(acc[r][1], br);
      }
    }
    if (ep.bias_col) {
      const float* bc = ep.bias_col + n;
      const __m256 bc0 = _mm256_maskload_ps(bc, lane_mask(nr));
      const __m256 bc1 = _mm256_maskload_ps(bc + 8, lane_mask(nr - 8));
      for (int r = 0; r < MR; ++r) {
        acc[r][0] = _mm256_add_ps(acc[r][0], bc0);
        acc[r][1] = _mm256_add_ps(acc[r][1], bc1);
      }
    }
    if (ep.lo != -INFINITY || ep.hi != INFINITY) {  // the clamp is the identity otherwise
      const __m256 lo = _mm256_set1_ps(ep.lo), hi = _mm256_set1_ps(ep.hi);
      for (int r = 0; r < MR; ++r) {
        acc[r][0] = clamp_ps(acc[r][0], lo, hi);
        acc[r][1] = clamp_ps(acc[r][1], lo, hi);
      }
    }
  }

  if (dense) {
    for (int r = 0; r < MR; ++r) {
      _mm256_storeu_ps(c + r * c_rs, acc[r][0]);
      _mm256_storeu_ps(c + r * c_rs + 8, acc[r][1]);
    }
  } else if (transposed) {
    for (int h = 0; h < 2; ++h) {
      __m256 v[8];
      for (int r = 0; r < MR; ++r) v[r] = acc[r][h];
      v[6] = v[7] = v[0];  // don't-care rows: their lanes are not stored
      transpose8x8_ps(v);
      for (int j = 0; j < 8; ++j) store_column6(c + (8 * h + j) * c_cs, v[j]);
    }
  } else {
    for (int r = 0; r < MR; ++r) {
      _mm256_store_ps(t[r], acc[r][0]);
      _mm256_store_ps(t[r] + 8, acc[r][1]);
    }
    for (int r = 0; r < mr; ++r)
      for (int j = 0; j < nr; ++j) c[r * c_rs + j * c_cs] = t[r][j];
  }
}

// K blocks (only when rows of C are contiguous, c_cs == 1): the number of kSgemmKC-sized blocks
// nearest to K / kSgemmKC, of equal size rounded up to a multiple of 4 (the last one shorter), so
// no block is a short remainder and none exceeds 1.5 kSgemmKC. Other C layouts (transposed,
// general) run all of K in one block: their partial-sum round trip through C costs more than the
// blocking saves (C transposed, 1024x1024x1024 and 1024x256x4096: 14-20% slower blocked). The
// split depends on K and c_cs == 1 only, never on N or the block of C (see "Determinism" in the
// header). K == 0: one empty block, which still applies the epilogue.
struct KBlocks {
  int64_t size, count;
};
KBlocks k_blocks(int64_t K, int64_t c_cs) {
  const int64_t target = c_cs == 1 ? std::max<int64_t>(1, (K + kSgemmKC / 2) / kSgemmKC) : 1;
  const int64_t size = (ceil_div(K, target) + 3) / 4 * 4;
  return {size, K > 0 ? ceil_div(K, size) : 1};
}

// ---------------------------------------------------------------------------------------------
// GEMV (N == 1): y(m) = sum_k a(m,k) b(k), bit-identical to what the 6x16 path computes for any
// column of any N (same K blocks, one FMA chain per element in k order, same epilogue), so an
// engine that splits N into chunks gets the same bits whether or not a chunk has one column.
// One ymm accumulator per A panel: lanes 0..5 are the panel's 6 rows (lanes 6, 7 see the next k's
// values and are ignored); per k it loads the panel's 6 (8) floats for that k and multiplies them
// by b(k) broadcast. A chain per panel is latency-bound (FMA latency 4), so G = 8 panels run
// together (8 chains keep both FMA pipes busy), each a sequential stream of A; past L1 the loop
// is bound by the bandwidth A streams in at. The last k of a panel is loaded under a mask: its
// lanes 6, 7 would lie past the end of the last panel.
template <int G>
void gemv_panels(int64_t K, KBlocks kb, const float* a, const float* b, float* c, int64_t c_rs,
                 const SgemmEpilogue& ep, int64_t m, int64_t m1) {
  const int64_t pstride = MR * K;
  const __m256i six = lane_mask(MR);
  alignas(32) float sum[G][8];
  for (int64_t blk = 0; blk < kb.count; ++blk) {
    const int64_t k0 = blk * kb.size, k1 = std::min(K, k0 + kb.size);
    __m256 acc[G];
#pragma GCC unroll 8
    for (int i = 0; i < G; ++i) acc[i] = _mm256_setzero_ps();
    const int64_t k_plain = std::min(k1, K - 1);
    for (int64_t k = k0; k < k_plain; ++k) {
      const __m256 bk = _mm256_broadcast_ss(b + k);
#pragma GCC unroll 8
      for (int i = 0; i < G; ++i)
        acc[i] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i * pstride + k * MR), bk, acc[i]);
    }
    if (k1 == K && K > 0) {
      const __m256 bk = _mm256_broadcast_ss(b + K - 1);
#pragma GCC unroll 8
      for (int i = 0; i < G; ++i)
        acc[i] = _mm256_fmadd_ps(_mm256_maskload_ps(a + i * pstride + (K - 1) * MR, six), bk,
                                 acc[i]);
    }
    // As the 6x16 path: the first block's sum is stored, later ones are added to it. (Every loop
    // over acc is fully unrolled: with a variable index GCC kept acc in memory inside the k loop.)
#pragma GCC unroll 8
    for (int i = 0; i < G; ++i)
      _mm256_store_ps(sum[i], blk == 0 ? acc[i] : _mm256_add_ps(_mm256_load_ps(sum[i]), acc[i]));
  }
  for (int i = 0; i < G; ++i)
    for (int r = 0; r < MR; ++r) {
      const int64_t row = m + i * MR + r;
      if (row >= m1) return;
      float v = sum[i][r];
      if (ep.bias_row) v += ep.bias_row[row];
      if (ep.bias_col) v += ep.bias_col[0];
      c[row * c_rs] = clamp_scalar(v, ep.lo, ep.hi);
    }
}

void gemv(int64_t K, KBlocks kb, const float* packed_a, const float* b, float* c, int64_t c_rs,
          const SgemmEpilogue& ep, int64_t m0, int64_t m1) {
  int64_t p = m0 / MR;
  const int64_t pe = ceil_div(m1, MR);
  for (; p + 8 <= pe; p += 8)
    gemv_panels<8>(K, kb, packed_a + p * MR * K, b, c, c_rs, ep, p * MR, m1);
  if (p + 4 <= pe) {
    gemv_panels<4>(K, kb, packed_a + p * MR * K, b, c, c_rs, ep, p * MR, m1);
    p += 4;
  }
  if (p + 2 <= pe) {
    gemv_panels<2>(K, kb, packed_a + p * MR * K, b, c, c_rs, ep, p * MR, m1);
    p += 2;
  }
  if (p < pe) gemv_panels<1>(K, kb, packed_a + p * MR * K, b, c, c_rs, ep, p * MR, m1);
}

// One B panel: columns [nb, nb + cols) of b, cols <= 16, zero-padded to 16.
void pack_b_panel(int64_t K, const float* b, int64_t b_rs, int64_t b_cs, int64_t nb, int64_t cols,
                  float* dst) {
  if (b_cs == 1) {  // rows of B are contiguous: copy 16 floats per k
    const __m256i lo = lane_mask(cols), hi = lane_mask(cols - 8);
    for (int64_t k = 0; k < K; ++k) {
      const float* src = b + k * b_rs + nb;
      if (cols == NR) {
        _mm256_storeu_ps(dst + k * NR, _mm256_loadu_ps(src));
        _mm256_storeu_ps(dst + k * NR + 8, _mm256_loadu_ps(src + 8));
      } else {
        _mm256_storeu_ps(dst + k * NR, _mm256_maskload_ps(src, lo));
        _mm256_storeu_ps(dst + k * NR + 8, _mm256_maskload_ps(src + 8, hi));
      }
    }
    return;
  }
  int64_t k = 0;
  if (b_rs == 1) {  // columns of B are contiguous (B = X^T): transpose 8x8 blocks
    for (; k + 8 <= K; k += 8) {
      for (int h = 0; h < 2; ++h) {
        __m256 r[8];
        for (int j = 0; j < 8; ++j) {
          const int64_t col = 8 * h + j;
          r[j] = col < cols ? _mm256_loadu_ps(b + (nb + col) * b_cs + k) : _mm256_setzero_ps();
        }
        transpose8x8_ps(r);
        for (int i = 0; i < 8; ++i) _mm256_storeu_ps(dst + (k + i) * NR + 8 * h, r[i]);
      }
    }
  }
  for (; k < K; ++k)
    for (int64_t j = 0; j < NR; ++j)
      dst[k * NR + j] = j < cols ? b[k * b_rs + (nb + j) * b_cs] : 0.f;
}

}  // namespace

void sgemm_rows_avx2(int64_t N, int64_t K, const float* a, int64_t lda, const float* packed_b,
                     float* c, int64_t ldc, const SgemmEpilogue& ep, int64_t m0, int64_t m1,
                     int64_t n0, int64_t n1) {
  (void)N;
  if (m0 >= m1 || n0 >= n1) return;
  const bool clamp = ep.lo != -INFINITY || ep.hi != INFINITY;
  const __m256 lo = _mm256_set1_ps(ep.lo), hi = _mm256_set1_ps(ep.hi);
  alignas(32) float t[MR][NR];
  // Column panels outer: a panel's K x 16 floats stay in L1 while the rows stream past.
  for (int64_t n = n0; n < n1; n += NR) {
    const float* bp = packed_b + (n / NR) * NR * K;
    const int64_t nr = std::min(NR, n1 - n);
    const __m256i mask0 = lane_mask(nr), mask1 = lane_mask(nr - 8);
    __m256 bc0 = _mm256_setzero_ps(), bc1 = bc0;
    if (ep.bias_col) {
      bc0 = _mm256_maskload_ps(ep.bias_col + n, mask0);
      bc1 = _mm256_maskload_ps(ep.bias_col + n + 8, mask1);
    }
    for (int64_t m = m0; m < m1; m += MR) {
      const int64_t mr = std::min(MR, m1 - m);
      const float* ap[MR];
      for (int64_t r = 0; r < MR; ++r) ap[r] = a + (m + std::min(r, mr - 1)) * lda;  // spare rows repeat the last
      kloop_rows_6x16(K, ap, bp, t);
      for (int64_t r = 0; r < mr; ++r) {
        __m256 v0 = _mm256_load_ps(t[r]), v1 = _mm256_load_ps(t[r] + 8);
        if (ep.bias_row) {
          const __m256 br = _mm256_set1_ps(ep.bias_row[m + r]);
          v0 = _mm256_add_ps(v0, br);
          v1 = _mm256_add_ps(v1, br);
        }
        if (ep.bias_col) {
          v0 = _mm256_add_ps(v0, bc0);
          v1 = _mm256_add_ps(v1, bc1);
        }
        if (clamp) {
          v0 = clamp_ps(v0, lo, hi);
          v1 = clamp_ps(v1, lo, hi);
        }
        float* cr = c + (m + r) * ldc + n;
        avx2::store_first_ps(cr, v0, nr);
        if (nr > 8) avx2::store_first_ps(cr + 8, v1, nr - 8);
      }
    }
  }
}

size_t sgemm_packed_a_floats(int64_t M, int64_t K) {
  return static_cast<size_t>(ceil_div(M, MR) * MR * K);
}

void sgemm_pack_a_avx2(int64_t M, int64_t K, const float* a, int64_t a_rs, int64_t a_cs,
                       float* packed) {
  // Plain loops (once per model for a constant weight; per task for a run-time operand that is
  // not read in place), reading along k (a row of A when a_cs == 1).
  for (int64_t p = 0; p < ceil_div(M, MR); ++p) {
    float* dst = packed + p * MR * K;
    for (int64_t r = 0; r < MR; ++r) {
      const int64_t m = p * MR + r;
      if (m < M) {
        for (int64_t k = 0; k < K; ++k) dst[k * MR + r] = a[m * a_rs + k * a_cs];
      } else {
        for (int64_t k = 0; k < K; ++k) dst[k * MR + r] = 0.f;
      }
    }
  }
}

size_t sgemm_packed_b_floats(int64_t K, int64_t N) {
  return static_cast<size_t>(ceil_div(N, NR) * NR * K);
}

void sgemm_pack_b_avx2(int64_t K, int64_t N, const float* b, int64_t b_rs, int64_t b_cs,
                       int64_t n0, int64_t n1, float* packed) {
  if (n0 >= n1) return;
  if (N == 1) {  // GEMV layout: b(k) contiguous
    for (int64_t k = 0; k < K; ++k) packed[k] = b[k * b_rs];
    return;
  }
  for (int64_t nb = n0; nb < n1; nb += NR)
    pack_b_panel(K, b, b_rs, b_cs, nb, std::min(NR, N - nb), packed + (nb / NR) * NR * K);
}

void sgemm_packed_avx2(int64_t M, int64_t N, int64_t K, const float* packed_a,
                       const float* packed_b, float* c, int64_t c_rs, int64_t c_cs,
                       const SgemmEpilogue& ep, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  (void)M;
  if (m0 >= m1 || n0 >= n1) return;
  const KBlocks kblk = k_blocks(K, c_cs);
  if (N == 1) {
    gemv(K, kblk, packed_a, packed_b, c, c_rs, ep, m0, m1);
    return;
  }
  const int64_t kcb = kblk.size, nkb = kblk.count;
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const int64_t k0 = kb * kcb, kc = std::min(kcb, K - k0);
    const bool load_c = kb > 0, last = kb == nkb - 1;
    for (int64_t mb = m0; mb < m1; mb += kSgemmMC) {
      const int64_t me = std::min(mb + kSgemmMC, m1);
      for (int64_t n = n0; n < n1; n += NR) {
        const float* bp = packed_b + (n / NR) * NR * K + k0 * NR;
        const int nr = static_cast<int>(std::min(NR, n1 - n));
        for (int64_t m = mb; m < me; m += MR) {
          const float* ap = packed_a + (m / MR) * MR * K + k0 * MR;
          const int mr = static_cast<int>(std::min(MR, me - m));
          tile_6x16(kc, ap, bp, c + m * c_rs + n * c_cs, c_rs, c_cs, mr, nr, load_c, last, ep, m,
                    n);
        }
      }
    }
  }
}

}  // namespace octet::kernels
