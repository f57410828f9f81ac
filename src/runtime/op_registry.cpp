#include "runtime/op_registry.h"

namespace octet {

const Tensor& OpContext::input(size_t i) const {
  if (!has_input(i)) fail(str_cat("required input ", i, " is missing"));
  return *inputs[i];
}

void OpContext::fail(const std::string& msg) const { throw Error(str_cat(node.describe(), ": ", msg)); }

void OpContext::unsupported(const std::string& msg) const {
  throw Unsupported(str_cat(node.describe(), ": ", msg));
}

const TensorType& InferContext::input(size_t i) const {
  if (!has_input(i)) fail(str_cat("required input ", i, " is missing"));
  return *inputs[i];
}

void InferContext::fail(const std::string& msg) const {
  throw Error(str_cat(node.describe(), ": ", msg));
}

static std::string canonical_domain(const std::string& d) { return d == "ai.onnx" ? "" : d; }

void OpRegistry::add(const std::string& op_type, OpDef def, const std::string& domain) {
  ops_[{canonical_domain(domain), op_type}] = std::move(def);
}

const OpDef* OpRegistry::find(const std::string& op_type, const std::string& domain) const {
  auto it = ops_.find({canonical_domain(domain), op_type});
  return it == ops_.end() ? nullptr : &it->second;
}

std::vector<std::string> OpRegistry::op_types(const std::string& domain) const {
  std::vector<std::string> out;
  for (const auto& [key, def] : ops_)
    if (key.first == canonical_domain(domain)) out.push_back(key.second);
  return out;
}

const OpRegistry& OpRegistry::global() {
  static const OpRegistry table = [] {
    OpRegistry r;
    register_elementwise_ops(r);
    register_nn_ops(r);
    register_shape_ops(r);
    register_reduce_ops(r);
    register_quant_ops(r);
    register_extra_ops(r);
    return r;
  }();
  return table;
}

}  // namespace octet
