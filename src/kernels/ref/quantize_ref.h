// Reference kernels for linear quantization (ONNX QuantizeLinear, DequantizeLinear,
// DynamicQuantizeLinear) and for requantizing int32 accumulators (QLinearConv, QLinearMatMul).
//
// Rounding: every float -> integer step goes through round.h (round half to even, then saturate);
// there is no other rounding function here.
//
// Layout of the scale/zero-point parameters: the quantized tensor x is viewed as
// [outer, axis_len, inner] around the quantization axis, and the parameter index of element
// (o, a, i) is   o * param_outer_stride + (a / block) * param_axis_stride + i * param_inner_stride.
// This one formula covers the three ONNX granularities:
//   per-tensor: outer = 1, axis_len = numel, inner = 1, block = 1, all strides 0
//   per-axis:   scale has axis_len values;         block = 1,  strides (0, 1, 0)
//   blocked:    scale is [outer, ceil(axis_len/B), inner]; block = B,
//               strides (ceil(axis_len/B) * inner, inner, 1)
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "kernels/ref/round.h"

namespace octet::kernels {

struct QuantLayout {
  int64_t outer = 1;
  int64_t axis_len = 1;
  int64_t inner = 1;
  int64_t block = 1;  // >= 1
  int64_t param_outer_stride = 0;
  int64_t param_axis_stride = 0;
  int64_t param_inner_stride = 0;
};

// y = saturate(round_half_even(x / scale) + zero_point) into [qmin, qmax], written as Q.
// Q is the storage type of the target (uint8_t for UINT8 and UINT4, int8_t for INT8 and INT4
// sign-extended, uint16_t, int16_t); qmin/qmax give the range (e.g. -8..7 for INT4).
// Each element is round.h's quantize_value (x / scale divided in float). A zero, negative,
// infinite or NaN scale is not rejected (ONNX does not forbid it): x/0 saturates, and a NaN
// quotient (NaN x, 0/0, NaN scale) gets round.h's NaN rule.
template <class Q>
void quantize_linear_ref(const float* x, const float* scale, const int32_t* zero_point,
                         const QuantLayout& layout, int32_t qmin, int32_t qmax, Q* y);

// y = float(x - zero_point) * scale, in float; x - zero_point is exact (int64).
// Q is int8_t, uint8_t, int16_t, uint16_t or int32_t.
template <class Q>
void dequantize_linear_ref(const Q* x, const float* scale, const int32_t* zero_point,
                           const QuantLayout& layout, float* y);

// DynamicQuantizeLinear's parameters for UINT8, as ONNX's reference implementation computes them
// (all in float): the range [min(x), max(x)] widened to include 0;
//   scale = (max == min ? 1 : max - min) / 255,
//   zero_point = round_half_even(saturate_to_[0,255](0 - min / scale)).
// max == min happens only for an all-zero (or empty) input; the spec's formula would divide by a
// zero scale there, ONNX's reference uses 1/255 (onnxruntime uses 1.0; either way y is all 0).
// NaN elements are skipped when taking min/max, so one NaN does not poison the whole tensor's
// parameters (numpy's min/max would propagate it); the NaN elements themselves then get round.h's
// NaN rule when quantized.
void dynamic_quantize_params_u8_ref(const float* x, int64_t n, float* scale, uint8_t* zero_point);

// Requantizes int32 accumulators: y = saturate(round_half_even(double(acc) * multiplier) + zp).
// This is the order of operations in ONNX's reference QLinearConv/QLinearMatMul: the multiplier
// is formed in float (in_scale * w_scale / out_scale, see requantize_s32_ref), and the product
// with the accumulator is taken in double (numpy promotes int32 * float32 to float64). An
// infinite product saturates; a NaN product (NaN or infinite scales) gets whatever round.h's
// contract gives a NaN, so there is one NaN rule for quantize and requantize alike.
inline int32_t requantize_value(int32_t acc, float multiplier, int32_t zero_point, int32_t qmin,
                                int32_t qmax) {
  const double v = static_cast<double>(acc) * static_cast<double>(multiplier);
  if (std::isnan(v))
    return quantize_value(std::numeric_limits<float>::quiet_NaN(), 1.f, zero_point, qmin, qmax);
  const double q = round_half_even(v) + static_cast<double>(zero_point);
  if (q < qmin) return qmin;
  if (q > qmax) return qmax;
  return static_cast<int32_t>(q);
}

// Parameters of requantize_s32_ref: acc is a [rows, cols] row-major block; element (r, c) uses the
// multiplier (row_scale[r * row_scale_stride] * col_scale[c * col_scale_stride]) / out_scale,
// computed in float in that order (a stride of 0 means one value for all rows/cols).
struct RequantParams {
  int64_t rows = 0;
  int64_t cols = 0;
  const float* row_scale = nullptr;
  int64_t row_scale_stride = 0;
  const float* col_scale = nullptr;
  int64_t col_scale_stride = 0;
  float out_scale = 1.f;
  int32_t zero_point = 0;
  int32_t qmin = 0;
  int32_t qmax = 255;
};

// Q is uint8_t or int8_t.
template <class Q>
void requantize_s32_ref(const int32_t* acc, const RequantParams& p, Q* y);

// The quantized residual add octet.QLinearAdd, as the Q/DQ graph it replaces computes it:
//   DequantizeLinear(a) + DequantizeLinear(b) -> clamp [lo, hi] (a fused Relu / Clip) ->
//   QuantizeLinear(y_scale, y_zero_point),
// each step in float in that order: fa = float(a - a_zp) * a_scale, fb likewise, s = fa + fb,
// s = min(max(s, lo), hi) with a NaN kept (NaN only from infinite products, as the graph gives),
// then quantize_value. Equal to the unfused graph on the reference executor bit for bit.
struct QAddParams {
  float a_scale = 1.f, b_scale = 1.f, y_scale = 1.f;
  int32_t a_zp = 0, b_zp = 0, y_zp = 0;
  int32_t qmin = 0, qmax = 255;  // the output type's range
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
};

inline int32_t qadd_value(int32_t a, int32_t b, const QAddParams& p) {
  const float fa = static_cast<float>(a - p.a_zp) * p.a_scale;
  const float fb = static_cast<float>(b - p.b_zp) * p.b_scale;
  float s = fa + fb;
  if (!std::isnan(s)) s = std::min(std::max(s, p.lo), p.hi);
  return quantize_value(s, p.y_scale, p.y_zp, p.qmin, p.qmax);
}

}  // namespace octet::kernels
