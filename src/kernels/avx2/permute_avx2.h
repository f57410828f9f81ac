// 2-D transpose of 32-bit elements for AVX2, the core of the engine's Transpose (a permutation that
// moves the innermost dimension is a batch of 2-D transposes: runtime/fast/transpose.cpp).
// Reference twin: transpose_2d_b32_ref (kernels/ref/transpose_ref.h). Elements move as bits, so
// the result equals the twin's exactly.
// CPU: AVX2; callers check first (fast_kernels_available()).
#pragma once

#include <cstdint>

namespace octet::kernels {

// dst[j * ldd + i] = src[i * lds + j] for i < rows, j < cols: 8x8 blocks transposed in registers,
// the edges element by element. src and dst must not overlap.
void transpose_2d_b32_avx2(int64_t rows, int64_t cols, const uint32_t* src, int64_t lds, uint32_t* dst, int64_t ldd);

}  // namespace octet::kernels
