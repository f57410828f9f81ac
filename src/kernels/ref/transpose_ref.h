// Reference 2-D transpose and row gather of 32-bit elements (plain loops): the twins of
// transpose_2d_b32_avx2 and gather_rows_b32_avx2.
// Elements are moved as bits (uint32_t), so floats (NaN payloads included) and 32-bit integers
// alike come out unchanged.
#pragma once

#include <cstdint>

namespace octet::kernels {

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols (leading dimensions in elements).
void transpose_2d_b32_ref(int64_t rows, int64_t cols, const uint32_t* src, int64_t lds, uint32_t* dst, int64_t ldd);

// dst[i * len + j] = src[off[i] + j] for i < rows, j < len.
void gather_rows_b32_ref(int64_t rows, int64_t len, const uint32_t* src, const int64_t* off, uint32_t* dst);

}  // namespace octet::kernels
