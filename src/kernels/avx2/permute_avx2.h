// 2-D transpose of 32-bit elements for AVX2, the core of the engine's Transpose (a permutation that
// moves the innermost dimension is a batch of 2-D transposes: runtime/fast/transpose.cpp).
// Reference twins: transpose_2d_b32_ref and gather_rows_b32_ref (kernels/ref/transpose_ref.h).
// Elements move as bits, so the results equal the twins' exactly.
// CPU: AVX2; callers check first (fast_kernels_available()).
#pragma once

#include <cstdint>

namespace octet::kernels {

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols: 8x8 blocks transposed in registers,
// the edges element by element. src and dst must not overlap.
void transpose_2d_b32_avx2(int64_t rows, int64_t cols, const uint32_t* src, int64_t lds, uint32_t* dst, int64_t ldd);

// dst[i * len + j] = src[off[i] + j] for i < rows, j < len: the rows of a permutation that keeps
// the innermost dimension innermost (a transformer's head split, [B, T, H, d] -> [B, H, T, d]),
// 8 elements a step with the tail masked, instead of one memcpy call per row (rows of 16 floats
// took more time in the call than in the copy). Rows must not overlap dst.
void gather_rows_b32_avx2(int64_t rows, int64_t len, const uint32_t* src, const int64_t* off, uint32_t* dst);

}  // namespace octet::kernels
