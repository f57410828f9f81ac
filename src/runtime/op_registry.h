// The executor's operator table. Each op has a run function (reference semantics, plain loops via
// src/kernels/ref) and an optional shape-inference function. Ops are registered explicitly by
// family (see register_*_ops below) so that nothing depends on static-initialiser order or on the
// linker keeping unreferenced objects.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace octet {

// What a run function sees. Inputs absent in the node (empty name, or beyond the node's input
// count) are nullptr. The function fills outputs[i] for each output the node declares.
struct OpContext {
  const Node& node;
  int64_t opset;  // version of the default ONNX domain in the model
  std::vector<const Tensor*> inputs;
  std::vector<Tensor> outputs;

  size_t num_inputs() const { return inputs.size(); }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  // Throws Error naming the node if input i is absent.
  const Tensor& input(size_t i) const;
  size_t num_outputs() const { return node.outputs.size(); }
  bool wants_output(size_t i) const { return i < node.outputs.size() && !node.outputs[i].empty(); }
  // Throws octet::Error with "node 'name' (Op): <msg>".
  [[noreturn]] void fail(const std::string& msg) const;
  // Throws octet::Unsupported (valid input octet does not implement), same message form.
  [[noreturn]] void unsupported(const std::string& msg) const;
};

// What a shape-inference function sees: the types of the inputs, and their data when the input
// is a constant (initializer, Constant output, or folded). It sets outputs[i]; a dim it cannot
// tell is left unknown (Dim{}), a rank it cannot tell leaves has_shape false. It calls fail() on
// inputs that can never be valid (inconsistent shapes, wrong ranks, wrong dtypes).
struct InferContext {
  const Node& node;
  int64_t opset;
  std::vector<const TensorType*> inputs;  // nullptr where absent
  std::vector<const Tensor*> constants;   // nullptr where not a known constant
  std::vector<TensorType> outputs;

  size_t num_inputs() const { return inputs.size(); }
  bool has_input(size_t i) const { return i < inputs.size() && inputs[i] != nullptr; }
  const TensorType& input(size_t i) const;
  const Tensor* constant(size_t i) const { return i < constants.size() ? constants[i] : nullptr; }
  [[noreturn]] void fail(const std::string& msg) const;
};

using OpRunFn = std::function<void(OpContext&)>;
using OpInferFn = std::function<void(InferContext&)>;

struct OpDef {
  OpRunFn run;
  OpInferFn infer;  // may be empty: outputs stay unknown in static inference
};

class OpRegistry {
 public:
  // The table with every octet op registered.
  static const OpRegistry& global();

  void add(const std::string& op_type, OpDef def, const std::string& domain = "");
  // nullptr if unknown. "ai.onnx" is treated as "".
  const OpDef* find(const std::string& op_type, const std::string& domain = "") const;
  std::vector<std::string> op_types(const std::string& domain = "") const;

 private:
  std::map<std::pair<std::string, std::string>, OpDef> ops_;
};

// Families; each lives in src/runtime/ops/<family>.cpp.
void register_elementwise_ops(OpRegistry& r);  // math, activations, comparisons, Where, Cast
void register_nn_ops(OpRegistry& r);           // Conv, ConvTranspose, Gemm, MatMul, pools, norms
void register_shape_ops(OpRegistry& r);        // Reshape, Concat, Slice, Gather, Pad, Resize, ...
void register_reduce_ops(OpRegistry& r);       // Reduce*, Softmax, LogSoftmax
void register_quant_ops(OpRegistry& r);        // QuantizeLinear, DequantizeLinear, QLinear*, *Integer
void register_extra_ops(OpRegistry& r);        // Sin/Cos/..., Mod, CumSum, TopK, Scatter*, OneHot, Unique, ...

}  // namespace octet
