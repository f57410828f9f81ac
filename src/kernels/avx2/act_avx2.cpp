// Softmax, Gelu and LayerNormalization for AVX2 + FMA; the contract and accuracy are in act_avx2.h.
#include "kernels/avx2/act_avx2.h"

#include <cmath>

#include <immintrin.h>

#include "kernels/avx2/store_lanes.h"

#include <limits>

namespace octet::kernels {
namespace {

// e^x, 8 lanes (see the header for the method and accuracy).
inline __m256 exp_ps(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.3f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);  // e^x < 1.2e-38: flushed to 0 below
  x = _mm256_min_ps(hi, _mm256_max_ps(lo, x));  // lo/hi first: a NaN x is returned unchanged
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);  // ln2 = 0.693359375 - 2.12194440e-4
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  // 2^n for n in [-126, 127] (a NaN lane gives some n, and p is NaN there anyway).
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
      const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), mb));
      _mm256_storeu_ps(y + i, e);
      sv = _mm256_add_ps(sv, e);
    }
    if (i < n) {  // the tail through masked loads and stores (masked-off lanes add 0)
      const __m256i mask = lane_mask(n - i);
      const __m256 e = exp_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask), mb));
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
  const __m256 r = _mm256_mul_ps(t, exp_ps(_mm256_fnmadd_ps(z, z, p)));  // erfc(z), z >= 0
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

// Mean and population variance of R rows of n floats (row r at x + r * ld), each row summed in
// double one element after another exactly as layernorm_ref's moments(): the same bits. The R
// rows' chains are independent, so they overlap in the pipeline instead of each waiting on its
// own add latency.
template <int R>
void row_moments(const float* x, int64_t ld, int64_t n, double* mean, double* var) {
  double s[R] = {};
  for (int64_t i = 0; i < n; ++i)
    for (int r = 0; r < R; ++r) s[r] += static_cast<double>(x[r * ld + i]);
  double m[R], q[R] = {};
  for (int r = 0; r < R; ++r) m[r] = s[r] / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    for (int r = 0; r < R; ++r) {
      const double d = static_cast<double>(x[r * ld + i]) - m[r];
      q[r] += d * d;
    }
  for (int r = 0; r < R; ++r) {
    mean[r] = m[r];
    var[r] = q[r] / static_cast<double>(n);
  }
}

// y = float(((x - m) * inv) * scale + bias) for one row, in double as the twin's expression.
void normalize_row(const float* xr, int64_t cols, double m, double inv, const float* scale, const float* bias,
                   float* yr) {
  const __m256d mv = _mm256_set1_pd(m), iv = _mm256_set1_pd(inv);
  int64_t j = 0;
  for (; j + 4 <= cols; j += 4) {
    __m256d o = _mm256_mul_pd(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(xr + j)), mv), iv),
                              _mm256_cvtps_pd(_mm_loadu_ps(scale + j)));
    if (bias) o = _mm256_add_pd(o, _mm256_cvtps_pd(_mm_loadu_ps(bias + j)));
    _mm_storeu_ps(yr + j, _mm256_cvtpd_ps(o));
  }
  for (; j < cols; ++j) {
    double o = (static_cast<double>(xr[j]) - m) * inv * static_cast<double>(scale[j]);
    if (bias) o += static_cast<double>(bias[j]);
    yr[j] = static_cast<float>(o);
  }
}

}  // namespace

void layernorm_f32_avx2(int64_t rows, int64_t cols, const float* x, const float* scale, const float* bias,
                        double epsilon, float* y) {
  if (cols <= 0) return;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {  // all statistics of 4 rows before any row is written: y may alias x
    double m[4], v[4];
    row_moments<4>(x + r * cols, cols, cols, m, v);
    for (int k = 0; k < 4; ++k)
      normalize_row(x + (r + k) * cols, cols, m[k], 1.0 / std::sqrt(v[k] + epsilon), scale, bias, y + (r + k) * cols);
  }
  for (; r < rows; ++r) {
    double m, v;
    row_moments<1>(x + r * cols, cols, cols, &m, &v);
    normalize_row(x + r * cols, cols, m, 1.0 / std::sqrt(v + epsilon), scale, bias, y + r * cols);
  }
}

}  // namespace octet::kernels
