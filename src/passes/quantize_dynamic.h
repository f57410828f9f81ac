// Dynamic quantization: weights quantized offline, activations quantized at run time from their
// own range (DynamicQuantizeLinear), integer matrix products (MatMulInteger), no calibration.
//
// For each selected MatMul with a constant 2-D float weight B [K, N] and each Gemm with a constant
// weight (transA = 0, alpha = 1; the bias C, if any, is added in float):
//   x --DynamicQuantizeLinear--> x_q (uint8), x_scale, x_zero_point
//   MatMulInteger(x_q, W_q, x_zero_point, 0) -> int32 --Cast--> float
//   * (x_scale * w_scale)  [N]     (+ C, times beta)  -> the original output name
// W_q is INT8, symmetric (zero point 0), per output column N (per_channel) or per tensor; a Gemm
// weight with transB = 1 is stored transposed as [K, N]. reduce_range stores W_q in [-64, 64]
// (ONNX Runtime's reduce_range): on x86 CPUs without VNNI, ONNX Runtime's u8 x s8 kernels add
// pairs of products into a saturating int16 (vpmaddubsw), exact only when |W_q| <= 64. The int32
// accumulation is exact, so the only error is the rounding of x and W, as in ONNX Runtime's
// quantize_dynamic.
// Other ops (Conv included) stay float.
// Expects: shapes inferred; opset >= 11 (DynamicQuantizeLinear); per-channel needs the weight
// scale broadcast only, so any such opset works.
// Guarantees: graph inputs and outputs keep their names; every scale written is positive, finite
// and normal.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "passes/quantize_static.h"

namespace octet {

struct DynamicQuantOptions {
  bool per_channel = true;
  bool reduce_range = false;  // weights in [-64, 64]
  std::set<std::string> op_types = {"MatMul", "Gemm"};
  std::set<std::string> exclude_nodes;
  std::set<std::string> exclude_op_types;
};

// Rewrites `model`; returns a record per quantized weight (kind "weight"). Error when the opset
// is below 11.
StaticQuantResult apply_dynamic(Model& model, const DynamicQuantOptions& options);

}  // namespace octet
