// 2-D max pooling on AVX2 for float, uint8 and int8 planes. Reference twin: maxpool_nchw_ref
// (kernels/ref/pool_ref.h), and the results are equal bit for bit (tests/kernels/pool_avx2_test.cpp).
//
// Exactness: the reference folds each window's in-bounds taps in row-major tap order (kernel row
// i, then column j), starting from the first tap and replacing the running value only when a tap
// is strictly greater (`v > best`). So a NaN first tap stays, a later NaN is skipped, and of equal
// values (+0 and -0) the first wins. This kernel folds the same taps in the same order:
// vmaxps(v, best) is exactly `v > best ? v : best`, NaN included; the integer types use
// vpmaxub / vpmaxsb, where equal values are the same bits.
//
// Layout: per output row, the columns whose window lies wholly inside the row are done 8 (float)
// or 32 (8-bit) at a time, the taps loaded contiguously (stride 1) or de-interleaved from two
// loads (stride 2, the usual 3x3/2 and 2x2/2 pools), a row's last chunk overlapping the one before
// it; other strides, the border columns and rows with fewer such columns than a vector holds run
// the scalar fold. Rows of the window outside the input are skipped, as in the reference. The
// 8-bit types, whose max does not depend on the order of the taps, fold the window's rows first
// (whole input rows, into a row buffer padded with the type's lowest value) and then its columns,
// wherever the stride is 1 or 2 and the rows hold a vector (maxpool_plane_rows_first).
// CPU: AVX2; callers check first (fast_kernels_available()).
#pragma once

#include <cstdint>

#include "kernels/ref/pool_ref.h"

namespace octet::kernels {

struct MaxPool2dParams {
  int64_t in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int64_t kernel_h = 1, kernel_w = 1, stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;  // the end pads only bound out_h / out_w (ceil_mode included)
};

// y[out_h, out_w] = max pool of one plane x[in_h, in_w]. Every output window must hold at least
// one in-bounds tap (true whenever the ONNX geometry is valid).
void maxpool2d_f32_avx2(const MaxPool2dParams& p, const float* x, float* y);
void maxpool2d_u8_avx2(const MaxPool2dParams& p, const uint8_t* x, uint8_t* y);
void maxpool2d_s8_avx2(const MaxPool2dParams& p, const int8_t* x, int8_t* y);

// GlobalAveragePool of `channels` planes of `spatial` floats each (x[c * spatial + i]):
// y[c] = float(sum_i double(x[c * spatial + i]) / double(spatial)), equal to global_avgpool_ref
// bit for bit: each channel's double sum adds its elements in index order (8 channels ride in
// the lanes of two double vectors; 8 elements of each of the 8 planes are loaded and transposed
// in registers, the last spatial % 8 read by a gather of stride `spatial`), so every rounding is
// the reference's; spatial == 0 gives NaN as there. Requires 7 * spatial < 2^31 (the gather's
// int32 offsets), else the channels run the scalar loop.
void global_avgpool_f32_avx2(int64_t channels, int64_t spatial, const float* x, float* y);

// octet.QLinearGlobalAveragePool of `channels` 8-bit planes, equal to qglobal_avgpool_ref bit for
// bit. Each plane's dequantized values float(v - x_zp) * x_scale are computed 8 at a time (widen,
// subtract, vcvtdq2ps, vmulps: the reference's float operations) and summed into two double
// vectors. That is not the reference's index order, but the sum is exact, hence the same: with
// x_scale a normal float, 2^e <= x_scale < 2^(e+1), every nonzero term is a float of magnitude at
// least x_scale, so a multiple of 2^(e-23), and below 2^(e+9) (|x - x_zp| <= 255); fewer than 2^21
// terms keep every partial sum below 2^53 such units, which a double holds exactly; infinite
// terms (x_scale near FLT_MAX) give the same inf or NaN in any order. Planes with 2^21 or more
// elements, or a subnormal x_scale, run the reference's loop. X and Y are uint8_t or int8_t.
template <class X, class Y>
void qglobal_avgpool_avx2(int64_t channels, int64_t spatial, const X* x, const QGlobalAvgPoolParams& p, Y* y);

}  // namespace octet::kernels
