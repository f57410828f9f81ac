// Reference normalisation kernels (batch, instance and layer normalisation), plain loops.
//
// Layout: X is [N, C, S] row-major (S = product of the spatial dims) for the per-channel kernels,
// and [rows, cols] for layer normalisation. Statistics (means, variances) are population
// statistics (divide by the count, not count - 1). Batch and instance normalisation accumulate
// them in double and compute the normalisation in double, rounded once to the element type; layer
// normalisation works in the element type (see layernorm_ref).
// Kernels do not validate; the caller sizes the buffers from the arguments.
#pragma once

#include <cstdint>

namespace octet::kernels {

constexpr int kLayerNormLanes = 16;

// Y[n,c,s] = scale[c] * (X[n,c,s] - mean[c]) / sqrt(var[c] + epsilon) + bias[c]
void batchnorm_nchw_ref(int64_t N, int64_t C, int64_t S, const float* x, const float* scale,
                        const float* bias, const float* mean, const float* var, double epsilon,
                        float* y);
void batchnorm_nchw_ref(int64_t N, int64_t C, int64_t S, const double* x, const double* scale,
                        const double* bias, const double* mean, const double* var, double epsilon,
                        double* y);

// Per-channel mean and population variance over N and S (BatchNormalization training mode).
void channel_moments_nchw_ref(int64_t N, int64_t C, int64_t S, const float* x, float* mean,
                              float* var);
void channel_moments_nchw_ref(int64_t N, int64_t C, int64_t S, const double* x, double* mean,
                              double* var);

// Y[n,c,s] = scale[c] * (X[n,c,s] - m[n,c]) / sqrt(v[n,c] + epsilon) + bias[c], with m, v the
// mean and population variance of X[n,c,:].
void instancenorm_nchw_ref(int64_t N, int64_t C, int64_t S, const float* x, const float* scale,
                           const float* bias, double epsilon, float* y);
void instancenorm_nchw_ref(int64_t N, int64_t C, int64_t S, const double* x, const double* scale,
                           const double* bias, double epsilon, double* y);

// Per row r: m = mean(X[r,:]), inv = 1 / sqrt(popvar(X[r,:]) + epsilon),
// Y[r,j] = ((X[r,j] - m) * inv) * scale[j] + bias[j], every step in the element type (float rows
// in float, as ONNX's default stash_type 1 says; double rows in double). The row's sums (of x,
// then of (x - m)^2) are taken over kLayerNormLanes interleaved partial sums (element j into
// partial sum j % 16), added pairwise at the end: the order the vectorised kernels
// (layernorm_f32_avx2, layernorm_f32_zmm) keep. bias may be nullptr (no bias); mean_out and
// inv_std_out (nullptr to skip) receive m and inv per row.
void layernorm_ref(int64_t rows, int64_t cols, const float* x, const float* scale,
                   const float* bias, double epsilon, float* y, float* mean_out,
                   float* inv_std_out);
void layernorm_ref(int64_t rows, int64_t cols, const double* x, const double* scale,
                   const double* bias, double epsilon, double* y, double* mean_out,
                   double* inv_std_out);

}  // namespace octet::kernels
