#include "kernels/ref/gemm_ref.h"

#include <type_traits>

namespace octet::kernels {
namespace {

// Row i of Y accumulates a[i,k] * b[k,:] for k = 0, 1, ...: each Y[i,j] sums its products in
// k order (as a per-element dot product would) while the inner loop runs along a row of B and Y.
template <class T>
void gemm_loops(const GemmParams& p, const T* a, const T* b, const T* c, T* y) {
  const T alpha = static_cast<T>(p.alpha), beta = static_cast<T>(p.beta);
  for (int64_t i = 0; i < p.M; ++i) {
    T* yr = y + i * p.N;
    for (int64_t j = 0; j < p.N; ++j) yr[j] = 0;
    for (int64_t k = 0; k < p.K; ++k) {
      const T av = p.trans_a ? a[k * p.M + i] : a[i * p.K + k];
      if (p.trans_b) {
        for (int64_t j = 0; j < p.N; ++j) yr[j] += av * b[j * p.K + k];
      } else {
        const T* br = b + k * p.N;
        for (int64_t j = 0; j < p.N; ++j) yr[j] += av * br[j];
      }
    }
    for (int64_t j = 0; j < p.N; ++j) {
      T v = alpha * yr[j];
      if (c) v += beta * c[i * p.c_stride_row + j * p.c_stride_col];
      yr[j] = v;
    }
  }
}

// Same row-wise order as gemm_loops.
template <class T>
void matmul_loops(int64_t M, int64_t N, int64_t K, const T* a, const T* b, T* y) {
  if constexpr (std::is_floating_point_v<T>) {
    for (int64_t i = 0; i < M; ++i) {
      T* yr = y + i * N;
      for (int64_t j = 0; j < N; ++j) yr[j] = 0;
      for (int64_t k = 0; k < K; ++k) {
        const T av = a[i * K + k];
        const T* br = b + k * N;
        for (int64_t j = 0; j < N; ++j) yr[j] += av * br[j];
      }
    }
  } else {
    // Wrap-around arithmetic: products and sums modulo 2^64, truncated to T's width at the end
    // (two's complement), which equals the result modulo 2^bits of T.
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        uint64_t acc = 0;
        for (int64_t k = 0; k < K; ++k)
          acc += static_cast<uint64_t>(static_cast<int64_t>(a[i * K + k])) *
                 static_cast<uint64_t>(static_cast<int64_t>(b[k * N + j]));
        y[i * N + j] = static_cast<T>(acc);
      }
  }
}

}  // namespace

void gemm_ref(const GemmParams& p, const float* a, const float* b, const float* c, float* y) {
  gemm_loops(p, a, b, c, y);
}
void gemm_ref(const GemmParams& p, const double* a, const double* b, const double* c, double* y) {
  gemm_loops(p, a, b, c, y);
}

#define OCTET_MATMUL_REF(T)                                                        \
  void matmul_ref(int64_t M, int64_t N, int64_t K, const T* a, const T* b, T* y) { \
    matmul_loops(M, N, K, a, b, y);                                                \
  }
OCTET_MATMUL_REF(float)
OCTET_MATMUL_REF(double)
OCTET_MATMUL_REF(int8_t)
OCTET_MATMUL_REF(uint8_t)
OCTET_MATMUL_REF(int16_t)
OCTET_MATMUL_REF(uint16_t)
OCTET_MATMUL_REF(int32_t)
OCTET_MATMUL_REF(uint32_t)
OCTET_MATMUL_REF(int64_t)
OCTET_MATMUL_REF(uint64_t)
#undef OCTET_MATMUL_REF

}  // namespace octet::kernels
