#include "passes/fold_batchnorm.h"

#include <cmath>
#include <functional>
#include <map>
#include <set>
#include <vector>

namespace octet {

namespace {

// The initializer `name` if it is a float32 initializer; nullptr otherwise (absent input, a value
// computed by a node, another element type).
const Tensor* float32_initializer(const Graph& g, const std::string& name) {
  if (name.empty()) return nullptr;
  const Value* v = g.find_value(name);
  if (!v || !v->initializer || v->initializer->dtype() != DType::Float32) return nullptr;
  return &*v->initializer;
}

// `base` + "_bnfold", with a counter appended until no value has the name.
// Everything a fold needs about the producer of the BN's input.
struct Producer {
  enum class Kind { Conv, ConvTranspose, Gemm } kind = Kind::Conv;
  Node* node = nullptr;
  const Tensor* weight = nullptr;  // W (Conv, ConvTranspose) or B (Gemm)
  const Tensor* bias = nullptr;    // bias (Conv, ConvTranspose) or C (Gemm); nullptr if absent
  int64_t channels = 0;            // output channels M (Conv, ConvTranspose) or N (Gemm)
  // Output channel of the weight element at a flat (row-major) index.
  std::function<int64_t(int64_t)> channel_of;
};

// Fills `p` for a Conv/ConvTranspose/Gemm node whose weight and bias are float32 initializers.
// Returns false (leave the BN alone) for other producers or for shapes the op itself would
// reject, which the runtime reports with its own message.
bool describe_producer(const Graph& g, Node& node, Producer* p) {
  if (!node.domain.empty() || node.outputs.size() != 1) return false;
  const bool conv = node.op_type == "Conv", convt = node.op_type == "ConvTranspose",
             gemm = node.op_type == "Gemm";
  if (!conv && !convt && !gemm) return false;
  if (node.inputs.size() < 2) return false;
  const Tensor* w = float32_initializer(g, node.inputs[1]);
  if (!w) return false;
  const bool has_bias = node.inputs.size() > 2 && !node.inputs[2].empty();
  const Tensor* b = has_bias ? float32_initializer(g, node.inputs[2]) : nullptr;
  if (has_bias && !b) return false;  // bias computed, or not float32
  p->node = &node;
  p->weight = w;
  p->bias = b;
  const Shape& ws = w->shape();
  if (conv) {
    if (ws.size() < 3 || ws[0] <= 0) return false;
    p->kind = Producer::Kind::Conv;
    p->channels = ws[0];
    const int64_t per_channel = w->numel() / ws[0];
    p->channel_of = [per_channel](int64_t i) { return i / per_channel; };
  } else if (convt) {
    const int64_t group = node.attr_int("group", 1);
    if (ws.size() < 3 || ws[0] <= 0 || ws[1] <= 0 || group < 1 || ws[0] % group != 0) return false;
    p->kind = Producer::Kind::ConvTranspose;
    const int64_t in_per_group = ws[0] / group, out_per_group = ws[1];
    p->channels = out_per_group * group;
    const int64_t kernel = w->numel() / (ws[0] * ws[1]);
    p->channel_of = [=](int64_t i) {
      const int64_t c = i / (out_per_group * kernel);  // input channel (axis 0)
      const int64_t j = (i / kernel) % out_per_group;  // axis 1: output channel within the group
      return (c / in_per_group) * out_per_group + j;
    };
  } else {
    if (ws.size() != 2 || ws[0] <= 0 || ws[1] <= 0) return false;
    p->kind = Producer::Kind::Gemm;
    const bool trans_b = node.attr_int("transB", 0) != 0;
    const int64_t cols = ws[1];
    p->channels = trans_b ? ws[0] : ws[1];
    if (trans_b) p->channel_of = [cols](int64_t i) { return i / cols; };  // B [N, K]: row n
    else p->channel_of = [cols](int64_t i) { return i % cols; };          // B [K, N]: column n
    if (b) {
      const Shape& cs = b->shape();
      if (cs.size() > 2) return false;
      if (!cs.empty() && cs.back() != 1 && cs.back() != p->channels) return false;
    }
  }
  return true;
}

// The per-channel affine of an inference BatchNormalization, in double.
struct ChannelAffine {
  std::vector<double> mul;    // scale / sqrt(var + eps)
  std::vector<double> mean;
  std::vector<double> shift;  // BN bias
};

ChannelAffine bn_affine(const Node& bn, const Tensor* const params[4], int64_t channels) {
  static const char* names[4] = {"scale", "bias B", "input_mean", "input_var"};
  for (int i = 0; i < 4; ++i)
    if (params[i]->numel() != channels)
      throw Error(str_cat("fold-batchnorm: ", bn.describe(), ": ", names[i], " '", bn.inputs[i + 1],
                          "' has ", params[i]->numel(), " elements but the producer of its input has ",
                          channels, " output channels"));
  const double eps = bn.attr_float("epsilon", 1e-5f);
  ChannelAffine a;
  for (int64_t c = 0; c < channels; ++c) {
    const double var_eps = static_cast<double>(params[3]->data<float>()[c]) + eps;
    if (!(var_eps > 0) || !std::isfinite(var_eps))
      throw Error(str_cat("fold-batchnorm: ", bn.describe(), ": input_var[", c, "] + epsilon = ", var_eps,
                          " must be positive and finite"));
    a.mul.push_back(params[0]->data<float>()[c] / std::sqrt(var_eps));
    a.mean.push_back(params[2]->data<float>()[c]);
    a.shift.push_back(params[1]->data<float>()[c]);
  }
  return a;
}

// New weight: every element scaled by its output channel's multiplier.
Tensor scaled_weight(const Producer& p, const ChannelAffine& a) {
  Tensor w(DType::Float32, p.weight->shape());
  const float* src = p.weight->data<float>();
  float* dst = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i)
    dst[i] = static_cast<float>(static_cast<double>(src[i]) * a.mul[p.channel_of(i)]);
  return w;
}

// New bias for Conv/ConvTranspose: [M].
Tensor conv_bias(const Producer& p, const ChannelAffine& a, const Node& bn) {
  if (p.bias && p.bias->numel() != p.channels)
    throw Error(str_cat("fold-batchnorm: ", p.node->describe(), ": bias '", p.node->inputs[2], "' has ",
                        p.bias->numel(), " elements but the weight has ", p.channels,
                        " output channels (while folding ", bn.describe(), ")"));
  Tensor b(DType::Float32, {p.channels});
  for (int64_t c = 0; c < p.channels; ++c) {
    const double b0 = p.bias ? p.bias->data<float>()[c] : 0.0;
    b.data<float>()[c] = static_cast<float>((b0 - a.mean[c]) * a.mul[c] + a.shift[c]);
  }
  return b;
}

// New C for Gemm (used with beta = 1): s * (beta * C - mean) + shift, C broadcast to [rows, N]
// (rows = C's first dim when C is 2-D, else the result is 1-D [N]).
Tensor gemm_bias(const Producer& p, const ChannelAffine& a) {
  const double beta = p.node->attr_float("beta", 1.0f);
  const int64_t n = p.channels;
  int64_t rows = 1, cols = 1;
  if (p.bias && p.bias->rank() == 2) rows = p.bias->dim(0);
  if (p.bias && p.bias->rank() >= 1) cols = p.bias->shape().back();
  Tensor c_new(DType::Float32, p.bias && p.bias->rank() == 2 ? Shape{rows, n} : Shape{n});
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < n; ++j) {
      const double c0 = p.bias ? p.bias->data<float>()[r * cols + (cols == 1 ? 0 : j)] : 0.0;
      c_new.data<float>()[r * n + j] = static_cast<float>((beta * c0 - a.mean[j]) * a.mul[j] + a.shift[j]);
    }
  return c_new;
}

Attribute float_attr(float v) {
  Attribute a;
  a.kind = Attribute::Kind::Float;
  a.f = v;
  return a;
}

}  // namespace

bool FoldBatchNorm::run(Model& model) {
  stats_ = {};
  Graph& g = model.graph;
  g.topo_sort();
  const int64_t opset = model.default_opset();
  const std::set<std::string> graph_outputs(g.outputs.begin(), g.outputs.end());
  std::map<std::string, int> reads;  // how many node inputs name each value
  std::map<std::string, Node*> producer;
  for (auto& n : g.nodes) {
    for (const auto& in : n->inputs)
      if (!in.empty()) ++reads[in];
    for (const auto& o : n->outputs)
      if (!o.empty()) producer[o] = n.get();
  }
  // Drops an initializer once nothing reads it (graph outputs stay).
  auto release = [&](const std::string& name) {
    if (name.empty() || --reads[name] > 0 || graph_outputs.count(name)) return;
    Value* v = g.find_value(name);
    if (v && v->initializer) g.remove_value(name);
  };
  auto add_initializer = [&](const std::string& base, Tensor t) {
    const std::string name = g.unique_value_name(base + "_bnfold");
    Value& v = g.get_or_add_value(name);
    v.type = TensorType::of(t.dtype(), t.shape());
    v.initializer = std::move(t);
    reads[name] = 1;
    return name;
  };

  std::set<const Node*> removed;
  for (auto& np : g.nodes) {
    Node& bn = *np;
    if (bn.op_type != "BatchNormalization" || !bn.domain.empty()) continue;
    bool inference_form = !bn.outputs.empty() && !bn.outputs[0].empty() && bn.inputs.size() == 5;
    for (size_t o = 1; o < bn.outputs.size(); ++o) inference_form &= bn.outputs[o].empty();
    if (opset >= 14 && bn.attr_int("training_mode", 0) != 0) inference_form = false;
    if (opset < 9 && bn.attr_int("spatial", 1) != 1) inference_form = false;
    const Tensor* params[4] = {};
    for (int i = 0; inference_form && i < 4; ++i) {
      params[i] = float32_initializer(g, bn.inputs[i + 1]);
      if (!params[i]) inference_form = false;
    }
    const std::string x = inference_form ? bn.inputs[0] : "";
    auto prod = x.empty() ? producer.end() : producer.find(x);
    Producer p;
    if (!inference_form || prod == producer.end() || reads[x] != 1 || graph_outputs.count(x) ||
        !describe_producer(g, *prod->second, &p)) {
      ++stats_.left_alone;
      continue;
    }
    const ChannelAffine affine = bn_affine(bn, params, p.channels);
    Node& target = *p.node;
    const std::string old_weight = target.inputs[1];
    const std::string old_bias = target.inputs.size() > 2 ? target.inputs[2] : "";
    Tensor new_weight = scaled_weight(p, affine);
    Tensor new_bias = p.kind == Producer::Kind::Gemm ? gemm_bias(p, affine) : conv_bias(p, affine, bn);
    target.inputs[1] = add_initializer(old_weight, std::move(new_weight));
    if (target.inputs.size() < 3) target.inputs.resize(3);
    target.inputs[2] = add_initializer(old_bias.empty() ? target.name + ".bias" : old_bias, std::move(new_bias));
    if (p.kind == Producer::Kind::Gemm) target.attrs["beta"] = float_attr(1.0f);
    release(old_weight);
    release(old_bias);
    for (int i = 1; i <= 4; ++i) release(bn.inputs[i]);

    // The producer takes over the BN's output name; X disappears.
    const std::string y = bn.outputs[0];
    Value& y_value = g.value(y);
    if (y_value.type.dtype == DType::Undefined && !y_value.type.has_shape) y_value.type = g.value(x).type;
    target.outputs[0] = y;
    producer[y] = &target;
    producer.erase(x);
    reads.erase(x);
    g.remove_value(x);
    removed.insert(&bn);
    switch (p.kind) {
      case Producer::Kind::Conv: ++stats_.folded_into_conv; break;
      case Producer::Kind::ConvTranspose: ++stats_.folded_into_conv_transpose; break;
      case Producer::Kind::Gemm: ++stats_.folded_into_gemm; break;
    }
  }
  if (removed.empty()) return false;
  std::vector<std::unique_ptr<Node>> kept;
  for (auto& np : g.nodes)
    if (!removed.count(np.get())) kept.push_back(std::move(np));
  g.nodes = std::move(kept);
  return true;
}

}  // namespace octet
