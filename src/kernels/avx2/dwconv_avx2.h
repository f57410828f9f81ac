// Depthwise 2-D convolution of ONE channel plane, AVX2 + FMA: FP32, and exact INT8 (u8 x s8).
//
// Problem (NCHW; the caller loops over batch x channel and spreads those planes over its threads):
//   y[oh][ow] = clamp(bias + sum_{kh, kw} x[oh*stride_h - pad_top  + kh*dilation_h]
//                                          [ow*stride_w - pad_left + kw*dilation_w] * w[kh][kw])
// x is in_h x in_w, w is kernel_h x kernel_w, y is out_h x out_w, each dense and row-major.
// Taps outside x (padding) contribute 0. out_h/out_w are the caller's: they fix the bottom/right
// padding implicitly (an output whose window runs past x just sees more zeros).
// Reference twins: conv_nchw_ref with group == channels (FP32); qconv_s32_ref with group ==
// channels followed by requantize_value (INT8). Tests: tests/kernels/dwconv_avx2_test.cpp.
//
// Scratch: each call needs dwconv_avx2_scratch_size(p) bytes of caller memory (any alignment; the
// kernel aligns it to 64 bytes itself), one buffer per thread, reusable across calls and planes.
// No allocation, no threads, no global state. Its contents on entry do not matter.
//
// How it works (both kernels): every input row the current output row needs is first copied once
// into a small ring of row slots in scratch (a power of two >= (kernel_h - 1) * dilation_h + 1),
// with the left/right padding written out as zeros and split into stride_w "phase" rows (phase r
// holds padded columns r, r + s, r + 2s, ...). Then x[s*ow + t] = phase[t % s][ow + t / s], so
// every tap of every stride and dilation is a contiguous unaligned vector load along ow, no output
// needs a border case, and input rows outside x point to an all-zero row (3x3) or are skipped
// (general path). INT8 rows are stored already widened to int16, minus x_zp, as tap pairs.
// Fast path: 3x3 (any stride, dilation, padding; MobileNetV2's pad-1 stride-1/2 layers are the
// target), 16 outputs per iteration, all 9 taps unrolled. General path: any kernel size, taps in
// a loop. Both vectorise along the output width in blocks of 16, then 8, then a masked tail.
//
// Preconditions (not checked; the op validates): all sizes, strides and dilations >= 1 (in_h,
// in_w, out_h, out_w may be 0: nothing is written), pads >= 0, every dimension and in_h*in_w,
// out_h*out_w below 2^31. x, w, y must not overlap scratch.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>

namespace octet::kernels {

struct DwConvParams {
  int64_t in_h = 1, in_w = 1;
  int64_t out_h = 1, out_w = 1;
  int64_t kernel_h = 1, kernel_w = 1;
  int64_t stride_h = 1, stride_w = 1;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t pad_top = 0, pad_left = 0;
};

// Bytes of scratch either kernel needs for `p` (the same layout serves FP32 and INT8): about
// (ring + 2) * stride_w * (out_w + kernel span + 24) * 4 bytes plus small tables; for 3x3 pad 1,
// 2.5 KiB at 56 wide stride 1, 3.7 KiB stride 2, 4 KiB at 112 wide. Independent of in_h/out_h.
size_t dwconv_avx2_scratch_size(const DwConvParams& p);

// FP32. y = min(max(acc, lo), hi) with acc = bias + the taps in (kh, kw) order, each added with
// one FMA (so acc differs from conv_nchw_ref's mul-then-add by rounding only; see the test for the
// bound). lo/hi may be -inf/+inf; a NaN acc stays NaN (as std::min(std::max(acc, lo), hi)).
// Padding is materialised as zeros, so a non-finite weight times a padded position gives NaN
// where the reference, which skips padded taps, would not; finite weights give the same products.
void dwconv_f32_avx2(const DwConvParams& p, const float* x, const float* w, float bias, float lo,
                     float hi, float* y, void* scratch);

// What the INT8 kernel writes for each exact int32 accumulator acc (see dwconv_u8s8_avx2).
enum class DwQOutKind : int32_t {
  U8,   // uint8_t: min(max(requantize_value(acc, multiplier, zero_point, qmin, qmax), lo), hi)
  S8,   // int8_t:  the same formula
  S32,  // int32_t: acc itself (ConvInteger)
  F32,  // float:   min(max(float(acc) * scale + fbias, f_lo), f_hi), multiply then add, no FMA
};

struct DwQOutput {
  DwQOutKind kind = DwQOutKind::U8;
  // U8 / S8. Preconditions: qmin <= qmax, lo <= hi, and all four inside the storage type's range
  // ([0, 255] or [-128, 127]); lo/hi fuse a ReLU/ReLU6 clamp after requantization.
  float multiplier = 1.f;  // in_scale * w_scale / out_scale, formed in float by the caller
  int32_t zero_point = 0;
  int32_t qmin = 0, qmax = 255;
  int32_t lo = 0, hi = 255;
  // F32 (dequantized output). f_lo/f_hi default to no clamp.
  float scale = 1.f;
  float fbias = 0.f;
  float f_lo = -std::numeric_limits<float>::infinity();
  float f_hi = std::numeric_limits<float>::infinity();
};

// INT8 depthwise convolution with an exact int32 accumulator:
//   acc = saturate_int32(bias + sum_{taps inside x} (x - x_zp) * (w - w_zp))
// exactly qconv_s32_ref's value (padding counts as x == x_zp, i.e. contributes 0), then `out`
// decides what is stored in y (out_h * out_w elements of the kind's type).
// x is uint8 (int8 activations are flipped to uint8 by the caller: x ^ 0x80, x_zp + 128), w int8.
// Preconditions: 0 <= x_zp <= 255, -128 <= w_zp <= 127, kernel_h * kernel_w <= 33025 (so the sum
// of products always fits int32; the bias is then added with int32 saturation, matching the
// reference's int64 sum clamped to int32).
// Exactness: x - x_zp and w - w_zp are widened to int16 (both in [-255, 255]) before any multiply;
// vpmaddwd adds two such products into int32 (|sum| <= 130050, never saturates); no vpmaddubsw.
// Requantization is requantize_value bit for bit: vcvtdq2pd, vmulpd by double(multiplier), then
// for a multiplier in [0, 1] vcvtpd2dq (nearest-even) and saturating int16 packs and adds
// (avx2::dw_requant8_rn), for other finite ones vroundpd to nearest-even, clamp, vcvttpd2dq, +
// zero point. A non-finite multiplier (a NaN or infinite product) takes a scalar path that calls
// requantize_value itself.
void dwconv_u8s8_avx2(const DwConvParams& p, const uint8_t* x, int32_t x_zp, const int8_t* w,
                      int32_t w_zp, int32_t bias, const DwQOutput& out, void* y, void* scratch);

}  // namespace octet::kernels
