// Helpers shared by the quantization op files (quant.cpp, quant_matmul.cpp, quant_conv.cpp):
// reading scales and zero points, the integer range of a quantized type, and the per-file
// registration functions that register_quant_ops calls. Private to the quant family.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

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

void register_quantize_linear_ops(OpRegistry& r);  // quant.cpp
void register_qmatmul_ops(OpRegistry& r);          // quant_matmul.cpp
void register_qconv_ops(OpRegistry& r);            // quant_conv.cpp

}  // namespace octet::quant_detail
