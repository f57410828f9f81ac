// sgemm_rows_avx2's product (kernels/avx2/sgemm_avx2.h) on AVX-512 tiles of 6 rows x 32 columns:
// C = clamp(A·B + bias, lo, hi) with A read in place and B in sgemm_pack_b_avx2's 16-column
// panels. Reference twin: kernels/ref/gemm_ref.h (matmul_ref), as for the AVX2 SGEMM.
//
// Why: the AVX2 rows kernel's 6x16 tile spends, per K = 64 tile (384 cycles of FMAs on Zen 4),
// some 40-50 cycles on its epilogue, a buffer round trip and its call (784x64x64 at 104 GFLOP/s,
// 89% of the core's peak). Here a tile is 6 rows of two panels, one zmm register per row and
// panel (12 accumulators, 2 B vectors, 1 broadcast): twice the work per tile, each k step one
// load per panel, 6 broadcasts and 12 FMAs, and the epilogue stores straight from the registers
// (784x64x64 in one call at 109 GFLOP/s against the AVX2 kernel's 104.6, best of 3,000 runs each,
// alternated in one process). An odd last panel takes 6 x 16 tiles, a partial one masked loads
// and stores.
//
// Arithmetic: each element sums all of K in one FMA chain in k order from 0, then bias_row[m],
// bias_col[n] and the clamp: the same operations as sgemm_rows_avx2, so the same bits, whatever
// the split of rows or columns.
// CPU: AVX-512 F; callers check first.
#pragma once

#include <cstdint>

#include "kernels/avx2/sgemm_avx2.h"

namespace octet::kernels {

// sgemm_rows_avx2's contract and preconditions (N >= 2, n0 a multiple of kSgemmNR, B packed by
// sgemm_pack_b_avx2 for all N columns).
void sgemm_rows_zmm(int64_t N, int64_t K, const float* a, int64_t lda, const float* packed_b, float* c,
                    int64_t ldc, const SgemmEpilogue& ep, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

}  // namespace octet::kernels
