// Static post-training quantization as explicit QuantizeLinear/DequantizeLinear (Q/DQ) nodes, the
// form ONNX Runtime and TensorRT (explicit quantization) both load.
//
// Two steps, so that calibration sits between them:
//   plan_static(model, options)        which nodes are quantized, which activations need ranges
//   apply_static(model, plan, ranges)  inserts Q/DQ and quantized weights, records every parameter
//
// Placement (TensorRT's explicit-quantization rules, which ONNX Runtime's QDQ fusion also
// follows): Q/DQ go on the INPUTS of the quantized ops (Conv, Gemm, MatMul and residual Adds
// whose result is quantized anyway, by default; any op type listed in op_types), never between a Conv/Gemm and the activation that follows it, so a
// runtime fuses DQ -> Conv -> Relu -> Q into one integer kernel. Each activation gets one
// QuantizeLinear shared by its quantized readers and one DequantizeLinear per reader (ONNX
// Runtime's QDQ selectors want a DQ with a single reader). Weights (float initializers) are
// stored quantized with a DequantizeLinear in front of the reader, per output channel on the
// right axis for each op:
//   Conv W [M, C/g, k...]            axis 0
//   Gemm B transB=1 [N, K]           axis 0;   transB=0 [K, N]: axis 1
//   MatMul B [.., K, N] (constant)   axis rank-1 (the output columns)
// Bias: target onnxruntime stores Conv's B and Gemm's C (1-D, alpha = beta = 1) as int32 with
// scale s_input * s_weight[c] and zero point 0; target tensorrt keeps float biases (TensorRT
// fuses them itself). A MatMul whose second operand is an activation (attention) gets Q/DQ on
// both inputs, per tensor.
//
// Presets:
//   onnxruntime: activations asymmetric, UINT8 by default (INT8 with activation_type), weights
//                INT8 symmetric; reduce_range (optional) puts the weights in [-64, 64].
//   tensorrt:    activations and weights INT8 symmetric with zero point 0 (TensorRT's only
//                form); activation_type and activation_symmetric are ignored.
// Expects: shapes inferred (infer_shapes) and, for best results, FoldConstants and FoldBatchNorm
// run first (a BatchNormalization left after a Conv is quantized as its own op only if listed).
// Guarantees: every scale written is positive, finite and normal (quant_math); a zero range (an
// all-zero tensor) is quantized with a safe scale and reported as a warning; graph inputs,
// outputs and the names of all original values are kept; the model stays runnable by octet's
// executor, which then simulates the quantized model exactly.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/calibrators.h"
#include "quant/quant_math.h"

namespace octet {

enum class QuantTarget { OnnxRuntime, TensorRT };
QuantTarget parse_quant_target(const std::string& name);  // "onnxruntime" | "tensorrt"

// Per-node settings that override the options (by node name).
struct NodeQuantOverride {
  int per_channel = -1;  // -1: as options; 0: per tensor; 1: per channel
  int weight_mse = -1;   // -1: as options; 0: max; 1: MSE search
};

struct StaticQuantOptions {
  QuantTarget target = QuantTarget::OnnxRuntime;
  DType activation_type = DType::UInt8;  // onnxruntime preset: UINT8 or INT8
  bool activation_symmetric = false;     // onnxruntime preset only
  bool per_channel = true;
  bool weight_mse = false;  // weights: per-channel clipping by MSE search instead of max
  DType weight_type = DType::Int8;  // INT8, or INT4 (opset 21; weight-only mode)
  // > 0: weights quantized per block of this many elements along the reduction axis (Conv's
  // input channels, Gemm/MatMul's K), ONNX opset 21 blocked DequantizeLinear. 0: per channel /
  // per tensor as per_channel says.
  int64_t weight_block_size = 0;
  bool reduce_range = false;  // onnxruntime preset: weights in [-64, 64] (activations keep 8 bits)
  std::set<std::string> op_types = {"Conv", "Gemm", "MatMul"};
  // Also quantize residual Adds (both inputs activations) whose result is quantized anyway: read
  // only by quantized nodes, after an optional Relu / Clip. The Add then runs on 8-bit data
  // (octet.QLinearAdd on octet's engine, QLinearAdd in onnxruntime, fused into the convolution by
  // TensorRT). Ignored when "Add" is in op_types (then every Add is quantized) or excluded.
  bool residual_adds = true;
  // Also quantize GlobalAveragePool nodes whose result is quantized anyway (read, possibly through
  // Flatten / Reshape, only by quantized nodes): the pool then runs on 8-bit data
  // (octet.QLinearGlobalAveragePool), and so can the residual Add before it. Ignored when
  // "GlobalAveragePool" is in op_types or excluded.
  bool global_pools = true;
  std::set<std::string> exclude_nodes;     // node names left in float
  std::set<std::string> exclude_op_types;  // op types left in float
  std::map<std::string, NodeQuantOverride> overrides;
  std::map<std::string, quant::Range> range_overrides;  // tensor name -> range used as given
};

struct StaticQuantPlan {
  std::vector<std::string> nodes;        // names of the nodes to quantize, in graph order
  std::vector<std::string> activations;  // tensors that need a calibrated range, sorted
  std::vector<std::string> skipped;      // "node (op): why" for nodes of a listed type left in float
};

// One quantized tensor, for the JSON report and the TensorRT calibration cache.
struct QuantRecord {
  std::string tensor;  // the float value (activation, weight or bias initializer name)
  std::string kind;    // "activation", "weight", "bias"
  std::vector<std::string> nodes;  // readers that now see the quantized value
  QuantParams params;
  float range_min = 0, range_max = 0;  // activations: the calibrated range used
  bool degenerate = false;             // zero range: quantized with a safe scale
};

struct StaticQuantResult {
  std::vector<QuantRecord> records;
  std::vector<std::string> warnings;
};

// Error (naming the node) for a model the preset cannot express: opset < 10 (no
// QuantizeLinear), per-channel weights below opset 13, INT4 or blocked weights below opset 21
// (raise_opset_to_21 first).
// Weight-only quantization is plan_static with plan.activations cleared: weights get
// quantized initializers and DequantizeLinear, everything else stays float.
StaticQuantPlan plan_static(const Model& model, const StaticQuantOptions& options);

// `ranges` must hold every plan.activations tensor (range_overrides take precedence). Rewrites
// `model` in place; the result says what was written.
StaticQuantResult apply_static(Model& model, const StaticQuantPlan& plan,
                               const std::map<std::string, quant::Range>& ranges,
                               const StaticQuantOptions& options);

// The activation QuantSpec the options imply (for tools that report or re-derive parameters).
quant::QuantSpec activation_spec(const StaticQuantOptions& options);

}  // namespace octet
