// Helpers shared by the quantization op files (quant.cpp, quant_matmul.cpp, quant_conv.cpp):
// reading scales and zero points, the integer range of a quantized type, and the per-file
// registration functions that register_quant_ops calls. Private to the quant family.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "kernels/ref/qconv_ref.h"
#include "runtime/op_registry.h"

namespace octet::quant_detail {

// True for the four FLOAT8 codes: they pass through octet's IR but octet cannot compute on them.
bool is_fp8(DType t);
// Fails (naming the node) if t is an FP8 type: "<what> has element type FLOAT8E4M3FN; FP8 ...".
void reject_fp8(const Node& node, DType t, const std::string& what);

// The saturation range of an integer quantized type (UINT8 0..255, INT4 -8..7, INT32 full range,
// ...). Returns false for types that are not integer quantization targets.
bool quant_range(DType t, int32_t* qmin, int32_t* qmax);

// A scale tensor's values as float (FLOAT, FLOAT16, BFLOAT16, DOUBLE, INT32 accepted); fails
// naming `what` for other element types.
std::vector<float> read_scales(const Tensor& t, const Node& node, const std::string& what);
// A zero-point tensor's values as int32 (8/16-bit integers, INT4/UINT4, INT32); fails naming
// `what` for other element types.
std::vector<int32_t> read_zero_points(const Tensor& t, const Node& node, const std::string& what);

// Fails unless `t` has exactly one element (a per-tensor parameter).
void require_single(const Tensor& t, const Node& node, const std::string& what);

// Operands of the integer conv/matmul ops (ConvInteger, QLinearConv, MatMulInteger, QLinearMatMul).
bool is_int8_type(DType t);
// Run time: throws naming the node unless `t` is INT8 or UINT8 (FP8 is reported as unsupported).
void check_operand_type(const Node& node, DType t, const std::string& what);
// Shape inference: fails unless input i (when present and typed) is INT8 or UINT8 (or FP8,
// reported at run time).
void check_operand_type_infer(const InferContext& ctx, size_t i, const std::string& what);

// The integer ops' four-way type switch: calls f(A{}, B{}) with A and B the element types
// (uint8_t for UINT8, int8_t otherwise) of two 8-bit operands or of an operand and the output.
template <class F>
void with_8bit_types(DType a, DType b, F&& f) {
  const bool au = a == DType::UInt8, bu = b == DType::UInt8;
  if (au && bu) f(uint8_t{}, uint8_t{});
  else if (au) f(uint8_t{}, int8_t{});
  else if (bu) f(int8_t{}, uint8_t{});
  else f(int8_t{}, int8_t{});
}

// Convolution attributes resolved against the input and weight shapes (quant_conv.cpp). Spatial
// input sizes may be unknown (-1) during inference; the matching output sizes are then -1 too.
struct ConvGeometry {
  int64_t group = 1;
  std::vector<int64_t> kernel, strides, dilations, pads_begin, out_spatial;
};
ConvGeometry conv_geometry(const Node& node, const std::vector<int64_t>& in_spatial,
                           const std::vector<int64_t>& w_spatial);

// Shapes and channel counts of a convolution; fails on inconsistent inputs.
struct ConvShapes {
  kernels::QConvParams params;
  Shape out;
};
ConvShapes conv_shapes(const Node& node, const Shape& x, const Shape& w);

// A zero point of the operand's type from input `index`; absent -> {0}.
std::vector<int32_t> conv_zero_points(const OpContext& ctx, size_t index, DType operand_type,
                                      const std::string& what);
// Per-tensor (one value) or per-output-channel (1-D of m values) parameter; returns the stride.
int64_t per_channel_stride(const OpContext& ctx, const Shape& shape, int64_t m,
                           const std::string& what);
// The exact integer convolution (qconv_s32_ref, bias added) into an int32 tensor of shape cs.out;
// fails naming the node when an accumulator does not fit int32.
Tensor qconv_accumulate(const OpContext& ctx, const Tensor& x, const Tensor& w, int32_t x_zp,
                        const std::vector<int32_t>& w_zp, int64_t w_zp_stride, const int32_t* bias,
                        const ConvShapes& cs);
// Static output type of a convolution; unknown dims stay unknown.
TensorType infer_conv_type(const InferContext& ctx, const TensorType& x, const TensorType& w,
                           DType dtype);

void register_quantize_linear_ops(OpRegistry& r);  // quant.cpp
void register_qmatmul_ops(OpRegistry& r);          // quant_matmul.cpp
void register_qconv_ops(OpRegistry& r);            // quant_conv.cpp
void register_fused_qops(OpRegistry& r);           // quant_fused.cpp (domain "octet")

}  // namespace octet::quant_detail
