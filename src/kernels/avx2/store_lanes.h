// Stores of the first n lanes of a vector without vmaskmovps / vpmaskmovd. On AMD Zen 2 and 3
// those masked stores are microcoded: measured here (Zen 3) at about 33 cycles each, where the
// plain stores below take one or two. Row tails (a 49-column attention row, a 14- or 7-pixel
// depthwise row) hit them once or twice per row, enough to cost a third of a small product.
// Loads may stay masked (vmaskmovps loads are single micro-ops). Internal to AVX2 translation
// units.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace octet::kernels::avx2 {

// dst[0, n) = lanes [0, n) of v, for 0 <= n <= 8; nothing else is written.
inline void store_first_ps(float* dst, __m256 v, int64_t n) {
  if (n >= 8) {
    _mm256_storeu_ps(dst, v);
    return;
  }
  __m128 h = _mm256_castps256_ps128(v);
  if (n >= 4) {
    _mm_storeu_ps(dst, h);
    h = _mm256_extractf128_ps(v, 1);
    dst += 4;
    n -= 4;
  }
  if (n >= 2) {
    _mm_storel_pi(reinterpret_cast<__m64*>(dst), h);  // movlps: no alignment required
    h = _mm_movehl_ps(h, h);
    dst += 2;
    n -= 2;
  }
  if (n > 0) _mm_store_ss(dst, h);
}

inline void store_first_epi32(int32_t* dst, __m256i v, int64_t n) {
  store_first_ps(reinterpret_cast<float*>(dst), _mm256_castsi256_ps(v), n);
}

}  // namespace octet::kernels::avx2
