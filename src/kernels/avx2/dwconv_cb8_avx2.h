// Depthwise 3x3 convolution of a block of 8 channel planes at once, channels in the vector lanes,
// AVX2 + FMA: exact INT8 (u8 x s8, requantized to u8/s8) and FP32. For the small planes of late layers (7x7,
// 14x14), where the plane-at-a-time kernel (dwconv_avx2.h) spends more on per-plane and per-row
// set-up, partial vectors along a short row and one requantization per row than on the taps.
//
// Problem: for each of the 8 channels ch (planes x + ch * in_h * in_w, y + ch * out_h * out_w,
// NCHW, dense), exactly what dwconv_u8s8_avx2 computes for that plane with kernel 3x3:
//   acc = saturate_int32(bias[ch] + sum_{taps inside x} (x - x_zp) * (w[ch][kh][kw] - w_zp[ch]))
//   y   = min(max(requantize_value(acc, multiplier[ch], zero_point, qmin, qmax), lo), hi)
// Padding counts as x == x_zp (contributes 0). Reference twin: qconv_s32_ref with group ==
// channels followed by requantize_value. Tests: tests/kernels/dwconv_cb8_avx2_test.cpp.
//
// How it works: the 8 planes' input rows are transposed once into scratch as padded pixel rows of
// 8 channels, each entry an int16 PAIR (xp(c), xp(c + dilation_w)) per channel (xp = x - x_zp, 0
// in the padding), so one vpmaddwd against the per-channel weight pairs (w'[kh][0], w'[kh][1])
// adds two taps of 8 channels into int32 (|sum| <= 2 * 255 * 255, never saturates), and a second
// one against (w'[kh][2], 0) adds the third. 6 vpmaddwd per output pixel, no lane wasted whatever
// the width. The accumulators are requantized 8 channels at a time (vcvtdq2pd, vmulpd by the
// per-channel double(multiplier), then avx2::dw_requant8_rn when every multiplier lies in [0, 1],
// else vroundpd to nearest-even, clamp, vcvttpd2dq, + zero point: requantize_value bit for bit
// either way), stored pixel-major in scratch, and transposed back to the 8
// output planes 8 pixels at a time. On CPUs with AVX-512 VNNI the INT8 output loop is
// avx512/dwconv_cb8_vnni.h's (vpdpwssd; same bytes) wherever DwCb8Prepared::vnni says so.
//
// Preconditions (not checked; the caller validates): kernel 3x3 (kernel_h/kernel_w of p are
// ignored); sizes, strides, dilations >= 1, pads >= 0 (out_h or out_w 0: nothing is written);
// 0 <= x_zp <= 255; -128 <= w_zp[ch] <= 127; every multiplier finite; qmin <= qmax, lo <= hi, all
// four in the output type's range; x, w, y do not overlap scratch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/avx2/dwconv_avx2.h"

namespace octet::kernels {

struct DwQOutput8 {
  bool is_signed = false;  // int8_t output (else uint8_t)
  float multiplier[8] = {1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f, 1.f};  // per channel, formed in float
  int32_t zero_point = 0;
  int32_t qmin = 0, qmax = 255;
  int32_t lo = 0, hi = 255;  // a fused ReLU/ReLU6 clamp after requantization
};

// Bytes of scratch for p (any alignment; the kernel aligns it): the pair rows of one strip of
// output rows, about 32 KiB or one row's ((out_w - 1) * stride_w + 2 * dilation_w + 1) * 32 bytes
// if more, plus the strip's outputs at 8 bytes per pixel; 9 KiB for a 14x14 stride-1 plane (one
// strip), 27 KiB at 28x28 stride 2. Independent of in_h/out_h beyond one strip.
size_t dwconv_cb8_avx2_scratch_size(const DwConvParams& p);

// FP32: for each channel, y = min(max(acc, lo), hi) with acc = bias[ch] + the 9 taps in (kh, kw)
// order, each added with one FMA: the same operations in the same order as dwconv_f32_avx2 on that
// plane, so the same bits (and conv_nchw_ref's value within that kernel's documented bound).
// Padding is materialised as zeros (as there). w: 8 x 9 floats, channel-major; bias: 8.
// Scratch: dwconv_cb8_f32_avx2_scratch_size(p) bytes, any alignment.
size_t dwconv_cb8_f32_avx2_scratch_size(const DwConvParams& p);
void dwconv3x3_f32_cb8_avx2(const DwConvParams& p, const float* x, const float* w, const float* bias, float lo,
                            float hi, float* y, void* scratch);

// What the INT8 kernel derives from a block's weights, zero points, bias and output parameters
// alone (not from the input): the vpmaddwd weight pairs, the bias, whether adding it may
// saturate, and which requantization form applies. A layer prepares it once per block of 8
// channels at load; on a 7x7 plane this set-up was about a fifth of a call.
struct DwCb8Prepared {
  alignas(32) int32_t pairs[6][8];  // per kernel row k: (w'[k][0], w'[k][1]) and (w'[k][2], 0) per channel
  int32_t bias[8];
  bool saturate_bias = false;
  int form = 0;  // the epilogue (dwconv_cb8_avx2.cpp's Form): 0 double, 1 rounding short form, 2 single precision
  // The output loop runs on AVX-512 VNNI (kernels/avx512/dwconv_cb8_vnni.h: the same bytes, about
  // a third fewer instructions per pixel): set by prepare where the INT8 GEMM runs its VNNI loop
  // (qgemm_default_isa: the CPU has it and OCTET_ISA does not force AVX2), the form is the
  // single-precision one and the bias cannot saturate. Clearing it selects the AVX2 loop.
  bool vnni = false;
};

// w: 8 x 9 int8 weights, channel-major (w[ch * 9 + kh * 3 + kw]); w_zp, bias: 8 each (bias may
// be null: no bias); out: the block's output parameters as the kernel will get them.
void dwconv3x3_u8s8_cb8_prepare(int32_t x_zp, const int8_t* w, const int32_t* w_zp, const int32_t* bias,
                                const DwQOutput8& out, DwCb8Prepared* prepared);
// The kernel on a prepared block (prepared with the same x_zp and out).
void dwconv3x3_u8s8_cb8_avx2(const DwConvParams& p, const uint8_t* x, int32_t x_zp, const DwCb8Prepared& prepared,
                             const DwQOutput8& out, void* y, void* scratch);
// Prepares and runs in one call.
void dwconv3x3_u8s8_cb8_avx2(const DwConvParams& p, const uint8_t* x, int32_t x_zp, const int8_t* w,
                             const int32_t* w_zp, const int32_t* bias, const DwQOutput8& out, void* y,
                             void* scratch);

}  // namespace octet::kernels
