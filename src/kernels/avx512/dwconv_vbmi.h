// Depthwise 3x3 INT8 convolution of one channel plane with output pixels in the lanes, for CPUs
// with AVX-512 VNNI and VBMI: u8 input x s8 weights, requantized to u8/s8. The problem is
// dwconv_u8s8_avx2's (kernels/avx2/dwconv_avx2.h) with kernel 3x3 and a symmetric channel (weight
// zero point 0); reference twin: qconv_s32_ref with group == channels followed by requantize_value.
//
// Why: the channel-lane kernel (dwconv_cb8_avx2.h) transposes each block of 8 planes into int16
// tap pairs and its outputs back to planes, which cost more than its taps on MobileNetV2's layers
// (on AMD Zen 4 the INT8 depthwise layers ran slower than the FP32 ones). Here the plane is read as
// bytes: each output vector of 16 pixels gathers, per kernel row, the 3 input bytes of every pixel
// into its 32-bit lane with one vpermb from a 64-byte window, and one vpdpbusd adds the 3 taps
// times the row's weights (the fourth byte meets a zero weight). Three of each per 16 outputs.
// Short rows share a vector: with out_w <= 16, R = 16 / out_w output rows per vector (a 7x7
// plane: 2 rows, 14 lanes), as far as the window reaches.
//
// Padding: the plane is first copied into scratch with its padding written as x_zp, so that every
// tap reads a byte and sum over the 9 taps of x * w - x_zp * sum(w) is the reference's sum over
// the taps inside of (x - x_zp) * w. acc = bias - x_zp * sum(w) + that sum, exact in int32 where
// dwconv3x3_vbmi_prepare accepts the channel (|bias - x_zp sum(w)| <= 2^31 - 2^20; the 9 products
// add at most 9 * 255 * 128 < 2^19).
// Requantization, requantize_value and the fused clamp bit for bit: where the multiplier lies in
// [0, 1], |zero point| <= 255 and every |acc| of the channel is below kSmallAccBound, the
// single-precision short form of kernels/avx2/dw_requant_avx2.h (one FMA onto 1.5 * 2^23, whose
// bits are the rounded product; then saturations to int16, + zero point, to 8 bits, and the
// composed clamp on bytes: that header has the proof), 16 lanes a step; otherwise in double
// (vcvtdq2pd, vmulpd by double(multiplier), vrndscalepd to nearest even, the composed clamp less
// the zero point, vcvtpd2dq, + zero point), 8 lanes a step.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/avx2/dwconv_avx2.h"

namespace octet::kernels {

// How the kernel walks a plane of shape p: output rows per vector, the padded plane's pitch and
// rows, and the vpermb index: byte 4 l + kw is where lane l's tap kw lies in a kernel row's
// 64-byte window (byte 4 l + 3 meets a zero weight).
struct DwVbmiPlan {
  bool ok = false;  // false: this shape is not for this kernel (a window would pass 64 bytes)
  int64_t rows_per_vec = 1, pitch = 0, padded_rows = 0;
  uint8_t idx[64] = {};
};
DwVbmiPlan dwconv3x3_vbmi_plan(const DwConvParams& p);

// Bytes of scratch for a plan (the padded plane, 64 bytes of slack for the last windows, and room
// to align it to 64 bytes).
size_t dwconv3x3_vbmi_scratch_size(const DwVbmiPlan& plan);

// One channel's constants: the accumulator's start, the weights as 3 packed rows of 4 bytes.
struct DwVbmiChannel {
  int32_t base = 0;       // bias - x_zp * sum of the 9 weights
  int32_t rows[3] = {};   // bytes w[kh][0], w[kh][1], w[kh][2], 0
  bool is_signed = false;  // S8 output, else U8
  bool small = false;      // the single-precision requantization applies
  float multiplier = 1.f;
  int32_t zero_point = 0;
  int32_t lo = 0, hi = 255;  // [qmin, qmax] then [lo, hi], composed into one clamp
};
// False when the channel does not fit the kernel (a nonzero weight zero point, a base too large
// for int32 with the taps added, a non-finite multiplier, an F32 output).
bool dwconv3x3_vbmi_prepare(int32_t x_zp, const int8_t* w, int32_t w_zp, int32_t bias, const DwQOutput& out,
                            DwVbmiChannel* ch);

// True when the running CPU has what this kernel executes (AVX-512 F, BW, VL, VNNI and VBMI).
// Inline here, so that the check runs in the caller's code, not in the VBMI-compiled file.
inline bool dwconv3x3_vbmi_supported() {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
         __builtin_cpu_supports("avx512vbmi");
#else
  return false;
#endif
}

// `count` consecutive channel planes: plane c's y (out_h x out_w bytes, dense, at y + c * out_h *
// out_w) from its x (in_h x in_w bytes, dense, at x + c * in_h * in_w) with ch[c], a plan for p.
void dwconv3x3_u8s8_vbmi(const DwConvParams& p, const DwVbmiPlan& plan, const uint8_t* x, int32_t x_zp,
                         const DwVbmiChannel* ch, int64_t count, void* y, void* scratch);

}  // namespace octet::kernels
