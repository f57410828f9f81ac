// 2-D transpose of 32-bit elements; the contract is in permute_avx2.h.
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

}  // namespace octet::kernels
