#include "passes/lower_qdq.h"

#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include "ir/error.h"
#include "kernels/ref/round.h"
#include "runtime/fast/fast_op.h"

namespace octet {
namespace {

// Who produces and who reads each value, rebuilt after every rewrite (graphs here have hundreds of
// nodes, so the quadratic cost is negligible next to loading the weights).
struct Uses {
  std::map<std::string, Node*> producer;
  std::map<std::string, std::vector<Node*>> readers;
  std::set<std::string> graph_outputs;
};

Uses uses_of(Graph& g) {
  Uses u;
  for (auto& n : g.nodes) {
    for (const auto& o : n->outputs)
      if (!o.empty()) u.producer[o] = n.get();
    for (const auto& in : n->inputs)
      if (!in.empty()) u.readers[in].push_back(n.get());
  }
  u.graph_outputs.insert(g.outputs.begin(), g.outputs.end());
  return u;
}

const Tensor* initializer(const Graph& g, const std::string& name) {
  if (name.empty()) return nullptr;
  const Value* v = g.find_value(name);
  return v && v->initializer ? &*v->initializer : nullptr;
}

// A DequantizeLinear (default domain) producing `value`, with constant scale (float32) and zero
// point, no block_size.
struct Dq {
  Node* node = nullptr;
  std::string x, scale, zp;  // zp may be empty
  const Tensor* scale_t = nullptr;
  const Tensor* zp_t = nullptr;
  const Tensor* x_const = nullptr;  // set when x is an initializer
  DType x_type = DType::Undefined;
  int64_t axis = 1;
};

std::optional<Dq> dq_producing(Graph& g, const Uses& u, const std::string& value) {
  auto it = u.producer.find(value);
  if (it == u.producer.end()) return std::nullopt;
  Node* n = it->second;
  if (n->op_type != "DequantizeLinear" || !n->domain.empty() || n->inputs.size() < 2) return std::nullopt;
  if (n->attr_int("block_size", 0) != 0) return std::nullopt;
  Dq d;
  d.node = n;
  d.x = n->inputs[0];
  d.scale = n->inputs[1];
  d.zp = n->inputs.size() > 2 ? n->inputs[2] : "";
  d.scale_t = initializer(g, d.scale);
  if (!d.scale_t || d.scale_t->dtype() != DType::Float32) return std::nullopt;
  if (!d.zp.empty()) {
    d.zp_t = initializer(g, d.zp);
    if (!d.zp_t) return std::nullopt;
  }
  d.x_const = initializer(g, d.x);
  d.x_type = d.x_const ? d.x_const->dtype()
             : d.zp_t  ? d.zp_t->dtype()
                       : g.value(d.x).type.dtype;
  d.axis = n->attr_int("axis", 1);
  for (int64_t i = 0; i < d.scale_t->numel(); ++i) {
    const float s = d.scale_t->data<float>()[i];
    if (!(s > 0.f) || !std::isfinite(s)) return std::nullopt;  // the float path reports it
  }
  return d;
}

bool is_8bit(DType t) { return t == DType::UInt8 || t == DType::Int8; }

// An activation: a non-constant 8-bit tensor with per-tensor parameters.
bool is_activation(const Dq& d) {
  return !d.x_const && is_8bit(d.x_type) && d.scale_t->numel() == 1 &&
         (!d.zp_t || (d.zp_t->numel() == 1 && d.zp_t->dtype() == d.x_type));
}

// A constant 8-bit weight, per-tensor or per-channel along `channel_axis` with `channels` values.
bool is_weight(const Dq& d, int64_t channel_axis, int64_t channels) {
  if (!d.x_const || !is_8bit(d.x_type)) return false;
  const int64_t rank = static_cast<int64_t>(d.x_const->rank());
  auto per_tensor = [](const Tensor* t) { return !t || t->numel() == 1; };
  if (per_tensor(d.scale_t) && per_tensor(d.zp_t)) return true;
  const int64_t axis = d.axis < 0 ? d.axis + rank : d.axis;
  if (axis != channel_axis) return false;
  auto per_channel = [&](const Tensor* t) {
    return !t || (t->rank() == 1 && t->dim(0) == channels) || t->numel() == 1;
  };
  return d.scale_t->rank() == 1 && d.scale_t->dim(0) == channels && per_channel(d.zp_t) &&
         (!d.zp_t || d.zp_t->dtype() == d.x_type);
}

std::string add_initializer(Graph& g, const std::string& base, Tensor t) {
  const std::string name = g.unique_value_name(base);
  Value& v = g.get_or_add_value(name);
  v.type = TensorType::of(t.dtype(), t.shape());
  v.initializer = std::move(t);
  return name;
}

// The bias as float32 values per channel, or nullopt when it is not a supported constant.
std::optional<std::vector<float>> float_bias(Graph& g, const Uses& u, const std::string& name,
                                             int64_t channels) {
  if (const Tensor* b = initializer(g, name)) {
    if (b->dtype() != DType::Float32 || b->numel() != channels) return std::nullopt;
    return std::vector<float>(b->data<float>(), b->data<float>() + channels);
  }
  auto d = dq_producing(g, u, name);
  if (!d || !d->x_const || d->x_const->dtype() != DType::Int32 || d->x_const->numel() != channels)
    return std::nullopt;
  const bool per_channel = d->scale_t->numel() == channels && channels != 1;
  if (!per_channel && d->scale_t->numel() != 1) return std::nullopt;
  if (d->zp_t && d->zp_t->numel() != 1 && d->zp_t->numel() != channels) return std::nullopt;
  std::vector<float> out(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    const float s = d->scale_t->data<float>()[per_channel ? c : 0];
    const int32_t zp = d->zp_t ? d->zp_t->data<int32_t>()[d->zp_t->numel() == 1 ? 0 : c] : 0;
    // DequantizeLinear's arithmetic: (x - zp) * scale in float.
    out[c] = static_cast<float>(static_cast<int64_t>(d->x_const->data<int32_t>()[c]) - zp) * s;
  }
  return out;
}

// The only reader of `value`, when it has exactly one and is not a graph output.
Node* sole_reader(const Uses& u, const std::string& value) {
  if (u.graph_outputs.count(value)) return nullptr;
  auto it = u.readers.find(value);
  if (it == u.readers.end() || it->second.size() != 1) return nullptr;
  Node* r = it->second[0];
  int uses = 0;
  for (const auto& in : r->inputs) uses += in == value;
  return uses == 1 ? r : nullptr;
}

// A QuantizeLinear reading `value` with per-tensor constant float32 scale and 8-bit zero point.
struct Q {
  Node* node = nullptr;
  float scale = 1.f;
  std::string scale_name, zp_name;
};

std::optional<Q> quantize_reader(Graph& g, Node* n) {
  if (!n || n->op_type != "QuantizeLinear" || !n->domain.empty() || n->inputs.size() < 2) return std::nullopt;
  if (n->inputs[0].empty() || n->has_attr("output_dtype")) return std::nullopt;
  const Tensor* s = initializer(g, n->inputs[1]);
  if (!s || s->dtype() != DType::Float32 || s->numel() != 1) return std::nullopt;
  const float sv = s->data<float>()[0];
  if (!(sv > 0.f) || !std::isfinite(sv)) return std::nullopt;
  Q q;
  q.node = n;
  q.scale = sv;
  q.scale_name = n->inputs[1];
  if (n->inputs.size() > 2 && !n->inputs[2].empty()) {
    const Tensor* z = initializer(g, n->inputs[2]);
    if (!z || z->numel() != 1 || !is_8bit(z->dtype())) return std::nullopt;
    q.zp_name = n->inputs[2];
  } else {
    q.zp_name = add_initializer(g, n->inputs[1] + "_zero_point", Tensor::scalar<uint8_t>(0));
  }
  return q;
}

enum class Kind { Conv, MatMul, Gemm };

class Lowering {
 public:
  Lowering(Graph& g, LowerQdqStats& stats) : g_(g), stats_(stats) {}

  // Tries to fuse `node`; returns true when it was rewritten.
  bool fuse(Node* node) {
    const Kind kind = node->op_type == "Conv" ? Kind::Conv
                      : node->op_type == "MatMul" ? Kind::MatMul
                                                  : Kind::Gemm;
    Uses u = uses_of(g_);
    if (node->inputs.size() < 2) return false;
    auto x = dq_producing(g_, u, node->inputs[0]);
    if (!x) return false;  // not a quantized layer: nothing to report
    auto leave = [&](const std::string& why) { return left_in_float(*node, why); };
    if (!is_activation(*x))
      return leave("its input is not a per-tensor INT8/UINT8 DequantizeLinear");
    auto w = dq_producing(g_, u, node->inputs[1]);
    if (!w || !w->x_const) return leave("its weight is not a DequantizeLinear of a constant");
    const Tensor& wq = *w->x_const;

    int64_t channels = 0, channel_axis = 0;
    bool transpose_weight = false;
    std::string bias_name = node->inputs.size() > 2 ? node->inputs[2] : "";
    if (kind == Kind::Conv) {
      if (wq.rank() < 3) return leave("its weight has rank < 3");
      channels = wq.dim(0);
    } else {
      if (wq.rank() != 2) return leave("its weight is not 2-D");
      if (kind == Kind::Gemm) {
        if (node->attr_float("alpha", 1.f) != 1.f || node->attr_int("transA", 0) != 0)
          return leave("Gemm with alpha != 1 or transA");
        if (!bias_name.empty() && node->attr_float("beta", 1.f) != 1.f) return leave("Gemm with beta != 1");
        const Value* a = g_.find_value(node->inputs[0]);
        if (!a || !a->type.has_shape || a->type.dims.size() != 2) return leave("Gemm input is not known to be 2-D");
        transpose_weight = node->attr_int("transB", 0) != 0;
      }
      channel_axis = transpose_weight ? 0 : 1;
      channels = wq.dim(channel_axis);
    }
    if (!is_weight(*w, channel_axis, channels))
      return leave("its weight scale / zero point is neither per-tensor nor per output channel");
    std::optional<std::vector<float>> bias;
    if (!bias_name.empty()) {
      bias = float_bias(g_, u, bias_name, channels);
      if (!bias) return leave("its bias is not a float32 constant or DequantizeLinear of INT32");
    }

    std::vector<Node*> absorbed;
    std::string out_name = node->outputs[0];
    // A MatMul's bias comes as an Add of a constant vector after it (MatMul + Add, what Gemm
    // holds in one node): taken in when that Add is the MatMul's only reader, for a float output
    // only (see added_bias).
    bool float_only = false;
    if (kind == Kind::MatMul && !bias) {
      if (std::optional<AddedBias> ab = added_bias(u, out_name, channels)) {
        bias = std::move(ab->values);
        absorbed.push_back(ab->add);
        out_name = ab->add->outputs[0];
        float_only = true;
      }
    }

    // Absorb a Relu / Clip, then a QuantizeLinear.
    float act_min = -std::numeric_limits<float>::infinity(), act_max = -act_min;
    absorb_activation(u, &out_name, &act_min, &act_max, &absorbed);
    std::optional<Q> q = float_only ? std::nullopt : quantize_reader(g_, sole_reader(u, out_name));
    std::vector<int32_t> bias_q;
    if (q) {
      int64_t k = wq.numel() / std::max<int64_t>(channels, 1);
      const float xs = x->scale_t->data<float>()[0];
      const double limit = 2147483647.0 - static_cast<double>(k) * 255.0 * 255.0;
      if (bias) {
        for (int64_t c = 0; c < channels && q; ++c) {
          const float ws = w->scale_t->data<float>()[w->scale_t->numel() == 1 ? 0 : c];
          const double v = kernels::round_half_even(static_cast<double>((*bias)[c]) / (xs * ws));
          if (!(std::fabs(v) <= limit)) q.reset();
          else bias_q.push_back(static_cast<int32_t>(v));
        }
      }
    }

    Node fused = fused_node(*node, kind == Kind::Conv ? "QLinearConv" : "QLinearMatMul");
    if (kind == Kind::Conv) fused.attrs = node->attrs;
    set_activation_attrs(&fused, act_min, act_max);
    std::string w_name = w->x;
    if (transpose_weight) {
      const int64_t n = wq.dim(0), kk = wq.dim(1);
      Tensor t(wq.dtype(), {kk, n});
      const auto* src = static_cast<const uint8_t*>(wq.raw());
      auto* dst = static_cast<uint8_t*>(t.raw());
      for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < kk; ++j) dst[j * n + i] = src[i * kk + j];
      w_name = add_initializer(g_, w->x + "_kxn", std::move(t));
    }
    fused.inputs = {x->x, x->scale, x->zp, w_name, w->scale, w->zp, "", "", ""};
    if (q) {
      fused.inputs[6] = q->scale_name;
      fused.inputs[7] = q->zp_name;
      if (bias) fused.inputs[8] = add_initializer(g_, node->name + ".bias_s32",
                                                  Tensor::from_vector<int32_t>({channels}, bias_q));
      absorbed.push_back(q->node);
      out_name = q->node->outputs[0];
      ++stats_.quantized_outputs;
    } else if (bias) {
      fused.inputs[8] = add_initializer(g_, node->name + ".bias_f32",
                                        Tensor::from_vector<float>({channels}, *bias));
    }
    while (!fused.inputs.empty() && fused.inputs.back().empty()) fused.inputs.pop_back();
    fused.outputs = {out_name};
    stats_.fused_activations += !std::isinf(act_min) || !std::isinf(act_max) ? 1 : 0;
    (kind == Kind::Conv ? stats_.fused_conv : stats_.fused_matmul) += 1;

    absorbed.push_back(node);
    replace_nodes(absorbed, std::move(fused));
    return true;
  }

  // Rewrites an Add of two dequantized 8-bit activations (same shape or broadcast), with an
  // optional Relu / Clip after it, whose result is quantized (a per-tensor QuantizeLinear that is
  // the only reader), into octet.QLinearAdd: the integer residual add. Returns true when rewritten.
  bool fuse_add(Node* node) {
    Uses u = uses_of(g_);
    if (node->inputs.size() != 2 || node->outputs.size() != 1) return false;
    auto a = dq_producing(g_, u, node->inputs[0]);
    auto b = dq_producing(g_, u, node->inputs[1]);
    if (!a && !b) return false;  // a float Add: nothing to report
    auto leave = [&](const std::string& why) { return left_in_float(*node, why); };
    if (!a || !b || !is_activation(*a) || !is_activation(*b))
      return leave("an input is not a per-tensor INT8/UINT8 DequantizeLinear of an activation");
    std::vector<Node*> absorbed;
    std::string out_name = node->outputs[0];
    float act_min = -std::numeric_limits<float>::infinity(), act_max = -act_min;
    absorb_activation(u, &out_name, &act_min, &act_max, &absorbed);
    std::optional<Q> q = quantize_reader(g_, sole_reader(u, out_name));
    if (!q) return leave("its result is not quantized (no per-tensor QuantizeLinear as its only reader)");
    Node fused = fused_node(*node, "QLinearAdd");
    set_activation_attrs(&fused, act_min, act_max);
    fused.inputs = {a->x, a->scale, a->zp, b->x, b->scale, b->zp, q->scale_name, q->zp_name};
    fused.outputs = {q->node->outputs[0]};
    absorbed.push_back(q->node);
    absorbed.push_back(node);
    stats_.fused_activations += !std::isinf(act_min) || !std::isinf(act_max) ? 1 : 0;
    ++stats_.fused_add;
    ++stats_.quantized_outputs;
    replace_nodes(absorbed, std::move(fused));
    return true;
  }

  // Rewrites DequantizeLinear(x) -> GlobalAveragePool -> QuantizeLinear, with x an 8-bit
  // per-tensor activation and the QuantizeLinear (per-tensor) the pool's only reader, into
  // octet.QLinearGlobalAveragePool: the integer pool, whose arithmetic is the Q/DQ graph's own, so
  // this rewrite changes no bit either. Returns true when rewritten.
  bool fuse_global_avgpool(Node* node) {
    Uses u = uses_of(g_);
    if (node->inputs.size() != 1 || node->outputs.size() != 1) return false;
    auto x = dq_producing(g_, u, node->inputs[0]);
    if (!x) return false;  // a float pool: nothing to report
    if (!is_activation(*x))
      return left_in_float(*node, "its input is not a per-tensor INT8/UINT8 DequantizeLinear of an activation");
    std::optional<Q> q = quantize_reader(g_, sole_reader(u, node->outputs[0]));
    if (!q)
      return left_in_float(*node, "its result is not quantized (no per-tensor QuantizeLinear as its only reader)");
    Node fused = fused_node(*node, "QLinearGlobalAveragePool");
    fused.inputs = {x->x, x->scale, x->zp, q->scale_name, q->zp_name};
    fused.outputs = {q->node->outputs[0]};
    ++stats_.fused_pool;
    ++stats_.quantized_outputs;
    replace_nodes({q->node, node}, std::move(fused));
    return true;
  }

  // Removes DequantizeLinear nodes nobody reads, then values nothing mentions.
  void sweep() {
    for (bool again = true; again;) {
      again = false;
      Uses u = uses_of(g_);
      std::set<const Node*> dead;
      for (auto& n : g_.nodes)
        if (n->op_type == "DequantizeLinear" && n->domain.empty() && !u.graph_outputs.count(n->outputs[0]) &&
            !u.readers.count(n->outputs[0]))
          dead.insert(n.get());
      if (!dead.empty()) {
        remove_nodes(dead);
        again = true;
      }
    }
    Uses u = uses_of(g_);
    std::set<std::string> keep(g_.inputs.begin(), g_.inputs.end());
    keep.insert(g_.outputs.begin(), g_.outputs.end());
    std::vector<std::string> drop;
    for (const auto& [name, v] : g_.values())
      if (!keep.count(name) && !u.readers.count(name) && !u.producer.count(name)) drop.push_back(name);
    for (const auto& name : drop) g_.remove_value(name);
  }

 private:
  // Records why `node`, fed by a DequantizeLinear, stays in float; returns false (not rewritten).
  bool left_in_float(const Node& node, const std::string& why) {
    stats_.left_in_float.push_back(str_cat(node.describe(), ": ", why));
    return false;
  }

  // The octet-domain node that replaces `from`, under its name.
  static Node fused_node(const Node& from, const std::string& op_type) {
    Node fused;
    fused.name = from.name;
    fused.domain = "octet";
    fused.op_type = op_type;
    return fused;
  }

  static Attribute float_attr(float v) {
    Attribute a;
    a.kind = Attribute::Kind::Float;
    a.f = v;
    return a;
  }

  struct AddedBias {
    Node* add;
    std::vector<float> values;
  };
  // The Add that is the only reader of `value`, when its other input is a 1-D constant of
  // `channels` floats (a float32 initializer or a DequantizeLinear of INT32, as float_bias reads
  // them): it adds one value per channel of the last axis. The fused op's float output computes
  // float(acc) * scale + bias with the same two roundings as the MatMul and the Add did, so the
  // Add leaves the graph without changing a bit. A QuantizeLinear after it stays a node: taking it
  // in too would round the bias to int32 before the sum, as for a Gemm's or a Conv's bias, and
  // that moved 23 of vit-tiny's 10,000 test predictions off the reference executor's.
  std::optional<AddedBias> added_bias(const Uses& u, const std::string& value, int64_t channels) {
    Node* add = sole_reader(u, value);
    if (!add || add->op_type != "Add" || !add->domain.empty() || add->inputs.size() != 2 || add->outputs.size() != 1)
      return std::nullopt;
    const std::string& other = add->inputs[0] == value ? add->inputs[1] : add->inputs[0];
    const Value* ov = g_.find_value(other);
    if (!ov || !ov->type.has_shape || ov->type.dims.size() != 1) return std::nullopt;
    std::optional<std::vector<float>> b = float_bias(g_, u, other, channels);
    if (!b) return std::nullopt;
    return AddedBias{add, std::move(*b)};
  }

  // A Relu / Clip that is the only reader of *out_name: recorded in *absorbed, its bounds in
  // *lo / *hi, and *out_name moves to its output.
  void absorb_activation(const Uses& u, std::string* out_name, float* lo, float* hi, std::vector<Node*>* absorbed) {
    if (Node* r = sole_reader(u, *out_name); r && activation_bounds(g_, *r, lo, hi)) {
      absorbed->push_back(r);
      *out_name = r->outputs[0];
    }
  }

  static void set_activation_attrs(Node* fused, float act_min, float act_max) {
    if (!std::isinf(act_min)) fused->attrs["act_min"] = float_attr(act_min);
    if (!std::isinf(act_max)) fused->attrs["act_max"] = float_attr(act_max);
  }

  // Puts `fused` where the first of `absorbed` was and removes the others.
  void replace_nodes(const std::vector<Node*>& absorbed, Node fused) {
    std::set<const Node*> gone(absorbed.begin(), absorbed.end());
    for (auto& n : g_.nodes)
      if (gone.count(n.get())) {
        n = std::make_unique<Node>(std::move(fused));
        break;
      }
    remove_nodes(gone);
  }

  void remove_nodes(const std::set<const Node*>& gone) {
    std::vector<std::unique_ptr<Node>> kept;
    for (auto& n : g_.nodes)
      if (!gone.count(n.get())) kept.push_back(std::move(n));
    g_.nodes = std::move(kept);
  }

  Graph& g_;
  LowerQdqStats& stats_;
};

// Ops that commute with a per-tensor QuantizeLinear exactly: Q(op(x)) == op(Q(x)), because they
// only move, drop or take the max of elements and Q is monotone (MaxPool's padding never wins a
// window that holds a real element).
bool commutes_with_quantize(const Node& n) {
  if (!n.domain.empty() || n.outputs.size() != 1 || n.inputs.empty()) return false;
  if (n.op_type == "MaxPool") return n.attr_int("storage_order", 0) == 0;
  return n.op_type == "Reshape" || n.op_type == "Flatten" || n.op_type == "Transpose" || n.op_type == "Squeeze" ||
         n.op_type == "Unsqueeze";
}

// Moves each per-tensor QuantizeLinear above the movement ops / MaxPool it follows, so that the
// Conv or MatMul before them can absorb it and the op runs on 8-bit data. Returns the number of
// moves.
int propagate_quantize_up(Graph& g) {
  int moves = 0;
  for (bool again = true; again;) {
    again = false;
    Uses u = uses_of(g);
    for (auto& up : g.nodes) {
      Node& q = *up;
      if (q.op_type != "QuantizeLinear" || !q.domain.empty() || q.inputs.size() < 2 || q.has_attr("output_dtype"))
        continue;
      const Tensor* scale = initializer(g, q.inputs[1]);
      const Tensor* zp = q.inputs.size() > 2 ? initializer(g, q.inputs[2]) : nullptr;
      if (!scale || scale->numel() != 1 || (q.inputs.size() > 2 && !q.inputs[2].empty() && (!zp || zp->numel() != 1)))
        continue;
      auto pit = u.producer.find(q.inputs[0]);
      if (pit == u.producer.end()) continue;
      Node& op = *pit->second;
      if (!commutes_with_quantize(op) || sole_reader(u, op.outputs[0]) != &q) continue;
      const std::string x = op.inputs[0];
      if (u.graph_outputs.count(x) || !u.producer.count(x) || sole_reader(u, x) != &op) continue;
      const Value* xv = g.find_value(x);
      if (!xv || xv->initializer) continue;
      // x -> Q -> x_q -> op -> (Q's old output name).
      const std::string final_name = q.outputs[0];
      const std::string moved = g.unique_value_name(x + "_quantized");
      Value& mv = g.get_or_add_value(moved);
      mv.type = g.value(final_name).type;
      mv.type.has_shape = xv->type.has_shape;
      mv.type.dims = xv->type.dims;
      q.inputs[0] = x;
      q.outputs[0] = moved;
      const std::string old_op_out = op.outputs[0];
      op.inputs[0] = moved;
      op.outputs[0] = final_name;
      g.remove_value(old_op_out);
      ++moves;
      again = true;
      break;
    }
    if (again) g.topo_sort();
  }
  return moves;
}

}  // namespace

bool LowerQdq::run(Model& model) {
  stats_ = {};
  Graph& g = model.graph;
  stats_.propagated = propagate_quantize_up(g);
  std::vector<std::string> candidates;
  for (const auto& n : g.nodes)
    if (n->domain.empty() &&
        (n->op_type == "Conv" || n->op_type == "MatMul" || n->op_type == "Gemm" || n->op_type == "Add" ||
         n->op_type == "GlobalAveragePool"))
      candidates.push_back(n->name);
  Lowering lowering(g, stats_);
  bool changed = stats_.propagated > 0;
  for (const auto& name : candidates) {
    Node* node = nullptr;
    for (auto& n : g.nodes)
      if (n->name == name && n->domain.empty()) node = n.get();
    if (!node) continue;
    const bool fused = node->op_type == "Add"                 ? lowering.fuse_add(node)
                       : node->op_type == "GlobalAveragePool" ? lowering.fuse_global_avgpool(node)
                                                              : lowering.fuse(node);
    changed |= fused;
  }
  if (changed) {
    lowering.sweep();
    g.topo_sort();
    bool has_octet = false;
    for (const auto& o : model.opsets) has_octet |= o.domain == "octet";
    if (!has_octet) model.opsets.push_back({"octet", 1});
  }
  return changed;
}

}  // namespace octet
