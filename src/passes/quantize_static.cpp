#include "passes/quantize_static.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "runtime/fast/fast_op.h"

namespace octet {

namespace {

using quant::QuantSpec;
using quant::Range;

bool is_float_initializer(const Graph& g, const std::string& name) {
  const Value* v = g.find_value(name);
  return v && v->initializer && v->initializer->dtype() == DType::Float32;
}

bool is_float_activation(const Graph& g, const std::string& name) {
  if (name.empty()) return false;
  const Value* v = g.find_value(name);
  if (!v || v->initializer) return false;
  return v->type.dtype == DType::Float32;
}

// A name not used by any value of g, starting from `base`.
std::string fresh_node_name(const Graph& g, std::set<std::string>& used, const std::string& base) {
  if (used.empty())
    for (const auto& n : g.nodes) used.insert(n->name);
  std::string n = base;
  for (int i = 1; used.count(n); ++i) n = str_cat(base, "_", i);
  used.insert(n);
  return n;
}

// An initializer with its value type set (shape inference reads the type, e.g. QuantizeLinear's
// output type is its zero point's).
void set_initializer(Graph& g, const std::string& name, Tensor t) {
  Value& v = g.get_or_add_value(name);
  v.type = TensorType::of(t.dtype(), t.shape());
  v.initializer = std::move(t);
}

Attribute int_attr(int64_t v) {
  Attribute a;
  a.kind = Attribute::Kind::Int;
  a.i = v;
  return a;
}

// The inputs of `node` that are weights (quantized offline) and their per-channel axis; -1 when
// the input is not a weight of this op.
int64_t weight_axis(const Graph& g, const Node& node, size_t input) {
  if (input != 1 || !is_float_initializer(g, node.inputs[1])) return -1;
  const Tensor& w = *g.value(node.inputs[1]).initializer;
  if (node.op_type == "Conv") return w.rank() >= 3 ? 0 : -1;
  if (node.op_type == "Gemm") return w.rank() == 2 ? (node.attr_int("transB", 0) ? 0 : 1) : -1;
  if (node.op_type == "MatMul") return w.rank() >= 2 ? static_cast<int64_t>(w.rank()) - 1 : -1;
  return -1;
}

// Conv's B or Gemm's C, when it can be stored as int32 with scale s_in * s_w (onnxruntime preset).
bool int32_bias_input(const Graph& g, const Node& node, size_t input) {
  if (input != 2 || node.inputs.size() < 3 || !is_float_initializer(g, node.inputs[2])) return false;
  if (node.op_type == "Conv") return g.value(node.inputs[2]).initializer->rank() == 1;
  if (node.op_type == "Gemm")
    return g.value(node.inputs[2]).initializer->rank() == 1 && node.attr_float("alpha", 1.f) == 1.f &&
           node.attr_float("beta", 1.f) == 1.f;
  return false;
}

Tensor scale_tensor(const QuantParams& p, const Shape& shape) {
  Tensor t(DType::Float32, shape);
  std::copy(p.scale.begin(), p.scale.end(), t.data<float>());
  return t;
}

Tensor zero_point_tensor(const QuantParams& p, const Shape& shape) {
  Tensor t(p.qtype, shape);
  for (size_t i = 0; i < p.zero_point.size(); ++i) {
    const int32_t z = p.zero_point[i];
    switch (p.qtype) {
      case DType::Int8:
      case DType::Int4: t.data<int8_t>()[i] = static_cast<int8_t>(z); break;
      case DType::UInt8: t.data<uint8_t>()[i] = static_cast<uint8_t>(z); break;
      case DType::Int32: t.data<int32_t>()[i] = z; break;
      default: throw InternalError(str_cat("zero point of type ", dtype_name(p.qtype), " not written here"));
    }
  }
  return t;
}

}  // namespace

QuantTarget parse_quant_target(const std::string& name) {
  if (name == "onnxruntime" || name == "ort") return QuantTarget::OnnxRuntime;
  if (name == "tensorrt" || name == "trt") return QuantTarget::TensorRT;
  throw Error(str_cat("unknown target '", name, "': use onnxruntime or tensorrt"));
}

quant::QuantSpec activation_spec(const StaticQuantOptions& o) {
  QuantSpec s;
  if (o.target == QuantTarget::TensorRT) {
    s.qtype = DType::Int8;
    s.symmetric = true;
  } else {
    if (o.activation_type != DType::UInt8 && o.activation_type != DType::Int8)
      throw Error(str_cat("activation type must be uint8 or int8, got ", dtype_name(o.activation_type)));
    s.qtype = o.activation_type;
    s.symmetric = o.activation_symmetric;
    // reduce_range narrows the weights only, as in ONNX Runtime's quantize_static: what keeps its
    // u8 x s8 pairs from saturating vpmaddubsw is |w| <= 64; activations keep all 8 bits.
  }
  return s;
}

// The residual Adds and global average pools worth quantizing (StaticQuantOptions::residual_adds
// and ::global_pools): float activation inputs (two for an Add, one for the pool), and a result
// that is read only as the quantized input of planned nodes or of other such nodes, and is no
// graph output. An Add may have a Relu / Clip after it (its only reader); a result may pass
// through Flatten / Reshape / Squeeze / Unsqueeze / Transpose (each the only reader) on its way,
// which the Q/DQ lowering moves the QuantizeLinear across. The result is then quantized anyway, so
// quantizing the inputs too lets a runtime run the node on 8-bit data (TensorRT fuses an Add into
// the convolution before it; onnxruntime and octet have an integer add and pool): an Add gains no
// extra rounding, a pool one rounding of its input, which its average then shrinks. Decided from
// the last node backwards, so that a node read by a later chosen one (consecutive residual blocks,
// the last block's Add before the pool) is chosen too.
std::vector<const Node*> quantized_joins(const Graph& g, const StaticQuantOptions& o,
                                         const std::vector<std::string>& planned) {
  std::set<std::string> quantized(planned.begin(), planned.end());
  std::map<std::string, std::vector<std::pair<const Node*, size_t>>> readers;
  for (const auto& n : g.nodes)
    for (size_t i = 0; i < n->inputs.size(); ++i)
      if (!n->inputs[i].empty()) readers[n->inputs[i]].push_back({n.get(), i});
  const std::set<std::string> outputs(g.outputs.begin(), g.outputs.end());
  // The one reader of v (as input 0), when v is no graph output and has exactly one.
  auto sole_reader = [&](const std::string& v) -> const Node* {
    auto it = readers.find(v);
    if (outputs.count(v) || it == readers.end() || it->second.size() != 1 || it->second[0].second != 0)
      return nullptr;
    return it->second[0].first;
  };
  auto read_quantized = [&](std::string v) {
    while (const Node* r = sole_reader(v)) {
      static const std::set<std::string> kMovement = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Transpose"};
      if (!r->domain.empty() || !kMovement.count(r->op_type) || r->outputs.size() != 1) break;
      v = r->outputs[0];
    }
    auto it = readers.find(v);
    if (outputs.count(v) || it == readers.end()) return false;
    for (const auto& [r, i] : it->second) {
      if (!quantized.count(r->name)) return false;
      // Conv and Gemm quantize only their data input.
      if ((r->op_type == "Conv" || r->op_type == "Gemm") && i != 0) return false;
    }
    return true;
  };
  const bool adds = o.residual_adds && !o.op_types.count("Add") && !o.exclude_op_types.count("Add");
  const bool pools = o.global_pools && !o.op_types.count("GlobalAveragePool") &&
                     !o.exclude_op_types.count("GlobalAveragePool");
  std::vector<const Node*> chosen;
  for (auto it = g.nodes.rbegin(); it != g.nodes.rend(); ++it) {
    const Node& n = **it;
    if (!n.domain.empty() || n.outputs.size() != 1 || o.exclude_nodes.count(n.name)) continue;
    const bool add = adds && n.op_type == "Add" && n.inputs.size() == 2;
    const bool pool = pools && n.op_type == "GlobalAveragePool" && n.inputs.size() == 1;
    if (!add && !pool) continue;
    if (!std::all_of(n.inputs.begin(), n.inputs.end(), [&](const std::string& in) { return is_float_activation(g, in); }))
      continue;
    std::string out = n.outputs[0];
    if (const Node* r = add ? sole_reader(out) : nullptr) {
      float lo = 0.f, hi = 0.f;
      if (activation_bounds(g, *r, &lo, &hi)) out = r->outputs[0];
    }
    if (!read_quantized(out)) continue;
    chosen.push_back(&n);
    quantized.insert(n.name);
  }
  return chosen;
}

StaticQuantPlan plan_static(const Model& model, const StaticQuantOptions& o) {
  const Graph& g = model.graph;
  const int64_t opset = model.default_opset();
  if (opset < 10)
    throw Error(str_cat(model.source_path.empty() ? "model" : model.source_path, ": opset ", opset,
                        " has no QuantizeLinear/DequantizeLinear (opset 10 or newer is needed)"));
  StaticQuantPlan plan;
  std::set<std::string> acts;
  for (const auto& np : g.nodes) {
    const Node& n = *np;
    if (!n.domain.empty() || !o.op_types.count(n.op_type)) continue;
    if (o.exclude_nodes.count(n.name) || o.exclude_op_types.count(n.op_type)) continue;
    std::vector<std::string> node_acts;
    bool has_weight = false;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (weight_axis(g, n, i) >= 0) has_weight = true;
      else if (is_float_activation(g, n.inputs[i]))
        node_acts.push_back(n.inputs[i]);
    }
    // Conv and Gemm quantize only their data input (X / A); a weight that is not an initializer
    // (computed at run time) leaves the node in float.
    if (n.op_type == "Conv" || n.op_type == "Gemm") {
      if (!has_weight) {
        plan.skipped.push_back(str_cat(n.describe(), ": the weight is not a float initializer"));
        continue;
      }
      node_acts.erase(std::remove_if(node_acts.begin(), node_acts.end(),
                                     [&](const std::string& a) { return a != n.inputs[0]; }),
                      node_acts.end());
    }
    if (node_acts.empty() && !has_weight) {
      plan.skipped.push_back(str_cat(n.describe(), ": no float input to quantize"));
      continue;
    }
    const bool per_channel = o.overrides.count(n.name) && o.overrides.at(n.name).per_channel >= 0
                                 ? o.overrides.at(n.name).per_channel == 1
                                 : o.per_channel;
    if (has_weight && (o.weight_type == DType::Int4 || o.weight_block_size > 0) && opset < 21)
      throw Error(str_cat(n.describe(), ": INT4 and blocked weights need opset 21 (the model is opset ", opset, ")"));
    if (has_weight && per_channel && opset < 13)
      throw Error(str_cat(n.describe(), ": per-channel weights need opset 13 or newer (the model is opset ", opset,
                          "); quantize per tensor or convert the model"));
    plan.nodes.push_back(n.name);
    acts.insert(node_acts.begin(), node_acts.end());
  }
  if (const std::vector<const Node*> joins = quantized_joins(g, o, plan.nodes); !joins.empty()) {
    for (const Node* n : joins) {
      plan.nodes.push_back(n->name);
      acts.insert(n->inputs.begin(), n->inputs.end());
    }
    std::map<std::string, size_t> order;
    for (size_t i = 0; i < g.nodes.size(); ++i) order[g.nodes[i]->name] = i;
    std::sort(plan.nodes.begin(), plan.nodes.end(),
              [&](const std::string& a, const std::string& b) { return order.at(a) < order.at(b); });
  }
  plan.activations.assign(acts.begin(), acts.end());
  return plan;
}

StaticQuantResult apply_static(Model& model, const StaticQuantPlan& plan,
                               const std::map<std::string, Range>& ranges, const StaticQuantOptions& o) {
  Graph& g = model.graph;
  StaticQuantResult result;
  const QuantSpec act_spec = activation_spec(o);
  std::set<std::string> used_node_names;
  std::vector<Node> new_nodes;
  std::map<std::string, size_t> record_of;  // tensor -> index in result.records

  auto add_record = [&](QuantRecord r) {
    record_of[r.tensor] = result.records.size();
    result.records.push_back(std::move(r));
  };

  // 1. Activations: one QuantizeLinear each, with scale and zero point from the range.
  std::map<std::string, std::string> quantized_of;  // activation -> its Q output
  for (const std::string& t : plan.activations) {
    Range r;
    if (auto ov = o.range_overrides.find(t); ov != o.range_overrides.end()) r = ov->second;
    else if (auto it = ranges.find(t); it != ranges.end()) r = it->second;
    else throw InternalError(str_cat("no calibrated range for '", t, "'"));
    bool degenerate = false;
    QuantParams p = quant::params_from_range(r.min, r.max, act_spec, str_cat("activation '", t, "'"), &degenerate);
    if (degenerate || r.degenerate)
      result.warnings.push_back(str_cat("activation '", t, "' had a zero range in calibration (all values 0?); "
                                        "quantized with scale ", p.scale[0]));
    const std::string scale = g.unique_value_name(t + "_scale");
    set_initializer(g, scale, scale_tensor(p, {}));
    const std::string zp = g.unique_value_name(t + "_zero_point");
    set_initializer(g, zp, zero_point_tensor(p, {}));
    const std::string q = g.unique_value_name(t + "_quantized");
    Node qn;
    qn.name = fresh_node_name(g, used_node_names, t + "_QuantizeLinear");
    qn.op_type = "QuantizeLinear";
    qn.inputs = {t, scale, zp};
    qn.outputs = {q};
    new_nodes.push_back(std::move(qn));
    Value& qv = g.get_or_add_value(q);
    qv.type = g.value(t).type;
    qv.type.dtype = p.qtype;
    qv.quant = p;
    quantized_of[t] = q;
    QuantRecord rec;
    rec.tensor = t;
    rec.kind = "activation";
    rec.params = p;
    rec.range_min = r.min;
    rec.range_max = r.max;
    rec.degenerate = degenerate || r.degenerate;
    add_record(std::move(rec));
  }

  auto add_dq = [&](const std::string& q, const QuantParams& p, const Shape& scale_shape, int64_t axis,
                    const std::string& base, const TensorType& float_type) {
    const std::string scale = g.unique_value_name(base + "_scale");
    set_initializer(g, scale, scale_tensor(p, scale_shape));
    const std::string zp = g.unique_value_name(base + "_zero_point");
    set_initializer(g, zp, zero_point_tensor(p, scale_shape));
    const std::string out = g.unique_value_name(base + "_dequantized");
    Node dq;
    dq.name = fresh_node_name(g, used_node_names, base + "_DequantizeLinear");
    dq.op_type = "DequantizeLinear";
    dq.inputs = {q, scale, zp};
    dq.outputs = {out};
    if (axis >= 0 && (p.scale.size() > 1 || p.block_size > 0)) dq.attrs["axis"] = int_attr(axis);
    new_nodes.push_back(std::move(dq));
    g.get_or_add_value(out).type = float_type;
    return out;
  };

  // 2. Each quantized node: DQ per activation input, quantized weight + DQ, int32 bias + DQ.
  std::set<std::string> planned(plan.nodes.begin(), plan.nodes.end());
  std::set<std::string> maybe_unused;  // float initializers replaced by quantized copies
  for (auto& np : g.nodes) {
    Node& n = *np;
    if (!planned.count(n.name)) continue;
    const bool per_channel = o.overrides.count(n.name) && o.overrides.at(n.name).per_channel >= 0
                                 ? o.overrides.at(n.name).per_channel == 1
                                 : o.per_channel;
    const bool mse = o.overrides.count(n.name) && o.overrides.at(n.name).weight_mse >= 0
                         ? o.overrides.at(n.name).weight_mse == 1
                         : o.weight_mse;
    const QuantParams* weight_p = nullptr;
    QuantParams wp;
    const QuantParams* input_p = nullptr;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      const std::string in = n.inputs[i];
      if (auto q = quantized_of.find(in); q != quantized_of.end()) {
        const QuantParams& p = g.value(q->second).quant.value();
        n.inputs[i] = add_dq(q->second, p, {}, -1, str_cat(in, "_", n.name), g.value(in).type);
        result.records[record_of[in]].nodes.push_back(n.name);
        if (i == 0) input_p = &g.value(q->second).quant.value();
        continue;
      }
      const int64_t axis = weight_axis(g, n, i);
      if (axis < 0) continue;
      const Tensor& w = *g.value(in).initializer;
      QuantSpec ws;
      ws.qtype = o.weight_type;
      ws.symmetric = true;
      ws.reduce_range = o.target == QuantTarget::OnnxRuntime && o.reduce_range;
      ws.axis = per_channel ? axis : -1;
      if (o.weight_block_size > 0) {  // blocks run along the reduction axis
        ws.axis = n.op_type == "Conv" ? 1 : (n.op_type == "Gemm" ? 1 - axis : static_cast<int64_t>(w.rank()) - 2);
        ws.block_size = o.weight_block_size;
      }
      std::vector<int64_t> degenerate;
      const std::string what = str_cat("weight '", in, "' of ", n.describe());
      wp = mse ? quant::weight_params_mse(w, ws, what, &degenerate) : quant::weight_params(w, ws, what, &degenerate);
      if (!degenerate.empty())
        result.warnings.push_back(str_cat(what, ": ", degenerate.size(), " channel(s) are all zero; quantized with a safe scale"));
      const Tensor wq = quant::quantize(w, wp, quant::int_range(ws));
      const std::string qname = g.unique_value_name(in + "_quantized");
      Value& qv = g.get_or_add_value(qname);
      qv.initializer = wq;
      qv.type = TensorType::of(ws.qtype, w.shape());
      qv.quant = wp;
      n.inputs[i] = add_dq(qname, wp, quant::scale_shape(w.shape(), wp), ws.axis, str_cat(in, "_", n.name),
                           TensorType::of(DType::Float32, w.shape()));
      if (ws.block_size > 0) new_nodes.back().attrs["block_size"] = int_attr(ws.block_size);
      maybe_unused.insert(in);
      QuantRecord rec;
      rec.tensor = in;
      rec.kind = "weight";
      rec.nodes = {n.name};
      rec.params = wp;
      add_record(std::move(rec));
      weight_p = &result.records.back().params;
    }
    // Bias as int32 (onnxruntime preset) once the input and weight scales are known.
    if (o.target == QuantTarget::OnnxRuntime && input_p && weight_p && int32_bias_input(g, n, 2)) {
      const std::string in = n.inputs[2];
      const Tensor& b = *g.value(in).initializer;
      QuantParams bp;
      bp.qtype = DType::Int32;
      const int64_t c = b.numel();
      if (weight_p->scale.size() != 1 && static_cast<int64_t>(weight_p->scale.size()) != c) continue;
      Tensor bq(DType::Int32, b.shape());
      bool clamped = false;
      for (int64_t k = 0; k < c; ++k) {
        const float ws = weight_p->scale.size() == 1 ? weight_p->scale[0] : weight_p->scale[static_cast<size_t>(k)];
        float s = input_p->scale[0] * ws;
        if (!(s >= std::numeric_limits<float>::min())) s = std::numeric_limits<float>::min();
        bp.scale.push_back(s);
        bp.zero_point.push_back(0);
        const double q = std::nearbyint(static_cast<double>(b.data<float>()[k]) / s);
        const double lim = 2147483647.0;
        if (q > lim || q < -lim) clamped = true;
        bq.data<int32_t>()[k] = static_cast<int32_t>(std::max(-lim, std::min(lim, q)));
      }
      if (clamped)
        result.warnings.push_back(str_cat("bias '", in, "' of ", n.describe(), " exceeds the int32 range at scale "
                                          "s_input * s_weight; saturated"));
      bp.axis = c > 1 && weight_p->scale.size() > 1 ? 0 : -1;
      if (weight_p->scale.size() == 1) {  // one scale for all channels
        bp.scale.resize(1);
        bp.zero_point.resize(1);
      }
      const std::string qname = g.unique_value_name(in + "_quantized");
      Value& qv = g.get_or_add_value(qname);
      qv.initializer = bq;
      qv.type = TensorType::of(DType::Int32, b.shape());
      qv.quant = bp;
      n.inputs[2] = add_dq(qname, bp, bp.scale.size() > 1 ? Shape{c} : Shape{}, bp.axis, str_cat(in, "_", n.name),
                           TensorType::of(DType::Float32, b.shape()));
      maybe_unused.insert(in);
      QuantRecord rec;
      rec.tensor = in;
      rec.kind = "bias";
      rec.nodes = {n.name};
      rec.params = bp;
      add_record(std::move(rec));
    }
  }
  for (Node& n : new_nodes) g.add_node(std::move(n));

  // Float weights nothing reads any more are dropped (the quantized copies replace them).
  std::set<std::string> read;
  for (const auto& np : g.nodes)
    for (const auto& in : np->inputs) read.insert(in);
  for (const auto& out : g.outputs) read.insert(out);
  for (const std::string& w : maybe_unused)
    if (!read.count(w)) g.remove_value(w);
  g.topo_sort();
  return result;
}

}  // namespace octet
