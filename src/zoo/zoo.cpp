#include "zoo/zoo.h"

#include <random>

#include "ir/builder.h"
#include "zoo/zoo_layers.h"

namespace octet::zoo {

namespace {

// tiny-cnn: Conv-BN-Relu-MaxPool, Conv-Relu, GlobalAveragePool, Flatten, Gemm, Softmax.
Model make_tiny_cnn(uint32_t seed) {
  std::mt19937 rng(seed);
  GraphBuilder b("tiny-cnn", 17);
  using GB = GraphBuilder;
  std::string x = b.input("image", DType::Float32, {-1, 1, 28, 28});
  std::string w1 = b.initializer("conv1.weight", he_weights({8, 1, 3, 3}, 9, rng));
  std::string b1 = b.initializer("conv1.bias", filled({8}, -0.1f, 0.1f, rng));
  std::string c1 = b.op("Conv", {x, w1, b1}, {{"kernel_shape", GB::ints({3, 3})}, {"pads", GB::ints({1, 1, 1, 1})}}, "conv1");
  std::string bn = b.op("BatchNormalization",
                        {c1, b.initializer("bn1.scale", filled({8}, 0.8f, 1.2f, rng)),
                         b.initializer("bn1.bias", filled({8}, -0.1f, 0.1f, rng)),
                         b.initializer("bn1.mean", filled({8}, -0.1f, 0.1f, rng)),
                         b.initializer("bn1.var", filled({8}, 0.5f, 1.5f, rng))},
                        {{"epsilon", GB::f(1e-5f)}}, "bn1");
  std::string r1 = b.op("Relu", {bn}, {}, "relu1");
  std::string p1 = b.op("MaxPool", {r1}, {{"kernel_shape", GB::ints({2, 2})}, {"strides", GB::ints({2, 2})}}, "pool1");
  std::string w2 = b.initializer("conv2.weight", he_weights({16, 8, 3, 3}, 72, rng));
  std::string b2 = b.initializer("conv2.bias", filled({16}, -0.1f, 0.1f, rng));
  std::string c2 = b.op("Conv", {p1, w2, b2}, {{"kernel_shape", GB::ints({3, 3})}, {"pads", GB::ints({1, 1, 1, 1})}}, "conv2");
  std::string r2 = b.op("Relu", {c2}, {}, "relu2");
  std::string gap = b.op("GlobalAveragePool", {r2}, {}, "gap");
  std::string flat = b.op("Flatten", {gap}, {{"axis", GB::i(1)}}, "flatten");
  std::string fw = b.initializer("fc.weight", he_weights({10, 16}, 16, rng));
  std::string fb = b.initializer("fc.bias", filled({10}, -0.1f, 0.1f, rng));
  std::string logits = b.op("Gemm", {flat, fw, fb}, {{"transB", GB::i(1)}}, "fc");
  std::string probs = b.op("Softmax", {logits}, {{"axis", GB::i(1)}}, "softmax");
  b.output(probs);
  Model m = b.build();
  m.doc = "tiny-cnn: a small random-weight CNN shipped for octet's demo and tests";
  return m;
}

}  // namespace

std::vector<std::string> model_names() {
  return {"tiny-cnn", "lenet", "resnet8", "mobilenetv2-tiny", "vit-tiny"};
}

Model make_model(const std::string& name, uint32_t seed) {
  if (name == "tiny-cnn") return make_tiny_cnn(seed);
  if (name == "lenet") return make_lenet(seed);
  if (name == "resnet8") return make_resnet8(seed);
  if (name == "mobilenetv2-tiny") return make_mobilenetv2_tiny(seed);
  if (name == "vit-tiny") return make_vit_tiny(seed);
  if (name == "resnet18") return make_resnet18(seed);
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  for (const auto& n : speed_model_names()) known += ", " + n;
  throw Error(str_cat("unknown zoo model '", name, "' (known: ", known, ")"));
}

std::vector<std::string> speed_model_names() { return {"resnet18"}; }

Tensor sample_input(const Model& model, int64_t batch, uint32_t seed) {
  const TensorType& t = model.graph.value(model.graph.inputs.at(0)).type;
  Shape s{batch};
  for (size_t d = 1; d < t.dims.size(); ++d) s.push_back(t.dims[d].value);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(0.f, 1.f);
  Tensor x(DType::Float32, s);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = dist(rng);
  return x;
}

Tensor sample_input(int64_t batch, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(0.f, 1.f);
  Tensor t(DType::Float32, {batch, 1, 28, 28});
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

}  // namespace octet::zoo
