// 2-D transpose and row gather of 32-bit elements; the contracts are in permute_avx2.h.
#include "kernels/avx2/permute_avx2.h"

#include <immintrin.h>

#include "kernels/avx2/transpose_avx2.h"

namespace octet::kernels {

void transpose_2d_b32_avx2(int64_t rows, int64_t cols, const uint32_t* src, int64_t lds, uint32_t* dst, int64_t ldd) {
  const int64_t rows8 = rows - rows % 8, cols8 = cols - cols % 8;
  for (int64_t i0 = 0; i0 < rows8; i0 += 8) {
    for (int64_t j0 = 0; j0 < cols8; j0 += 8) {
      __m256 r[8];
      for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(reinterpret_cast<const float*>(src + (i0 + k) * lds + j0));
      avx2::transpose8x8_ps(r);  // shuffles only: the bits of every element are kept
      for (int k = 0; k < 8; ++k) _mm256_storeu_ps(reinterpret_cast<float*>(dst + (j0 + k) * ldd + i0), r[k]);
    }
    for (int64_t i = i0; i < i0 + 8; ++i)
      for (int64_t j = cols8; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
  }
  for (int64_t i = rows8; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
}

void gather_rows_b32_avx2(int64_t rows, int64_t len, const uint32_t* src, const int64_t* off, uint32_t* dst) {
  const int64_t len8 = len - len % 8;
  const __m256i tail = _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int32_t>(len - len8)),
                                          _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  for (int64_t i = 0; i < rows; ++i, dst += len) {
    const uint32_t* s = src + off[i];
    int64_t j = 0;
    for (; j < len8; j += 8)
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + j), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s + j)));
    if (j < len)
      _mm256_maskstore_epi32(reinterpret_cast<int*>(dst + j), tail,
                             _mm256_maskload_epi32(reinterpret_cast<const int*>(s + j), tail));
  }
}

}  // namespace octet::kernels
