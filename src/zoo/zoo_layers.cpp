#include "zoo/zoo_layers.h"

#include <cmath>

namespace octet::zoo {

Tensor he_weights(const Shape& shape, int64_t fan_in, std::mt19937& rng) {
  std::normal_distribution<float> dist(0.f, std::sqrt(2.f / static_cast<float>(fan_in)));
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

Tensor filled(const Shape& shape, float lo, float hi, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

namespace {

Tensor full(const Shape& shape, float v) {
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = v;
  return t;
}

Tensor pytorch_bias(int64_t n, int64_t fan_in, std::mt19937& rng) {
  float bound = 1.f / std::sqrt(static_cast<float>(fan_in));
  return filled({n}, -bound, bound, rng);
}

}  // namespace

LayerBuilder::LayerBuilder(const std::string& graph_name, int64_t opset, uint32_t seed)
    : b_(graph_name, opset), rng_(seed) {}

std::string LayerBuilder::image_input() { return b_.input("image", DType::Float32, {-1, 1, 28, 28}); }

std::string LayerBuilder::normalize(const std::string& x) {
  std::string mean = constant("input.mean", Tensor::scalar<float>(kFashionMnistMean));
  std::string stddev = constant("input.std", Tensor::scalar<float>(kFashionMnistStd));
  std::string centred = b_.op("Sub", {x, mean}, {}, "input.sub_mean");
  return b_.op("Div", {centred, stddev}, {}, "input.div_std");
}

std::string LayerBuilder::conv(const std::string& x, const std::string& name, int64_t cin, int64_t cout,
                               int64_t k, int64_t stride, int64_t pad, int64_t group, bool bias) {
  OCTET_CHECK(cin % group == 0 && cout % group == 0, name, ": channels not divisible by group");
  int64_t fan_in = cin / group * k * k;
  std::vector<std::string> inputs = {
      x, b_.initializer(name + ".weight", he_weights({cout, cin / group, k, k}, fan_in, rng_))};
  if (bias) inputs.push_back(b_.initializer(name + ".bias", pytorch_bias(cout, fan_in, rng_)));
  std::map<std::string, Attribute> attrs = {{"kernel_shape", GraphBuilder::ints({k, k})},
                                            {"strides", GraphBuilder::ints({stride, stride})},
                                            {"pads", GraphBuilder::ints({pad, pad, pad, pad})}};
  if (group != 1) attrs["group"] = GraphBuilder::i(group);
  return b_.op("Conv", inputs, std::move(attrs), name);
}

std::string LayerBuilder::batch_norm(const std::string& x, const std::string& name, int64_t channels) {
  return b_.op("BatchNormalization",
               {x, b_.initializer(name + ".scale", full({channels}, 1.f)),
                b_.initializer(name + ".bias", full({channels}, 0.f)),
                b_.initializer(name + ".mean", full({channels}, 0.f)),
                b_.initializer(name + ".var", full({channels}, 1.f))},
               {{"epsilon", GraphBuilder::f(1e-5f)}, {"momentum", GraphBuilder::f(0.9f)}}, name);
}

std::string LayerBuilder::relu(const std::string& x, const std::string& name) {
  return b_.op("Relu", {x}, {}, name);
}

std::string LayerBuilder::relu6(const std::string& x, const std::string& name) {
  if (relu6_min_.empty()) {
    relu6_min_ = constant("relu6.min", Tensor::scalar<float>(0.f));
    relu6_max_ = constant("relu6.max", Tensor::scalar<float>(6.f));
  }
  return b_.op("Clip", {x, relu6_min_, relu6_max_}, {}, name);
}

std::string LayerBuilder::max_pool2(const std::string& x, const std::string& name) {
  return b_.op("MaxPool", {x},
               {{"kernel_shape", GraphBuilder::ints({2, 2})}, {"strides", GraphBuilder::ints({2, 2})}}, name);
}

std::string LayerBuilder::global_pool_flatten(const std::string& x, const std::string& name) {
  std::string gap = b_.op("GlobalAveragePool", {x}, {}, name);
  return b_.op("Flatten", {gap}, {{"axis", GraphBuilder::i(1)}}, name + ".flatten");
}

std::string LayerBuilder::linear_gemm(const std::string& x, const std::string& name, int64_t in, int64_t out) {
  std::string w = b_.initializer(name + ".weight", he_weights({out, in}, in, rng_));
  std::string bias = b_.initializer(name + ".bias", pytorch_bias(out, in, rng_));
  return b_.op("Gemm", {x, w, bias}, {{"transB", GraphBuilder::i(1)}}, name);
}

std::string LayerBuilder::linear_matmul(const std::string& x, const std::string& name, int64_t in, int64_t out) {
  std::string w = b_.initializer(name + ".weight", he_weights({in, out}, in, rng_));
  std::string bias = b_.initializer(name + ".bias", pytorch_bias(out, in, rng_));
  std::string y = b_.op("MatMul", {x, w}, {}, name + ".matmul");
  return b_.op("Add", {y, bias}, {}, name + ".add_bias");
}

std::string LayerBuilder::layer_norm(const std::string& x, const std::string& name, int64_t dim) {
  return b_.op("LayerNormalization",
               {x, b_.initializer(name + ".scale", full({dim}, 1.f)),
                b_.initializer(name + ".bias", full({dim}, 0.f))},
               {{"axis", GraphBuilder::i(-1)}, {"epsilon", GraphBuilder::f(1e-5f)}}, name);
}

std::string LayerBuilder::constant(const std::string& name, Tensor value) {
  Attribute a;
  a.kind = Attribute::Kind::Tensor;
  a.t = std::move(value);
  return b_.op("Constant", {}, {{"value", std::move(a)}}, name);
}

std::string LayerBuilder::int64s(const std::string& name, const std::vector<int64_t>& values) {
  auto it = int64s_.find(name);
  if (it != int64s_.end()) {
    OCTET_CHECK(it->second == values, "zoo initializer '", name, "' redefined with other values");
    return name;
  }
  int64s_[name] = values;
  return b_.initializer(name, Tensor::from_vector<int64_t>({static_cast<int64_t>(values.size())}, values));
}

Model LayerBuilder::finish(const std::string& x, const std::string& doc, int64_t classes) {
  b_.output(x);
  Model m = b_.build();
  // The builder names outputs "<node>_out"; the zoo contract names the model output "logits".
  Node* producer = nullptr;
  for (auto& n : m.graph.nodes) {
    for (auto& in : n->inputs) OCTET_CHECK(in != x, "zoo output '", x, "' is consumed inside the graph");
    if (!n->outputs.empty() && n->outputs[0] == x) producer = n.get();
  }
  OCTET_CHECK(producer != nullptr, "no node produces '", x, "'");
  producer->outputs[0] = "logits";
  m.graph.remove_value(x);
  // Typed, so that a model saved straight from the zoo passes onnx.checker's full check.
  m.graph.get_or_add_value("logits").type.dtype = DType::Float32;
  m.graph.value("logits").type.has_shape = true;
  m.graph.value("logits").type.dims = {Dim::symbol("N"), Dim::known(classes)};
  m.graph.outputs = {"logits"};
  m.doc = doc;
  return m;
}

}  // namespace octet::zoo
