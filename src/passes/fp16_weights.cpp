#include "passes/fp16_weights.h"

#include <cmath>
#include <map>
#include <set>

#include "ir/error.h"
#include "kernels/avx2/eltwise_avx2.h"
#include "ir/half.h"

namespace octet {
namespace {

bool weight_op(const Node& n) {
  return n.domain.empty() &&
         (n.op_type == "Conv" || n.op_type == "ConvTranspose" || n.op_type == "Gemm" || n.op_type == "MatMul");
}

}  // namespace

Fp16WeightsReport store_fp16_weights(Model& model, const std::vector<std::string>& only_nodes) {
  Graph& g = model.graph;
  Fp16WeightsReport rep;
  const std::set<std::string> only(only_nodes.begin(), only_nodes.end());
  std::map<std::string, std::vector<Node*>> readers;
  for (auto& n : g.nodes)
    for (const auto& in : n->inputs)
      if (!in.empty()) readers[in].push_back(n.get());
  const std::set<std::string> outputs(g.outputs.begin(), g.outputs.end());
  std::set<std::string> done;
  std::vector<Node> casts;
  for (auto& up : g.nodes) {
    Node& n = *up;
    if (!weight_op(n) || n.inputs.size() < 2 || (!only.empty() && !only.count(n.name))) continue;
    const std::string w = n.inputs[1];
    Value* v = g.find_value(w);
    if (!v || !v->initializer || v->initializer->dtype() != DType::Float32 || done.count(w)) continue;
    done.insert(w);
    bool shared_elsewhere = outputs.count(w) > 0;
    for (Node* r : readers[w])
      for (size_t i = 0; i < r->inputs.size(); ++i)
        if (r->inputs[i] == w && (i != 1 || !weight_op(*r))) shared_elsewhere = true;
    if (shared_elsewhere) {
      rep.kept.push_back(str_cat(w, ": also read as something other than a weight"));
      continue;
    }
    const Tensor& t = *v->initializer;
    bool fits = true;
    for (int64_t i = 0; i < t.numel() && fits; ++i) fits = std::fabs(t.data<float>()[i]) <= 65504.f;
    if (!fits) {
      rep.kept.push_back(str_cat(w, ": a value is outside FLOAT16's range (|w| > 65504)"));
      continue;
    }
    Tensor h(DType::Float16, t.shape());
    auto* hb = reinterpret_cast<uint16_t*>(h.raw());
    for (int64_t i = 0; i < t.numel(); ++i) hb[i] = float_to_half_bits(t.data<float>()[i]);
    const std::string hname = g.unique_value_name(w + "_fp16");
    Value& hv = g.get_or_add_value(hname);
    hv.type = TensorType::of(DType::Float16, t.shape());
    hv.initializer = std::move(h);
    const std::string fname = g.unique_value_name(w + "_from_fp16");
    g.get_or_add_value(fname).type = TensorType::of(DType::Float32, t.shape());
    Node cast;
    cast.name = g.unique_value_name(w + "_cast");
    cast.op_type = "Cast";
    cast.inputs = {hname};
    cast.outputs = {fname};
    Attribute to;
    to.kind = Attribute::Kind::Int;
    to.i = static_cast<int64_t>(DType::Float32);
    cast.attrs["to"] = to;
    casts.push_back(std::move(cast));
    for (Node* r : readers[w]) r->inputs[1] = fname;
    rep.bytes_before += static_cast<int64_t>(t.nbytes());
    rep.bytes_after += static_cast<int64_t>(t.nbytes() / 2);
    g.remove_value(w);
    rep.converted.push_back(w);
  }
  for (auto& c : casts) g.add_node(std::move(c));
  if (!casts.empty()) g.topo_sort();
  return rep;
}

int expand_fp16_weights(Model& model) {
  Graph& g = model.graph;
  const bool f16c = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("f16c");
  std::map<std::string, int> reads;
  for (const auto& n : g.nodes)
    for (const auto& in : n->inputs)
      if (!in.empty()) ++reads[in];
  int expanded = 0;
  std::vector<std::unique_ptr<Node>> kept;
  for (auto& up : g.nodes) {
    Node& n = *up;
    const Value* src = (n.op_type == "Cast" && n.domain.empty() && n.inputs.size() == 1) ? g.find_value(n.inputs[0]) : nullptr;
    if (!src || !src->initializer || src->initializer->dtype() != DType::Float16 ||
        n.attr_int("to", 0) != static_cast<int64_t>(DType::Float32)) {
      kept.push_back(std::move(up));
      continue;
    }
    const Tensor& h = *src->initializer;
    Tensor f(DType::Float32, h.shape());
    const auto* bits = reinterpret_cast<const uint16_t*>(h.raw());
    if (f16c) kernels::convert_f16_f32_f16c(bits, h.numel(), f.data<float>());
    else for (int64_t i = 0; i < h.numel(); ++i) f.data<float>()[i] = half_bits_to_float(bits[i]);
    Value& out = g.get_or_add_value(n.outputs[0]);
    out.type = TensorType::of(DType::Float32, h.shape());
    out.initializer = std::move(f);
    if (--reads[n.inputs[0]] == 0) g.remove_value(n.inputs[0]);
    ++expanded;
  }
  g.nodes = std::move(kept);
  return expanded;
}

}  // namespace octet
