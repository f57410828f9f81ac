// Softmax, Gelu and LayerNormalization for AVX2 + FMA; the contract and accuracy are in act_avx2.h.
#include "kernels/avx2/act_avx2.h"

#include <cmath>

#include <immintrin.h>

#include "kernels/avx2/layernorm_groups.h"
#include "kernels/avx2/store_lanes.h"

#include <limits>

namespace octet::kernels {
namespace {

// e^x for arguments at most about 0 (see the header): Softmax's x - max (<= 0, or NaN) and Gelu's
// erfc argument -z^2 + P(t) (at most 3e-8, at z = 0). No upper clamp; x = n ln2 + r in one fused
// multiply-add (ln2's float error adds at most 2e-9 |n| <= 3e-7 of relative error); a degree-5
// polynomial fitted to e^r on |r| <= ln2/2 for least relative error (1.5e-7 with its float
// rounding) instead of the usual degree 6: within 5e-7 of e^x. Below -87.3 (e^x < 1.2e-38) it gives
// 0, so -inf gives 0; a NaN x is returned as NaN. act_zmm.cpp's Gelu does the same operations lane
// for lane, and its Softmax the same but for the 2^n of x below -87.3 (vscalefps, subnormals).
inline __m256 exp_nonpositive_ps(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_max_ps(lo, x);  // a NaN x is returned unchanged
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693147180559945f), x);
  __m256 p = _mm256_fmadd_ps(_mm256_set1_ps(0.00829031f), r, _mm256_set1_ps(0.04189793f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.16667636f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.4999915f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.9999997f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.f));
  // 2^n for n in [-126, 0] (1 at most: n = round(3e-8 log2 e) = 0)
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Lanes j < count (0 <= count <= 8) are all-ones.
inline __m256i lane_mask(int64_t count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(count)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

}  // namespace

void softmax_rows_f32_avx2(const float* x, int64_t rows, int64_t n, float* y) {
  const float ninf = -std::numeric_limits<float>::infinity();
  for (int64_t r = 0; r < rows; ++r, x += n, y += n) {
    if (n == 0) continue;
    // The maximum (NaN lanes are skipped here; they make the sum NaN below).
    __m256 mv = _mm256_set1_ps(ninf);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
    float m = hmax(mv);
    for (; i < n; ++i) m = x[i] > m ? x[i] : m;
    const __m256 mb = _mm256_set1_ps(m);
    __m256 sv = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
      const __m256 e = exp_nonpositive_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mb));
      _mm256_storeu_ps(y + i, e);
      sv = _mm256_add_ps(sv, e);
    }
    // The tail through masked loads and stores. Masked-off lanes load 0, so their argument 0 - m may
    // be positive, where this exp (no upper clamp) gives any value: the mask zeroes them before
    // they are summed or stored.
    if (i < n) {
      const __m256i mask = lane_mask(n - i);
      const __m256 e = exp_nonpositive_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), mb));
      const __m256 em = _mm256_and_ps(e, _mm256_castsi256_ps(mask));
      avx2::store_first_ps(y + i, em, n - i);
      sv = _mm256_add_ps(sv, em);
    }
    const __m256 inv = _mm256_set1_ps(1.f / hsum(sv));
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inv));
    if (i < n) {
      const __m256i mask = lane_mask(n - i);
      avx2::store_first_ps(y + i, _mm256_mul_ps(_mm256_maskload_ps(y + i, mask), inv), n - i);
    }
  }
}

namespace {

// 0.5 x erfc(-x / sqrt 2), 8 lanes.
inline __m256 gelu_ps(__m256 x) {
  const __m256 sign = _mm256_set1_ps(-0.f);
  const __m256 u = _mm256_mul_ps(x, _mm256_set1_ps(-0.70710678118654752f));  // erfc's argument
  const __m256 z = _mm256_andnot_ps(sign, u);
  const __m256 t = _mm256_div_ps(_mm256_set1_ps(1.f), _mm256_fmadd_ps(z, _mm256_set1_ps(0.5f), _mm256_set1_ps(1.f)));
  __m256 p = _mm256_set1_ps(0.17087277f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.82215223f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.48851587f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.13520398f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.27886807f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.18628806f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.09678418f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.37409196f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.00002368f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26551223f));
  const __m256 r = _mm256_mul_ps(t, exp_nonpositive_ps(_mm256_fnmadd_ps(z, z, p)));  // erfc(z), z >= 0
  // erfc(u) = r for u >= 0, 2 - r for u < 0.
  const __m256 neg = _mm256_cmp_ps(u, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 erfc = _mm256_blendv_ps(r, _mm256_sub_ps(_mm256_set1_ps(2.f), r), neg);
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(0.5f), x), erfc);
}

}  // namespace

void gelu_f32_avx2(const float* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, gelu_ps(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i mask = lane_mask(n - i);
    avx2::store_first_ps(y + i, gelu_ps(_mm256_maskload_ps(x + i, mask)), n - i);
  }
}

namespace {

// The sum over one row of x[j] (Sq = false) or of (x[j] - m)^2 (Sq = true), in float, in
// layernorm_ref's striped order: partial sum p[l] lives in lane l of a0 and p[8 + l] in lane l of
// a1, so 16 floats are one step of each, and the pairwise fold at the end is p[i] += p[i + 8]
// (a0 + a1), + 4 (the two halves), + 2, + 1. Lanes past the row's end add +0.0, which leaves a
// partial sum unchanged (none is ever -0.0: each starts at +0.0).
template <bool Sq>
inline __attribute__((always_inline)) float striped_row_sum(const float* x, int64_t n, float m) {
  const __m256 mv = _mm256_set1_ps(m);
  auto term = [&mv](__m256 v) {
    if (Sq) {
      v = _mm256_sub_ps(v, mv);
      v = _mm256_mul_ps(v, v);
    }
    return v;
  };
  __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
  int64_t j = 0;
  for (; j + 16 <= n; j += 16) {
    a0 = _mm256_add_ps(a0, term(_mm256_loadu_ps(x + j)));
    a1 = _mm256_add_ps(a1, term(_mm256_loadu_ps(x + j + 8)));
  }
  if (j < n) {
    const int64_t c = n - j;
    const __m256i k0 = lane_mask(std::min<int64_t>(c, 8));
    a0 = _mm256_add_ps(a0, _mm256_and_ps(_mm256_castsi256_ps(k0), term(_mm256_maskload_ps(x + j, k0))));
    if (c > 8) {
      const __m256i k1 = lane_mask(c - 8);
      a1 = _mm256_add_ps(a1, _mm256_and_ps(_mm256_castsi256_ps(k1), term(_mm256_maskload_ps(x + j + 8, k1))));
    }
  }
  const __m256 s8 = _mm256_add_ps(a0, a1);
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

// y = ((x - m) * inv) * scale + bias for one row, rounded step by step as the twin (bias nullptr:
// none).
inline __attribute__((always_inline)) void normalize_row(const float* xr, int64_t cols, float m, float inv,
                                                        const float* scale, const float* bias, float* yr) {
  const __m256 mv = _mm256_set1_ps(m), iv = _mm256_set1_ps(inv);
  int64_t j = 0;
  for (; j + 8 <= cols; j += 8) {
    __m256 o = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(xr + j), mv), iv), _mm256_loadu_ps(scale + j));
    if (bias) o = _mm256_add_ps(o, _mm256_loadu_ps(bias + j));
    _mm256_storeu_ps(yr + j, o);
  }
  for (; j < cols; ++j) {
    float o = (xr[j] - m) * inv;
    o = o * scale[j];
    if (bias) o = o + bias[j];
    yr[j] = o;
  }
}

}  // namespace

void layernorm_f32_avx2(int64_t rows, int64_t cols, const float* x, const float* scale, const float* bias,
                        double epsilon, float* y) {
  layernorm_groups(
      rows, cols, x, scale, bias, epsilon, y,
      [](const float* xr, int64_t n, float m, bool squares) {
        return squares ? striped_row_sum<true>(xr, n, m) : striped_row_sum<false>(xr, n, m);
      },
      [](const float* xr, int64_t n, float m, float inv, const float* sd, const float* bd, float* yr) {
        normalize_row(xr, n, m, inv, sd, bd, yr);
      });
}

}  // namespace octet::kernels
