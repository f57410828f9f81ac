#include "passes/quantize_dynamic.h"

#include <algorithm>

namespace octet {

namespace {

Attribute int_attribute(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  return a;
}

// B [K, N] as float, transposing a Gemm weight stored [N, K].
Tensor weight_as_kn(const Tensor& b, bool transposed) {
  if (!transposed) return b.clone();
  const int64_t n = b.dim(0), k = b.dim(1);
  Tensor t(DType::Float32, {k, n});
  const float* s = b.data<float>();
  float* d = t.data<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j) d[j * n + i] = s[i * k + j];
  return t;
}

}  // namespace

StaticQuantResult apply_dynamic(Model& model, const DynamicQuantOptions& o) {
  Graph& g = model.graph;
  if (model.default_opset() < 11)
    throw Error(str_cat(model.source_path.empty() ? "model" : model.source_path, ": opset ", model.default_opset(),
                        " has no DynamicQuantizeLinear (opset 11 or newer is needed for dynamic quantization)"));
  StaticQuantResult result;
  std::vector<Node> added;
  std::set<std::string> node_names;
  for (const auto& n : g.nodes) node_names.insert(n->name);
  auto node_name = [&](const std::string& base) {
    std::string n = base;
    for (int i = 1; node_names.count(n); ++i) n = str_cat(base, "_", i);
    node_names.insert(n);
    return n;
  };
  auto add = [&](const std::string& op, std::vector<std::string> ins, std::vector<std::string> outs,
                 const std::string& base, std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.name = node_name(base);
    n.op_type = op;
    n.inputs = std::move(ins);
    n.outputs = std::move(outs);
    n.attrs = std::move(attrs);
    added.push_back(std::move(n));
  };
  auto initializer = [&](const std::string& base, Tensor t) {
    const std::string name = g.unique_value_name(base);
    Value& v = g.get_or_add_value(name);
    v.type = TensorType::of(t.dtype(), t.shape());
    v.initializer = std::move(t);
    return name;
  };

  std::vector<size_t> remove;
  std::set<std::string> maybe_unused;
  for (size_t idx = 0; idx < g.nodes.size(); ++idx) {
    Node& n = *g.nodes[idx];
    if (!n.domain.empty() || !o.op_types.count(n.op_type) || o.exclude_nodes.count(n.name) ||
        o.exclude_op_types.count(n.op_type))
      continue;
    if (n.op_type != "MatMul" && n.op_type != "Gemm") continue;
    if (n.inputs.size() < 2) continue;
    const Value* bv = g.find_value(n.inputs[1]);
    const Value* av = g.find_value(n.inputs[0]);
    if (!bv || !bv->initializer || bv->initializer->dtype() != DType::Float32 || bv->initializer->rank() != 2) continue;
    if (!av || av->initializer || av->type.dtype != DType::Float32) continue;
    bool transposed = false;
    float beta = 1.f;
    if (n.op_type == "Gemm") {
      if (n.attr_int("transA", 0) != 0 || n.attr_float("alpha", 1.f) != 1.f) continue;
      transposed = n.attr_int("transB", 0) != 0;
      beta = n.attr_float("beta", 1.f);
    }
    const std::string x = n.inputs[0], w = n.inputs[1], y = n.outputs[0];
    const std::string bias = n.op_type == "Gemm" && n.inputs.size() > 2 ? n.inputs[2] : "";
    const Tensor wkn = weight_as_kn(*bv->initializer, transposed);
    quant::QuantSpec spec;
    spec.qtype = DType::Int8;
    spec.symmetric = true;
    spec.reduce_range = o.reduce_range;
    spec.axis = o.per_channel ? 1 : -1;
    std::vector<int64_t> degenerate;
    const std::string what = str_cat("weight '", w, "' of ", n.describe());
    QuantParams wp = quant::weight_params(wkn, spec, what, &degenerate);
    if (!degenerate.empty())
      result.warnings.push_back(str_cat(what, ": ", degenerate.size(), " column(s) are all zero; quantized with a safe scale"));
    const Tensor wq = quant::quantize(wkn, wp, quant::int_range(spec));
    const std::string base = n.name;
    const std::string wq_name = initializer(w + "_quantized", wq);
    g.value(wq_name).quant = wp;
    const std::string wzp = initializer(w + "_zero_point", Tensor(DType::Int8, {}));
    const std::string wscale =
        initializer(w + "_scale", Tensor::from_vector<float>({static_cast<int64_t>(wp.scale.size())}, wp.scale));

    const std::string xq = g.unique_value_name(x + "_quantized_" + base), xs = g.unique_value_name(x + "_scale_" + base),
                      xz = g.unique_value_name(x + "_zero_point_" + base);
    for (const auto& v : {xq, xs, xz}) g.get_or_add_value(v);
    add("DynamicQuantizeLinear", {x}, {xq, xs, xz}, base + "_DynamicQuantizeLinear");
    const std::string acc = g.unique_value_name(y + "_int32");
    g.get_or_add_value(acc);
    add("MatMulInteger", {xq, wq_name, xz, wzp}, {acc}, base + "_MatMulInteger");
    const std::string accf = g.unique_value_name(y + "_int32_float");
    g.get_or_add_value(accf);
    add("Cast", {acc}, {accf}, base + "_Cast", {{"to", int_attribute(static_cast<int64_t>(1))}});  // FLOAT
    const std::string scale = g.unique_value_name(y + "_scale");
    g.get_or_add_value(scale);
    add("Mul", {xs, wscale}, {scale}, base + "_scale");
    const bool has_bias = !bias.empty() && beta != 0.f;
    const std::string scaled = has_bias ? g.unique_value_name(y + "_no_bias") : y;
    g.get_or_add_value(scaled);
    add("Mul", {accf, scale}, {scaled}, base + "_rescale");
    if (has_bias) {
      std::string b = bias;
      if (beta != 1.f) {
        const Value* cv = g.find_value(bias);
        if (cv && cv->initializer && cv->initializer->dtype() == DType::Float32) {
          Tensor c = cv->initializer->clone();
          for (int64_t i = 0; i < c.numel(); ++i) c.data<float>()[i] *= beta;
          b = initializer(bias + "_times_beta", c);
        } else {
          const std::string beta_name = initializer(base + "_beta", Tensor::scalar<float>(beta));
          b = g.unique_value_name(bias + "_times_beta");
          g.get_or_add_value(b);
          add("Mul", {bias, beta_name}, {b}, base + "_beta");
        }
      }
      add("Add", {scaled, b}, {y}, base + "_bias");
    }
    maybe_unused.insert(w);
    remove.push_back(idx);
    QuantRecord rec;
    rec.tensor = w;
    rec.kind = "weight";
    rec.nodes = {n.name};
    rec.params = wp;
    result.records.push_back(std::move(rec));
  }
  for (auto it = remove.rbegin(); it != remove.rend(); ++it) g.nodes.erase(g.nodes.begin() + static_cast<long>(*it));
  for (Node& n : added) g.add_node(std::move(n));
  std::set<std::string> read(g.outputs.begin(), g.outputs.end());
  for (const auto& np : g.nodes)
    for (const auto& in : np->inputs) read.insert(in);
  for (const auto& w : maybe_unused)
    if (!read.count(w)) g.remove_value(w);
  g.topo_sort();
  return result;
}

}  // namespace octet
