// FP32 products with a narrow run-time B (N <= kSgemmNarrowMaxN columns) for AVX-512 machines:
// C = clamp(A·B + bias, lo, hi) with whole rows of C in registers. Reference twin:
// kernels/ref/gemm_ref.h (matmul_ref), as for the AVX2 SGEMM (kernels/avx2/sgemm_avx2.h).
//
// Why: attention's products are narrow. Q·K^T of a vision transformer on 7x7 patches is 49 x 16
// times 16 x 49 per head; the AVX2 rows kernel's 6 x 16 tiles compute 54 x 64 sums for its
// 49 x 49 (69% of the work useful) and stores each tile through a buffer. Here a tile is R <= 6
// rows of V = ceil(N / 8) ymm vectors (N = 49: 7 vectors, 56 columns, 88% useful; R V + V + 1 <=
// 32, the registers AVX-512 VL gives ymm code), and each row's vectors are stored from the
// registers after the epilogue. Worth it where 8-float vectors waste fewer columns than the
// 16-column tiles: sgemm_narrow_wins(N). (On CPUs that split zmm operations in two, as AMD Zen 4
// does, 8-float vectors run FMAs at the same rate as 16-float ones.)
//
// Arithmetic: each element sums all of K in one FMA chain in k order from 0, then bias_row[m],
// bias_col[n], the scale and the clamp, as sgemm_rows_avx2 (whose epilogue has no scale): the same bits as that kernel for the same
// product and epilogue, whatever the row split.
//
// Packed B: K rows of sgemm_narrow_ld(N) floats, b(k, n) at packed[k * ld + n], zeros past N.
// CPU: AVX-512 F and VL; callers check first.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/avx2/sgemm_avx2.h"

namespace octet::kernels {

constexpr int64_t kSgemmNarrowMaxN = 64;

// True when the narrow tiles do fewer sums than the 16-column ones: N <= kSgemmNarrowMaxN and N
// rounded up to 8 is below N rounded up to 16 (N % 16 in 1..8).
inline bool sgemm_narrow_wins(int64_t N) {
  return N >= 1 && N <= kSgemmNarrowMaxN && (N + 7) / 8 * 8 < (N + 15) / 16 * 16;
}

// Floats per packed row of B: N rounded up to 8.
inline int64_t sgemm_narrow_ld(int64_t N) { return (N + 7) / 8 * 8; }

// Packs B (b(k, n) = b[k * b_rs + n * b_cs]) for sgemm_narrow_zmm: K * sgemm_narrow_ld(N) floats.
void sgemm_narrow_pack_b(int64_t K, int64_t N, const float* b, int64_t b_rs, int64_t b_cs, float* packed);

// Rows [m0, m1) of C = clamp((A·B + bias) * scale, lo, hi); row m of A is the K floats at
// a + m * lda, row m of C the N floats at c + m * ldc. The product by scale (skipped when it is 1)
// is one rounded float multiplication, as a Mul by a scalar after the product: attention's
// 1/sqrt(d) applied while the scores are in registers. Preconditions: 1 <= N <= kSgemmNarrowMaxN,
// K >= 0, the rows [m0, m1) of A exist; C aliases neither A, B nor the biases.
void sgemm_narrow_zmm(int64_t N, int64_t K, const float* a, int64_t lda, const float* packed_b, float* c,
                      int64_t ldc, const SgemmEpilogue& ep, int64_t m0, int64_t m1, float scale = 1.f);

}  // namespace octet::kernels
