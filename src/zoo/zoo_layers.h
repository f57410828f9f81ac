// Private to src/zoo: the layer vocabulary the zoo models are written in, and the per-model
// factories zoo.cpp dispatches to.
//
// Every layer is emitted the way a training framework exports it: Conv with a [Cout, Cin/group, k, k]
// weight, BatchNormalization unfused with its running statistics, Linear as Gemm(transB=1) with an
// [out, in] weight (2-D inputs) or MatMul with an [in, out] weight plus Add (3-D inputs).
//
// Initialisation (one std::mt19937 per model, drawn in graph order, so a seed gives the same model):
//   conv and linear weights  He/Kaiming normal, std = sqrt(2 / fan_in) (fan_in = Cin/group * k * k)
//   conv and linear biases   uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)), PyTorch's default
//   BatchNormalization       scale 1, bias 0, running mean 0, running var 1
//   LayerNormalization       scale 1, bias 0
// Fixed numbers that are not weights (input normalisation, Clip bounds, the attention scale) are
// Constant nodes rather than initializers: the libtorch bridge (src/train/torch_graph.h) trains
// every float initializer, and these must stay fixed.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "ir/builder.h"

namespace octet::zoo {

// Fashion-MNIST pixel statistics (of the [0,1]-scaled training images), applied inside each graph.
constexpr float kFashionMnistMean = 0.2860f;
constexpr float kFashionMnistStd = 0.3530f;

// He-normal weights for a layer with `fan_in` inputs.
Tensor he_weights(const Shape& shape, int64_t fan_in, std::mt19937& rng);
// Uniform values in [lo, hi).
Tensor filled(const Shape& shape, float lo, float hi, std::mt19937& rng);

class LayerBuilder {
 public:
  LayerBuilder(const std::string& graph_name, int64_t opset, uint32_t seed);

  GraphBuilder& graph() { return b_; }
  std::mt19937& rng() { return rng_; }

  // The zoo's input: "image", float32 [N,1,28,28].
  std::string image_input();
  // (x - kFashionMnistMean) / kFashionMnistStd as Sub and Div.
  std::string normalize(const std::string& x);

  // Conv with square kernel `k`, symmetric padding `pad`; `bias` false for convs followed by BN.
  std::string conv(const std::string& x, const std::string& name, int64_t cin, int64_t cout, int64_t k,
                   int64_t stride, int64_t pad, int64_t group = 1, bool bias = true);
  std::string batch_norm(const std::string& x, const std::string& name, int64_t channels);
  std::string relu(const std::string& x, const std::string& name);
  // Clip(x, 0, 6) with min and max given as inputs (opset >= 11), as ReLU6 is exported.
  std::string relu6(const std::string& x, const std::string& name);
  std::string max_pool2(const std::string& x, const std::string& name);
  // GlobalAveragePool then Flatten: [N,C,H,W] -> [N,C].
  std::string global_pool_flatten(const std::string& x, const std::string& name);
  // Gemm(x, W[out,in], b, transB=1) for 2-D x.
  std::string linear_gemm(const std::string& x, const std::string& name, int64_t in, int64_t out);
  // MatMul(x, W[in,out]) + b for x of any rank >= 2.
  std::string linear_matmul(const std::string& x, const std::string& name, int64_t in, int64_t out);
  // LayerNormalization over the last axis (opset >= 17), epsilon 1e-5.
  std::string layer_norm(const std::string& x, const std::string& name, int64_t dim);

  // A float Constant node (not an initializer: see the file comment).
  std::string constant(const std::string& name, Tensor value);
  // An int64 initializer (Reshape shapes, axes); reused when asked for the same name twice.
  std::string int64s(const std::string& name, const std::vector<int64_t>& values);

  // Declares `x` the graph output under the contract name "logits" ([N, classes]) and returns the model.
  Model finish(const std::string& x, const std::string& doc, int64_t classes = 10);

 private:
  GraphBuilder b_;
  std::mt19937 rng_;
  std::string relu6_min_, relu6_max_;  // shared Constant nodes, made on first use
  std::map<std::string, std::vector<int64_t>> int64s_;
};

Model make_lenet(uint32_t seed);
Model make_resnet8(uint32_t seed);
Model make_mobilenetv2_tiny(uint32_t seed);
Model make_vit_tiny(uint32_t seed);
Model make_resnet18(uint32_t seed);

}  // namespace octet::zoo
