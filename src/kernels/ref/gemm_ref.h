// Reference matrix-multiply kernels: plain triple loops, the oracle for any fast GEMM.
//
// Layout: row-major, dense (leading dimension = row length). Accumulation: float for float,
// double for double, in k order; integer matmul wraps modulo 2^bits of the element type (numpy's
// behaviour), computed in uint64 so signed overflow is never undefined.
// Kernels do not validate; the caller sizes the buffers from the arguments.
#pragma once

#include <cstdint>

namespace octet::kernels {

struct GemmParams {
  int64_t M = 0, N = 0, K = 0;
  bool trans_a = false;            // A is stored [K, M] instead of [M, K]
  bool trans_b = false;            // B is stored [N, K] instead of [K, N]
  double alpha = 1.0, beta = 1.0;  // applied in the element type
  // C is read at c[i * c_stride_row + j * c_stride_col]; a stride of 0 broadcasts C along that
  // axis (a scalar C has both strides 0).
  int64_t c_stride_row = 0, c_stride_col = 0;
};

// Y[M, N] = alpha * op(A) op(B) + beta * C; C may be nullptr (then the beta term is dropped).
void gemm_ref(const GemmParams& p, const float* a, const float* b, const float* c, float* y);
void gemm_ref(const GemmParams& p, const double* a, const double* b, const double* c, double* y);

// Y[M, N] = A[M, K] B[K, N] for one matrix of a batch.
void matmul_ref(int64_t M, int64_t N, int64_t K, const float* a, const float* b, float* y);
void matmul_ref(int64_t M, int64_t N, int64_t K, const double* a, const double* b, double* y);
void matmul_ref(int64_t M, int64_t N, int64_t K, const int8_t* a, const int8_t* b, int8_t* y);
void matmul_ref(int64_t M, int64_t N, int64_t K, const uint8_t* a, const uint8_t* b, uint8_t* y);
void matmul_ref(int64_t M, int64_t N, int64_t K, const int16_t* a, const int16_t* b, int16_t* y);
void matmul_ref(int64_t M, int64_t N, int64_t K, const uint16_t* a, const uint16_t* b, uint16_t* y);
void matmul_ref(int64_t M, int64_t N, int64_t K, const int32_t* a, const int32_t* b, int32_t* y);
void matmul_ref(int64_t M, int64_t N, int64_t K, const uint32_t* a, const uint32_t* b, uint32_t* y);
void matmul_ref(int64_t M, int64_t N, int64_t K, const int64_t* a, const int64_t* b, int64_t* y);
void matmul_ref(int64_t M, int64_t N, int64_t K, const uint64_t* a, const uint64_t* b, uint64_t* y);

}  // namespace octet::kernels
