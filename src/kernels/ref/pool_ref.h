// Reference pooling kernels: plain loops over each window, the oracle for fast pooling.
//
// Layout: channels first, batch and channel flattened: X is [NC, S0, S1, S2], Y is
// [NC, O0, O1, O2], row-major. A 1-D or 2-D problem sets the unused LEADING spatial dims to
// in = kernel = out = stride = dilation = 1 and pads = 0.
// Window of output o along dim d: positions o*stride - pad_begin + k*dilation, k in [0, kernel).
// Positions outside [0, in) are padding and never read.
// Accumulation: averages sum in double and divide once, then round to the element type; max is
// exact. Kernels do not validate; the caller sizes the buffers from the params.
#pragma once

#include <cstdint>

namespace octet::kernels {

constexpr int kPoolSpatialDims = 3;

struct PoolParams {
  int64_t channels = 1;  // N * C
  int64_t in[kPoolSpatialDims] = {1, 1, 1};
  int64_t kernel[kPoolSpatialDims] = {1, 1, 1};
  int64_t out[kPoolSpatialDims] = {1, 1, 1};
  int64_t stride[kPoolSpatialDims] = {1, 1, 1};
  int64_t dilation[kPoolSpatialDims] = {1, 1, 1};
  int64_t pad_begin[kPoolSpatialDims] = {0, 0, 0};
  int64_t pad_end[kPoolSpatialDims] = {0, 0, 0};  // bounds the "padded input" for count_include_pad
};

// Y = max over the in-bounds taps of each window (first maximum wins). `indices` (nullptr to
// skip) receives the flat index into X of that maximum, counting channels: c * S + s, where s is
// row-major over (S0, S1, S2), or column-major (S0 fastest) when column_major_indices. A window
// with no in-bounds tap yields the type's lowest value and index -1.
void maxpool_nchw_ref(const PoolParams& p, const float* x, float* y, int64_t* indices,
                      bool column_major_indices);
void maxpool_nchw_ref(const PoolParams& p, const double* x, double* y, int64_t* indices,
                      bool column_major_indices);
void maxpool_nchw_ref(const PoolParams& p, const int8_t* x, int8_t* y, int64_t* indices,
                      bool column_major_indices);
void maxpool_nchw_ref(const PoolParams& p, const uint8_t* x, uint8_t* y, int64_t* indices,
                      bool column_major_indices);

// Y = sum of the in-bounds taps / divisor. divisor = number of in-bounds taps, or with
// count_include_pad the number of taps inside [-pad_begin, in + pad_end) (the explicitly padded
// input; taps beyond it, which ceil_mode can create, never count). A window whose divisor is 0
// yields NaN.
void avgpool_nchw_ref(const PoolParams& p, bool count_include_pad, const float* x, float* y);
void avgpool_nchw_ref(const PoolParams& p, bool count_include_pad, const double* x, double* y);

// Y[c] = mean / max of X[c, 0..spatial). spatial == 0 yields NaN (mean) or lowest (max).
void global_avgpool_ref(int64_t channels, int64_t spatial, const float* x, float* y);
void global_avgpool_ref(int64_t channels, int64_t spatial, const double* x, double* y);
void global_maxpool_ref(int64_t channels, int64_t spatial, const float* x, float* y);
void global_maxpool_ref(int64_t channels, int64_t spatial, const double* x, double* y);

// octet.QLinearGlobalAveragePool: DequantizeLinear -> GlobalAveragePool -> QuantizeLinear of 8-bit
// planes, step for step as that Q/DQ graph computes on the reference kernels: each element
// dequantized in float, float(x - x_zp) * x_scale (dequantize_linear_ref); the plane summed in
// double in index order, divided by spatial in double and rounded to float (global_avgpool_ref);
// then quantize_value with (y_scale, y_zp) into [qmin, qmax]. So the fused op equals the graph bit
// for bit. X and Y are uint8_t or int8_t; y[c] for each of `channels` planes of `spatial` values.
struct QGlobalAvgPoolParams {
  float x_scale = 1.f, y_scale = 1.f;
  int32_t x_zp = 0, y_zp = 0;
  int32_t qmin = 0, qmax = 255;  // the output type's range
};
// The last steps of a plane, shared by the reference and the fast kernel: the double sum of its
// dequantized values divided by spatial in double (NaN when empty), rounded to float, quantized.
int32_t qglobal_avgpool_finish(double sum, int64_t spatial, const QGlobalAvgPoolParams& p);

template <class X, class Y>
void qglobal_avgpool_ref(int64_t channels, int64_t spatial, const X* x, const QGlobalAvgPoolParams& p, Y* y);

}  // namespace octet::kernels
