// Reference convolution kernels: plain direct loops, the oracle every fast conv is tested against.
//
// Layout: channels first. X is [N, C, S0, S1, S2], Y is [N, M, O0, O1, O2], row-major, where a
// 1-D or 2-D problem sets the unused LEADING spatial dims to in = kernel = out = stride =
// dilation = 1 and pad = 0 (so a 2-D NCHW problem is S0 = 1, S1 = H, S2 = W).
// Accumulation: in the element type (float for float, double for double), starting from the bias,
// in the loop order input channel, k0, k1, k2. No rounding step beyond the FPU's. Padding is
// implicit zeros: taps outside the input are skipped, never read.
// Kernels depend on nothing but the standard library and do not validate: the caller (the op)
// checks shapes, and sizes the buffers from the params.
#pragma once

#include <cstdint>

namespace octet::kernels {

constexpr int kConvSpatialDims = 3;

struct ConvParams {
  int64_t batch = 1;         // N
  int64_t in_channels = 1;   // C (all groups)
  int64_t out_channels = 1;  // M (all groups)
  int64_t group = 1;         // divides C and M
  int64_t in[kConvSpatialDims] = {1, 1, 1};
  int64_t kernel[kConvSpatialDims] = {1, 1, 1};
  int64_t out[kConvSpatialDims] = {1, 1, 1};
  int64_t stride[kConvSpatialDims] = {1, 1, 1};
  int64_t dilation[kConvSpatialDims] = {1, 1, 1};
  int64_t pad_begin[kConvSpatialDims] = {0, 0, 0};  // end pads only shape `out`, set by the caller
};

// Y[n, m, o] = bias[m] + sum_{c in group(m), k} X[n, c, o*stride - pad_begin + k*dilation] *
//              W[m, c - group_start, k]
// W is [M, C/group, K0, K1, K2]. bias is [M] or nullptr.
void conv_nchw_ref(const ConvParams& p, const float* x, const float* w, const float* bias,
                   float* y);
void conv_nchw_ref(const ConvParams& p, const double* x, const double* w, const double* bias,
                   double* y);

// Transposed convolution (the gradient of conv_nchw_ref with respect to its input), as a scatter:
// Y[n, m, i*stride - pad_begin + k*dilation] += X[n, c, i] * W[c, m - group_start, k], Y starting
// at bias[m] (or 0). W is [C, M/group, K0, K1, K2]. `out` may be larger than the positions the
// scatter reaches (output_padding): those hold the bias.
void conv_transpose_nchw_ref(const ConvParams& p, const float* x, const float* w, const float* bias,
                             float* y);
void conv_transpose_nchw_ref(const ConvParams& p, const double* x, const double* w,
                             const double* bias, double* y);

}  // namespace octet::kernels
