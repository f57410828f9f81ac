// LowerQdq: turns explicit Q/DQ patterns (octet's own, onnxruntime's quantizer's, TensorRT-style)
// into octet's fused integer ops (src/runtime/ops/quant_fused.cpp), which the engine runs on
// integer kernels and the reference executor on the reference kernels.
//
// Expects: a model as imported (do NOT fold constants first: that would turn DequantizeLinear of
// the INT8 weights back into float weights).
//
// First, Q propagation: a per-tensor QuantizeLinear that is the only reader of a MaxPool, Reshape,
// Flatten, Transpose, Squeeze or Unsqueeze (whose input has no other reader) moves above it:
// Q(op(x)) == op(Q(x)) exactly for these ops, and the op then runs on 8-bit data while the
// producer of x can absorb the Q. Then it rewrites, for each Conv / MatMul / Gemm (default domain) whose
//   - data input is DequantizeLinear(x) with x UINT8 or INT8 and per-tensor constant scale and zero
//     point (an activation), and
//   - weight is DequantizeLinear(w) with w a constant INT8 or UINT8 initializer and constant scale
//     / zero point, per-tensor or per output channel (Conv: axis 0; MatMul: B [K, N], axis 1; Gemm:
//     transB = 0 axis 1, transB = 1 axis 0, and then the INT8 weight is stored transposed to
//     [K, N] as a new initializer), no block_size, and
//   - bias (Conv B, Gemm C of shape [N] or [1, N] with beta = 1) absent, a float32 initializer, or
//     DequantizeLinear of an INT32 initializer; Gemm with alpha = 1, transA = 0, 2-D A,
// the node into octet.QLinearConv / octet.QLinearMatMul, absorbing:
//   - a following Relu, or Clip with constant bounds, when it is the op's only reader (act_min,
//     act_max);
//   - then a following QuantizeLinear (per-tensor constant scale and zero point, UINT8 or INT8
//     output) when it is the only reader and the value is not a graph output: the fused op then
//     writes the quantized tensor directly (bias converted to INT32 at scale x_scale * w_scale,
//     rounded half to even; the node is not fused this way if a bias does not fit). Otherwise the
//     fused op writes float32 (dequantized) output.
// Then each Add whose two inputs are DequantizeLinear of 8-bit per-tensor activations, with an
// optional Relu / Clip after it (only reader), whose result is read only by a per-tensor
// QuantizeLinear becomes octet.QLinearAdd (the integer residual add): its arithmetic is the Q/DQ
// graph's own, so this rewrite changes no bit. An Add fed by a DequantizeLinear that does not fit
// is listed in left_in_float with the reason. Likewise DequantizeLinear -> GlobalAveragePool ->
// QuantizeLinear (8-bit per-tensor activation in, the per-tensor QuantizeLinear the pool's only
// reader) becomes octet.QLinearGlobalAveragePool, also bit for bit the graph it replaces.
// DequantizeLinear nodes left without readers are removed, and so are initializers that nothing
// reads any more. Whatever does not match stays as written (float ops with their Q/DQ), and is
// listed in the stats so callers can warn about it.
//
// Guarantees: graph inputs and outputs keep their names and types; every rewritten output keeps
// its name. The result equals the Q/DQ model up to the rounding of the float convolution that the
// integer accumulation replaces (at most about one quantization step on a quantized output).
#pragma once

#include <string>
#include <vector>

#include "passes/pass_manager.h"

namespace octet {

struct LowerQdqStats {
  int fused_conv = 0;
  int fused_matmul = 0;
  int fused_add = 0;           // Add of two dequantized activations, quantized after: octet.QLinearAdd
  int fused_pool = 0;          // GlobalAveragePool between DequantizeLinear and QuantizeLinear
  int quantized_outputs = 0;   // fused ops that absorbed the QuantizeLinear after them
  int fused_activations = 0;   // Relu / Clip absorbed
  int propagated = 0;          // QuantizeLinear nodes moved above MaxPool / Reshape / Flatten / ...
  // Conv/MatMul/Gemm/Add/GlobalAveragePool nodes fed by a DequantizeLinear that were left in float, with the reason:
  // "node 'c1' (Conv): weight is not a constant DequantizeLinear".
  std::vector<std::string> left_in_float;
};

class LowerQdq : public Pass {
 public:
  std::string name() const override { return "lower-qdq"; }
  bool run(Model& model) override;
  const LowerQdqStats& stats() const { return stats_; }

 private:
  LowerQdqStats stats_;
};

}  // namespace octet
