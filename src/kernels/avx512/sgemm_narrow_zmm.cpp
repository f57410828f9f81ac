// Narrow FP32 products with whole rows of C in registers; see sgemm_narrow_zmm.h.
#include "kernels/avx512/sgemm_narrow_zmm.h"

#include <immintrin.h>

#include <algorithm>

#include "kernels/avx2/permute_avx2.h"

namespace octet::kernels {
namespace {

// Rows m .. m + valid - 1 (valid <= R) of C: R rows of V vectors, rows past `valid` repeat the
// last valid row of A and are not stored. `last` masks the columns of the last vector.
template <int V, int R>
void tile(int64_t K, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
          const SgemmEpilogue& ep, int64_t m, int valid, __mmask8 last, const __m256* bias_col, bool clamp,
          const __m256* scale) {
  const float* ar[R];
  for (int r = 0; r < R; ++r) ar[r] = a + (m + std::min(r, valid - 1)) * lda;
  __m256 acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[r][v] = _mm256_setzero_ps();
  for (int64_t k = 0; k < K; ++k) {
    __m256 bv[V];
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) bv[v] = _mm256_loadu_ps(b + k * ldb + 8 * v);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m256 x = _mm256_broadcast_ss(ar[r] + k);
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[r][v] = _mm256_fmadd_ps(x, bv[v], acc[r][v]);
    }
  }
  const __m256 lo = _mm256_set1_ps(ep.lo), hi = _mm256_set1_ps(ep.hi);
  // r runs to R, unrolled, so that acc is indexed by constants and stays in registers (a loop to
  // `valid` made GCC store every accumulator to the stack at every k).
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    if (r >= valid) break;
    float* cr = c + (m + r) * ldc;
    const __m256 br = _mm256_set1_ps(ep.bias_row ? ep.bias_row[m + r] : 0.f);
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      __m256 o = acc[r][v];
      if (ep.bias_row) o = _mm256_add_ps(o, br);  // the order of sgemm_rows_avx2's epilogue
      if (bias_col) o = _mm256_add_ps(o, bias_col[v]);
      if (scale) o = _mm256_mul_ps(o, *scale);
      if (clamp) o = _mm256_min_ps(hi, _mm256_max_ps(lo, o));
      if (v == V - 1) _mm256_mask_storeu_ps(cr + 8 * v, last, o);
      else _mm256_storeu_ps(cr + 8 * v, o);
    }
  }
}

template <int V, int R>
void rows(int64_t N, int64_t K, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
          const SgemmEpilogue& ep, int64_t m0, int64_t m1, float scale) {
  const int64_t ldb = sgemm_narrow_ld(N);
  const __m256 sv = _mm256_set1_ps(scale);
  const __mmask8 last = static_cast<__mmask8>((1u << (N - 8 * (V - 1))) - 1u);
  __m256 bias_col[V];
  for (int v = 0; v < V; ++v)
    bias_col[v] = ep.bias_col ? _mm256_maskz_loadu_ps(v == V - 1 ? last : static_cast<__mmask8>(0xff), ep.bias_col + 8 * v)
                              : _mm256_setzero_ps();
  const bool clamp = ep.lo != -INFINITY || ep.hi != INFINITY;
  for (int64_t m = m0; m < m1; m += R)
    tile<V, R>(K, a, lda, b, ldb, c, ldc, ep, m, static_cast<int>(std::min<int64_t>(R, m1 - m)), last,
               ep.bias_col ? bias_col : nullptr, clamp, scale != 1.f ? &sv : nullptr);
}

}  // namespace

void sgemm_narrow_pack_b(int64_t K, int64_t N, const float* b, int64_t b_rs, int64_t b_cs, float* packed) {
  const int64_t ld = sgemm_narrow_ld(N);
  if (b_rs == 1 && b_cs != 1) {  // B^T's rows in memory (K^T read from K): a 2-D transpose, 8x8 blocks
    transpose_2d_b32_avx2(N, K, reinterpret_cast<const uint32_t*>(b), b_cs, reinterpret_cast<uint32_t*>(packed), ld);
    for (int64_t k = 0; k < K; ++k) std::fill(packed + k * ld + N, packed + (k + 1) * ld, 0.f);
    return;
  }
  for (int64_t k = 0; k < K; ++k) {
    float* dst = packed + k * ld;
    if (b_cs == 1) std::copy(b + k * b_rs, b + k * b_rs + N, dst);
    else
      for (int64_t n = 0; n < N; ++n) dst[n] = b[k * b_rs + n * b_cs];
    std::fill(dst + N, dst + ld, 0.f);
  }
}

void sgemm_narrow_zmm(int64_t N, int64_t K, const float* a, int64_t lda, const float* packed_b, float* c,
                      int64_t ldc, const SgemmEpilogue& ep, int64_t m0, int64_t m1, float scale) {
  if (m0 >= m1) return;
  // R rows of V vectors: R V accumulators, V vectors of B and a broadcast within 32 registers,
  // and at most 6 row pointers.
  switch ((N + 7) / 8) {
    case 1: return rows<1, 6>(N, K, a, lda, packed_b, c, ldc, ep, m0, m1, scale);
    case 2: return rows<2, 6>(N, K, a, lda, packed_b, c, ldc, ep, m0, m1, scale);
    case 3: return rows<3, 6>(N, K, a, lda, packed_b, c, ldc, ep, m0, m1, scale);
    case 4: return rows<4, 6>(N, K, a, lda, packed_b, c, ldc, ep, m0, m1, scale);
    case 5: return rows<5, 5>(N, K, a, lda, packed_b, c, ldc, ep, m0, m1, scale);
    case 6: return rows<6, 4>(N, K, a, lda, packed_b, c, ldc, ep, m0, m1, scale);
    case 7: return rows<7, 3>(N, K, a, lda, packed_b, c, ldc, ep, m0, m1, scale);
    default: return rows<8, 2>(N, K, a, lda, packed_b, c, ldc, ep, m0, m1, scale);
  }
}

}  // namespace octet::kernels
