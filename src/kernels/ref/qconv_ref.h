// Reference integer convolution for ConvInteger and QLinearConv, any number of spatial dims.
//
//   y[n][m][o...] = bias[m] + sum_{c in group(m), k...} (x[n][c][i...] - x_zp) * (w[m][c'][k...] -
//   w_zp[m]) with i_d = o_d * stride_d - pad_begin_d + k_d * dilation_d.
//
// Layout: x is NC<spatial> row-major [batch, in_channels, in_spatial...], w is
// [out_channels, in_channels / group, kernel...], y is [batch, out_channels, out_spatial...].
// Input positions outside x (padding) contribute 0, i.e. they behave as if they held x_zp.
// Zero points are in the operand's 8-bit range; w_zp is per output channel (w_zp[m * w_zp_stride],
// stride 0 for per-tensor, nullptr for 0). bias (int32 per output channel) may be nullptr.
//
// Accumulator: exact int64, stored as int32. With 8-bit operands a reduction of
// K = (in_channels / group) * prod(kernel) <= 33025 terms always fits int32 and equals what an
// int32-accumulating kernel computes, bit for bit (bias included unless it is itself extreme).
// A sum that does not fit int32 is not wrapped: it is saturated and the kernel returns false so
// the caller can report it.
#pragma once

#include <cstdint>
#include <vector>

namespace octet::kernels {

struct QConvParams {
  int64_t batch = 0;
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t group = 1;
  // One entry per spatial dim, all of the same length.
  std::vector<int64_t> in_spatial, out_spatial, kernel, strides, dilations, pads_begin;
};

// TX and TW are uint8_t or int8_t. Returns true when every output fitted int32.
template <class TX, class TW>
bool qconv_s32_ref(const QConvParams& p, const TX* x, int32_t x_zp, const TW* w,
                   const int32_t* w_zp, int64_t w_zp_stride, const int32_t* bias, int32_t* y);

}  // namespace octet::kernels
