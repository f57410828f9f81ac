// FP32 GEMM for AVX2 + FMA with packed operands:  C = clamp(A·B + bias, lo, hi).
// Reference twin: kernels/ref/gemm_ref.h (matmul_ref / gemm_ref).
//
// How the engine uses it: A is the constant operand (convolution weights [out_ch, K]; for
// MatMul/Gemm the engine computes C^T = W^T · X^T so A is again the weights), packed ONCE at model
// load with sgemm_pack_a_avx2. B is the activation operand (im2col [K, pixels], or X^T), packed at
// every call with sgemm_pack_b_avx2; threads may pack disjoint column ranges of one buffer. C is
// written with arbitrary row and column strides (c_rs = 1 writes C transposed). Work is split by
// the caller: sgemm_packed_avx2 computes one block [m0,m1) x [n0,n1) of C, on the calling thread,
// with no allocation.
//
// Element addressing (all strides in floats, any value including 0 for A/B broadcast):
//   a(m,k) = a[m*a_rs + k*a_cs]    b(k,n) = b[k*b_rs + n*b_cs]    c(m,n) = c[m*c_rs + n*c_cs]
//
// Packed layouts (tile MR x NR = 6 x 16):
//   A: ceil(M/6) row panels of 6 rows; panel p starts at packed + p*6*K and holds, for
//      k = 0..K-1, the 6 floats a(6p+0..5, k) contiguously:
//      packed[p*6*K + k*6 + r] = a(6p+r, k), 0 for rows >= M. Size ceil(M/6)*6*K floats.
//   B (N >= 2): ceil(N/16) column panels of 16 columns; panel q starts at packed + q*16*K and
//      holds, for k = 0..K-1, the 16 floats b(k, 16q+0..15) contiguously:
//      packed[q*16*K + k*16 + j] = b(k, 16q+j), 0 for columns >= N.
//   B (N == 1, the GEMV case): packed[k] = b(k, 0), K contiguous floats.
//   Size sgemm_packed_b_floats(K, N) = ceil(N/16)*16*K in both cases (more than needed for N == 1).
//   K blocking is done by pointer offset inside panels (a K-slice of a panel is contiguous), so the
//   layout does not depend on the block size. Buffers need no particular alignment (unaligned loads
//   are used); 64-byte alignment avoids cache-line splits and is recommended.
//
// Accumulation and rounding: float32 accumulators, one fused multiply-add (one rounding) per
// product, each element summing its products in k order within a K block. K blocks: when rows of
// C are contiguous (c_cs == 1) and K >= 1.5 kSgemmKC, K is cut into about K / kSgemmKC equal
// blocks; each block's sum starts from 0 and is added to the running sum, so an element is
// ((blk0 + blk1) + blk2) + ...; other C layouts sum all of K as one block. Then the epilogue:
// v = sum; v += bias_row[m] (if given); v += bias_col[n] (if given); v = min(hi, max(lo, v)),
// NaN propagated (a NaN v stays NaN; the clamp is skipped when lo = -inf and hi = +inf, where it
// is the identity). Against matmul_ref (product and sum rounded separately, one running sum in k
// order) the results differ by rounding only: both are within K * 2^-24 * sum_k |a(m,k) b(k,n)|
// (to first order) of the exact value; the blocked sums have the smaller constant.
// Determinism: an element's arithmetic depends only on its row of A, its column of B, its biases,
// K and whether c_cs == 1; never on N, on the block [m0,m1) x [n0,n1), on the order blocks run
// in or on the thread count. So any block decomposition gives bit-identical C, and so does
// splitting the columns into separate calls (separately packed B, any N, N == 1 included: the
// GEMV path does the same arithmetic as the tiled path).
//
// Preconditions (not checked: the caller sizes everything from the same M, N, K): m0 is a multiple
// of kSgemmMR, n0 of kSgemmNR; 0 <= m0 <= m1 <= M, 0 <= n0 <= n1 <= N; pack_b's n1 is a multiple
// of kSgemmNR or equal to N (a panel is packed by one call); packed buffers have the sizes above;
// distinct C elements do not overlap and C aliases neither A, B nor the biases. Calls with K == 0
// write clamp(bias, lo, hi).
//
// CPU: the functions here execute AVX2/FMA instructions; check sgemm_avx2_supported() first.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace octet::kernels {

constexpr int64_t kSgemmMR = 6;   // rows of the register tile (6 x 2 ymm = 12 accumulators)
constexpr int64_t kSgemmNR = 16;  // columns of the register tile (2 ymm)
// Cache blocking (BLIS's published Zen values): a 16 x KC slice of B (16 KiB, <= 24 KiB with the
// balanced split) stays in L1 while the MC x KC block of A (144 KiB) stays in L2.
constexpr int64_t kSgemmKC = 256;
constexpr int64_t kSgemmMC = 144;

// True when the running CPU has AVX2 and FMA (what this translation unit is compiled for).
inline bool sgemm_avx2_supported() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  return false;
#endif
}

size_t sgemm_packed_a_floats(int64_t M, int64_t K);
// Packs all of A (done once, at model load).
void sgemm_pack_a_avx2(int64_t M, int64_t K, const float* a, int64_t a_rs, int64_t a_cs,
                       float* packed);

size_t sgemm_packed_b_floats(int64_t K, int64_t N);
// Packs columns [n0, n1) of B (their panels, padding included) into their place in `packed`.
void sgemm_pack_b_avx2(int64_t K, int64_t N, const float* b, int64_t b_rs, int64_t b_cs,
                       int64_t n0, int64_t n1, float* packed);

// C = clamp(A·B + bias_row[m] + bias_col[n], lo, hi); bias_row has M floats, bias_col N floats.
struct SgemmEpilogue {
  const float* bias_row = nullptr;
  const float* bias_col = nullptr;
  float lo = -INFINITY;
  float hi = INFINITY;
};

// Computes the block rows [m0,m1) x cols [n0,n1) of C from packed A and packed B; writes nothing
// else. N == 1 dispatches to a GEMV loop (8 A panels streamed at a time, bound by the bandwidth A
// arrives at, no 1/16 waste of the 16-wide tile); otherwise the 6x16 register-blocked microkernel
// runs over K blocks, M blocks of kSgemmMC rows and 16-column panels.
void sgemm_packed_avx2(int64_t M, int64_t N, int64_t K, const float* packed_a,
                       const float* packed_b, float* c, int64_t c_rs, int64_t c_cs,
                       const SgemmEpilogue& ep, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

// C = clamp(A·B + bias, lo, hi) for rows [m0,m1) x cols [n0,n1) with A read in place, not
// packed: row m of A is the K floats at a + m * lda, B is packed by sgemm_pack_b_avx2 (N >= 2),
// C is row-major (row m at c + m * ldc). For products whose A changes at every call and is
// already row-major (MatMul's activations times a constant weight, attention's Q·K^T): no pack
// of A, and C tiles stored as whole rows.
// Arithmetic: each element sums all of K in one FMA chain in k order from 0 (no K blocks), then
// the epilogue as sgemm_packed_avx2 (bias_row[m], bias_col[n], clamp). So for K < 1.5 kSgemmKC
// (one K block there) the bits equal sgemm_packed_avx2's for the same product and epilogue, in
// any layout; and any split of the rows or columns over calls gives the same bits.
// Preconditions: N >= 2, n0 a multiple of kSgemmNR, 0 <= m0 <= m1, 0 <= n0 <= n1 <= N, the rows
// [m0, m1) of A exist; C aliases neither A, B nor the biases.
void sgemm_rows_avx2(int64_t N, int64_t K, const float* a, int64_t lda, const float* packed_b,
                     float* c, int64_t ldc, const SgemmEpilogue& ep, int64_t m0, int64_t m1,
                     int64_t n0, int64_t n1);

}  // namespace octet::kernels
