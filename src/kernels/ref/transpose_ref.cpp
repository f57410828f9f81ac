#include "kernels/ref/transpose_ref.h"

namespace octet::kernels {

void transpose_2d_b32_ref(int64_t rows, int64_t cols, const uint32_t* src, int64_t lds, uint32_t* dst, int64_t ldd) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) dst[j * ldd + i] = src[i * lds + j];
}

void gather_rows_b32_ref(int64_t rows, int64_t len, const uint32_t* src, const int64_t* off, uint32_t* dst) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < len; ++j) dst[i * len + j] = src[off[i] + j];
}

}  // namespace octet::kernels
