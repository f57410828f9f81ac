#include "ir/builder.h"

namespace octet {

GraphBuilder::GraphBuilder(std::string graph_name, int64_t opset) {
  model_.graph.name = std::move(graph_name);
  model_.opsets.push_back({"", opset});
  model_.producer_name = "octet";
}

std::string GraphBuilder::input(const std::string& name, DType dtype, const std::vector<int64_t>& dims,
                                const std::string& batch_symbol) {
  Value& v = model_.graph.get_or_add_value(name);
  v.type.dtype = dtype;
  v.type.has_shape = true;
  for (int64_t d : dims) v.type.dims.push_back(d < 0 ? Dim::symbol(batch_symbol) : Dim::known(d));
  model_.graph.inputs.push_back(name);
  return name;
}

std::string GraphBuilder::initializer(const std::string& name, Tensor value) {
  Value& v = model_.graph.get_or_add_value(name);
  v.type = TensorType::of(value.dtype(), value.shape());
  v.initializer = std::move(value);
  return name;
}

std::vector<std::string> GraphBuilder::node(const std::string& op_type, const std::vector<std::string>& inputs,
                                            std::map<std::string, Attribute> attrs, size_t num_outputs,
                                            const std::string& name) {
  Node n;
  n.op_type = op_type;
  n.name = name.empty() ? str_cat(op_type, "_", counter_++) : name;
  n.inputs = inputs;
  n.attrs = std::move(attrs);
  for (size_t i = 0; i < num_outputs; ++i)
    n.outputs.push_back(num_outputs == 1 ? n.name + "_out" : str_cat(n.name, "_out", i));
  std::vector<std::string> outs = n.outputs;
  model_.graph.add_node(std::move(n));
  return outs;
}

std::string GraphBuilder::op(const std::string& op_type, const std::vector<std::string>& inputs,
                             std::map<std::string, Attribute> attrs, const std::string& name) {
  return node(op_type, inputs, std::move(attrs), 1, name)[0];
}

void GraphBuilder::output(const std::string& value_name) { model_.graph.outputs.push_back(value_name); }

Model GraphBuilder::build() {
  model_.graph.topo_sort();
  Model out = std::move(model_);
  model_ = Model{};
  return out;
}

Attribute GraphBuilder::ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Attribute::Kind::Ints;
  a.ints = std::move(v);
  return a;
}
Attribute GraphBuilder::i(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  return a;
}
Attribute GraphBuilder::f(float v) {
  Attribute a;
  a.kind = Attribute::Kind::Float;
  a.f = v;
  return a;
}
Attribute GraphBuilder::s(std::string v) {
  Attribute a;
  a.kind = Attribute::Kind::String;
  a.s = std::move(v);
  return a;
}

}  // namespace octet
