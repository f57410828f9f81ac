// Softmax, Gelu and LayerNorm on zmm registers, each chain step issued for several vectors (or
// rows) at once; see act_zmm.h (and act_avx2.h for the methods and their accuracy).
#include "kernels/avx512/act_zmm.h"

#include <algorithm>
#include <limits>

#include "kernels/avx2/layernorm_groups.h"
#include "kernels/avx512/immintrin_avx512.h"

namespace octet::kernels {
namespace {

// Lanes j < count (0 <= count <= 16).
inline __mmask16 first_lanes(int64_t count) {
  return static_cast<__mmask16>((1u << static_cast<unsigned>(count)) - 1u);
}

// The core of the two exps below, for U vectors of clamped x, each step for all U before the
// next: x = n ln2 + r with one fused multiply-add (ln2's float error, 2e-9 |n|, adds at most 4e-7
// of relative error at n = -216) and a degree-5 polynomial p fitted to e^r on |r| <= ln2/2 for
// least relative error (1.5e-7 with its float rounding); e^x = p 2^n. x is overwritten with r.
template <int U>
inline __attribute__((always_inline)) void exp_reduce_each(__m512* x, __m512* n, __m512* p) {
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j)
    n[j] = _mm512_roundscale_ps(_mm512_mul_ps(x[j], _mm512_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) x[j] = _mm512_fnmadd_ps(n[j], _mm512_set1_ps(0.693147180559945f), x[j]);  // r
  static constexpr float kFit[] = {0.04189793f, 0.16667636f, 0.4999915f, 0.9999997f, 1.f};
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) p[j] = _mm512_fmadd_ps(_mm512_set1_ps(0.00829031f), x[j], _mm512_set1_ps(kFit[0]));
#pragma GCC unroll 16
  for (int c = 1; c < 5; ++c)
#pragma GCC unroll 16
    for (int j = 0; j < U; ++j) p[j] = _mm512_fmadd_ps(p[j], x[j], _mm512_set1_ps(kFit[c]));
}

// e^x in place for U vectors of x <= 0 (or NaN), Softmax's arguments after the row maximum is
// subtracted: x clamped below at -150 (where e^x is far below the least float, so 2^n underflows
// to exactly 0; the -inf of padding lanes and of masked-out entries gives 0), exp_reduce_each,
// times 2^n by vscalefps. Within 5e-7 of e^x plus the input's own rounding. act_avx2.cpp's
// exp_nonpositive_ps lane for lane above -87.3 (below it that one gives 0); no mask here: a
// Softmax row is mostly this chain.
template <int U>
inline __attribute__((always_inline)) void exp_nonpositive_each(__m512* x) {
  __m512 n[U], p[U];
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) x[j] = _mm512_max_ps(_mm512_set1_ps(-150.f), x[j]);  // a NaN x stays NaN
  exp_reduce_each<U>(x, n, p);
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) x[j] = _mm512_scalef_ps(p[j], n[j]);
}

// act_avx2.cpp's exp_nonpositive_ps for U vectors, lane for lane: no upper clamp (Gelu's erfc argument
// is at most about 0), exp_reduce_each's steps, 0 below -87.3; p 2^n in one vscalefps (n in
// [-126, 0]: the exact product the AVX2 kernel forms).
template <int U>
inline __attribute__((always_inline)) void exp_erfc_each(__m512* x) {
  const __m512 lo = _mm512_set1_ps(-87.3f);
  __mmask16 keep[U];
  __m512 n[U], p[U];
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) keep[j] = _mm512_cmp_ps_mask(x[j], lo, _CMP_NLT_UQ);  // not below lo (NaN kept)
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) x[j] = _mm512_max_ps(lo, x[j]);  // a NaN x stays NaN
  exp_reduce_each<U>(x, n, p);
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) x[j] = _mm512_maskz_scalef_ps(keep[j], p[j], n[j]);
}

// Gelu of U vectors in place: 0.5 x erfc(-x / sqrt 2), erfc from the Chebyshev fit of Numerical
// Recipes on z = |x| / sqrt 2 and erfc(-z) = 2 - erfc(z) (as gelu_ps in act_avx2.cpp).
template <int U>
inline __attribute__((always_inline)) void gelu_each(__m512* x) {
  __m512 z[U], t[U], p[U];
  __mmask16 neg[U];
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) {
    const __m512 u = _mm512_mul_ps(x[j], _mm512_set1_ps(-0.70710678118654752f));  // erfc's argument
    neg[j] = _mm512_cmp_ps_mask(u, _mm512_setzero_ps(), _CMP_LT_OQ);
    z[j] = _mm512_abs_ps(u);
  }
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j)
    t[j] = _mm512_div_ps(_mm512_set1_ps(1.f), _mm512_fmadd_ps(z[j], _mm512_set1_ps(0.5f), _mm512_set1_ps(1.f)));
  static constexpr float kFit[] = {-0.82215223f, 1.48851587f, -1.13520398f, 0.27886807f,
                                   -0.18628806f, 0.09678418f, 0.37409196f, 1.00002368f, -1.26551223f};
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) p[j] = _mm512_fmadd_ps(_mm512_set1_ps(0.17087277f), t[j], _mm512_set1_ps(kFit[0]));
#pragma GCC unroll 16
  for (int c = 1; c < 9; ++c)
#pragma GCC unroll 16
    for (int j = 0; j < U; ++j) p[j] = _mm512_fmadd_ps(p[j], t[j], _mm512_set1_ps(kFit[c]));
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) p[j] = _mm512_fnmadd_ps(z[j], z[j], p[j]);
  exp_erfc_each<U>(p);
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) {
    const __m512 r = _mm512_mul_ps(t[j], p[j]);  // erfc(z), z >= 0
    const __m512 erfc = _mm512_mask_sub_ps(r, neg[j], _mm512_set1_ps(2.f), r);
    x[j] = _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(0.5f), x[j]), erfc);
  }
}

// Softmax of R rows of n floats (16 (V - 1) < n <= 16 V) held in V zmm registers each: the row's
// maximum, R V exps interleaved, the sum, one division per row.
template <int V, int R>
void softmax_short(const float* x, int64_t n, float* y) {
  constexpr int U = V * R;
  const __mmask16 tail = first_lanes(n - 16 * (V - 1));
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  __m512 v[U];
#pragma GCC unroll 16
  for (int j = 0; j < U; ++j) {
    const float* p = x + (j / V) * n + 16 * (j % V);
    v[j] = j % V == V - 1 ? _mm512_mask_loadu_ps(ninf, tail, p) : _mm512_loadu_ps(p);  // the tail's lanes: -inf
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    __m512 m = v[r * V];
#pragma GCC unroll 16
    for (int k = 1; k < V; ++k) m = _mm512_max_ps(m, v[r * V + k]);
    m = _mm512_set1_ps(_mm512_reduce_max_ps(m));  // a NaN here or in the row makes the row NaN below
#pragma GCC unroll 16
    for (int k = 0; k < V; ++k) v[r * V + k] = _mm512_sub_ps(v[r * V + k], m);
  }
  exp_nonpositive_each<U>(v);  // -inf lanes (the tail's padding, where the max is finite) give 0
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
    __m512 s = v[r * V];
#pragma GCC unroll 16
    for (int k = 1; k < V; ++k) s = _mm512_add_ps(s, v[r * V + k]);
    const __m512 inv = _mm512_set1_ps(1.f / _mm512_reduce_add_ps(s));
#pragma GCC unroll 16
    for (int k = 0; k < V; ++k) {
      float* p = y + r * n + 16 * k;
      const __m512 o = _mm512_mul_ps(v[r * V + k], inv);
      if (k == V - 1) _mm512_mask_storeu_ps(p, tail, o);
      else _mm512_storeu_ps(p, o);
    }
  }
}

// Rows of any length in three passes (maximum; exps stored and summed, four vectors a step;
// scaling), for rows longer than the short kernels take.
void softmax_long(const float* x, int64_t rows, int64_t n, float* y) {
  const __m512 ninf = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  const int64_t full = n / 16 * 16;
  const __mmask16 tail = first_lanes(n - full);
  for (int64_t r = 0; r < rows; ++r, x += n, y += n) {
    __m512 mv[4] = {ninf, ninf, ninf, ninf};
    int64_t i = 0;
    for (; i + 64 <= full; i += 64)
      for (int j = 0; j < 4; ++j) mv[j] = _mm512_max_ps(mv[j], _mm512_loadu_ps(x + i + 16 * j));
    for (; i < full; i += 16) mv[0] = _mm512_max_ps(mv[0], _mm512_loadu_ps(x + i));
    if (tail) mv[1] = _mm512_max_ps(mv[1], _mm512_mask_loadu_ps(ninf, tail, x + full));
    const __m512 m = _mm512_set1_ps(
        _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(mv[0], mv[1]), _mm512_max_ps(mv[2], mv[3]))));
    __m512 sv[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    for (i = 0; i + 64 <= full; i += 64) {
      __m512 e[4];
      for (int j = 0; j < 4; ++j) e[j] = _mm512_sub_ps(_mm512_loadu_ps(x + i + 16 * j), m);
      exp_nonpositive_each<4>(e);
      for (int j = 0; j < 4; ++j) {
        _mm512_storeu_ps(y + i + 16 * j, e[j]);
        sv[j] = _mm512_add_ps(sv[j], e[j]);
      }
    }
    for (; i < full; i += 16) {
      __m512 e = _mm512_sub_ps(_mm512_loadu_ps(x + i), m);
      exp_nonpositive_each<1>(&e);
      _mm512_storeu_ps(y + i, e);
      sv[0] = _mm512_add_ps(sv[0], e);
    }
    if (tail) {
      __m512 e = _mm512_sub_ps(_mm512_mask_loadu_ps(ninf, tail, x + full), m);
      exp_nonpositive_each<1>(&e);
      _mm512_mask_storeu_ps(y + full, tail, e);
      sv[1] = _mm512_add_ps(sv[1], _mm512_maskz_mov_ps(tail, e));
    }
    const __m512 inv = _mm512_set1_ps(
        1.f / _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(sv[0], sv[1]), _mm512_add_ps(sv[2], sv[3]))));
    for (i = 0; i < full; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(_mm512_loadu_ps(y + i), inv));
    if (tail) _mm512_mask_storeu_ps(y + full, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, y + full), inv));
  }
}

// R rows at a time through softmax_short<V, R>, the rest one by one.
template <int V, int R>
void softmax_rows_short(const float* x, int64_t rows, int64_t n, float* y) {
  int64_t r = 0;
  for (; r + R <= rows; r += R) softmax_short<V, R>(x + r * n, n, y + r * n);
  for (; r < rows; ++r) softmax_short<V, 1>(x + r * n, n, y + r * n);
}

}  // namespace

void softmax_rows_f32_zmm(const float* x, int64_t rows, int64_t n, float* y) {
  if (n <= 0) return;
  // Rows of up to 128 floats in registers, about 8 vectors in flight: 8 rows of up to 16 floats,
  // 4 of up to 32, 2 of up to 64, then one row of 5 to 8 vectors.
  switch ((n + 15) / 16) {
    case 1: return softmax_rows_short<1, 8>(x, rows, n, y);
    case 2: return softmax_rows_short<2, 4>(x, rows, n, y);
    case 3: return softmax_rows_short<3, 2>(x, rows, n, y);
    case 4: return softmax_rows_short<4, 2>(x, rows, n, y);
    case 5: return softmax_rows_short<5, 1>(x, rows, n, y);
    case 6: return softmax_rows_short<6, 1>(x, rows, n, y);
    case 7: return softmax_rows_short<7, 1>(x, rows, n, y);
    case 8: return softmax_rows_short<8, 1>(x, rows, n, y);
    default: return softmax_long(x, rows, n, y);
  }
}

void gelu_f32_zmm(const float* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    __m512 v[4];
    for (int j = 0; j < 4; ++j) v[j] = _mm512_loadu_ps(x + i + 16 * j);
    gelu_each<4>(v);
    for (int j = 0; j < 4; ++j) _mm512_storeu_ps(y + i + 16 * j, v[j]);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = first_lanes(std::min<int64_t>(16, n - i));
    __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    gelu_each<1>(&v);
    _mm512_mask_storeu_ps(y + i, m, v);
  }
}

namespace {

// layernorm_ref's striped sum over one row in float (act_avx2.cpp's striped_row_sum on zmm):
// partial sum p[l] in lane l of one accumulator, 16 floats a step; the fold p[i] += p[i + 8]
// (the halves), + 4, + 2, + 1. Masked-off lanes add +0.0.
template <bool Sq>
inline __attribute__((always_inline)) float striped_row_sum_zmm(const float* x, int64_t n, float m) {
  const __m512 mv = _mm512_set1_ps(m);
  __m512 a = _mm512_setzero_ps();
  int64_t j = 0;
  auto add = [&](__m512 v, __mmask16 k) {
    if (Sq) {
      v = _mm512_maskz_sub_ps(k, v, mv);
      v = _mm512_mul_ps(v, v);
    }
    a = _mm512_add_ps(a, v);
  };
  for (; j + 16 <= n; j += 16) add(_mm512_loadu_ps(x + j), 0xffff);
  if (j < n) {
    const __mmask16 t = first_lanes(n - j);
    add(_mm512_maskz_loadu_ps(t, x + j), t);
  }
  const __m256 s8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
  const __m128 s4 = _mm_add_ps(_mm256_castps256_ps128(s8), _mm256_extractf128_ps(s8, 1));
  const __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  return _mm_cvtss_f32(_mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1)));
}

}  // namespace

void layernorm_f32_zmm(int64_t rows, int64_t cols, const float* x, const float* scale, const float* bias,
                       double epsilon, float* y) {
  const int64_t full = cols / 16 * 16;
  const __mmask16 tail = first_lanes(cols - full);
  layernorm_groups(
      rows, cols, x, scale, bias, epsilon, y,
      [](const float* xr, int64_t n, float m, bool squares) {
        return squares ? striped_row_sum_zmm<true>(xr, n, m) : striped_row_sum_zmm<false>(xr, n, m);
      },
      [&](const float* xr, int64_t n, float m, float inv, const float* sd, const float* bd, float* yr) {
        // ((x - m) * inv) * scale + bias, rounded step by step as the twin, 16 columns a step
        const __m512 mv = _mm512_set1_ps(m), iv = _mm512_set1_ps(inv);
        auto sixteen = [&](int64_t j, __mmask16 lanes) {
          __m512 o = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(lanes, xr + j), mv), iv),
                                   _mm512_maskz_loadu_ps(lanes, sd + j));
          if (bd) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(lanes, bd + j));
          _mm512_mask_storeu_ps(yr + j, lanes, o);
        };
        for (int64_t j = 0; j < n - n % 16; j += 16) sixteen(j, 0xffff);
        if (tail) sixteen(full, tail);
      });
}

}  // namespace octet::kernels
