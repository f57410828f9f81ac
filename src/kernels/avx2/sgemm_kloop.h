// The FP32 6x16 FMA k loop shared by the packed SGEMM (sgemm_avx2.cpp: B from a packed panel) and
// the shifted-B convolution (sconv_shift_avx2.cpp: B straight from padded input planes). Internal
// to AVX2 translation units: everything is in an anonymous namespace, each file keeps its copy.
//
// t = A-panel · B-columns over kc values of k: a is a packed A panel slice (kc x 6, k-major);
// b_at(k) points at the 16 floats of B's row k for the tile's columns. The 12 accumulators live in
// ymm registers for the whole loop (with 2 B vectors and 1 broadcast: 15 of 16 registers); per k it
// loads 2 ymm of B, broadcasts 6 floats of A and issues 12 FMAs. Callers wrap it in a noinline
// function (see there).
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace octet::kernels {
namespace {

template <class BAt>
inline __attribute__((always_inline)) void kloop_6x16_body(int64_t kc, const float* a, BAt b_at, float t[6][16]) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
         c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const float* b = b_at(k);
    const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
    __m256 ar = _mm256_broadcast_ss(a + 0);
    c00 = _mm256_fmadd_ps(ar, b0, c00);
    c01 = _mm256_fmadd_ps(ar, b1, c01);
    ar = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(ar, b0, c10);
    c11 = _mm256_fmadd_ps(ar, b1, c11);
    ar = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(ar, b0, c20);
    c21 = _mm256_fmadd_ps(ar, b1, c21);
    ar = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(ar, b0, c30);
    c31 = _mm256_fmadd_ps(ar, b1, c31);
    ar = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(ar, b0, c40);
    c41 = _mm256_fmadd_ps(ar, b1, c41);
    ar = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(ar, b0, c50);
    c51 = _mm256_fmadd_ps(ar, b1, c51);
    a += 6;
  }
  _mm256_store_ps(t[0], c00);
  _mm256_store_ps(t[0] + 8, c01);
  _mm256_store_ps(t[1], c10);
  _mm256_store_ps(t[1] + 8, c11);
  _mm256_store_ps(t[2], c20);
  _mm256_store_ps(t[2] + 8, c21);
  _mm256_store_ps(t[3], c30);
  _mm256_store_ps(t[3] + 8, c31);
  _mm256_store_ps(t[4], c40);
  _mm256_store_ps(t[4] + 8, c41);
  _mm256_store_ps(t[5], c50);
  _mm256_store_ps(t[5] + 8, c51);
}

}  // namespace
}  // namespace octet::kernels
