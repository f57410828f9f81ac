// octet's linear quantization math, written once and used by simulation (fake quantization),
// analysis (SQNR), export (Q/DQ scale and zero-point tensors) and training.
//
//   real value  r  ~  (q - zero_point) * scale,   q = saturate(round_half_even(r / scale) + zp)
//
// Rounding and saturation are kernels/ref/round.h's one contract (round half to even, x / scale
// divided in float, exactly as ONNX QuantizeLinear); quantize/dequantize run the reference kernels
// of kernels/ref/quantize_ref.h, so what this file computes is bit for bit what octet's executor
// and ONNX's QuantizeLinear/DequantizeLinear (opset 21) compute for the same parameters.
//
// Granularity (QuantParams in ir/quant_params.h), with ONNX's (opset 21) indexing:
//   per tensor:  one scale / zero point (block_size == 0, scale.size() == 1; axis ignored)
//   per axis:    scale.size() == x.shape[axis]; ONNX scale shape [D_axis]
//   blocked:     block_size = B > 0 along `axis`; ONNX scale shape = x's shape with dim `axis`
//                replaced by ceil(D_axis / B) (the last block may be ragged); QuantParams::scale
//                holds that tensor flattened row-major.
// QuantParams::axis is never negative when it matters (per axis, blocked): functions here that
// produce QuantParams normalise it, functions that consume them reject a negative one.
//
// Supported quantized types: INT8, UINT8, INT16, UINT16, INT4, UINT4 (INT4/UINT4 tensors hold one
// element per byte in memory, INT4 sign-extended in int8_t; see ir/dtype.h). Others: Error.
//
// Scales produced here are always positive, finite and normal (>= FLT_MIN): see params_from_range.
// Scales consumed here must be positive and finite (Error otherwise); subnormal ones are accepted,
// as ONNX accepts them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/quant_params.h"
#include "ir/tensor.h"

namespace octet::quant {

// How to quantize one tensor: the target type, the mapping, the integer range and the granularity.
struct QuantSpec {
  DType qtype = DType::Int8;
  // true: zero point fixed (0 for signed types, the mid code for unsigned), range [-a, a] with
  // a = max(|min|, |max|). false: affine, zero point chosen so [min, max] fills the range.
  bool symmetric = true;
  bool narrow_range = false;  // one code fewer, so the range is symmetric; see int_range
  bool reduce_range = false;  // one bit fewer (ONNX Runtime's reduce_range); see int_range
  // Negative: per tensor (there is no ONNX-style negative axis here, -1 means "none").
  // >= 0: per channel on this axis, or the blocked axis when block_size > 0.
  int64_t axis = -1;
  // > 0: per block of block_size elements along `axis` (ONNX opset 21 blocked quantization);
  // requires axis >= 0. 0: not blocked. Negative: Error.
  int64_t block_size = 0;
};

struct IntRange {
  int32_t qmin;
  int32_t qmax;
};

// The saturation range of a quantized type: INT8 [-128,127], UINT8 [0,255], INT16, UINT16,
// INT4 [-8,7], UINT4 [0,15]. Error for any other type.
IntRange type_range(DType qtype);

// The integer range a spec allows (b = bits of spec.qtype):
//   full                      signed [-2^(b-1), 2^(b-1)-1]      unsigned [0, 2^b-1]
//   narrow_range              signed [-(2^(b-1)-1), 2^(b-1)-1]  unsigned [0, 2^b-2]
//   reduce_range              signed [-2^(b-2), 2^(b-2)]        unsigned [0, 2^(b-1)-1]
//   reduce_range + narrow     signed [-2^(b-2), 2^(b-2)]        unsigned [0, 2^(b-1)-2]
// e.g. INT8 [-128,127], narrow [-127,127], reduce [-64,64]; UINT8 [0,255], narrow [0,254],
// reduce [0,127]. Why: narrow drops one code so that an odd number of codes sits symmetrically
// around the zero point: for signed types the lowest code (TensorRT's and ONNX Runtime's symmetric
// int8 [-127,127]), for unsigned types the highest (ONNX Runtime's symmetric uint8 [0,254] with
// zero point 127). reduce_range follows ONNX Runtime: uint8 [0,127] and int8 [-64,64] (129 codes,
// but |q| <= 64 is what keeps u8 x s8 pairs from overflowing vpmaddubsw's int16); signed reduced
// ranges are already symmetric, so narrow_range changes nothing there.
IntRange int_range(const QuantSpec& spec);

// The zero point of symmetric quantization: 0 for signed types, the mid code ceil((qmin+qmax)/2)
// of int_range(spec) for unsigned ones (UINT8 128, narrow 127, reduce 64).
int32_t symmetric_zero_point(const QuantSpec& spec);

// Scale and zero point for one tensor or channel whose values lie in [min, max].
// The range is first widened to include 0 (so 0 is exactly representable). With R = int_range(spec):
//   symmetric:  a = max(|min|, |max|), zp = symmetric_zero_point(spec),
//               scale = a / min(R.qmax - zp, zp - R.qmin)
//               i.e. the step that maps +a and -a inside R (for INT8 full range a / 127, so -128 is
//               used only by values below -a; UINT8 zp 128: a / 127; UINT8 reduce zp 64: a / 63).
//   asymmetric: scale = (max - min) / (R.qmax - R.qmin),
//               zp = clamp(round_half_even(R.qmin - min / scale), R.qmin, R.qmax)
// The quotient is computed in double and rounded once to float; zp uses that float scale.
// Guarantees: scale is positive, finite and normal. Special cases:
//   - zero range (min == max == 0 after widening, e.g. an all-zero tensor): scale 1, zp the
//     symmetric zero point when symmetric, else 0; *degenerate is set to true (false otherwise)
//     so the caller can warn. Any scale would quantize the data exactly; 1 keeps later values
//     finite and lets them use the whole integer range.
//   - a range so small that the scale would be below FLT_MIN (the smallest normal float; also
//     where it would underflow to 0): scale = FLT_MIN. Not reported as degenerate.
// NaN or infinite min/max, or min > max: Error naming `what`. The result is per tensor
// (axis = -1, block_size = 0) whatever spec's granularity.
QuantParams params_from_range(float min, float max, const QuantSpec& spec, const std::string& what,
                              bool* degenerate = nullptr);

// One scale / zero point per range (channel or block), each exactly as params_from_range. The
// result carries spec.axis and spec.block_size. Errors: sizes differ or are 0, more than one range
// with a per-tensor spec, block_size > 0 with axis < 0. `degenerate_channels` (if given) receives
// the indices of zero ranges.
QuantParams params_from_ranges(const std::vector<float>& mins, const std::vector<float>& maxs,
                               const QuantSpec& spec, const std::string& what,
                               std::vector<int64_t>* degenerate_channels = nullptr);

// Parameters for a float32 weight tensor from its own values, at spec's granularity: one range
// for the whole tensor (axis < 0), per index of `axis`, or per block (scale in ONNX's blocked
// order, see the top of this file). Each group's range is [min, max] of its elements, so
// symmetric specs use max|w| and asymmetric ones min/max. Errors naming `name`: not FLOAT,
// empty, axis >= rank, NaN/Inf elements (the first bad flat index and its multi-index).
// `degenerate_groups` (if given) receives the indices of all-zero groups.
QuantParams weight_params(const Tensor& w, const QuantSpec& spec, const std::string& name,
                          std::vector<int64_t>* degenerate_groups = nullptr);

// Number of candidate clipping ranges weight_params_mse tries per group.
constexpr int kMseSearchSteps = 100;

// Like weight_params, but each group's range is clipped to minimise the squared error
// sum (fake_quant(w) - w)^2 over the group, the fake quantization saturating to int_range(spec)
// (quantize the weights with that range: quantize(w, p, int_range(spec))).
// Candidates, k = 1 .. kMseSearchSteps (fractions 0.01, 0.02, ..., 1.00 of the full range):
//   symmetric:  threshold t = max|w| * k / kMseSearchSteps, range [-t, t];
//   asymmetric: [min, max] shrunk about its centre c by the same fraction:
//               [c - f (max - min) / 2, c + f (max - min) / 2], then widened to include 0.
// k = kMseSearchSteps is exactly weight_params' range, so no group's error is ever larger than
// with weight_params; ties go to the larger range (less clipping). Parameters come from
// params_from_range, so all its guarantees hold. Cost: kMseSearchSteps passes over w.
QuantParams weight_params_mse(const Tensor& w, const QuantSpec& spec, const std::string& name,
                              std::vector<int64_t>* degenerate_groups = nullptr);

// The ONNX shape of the scale / zero-point tensors of p for an input of shape x_shape:
// per tensor {} (a scalar), per axis {D_axis}, blocked x_shape with dim axis = ceil(D_axis / B).
// Error if p does not fit x_shape (see quantize).
Shape scale_shape(const Shape& x_shape, const QuantParams& p);

// FLOAT32 x -> tensor of p.qtype (same shape): ONNX QuantizeLinear with p's scale, zero point,
// axis and block size, saturating to the whole type range (what an exported QuantizeLinear does).
// Errors: x not FLOAT; unsupported p.qtype; scale empty, not positive finite, or not matching
// x's shape for p's granularity; zero_point of another length or outside the type range.
Tensor quantize(const Tensor& x, const QuantParams& p);
// Same, saturating to `clamp` instead (e.g. int_range(spec) to keep narrow or reduced ranges for
// values outside the calibrated range). clamp must lie inside type_range(p.qtype).
Tensor quantize(const Tensor& x, const QuantParams& p, IntRange clamp);

// Tensor of p.qtype -> FLOAT32: ONNX DequantizeLinear, y = float(q - zp) * scale in float.
// Errors as quantize; q.dtype() must be p.qtype.
Tensor dequantize(const Tensor& q, const QuantParams& p);

// THE fake quantization: dequantize(quantize(x, p)) bit for bit, without the integer tensor.
// NaN elements follow round.h (the integer 0, then dequantized). Errors as quantize.
Tensor fake_quant(const Tensor& x, const QuantParams& p);
Tensor fake_quant(const Tensor& x, const QuantParams& p, IntRange clamp);

// Per-tensor fake quantization over raw arrays (y may alias x):
//   y[i] = float(quantize_value(x[i], scale, zero_point, qmin, qmax) - zero_point) * scale.
// Bit-identical to the Tensor version with the same parameters. Error if scale is not positive
// finite or qmin > qmax (checked once per call).
void fake_quant(const float* x, float* y, int64_t n, float scale, int32_t zero_point, int32_t qmin,
                int32_t qmax);

// Signal to quantization noise ratio in dB: 10 log10(sum r^2 / sum (r - t)^2), accumulated in
// double. +inf when the tensors are equal (also when both are all zero); -inf when the reference
// is all zero and the test is not. NaN elements give NaN. Error on shape mismatch or non-numeric
// element types.
double sqnr_db(const Tensor& reference, const Tensor& test);

// max over elements of |ref - test| / scale of that element (per p's granularity): the largest
// error in quantization steps. FLOAT tensors of the same shape. 0 for empty tensors.
double max_abs_error_in_steps(const Tensor& ref_dequantized, const Tensor& test, const QuantParams& p);

}  // namespace octet::quant
