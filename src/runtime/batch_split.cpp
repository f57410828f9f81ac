#include "runtime/batch_split.h"

#include <set>
#include <string>

namespace octet {
namespace {

// Ops that treat each index of dim 0 on its own whatever their attributes (given that the shapes
// pass the dim-0 rule). The ops with conditions (MatMul, Gemm, MaxPool, Resize, ...) are checked
// in per_sample() before this list.
const std::set<std::string>& per_sample_ops() {
  static const std::set<std::string> ops = {
      "Conv", "ConvTranspose", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool",
      "BatchNormalization", "InstanceNormalization", "Relu", "LeakyRelu", "PRelu", "Clip", "Sigmoid",
      "HardSigmoid", "HardSwish", "Tanh", "Gelu", "Elu", "Selu", "Softplus", "Softsign", "Mish", "Erf",
      "Exp", "Log", "Sqrt", "Reciprocal", "Neg", "Abs", "Floor", "Ceil", "Round", "Sign", "Add", "Sub",
      "Mul", "Div", "Pow", "Max", "Min", "Mean", "Sum", "Where", "Equal", "Less", "Greater", "Not", "And",
      "Or", "Cast", "Identity", "Dropout", "QuantizeLinear", "DequantizeLinear",
      "ConvInteger", "QLinearConv", "Upsample", "DepthToSpace", "SpaceToDepth"};
  return ops;
}
const std::set<std::string>& octet_per_sample_ops() {
  static const std::set<std::string> ops = {"QLinearConv", "QLinearAdd", "QLinearGlobalAveragePool"};
  return ops;  // octet.QLinearMatMul: as MatMul, in per_sample()
}

int64_t normalized(int64_t axis, size_t rank) { return axis < 0 ? axis + static_cast<int64_t>(rank) : axis; }

// The constant int64 values of input i (an initializer), or false.
bool const_ints(const Graph& g, const Node& n, size_t i, std::vector<int64_t>* out) {
  if (i >= n.inputs.size() || n.inputs[i].empty()) return false;
  const Value* v = g.find_value(n.inputs[i]);
  if (!v || !v->initializer || v->initializer->dtype() != DType::Int64) return false;
  const Tensor& t = *v->initializer;
  out->assign(t.data<int64_t>(), t.data<int64_t>() + t.numel());
  return true;
}

size_t rank_of(const Graph& g, const std::string& name) {
  const Value* v = g.find_value(name);
  return v ? v->type.dims.size() : 0;
}

// Whether node n, which reads a batch-dependent value of rank `rank`, keeps samples apart.
// dependent: the values computed from the graph inputs.
bool per_sample(const Graph& g, const Node& n, size_t rank, const std::set<std::string>& dependent) {
  const bool batch_in_input0 = !n.inputs.empty() && dependent.count(n.inputs[0]);
  const std::string& op = n.op_type;
  if (n.domain == "octet" && op != "QLinearMatMul") return octet_per_sample_ops().count(op) != 0;
  if (!n.domain.empty() && n.domain != "octet") return false;
  if (op == "Gemm") return n.attr_int("transA", 0) == 0 && batch_in_input0;
  if (op == "MatMul" || op == "MatMulInteger" || op == "QLinearMatMul") {
    // The batch must come in through A: a product whose B alone holds the batch sums over
    // samples. When both operands hold it, only batched products (rank >= 3, dim 0 a batch dim
    // of both) keep samples apart; a 2-D A·B would sum over B's rows, the samples.
    if (!batch_in_input0) return false;
    const size_t b = op == "QLinearMatMul" ? 3 : 1;
    if (b < n.inputs.size() && dependent.count(n.inputs[b])) return rank_of(g, n.inputs[0]) >= 3 && rank_of(g, n.inputs[b]) >= 3;
    return true;
  }
  if (op == "BatchNormalization") return n.attr_int("training_mode", 0) == 0;
  // MaxPool's Indices count over the whole N x C x H x W tensor.
  if (op == "MaxPool") return n.outputs.size() < 2 || n.outputs[1].empty();
  // Cropping by a run-time roi can reach across dim 0.
  if (op == "Resize") return n.attr_string("coordinate_transformation_mode", "half_pixel") != "tf_crop_and_resize";
  if (op == "LpNormalization") return normalized(n.attr_int("axis", -1), rank) != 0;
  if (per_sample_ops().count(op)) return true;
  if (op == "Reshape") return true;  // the dim-0 rule on its output does the checking
  if (op == "Flatten") return n.attr_int("axis", 1) != 0;
  if (op == "Transpose") {
    const auto perm = n.attr_ints("perm");
    return !perm.empty() && perm[0] == 0;
  }
  // Along one axis, which must not be dim 0: defaulting to the last (or, before opset 13, to 1)
  // for the normalisations, required for Concat, 0 by default for Split.
  if (op == "Softmax" || op == "LogSoftmax" || op == "Hardmax" || op == "LayerNormalization")
    return normalized(n.attr_int("axis", -1), rank) != 0;
  if (op == "Concat" || op == "Split") return n.has_attr("axis") && normalized(n.attr_int("axis"), rank) != 0;
  if (op.rfind("Reduce", 0) == 0) {
    std::vector<int64_t> axes = n.attr_ints("axes");
    if (axes.empty() && !const_ints(g, n, 1, &axes)) return false;  // all axes (or run-time ones)
    if (axes.empty()) return false;
    for (int64_t a : axes)
      if (normalized(a, rank) == 0) return false;
    return true;
  }
  return false;
}

}  // namespace

int64_t batch_split_bytes(const Model& model) {
  const Graph& g = model.graph;
  if (g.inputs.empty()) return 0;
  std::string batch;
  std::set<std::string> dependent;  // values computed from the graph inputs
  int64_t largest = 0;
  // dim 0 the batch symbol, the other dims known: bytes per sample, else -1.
  auto sample_bytes = [&](const std::string& name) -> int64_t {
    const Value* v = g.find_value(name);
    // Strings (no fixed size per element) are not split: the engine copies parts as bytes.
    if (!v || !v->type.has_shape || v->type.dims.empty() || v->type.dtype == DType::Undefined ||
        dtype_size(v->type.dtype) == 0)
      return -1;
    const auto& d = v->type.dims;
    if (d[0].is_known() || d[0].param.empty() || (!batch.empty() && d[0].param != batch)) return -1;
    int64_t n = static_cast<int64_t>(dtype_size(v->type.dtype));
    for (size_t i = 1; i < d.size(); ++i) {
      if (!d[i].is_known()) return -1;
      n *= d[i].value;
    }
    return n;
  };
  for (const auto& in : g.inputs) {
    const Value* v = g.find_value(in);
    if (v && v->initializer) continue;
    if (!v || !v->type.has_shape || v->type.dims.empty() || v->type.dims[0].param.empty()) return 0;
    if (batch.empty()) batch = v->type.dims[0].param;
    const int64_t b = sample_bytes(in);
    if (b < 0) return 0;
    largest = std::max(largest, b);
    dependent.insert(in);
  }
  for (const auto& up : g.nodes) {
    const Node& n = *up;
    bool reads = false;
    size_t rank = 0;
    for (const auto& in : n.inputs)
      if (!in.empty() && dependent.count(in)) {
        reads = true;
        rank = std::max(rank, g.find_value(in)->type.dims.size());
      }
    if (!reads) continue;
    if (!per_sample(g, n, rank, dependent)) return 0;
    for (const auto& out : n.outputs) {
      if (out.empty()) continue;
      const int64_t b = sample_bytes(out);
      if (b < 0) return 0;
      largest = std::max(largest, b);
      dependent.insert(out);
    }
  }
  for (const auto& out : g.outputs)
    if (!dependent.count(out)) return 0;  // a constant output would be repeated per part
  return largest;
}

}  // namespace octet
