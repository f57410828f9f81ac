// vit-tiny: a Vision Transformer (Dosovitskiy et al. 2021) for 28x28 input: 4x4 patches (49 tokens),
// embed dim 64, 3 pre-norm encoder blocks with 4-head self-attention and a 128-wide Gelu MLP, mean
// pooling over tokens. Opset 20 for the Gelu op (at opset 17 it would be an Erf subgraph).
//
// Every Reshape keeps the batch with 0 (and the token count with 0 or -1), so the graph runs with
// any batch size.
#include <cmath>

#include "zoo/zoo_layers.h"

namespace octet::zoo {

namespace {

constexpr int64_t kPatch = 4;
constexpr int64_t kTokens = (28 / kPatch) * (28 / kPatch);  // 49
constexpr int64_t kDim = 64;
constexpr int64_t kHeads = 4;
constexpr int64_t kHeadDim = kDim / kHeads;  // 16
constexpr int64_t kMlp = 128;
constexpr int64_t kDepth = 3;

std::string transpose(LayerBuilder& L, const std::string& x, std::vector<int64_t> perm, const std::string& name) {
  return L.graph().op("Transpose", {x}, {{"perm", GraphBuilder::ints(std::move(perm))}}, name);
}

std::string reshape(LayerBuilder& L, const std::string& x, const std::string& shape, const std::string& name) {
  return L.graph().op("Reshape", {x, shape}, {}, name);
}

// Multi-head self-attention on [N,T,D] -> [N,T,D], before the residual Add.
std::string attention(LayerBuilder& L, const std::string& x, const std::string& name) {
  std::string to_heads = L.int64s("shape.to_heads", {0, 0, kHeads, kHeadDim});   // [N,T,H,d]
  std::string from_heads = L.int64s("shape.from_heads", {0, 0, kDim});           // [N,T,D]
  auto heads = [&](const std::string& proj, std::vector<int64_t> perm) {
    std::string y = L.linear_matmul(x, name + "." + proj, kDim, kDim);
    y = reshape(L, y, to_heads, name + "." + proj + ".split_heads");
    return transpose(L, y, std::move(perm), name + "." + proj + ".transpose");
  };
  std::string q = heads("q", {0, 2, 1, 3});  // [N,H,T,d]
  std::string k = heads("k", {0, 2, 3, 1});  // [N,H,d,T]
  std::string v = heads("v", {0, 2, 1, 3});  // [N,H,T,d]
  std::string scores = L.graph().op("MatMul", {q, k}, {}, name + ".scores");  // [N,H,T,T]
  std::string scale = L.constant(name + ".scale", Tensor::scalar<float>(1.f / std::sqrt(static_cast<float>(kHeadDim))));
  scores = L.graph().op("Mul", {scores, scale}, {}, name + ".scale_scores");
  std::string probs = L.graph().op("Softmax", {scores}, {{"axis", GraphBuilder::i(-1)}}, name + ".softmax");
  std::string ctx = L.graph().op("MatMul", {probs, v}, {}, name + ".context");  // [N,H,T,d]
  ctx = transpose(L, ctx, {0, 2, 1, 3}, name + ".merge.transpose");             // [N,T,H,d]
  ctx = reshape(L, ctx, from_heads, name + ".merge_heads");                      // [N,T,D]
  return L.linear_matmul(ctx, name + ".out", kDim, kDim);
}

std::string encoder_block(LayerBuilder& L, const std::string& x, const std::string& name) {
  std::string a = attention(L, L.layer_norm(x, name + ".norm1", kDim), name + ".attn");
  std::string h = L.graph().op("Add", {x, a}, {}, name + ".residual1");
  std::string m = L.linear_matmul(L.layer_norm(h, name + ".norm2", kDim), name + ".mlp.fc1", kDim, kMlp);
  m = L.graph().op("Gelu", {m}, {}, name + ".mlp.gelu");
  m = L.linear_matmul(m, name + ".mlp.fc2", kMlp, kDim);
  return L.graph().op("Add", {h, m}, {}, name + ".residual2");
}

}  // namespace

Model make_vit_tiny(uint32_t seed) {
  LayerBuilder L("vit-tiny", 20, seed);
  std::string x = L.normalize(L.image_input());
  x = L.conv(x, "patch_embed", 1, kDim, kPatch, kPatch, 0);                       // [N,D,7,7]
  x = reshape(L, x, L.int64s("shape.flatten_patches", {0, kDim, -1}), "patch_embed.flatten");  // [N,D,T]
  x = transpose(L, x, {0, 2, 1}, "patch_embed.transpose");                         // [N,T,D]
  std::string pos = L.graph().initializer("pos_embed", [&] {
    std::normal_distribution<float> dist(0.f, 0.02f);
    Tensor t(DType::Float32, {1, kTokens, kDim});
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(L.rng());
    return t;
  }());
  x = L.graph().op("Add", {x, pos}, {}, "pos_embed.add");
  for (int64_t i = 0; i < kDepth; ++i) x = encoder_block(L, x, str_cat("blocks.", i));
  x = L.layer_norm(x, "norm", kDim);
  x = L.graph().op("ReduceMean", {x, L.int64s("axes.tokens", {1})}, {{"keepdims", GraphBuilder::i(0)}},
                   "token_mean");  // [N,D]
  x = L.linear_gemm(x, "head", kDim, 10);
  return L.finish(x, "vit-tiny: 4x4 patch embedding (dim 64), learned position embedding, 3 pre-norm "
                     "transformer encoder blocks (4-head self-attention, Gelu MLP 128), mean pooling, "
                     "random He-normal weights; input image [N,1,28,28] in [0,1], output logits [N,10]");
}

}  // namespace octet::zoo
