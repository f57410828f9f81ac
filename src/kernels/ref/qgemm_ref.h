// Reference integer matrix multiply for MatMulInteger and QLinearMatMul (one matrix of a batch).
//
//   C[m][n] = sum_k (A[m][k] - a_zp[m]) * (B[k][n] - b_zp[n])
//
// Layout: A is row-major [M, K] with row stride lda, B row-major [K, N] with row stride ldb,
// C row-major [M, N] with row stride ldc. Zero points are int32 per row of A (a_zp[m *
// a_zp_stride]) and per column of B (b_zp[n * b_zp_stride]); stride 0 is per-tensor, nullptr is 0.
//
// Accumulator: the products are summed exactly in int64 and the sum is stored as int32. With 8-bit
// operands |a - a_zp| and |b - b_zp| are at most 255, so for K <= 33025 (K * 255 * 255 < 2^31) the
// sum always fits and equals what an int32-accumulating kernel computes, bit for bit. For larger K
// a sum that does not fit int32 is not wrapped: the kernel returns false (C then holds saturated
// values) and the caller reports the overflow.
#pragma once

#include <cstdint>

namespace octet::kernels {

struct QGemmParams {
  int64_t M = 0, N = 0, K = 0;
  int64_t lda = 0, ldb = 0, ldc = 0;
};

// TA and TB are uint8_t or int8_t. Returns true when every sum fitted int32.
template <class TA, class TB>
bool qgemm_s32_ref(const QGemmParams& p, const TA* a, const int32_t* a_zp, int64_t a_zp_stride,
                   const TB* b, const int32_t* b_zp, int64_t b_zp_stride, int32_t* c);

// Largest K for which 8-bit operands can never overflow an int32 accumulator.
constexpr int64_t kQGemmMaxSafeK = 2147483647LL / (255LL * 255LL);  // 33025

}  // namespace octet::kernels
