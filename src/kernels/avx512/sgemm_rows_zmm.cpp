// AVX-512 rows SGEMM with whole 6 x 32 tiles in registers; see sgemm_rows_zmm.h.
#include "kernels/avx512/sgemm_rows_zmm.h"

#include <algorithm>
#include <cmath>

#include "kernels/avx512/immintrin_avx512.h"

namespace octet::kernels {
namespace {

constexpr int64_t MR = 6, NR = 16;

// Lanes j < count of a 16-float vector (0 <= count <= 16).
inline __mmask16 first_lanes(int64_t count) {
  return static_cast<__mmask16>((1u << static_cast<unsigned>(std::clamp<int64_t>(count, 0, 16))) - 1u);
}

// Rows m .. m + valid - 1 (valid <= MR) of C over P panels (16 columns each, the last one masked
// by `last`): rows past `valid` repeat the last valid row of A and are not stored. b: the first
// panel, panels K * NR floats apart.
template <int P, bool Masked>
__attribute__((noinline)) void tile(int64_t K, const float* a, int64_t lda, const float* b, float* c, int64_t ldc,
                                    const SgemmEpilogue& ep, int64_t m, int valid, __mmask16 last,
                                    const __m512* bias_col, bool clamp) {
  const float* ar[MR];
  for (int r = 0; r < MR; ++r) ar[r] = a + (m + std::min(r, valid - 1)) * lda;
  __m512 acc[MR][P];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) acc[r][p] = _mm512_setzero_ps();
#pragma GCC unroll 2
  for (int64_t k = 0; k < K; ++k) {
    __m512 bv[P];
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) bv[p] = _mm512_loadu_ps(b + p * K * NR + k * NR);
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      const __m512 x = _mm512_set1_ps(ar[r][k]);
#pragma GCC unroll 2
      for (int p = 0; p < P; ++p) acc[r][p] = _mm512_fmadd_ps(x, bv[p], acc[r][p]);
    }
  }
  const __m512 lo = _mm512_set1_ps(ep.lo), hi = _mm512_set1_ps(ep.hi);
  // r runs to MR, unrolled, so that acc is indexed by constants and stays in registers.
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    if (r >= valid) break;
    float* cr = c + (m + r) * ldc;
    const __m512 br = _mm512_set1_ps(ep.bias_row ? ep.bias_row[m + r] : 0.f);
#pragma GCC unroll 2
    for (int p = 0; p < P; ++p) {
      __m512 o = acc[r][p];
      if (ep.bias_row) o = _mm512_add_ps(o, br);  // the order of sgemm_rows_avx2's epilogue
      if (bias_col) o = _mm512_add_ps(o, bias_col[p]);
      if (clamp) o = _mm512_min_ps(hi, _mm512_max_ps(lo, o));  // clamp_ps's order: max, then min
      if (Masked && p == P - 1) _mm512_mask_storeu_ps(cr + NR * p, last, o);
      else _mm512_storeu_ps(cr + NR * p, o);
    }
  }
}

// Columns [n, n + P * NR) (the last panel cut to `cols` of its 16) over rows [m0, m1).
template <int P>
void panels(int64_t K, const float* a, int64_t lda, const float* packed_b, float* c, int64_t ldc,
            const SgemmEpilogue& ep, int64_t m0, int64_t m1, int64_t n, int64_t cols, bool clamp) {
  const __mmask16 last = first_lanes(cols);
  __m512 bias_col[P];
  for (int p = 0; p < P; ++p)
    bias_col[p] = ep.bias_col ? _mm512_maskz_loadu_ps(p == P - 1 ? last : static_cast<__mmask16>(0xffff), ep.bias_col + n + NR * p)
                              : _mm512_setzero_ps();
  const float* b = packed_b + (n / NR) * NR * K;
  for (int64_t m = m0; m < m1; m += MR) {  // whole panels store unmasked (faster on Zen 4)
    const int valid = static_cast<int>(std::min<int64_t>(MR, m1 - m));
    const __m512* bc = ep.bias_col ? bias_col : nullptr;
    if (cols == NR) tile<P, false>(K, a, lda, b, c + n, ldc, ep, m, valid, last, bc, clamp);
    else tile<P, true>(K, a, lda, b, c + n, ldc, ep, m, valid, last, bc, clamp);
  }
}

}  // namespace

void sgemm_rows_zmm(int64_t N, int64_t K, const float* a, int64_t lda, const float* packed_b, float* c,
                    int64_t ldc, const SgemmEpilogue& ep, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  (void)N;
  if (m0 >= m1 || n0 >= n1) return;
  const bool clamp = ep.lo != -INFINITY || ep.hi != INFINITY;
  // Pairs of panels outer: their K x 32 floats stay in L1 while the rows stream past.
  int64_t n = n0;
  for (; n + 2 * NR <= n1 || (n + NR < n1 && n + 2 * NR > n1); n += 2 * NR)
    panels<2>(K, a, lda, packed_b, c, ldc, ep, m0, m1, n, std::min<int64_t>(NR, n1 - n - NR), clamp);
  if (n < n1) panels<1>(K, a, lda, packed_b, c, ldc, ep, m0, m1, n, n1 - n, clamp);
}

}  // namespace octet::kernels
