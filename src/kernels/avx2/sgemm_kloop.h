// The FP32 6x16 FMA k loop shared by the packed SGEMM (sgemm_avx2.cpp: B from a packed panel),
// the shifted-B convolution (sconv_shift_avx2.cpp: B straight from padded input planes) and the
// direct convolution (sconv_direct_avx2.cpp: the 6 broadcast rows are 6 output pixels read at a
// per-tap offset, B the packed weights). Internal to AVX2 translation units: everything is in an
// anonymous namespace, each file keeps its copy.
//
// t = A-rows · B-columns over kc values of k: a_at(k, r) points at the float of row r (r < 6) that
// multiplies B's row k, b_at(k) at the 16 floats of B's row k for the tile's columns; t's row r
// is stored at out(r) (kloop_6x16_rows_to) or t[r]. The 12 accumulators live in ymm registers for
// the whole loop (with 2 B vectors and 1 broadcast: 15 of 16 registers); per k it loads 2 ymm of
// B, broadcasts 6 floats of A and issues 12 FMAs, each element summing its products in k order,
// one rounding per FMA. Callers wrap it in a noinline function (see there).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace octet::kernels {
namespace {

template <class AAt, class BAt, class Out>
inline __attribute__((always_inline)) void kloop_6x16_rows_to(int64_t kc, AAt a_at, BAt b_at, Out out) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const float* b = b_at(k);
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 ar = _mm256_broadcast_ss(a_at(k, 0));
    c00 = _mm256_fmadd_ps(ar, b0, c00);
    c01 = _mm256_fmadd_ps(ar, b1, c01);
    ar = _mm256_broadcast_ss(a_at(k, 1));
    c10 = _mm256_fmadd_ps(ar, b0, c10);
    c11 = _mm256_fmadd_ps(ar, b1, c11);
    ar = _mm256_broadcast_ss(a_at(k, 2));
    c20 = _mm256_fmadd_ps(ar, b0, c20);
    c21 = _mm256_fmadd_ps(ar, b1, c21);
    ar = _mm256_broadcast_ss(a_at(k, 3));
    c30 = _mm256_fmadd_ps(ar, b0, c30);
    c31 = _mm256_fmadd_ps(ar, b1, c31);
    ar = _mm256_broadcast_ss(a_at(k, 4));
    c40 = _mm256_fmadd_ps(ar, b0, c40);
    c41 = _mm256_fmadd_ps(ar, b1, c41);
    ar = _mm256_broadcast_ss(a_at(k, 5));
    c50 = _mm256_fmadd_ps(ar, b0, c50);
    c51 = _mm256_fmadd_ps(ar, b1, c51);
  }
  auto put = [&out](int r, __m256 lo, __m256 hi) {
    _mm256_storeu_ps(out(r), lo);
    _mm256_storeu_ps(out(r) + 8, hi);
  };
  put(0, c00, c01);
  put(1, c10, c11);
  put(2, c20, c21);
  put(3, c30, c31);
  put(4, c40, c41);
  put(5, c50, c51);
}

template <class AAt, class BAt>
inline __attribute__((always_inline)) void kloop_6x16_rows(int64_t kc, AAt a_at, BAt b_at, float t[6][16]) {
  kloop_6x16_rows_to(kc, a_at, b_at, [t](int r) { return t[r]; });
}

// A from a packed panel slice (kc x 6, k-major): row r of step k at a[6 k + r].
template <class BAt>
inline __attribute__((always_inline)) void kloop_6x16_body(int64_t kc, const float* a, BAt b_at, float t[6][16]) {
  kloop_6x16_rows(kc, [a](int64_t k, int r) { return a + 6 * k + r; }, b_at, t);
}

}  // namespace
}  // namespace octet::kernels
