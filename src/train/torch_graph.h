// The ONNX-to-libtorch bridge: any graph of the executor's op set becomes a trainable libtorch
// computation. Float initializers become parameters (or buffers, for BatchNormalization running
// statistics); after training, write_back() puts the values into the same graph.
//
// The mapping is node by node, so that quantization-aware training can later wrap a node's
// inputs or outputs (fake-quant) through the hooks below without touching the op mapping.
//
// What becomes what (decided once, in the constructor):
//   parameters  FLOAT initializers feeding at least one input that carries weights (Conv/Gemm/
//               MatMul operands and biases, norm scales and biases, PRelu slopes, Add/Mul
//               operands, QuantizeLinear's x, ...). Initializers that only feed shape-like or
//               fixed inputs stay constants: shapes, axes, pads, Resize scales, Clip bounds,
//               Pow exponents, QuantizeLinear/DequantizeLinear scales and zero points, one-element
//               Max/Min operands (bounds like ReLU6's), inputs of non-differentiable ops.
//   buffers     FLOAT initializers feeding BatchNormalization's mean or var. In training they
//               are updated as PyTorch does: running = running * momentum + batch * (1 - momentum)
//               with ONNX's momentum (default 0.9), the batch variance taken UNBIASED (n / (n-1))
//               for the update while normalisation uses the biased one. (ONNX's own training-mode
//               formula uses the biased variance; PyTorch-exported models expect PyTorch's.)
//   constants   everything else (non-float initializers, Constant nodes).
// Numerics: float32 (DOUBLE stays double). FLOAT16/BFLOAT16 values are computed and returned
// in float32; UINT16/UINT32/UINT64 values (torch 1.13 has none) are held and returned as
// int32/int64/int64. QuantizeLinear runs as fake quantization (round half to even with a
// straight-through gradient, then clamp); its result is carried in float32 so that gradients
// reach the weights, and is returned as its integer type when it is a graph output. Eval-mode
// outputs agree with octet's reference executor to float rounding (tests/train/). Ops without
// a gradient (ArgMax, comparisons, integer shape arithmetic, QLinearConv, ...) run on the
// executor itself. No nondeterministic algorithm is used; seeding (torch::manual_seed, for
// Dropout) and the thread count (at::set_num_threads) are the caller's.
#pragma once

#include <torch/types.h>  // torch::Tensor; much lighter to compile than <torch/torch.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"

namespace octet::train {

// Called with a node and the torch value of one of its inputs (pre) or outputs (post); returns
// the value to use instead. Empty: identity. A QuantizeLinear output is seen as float32 holding
// integers (by DequantizeLinear and the movement ops) or as its integer type (by other ops).
using ValueHook = std::function<torch::Tensor(const Node& node, size_t index, const torch::Tensor& value)>;

class TorchGraph {
 public:
  // Throws Error naming the node for ops the bridge cannot map. Copies what it needs: `model`
  // need not outlive the TorchGraph. Copies of a TorchGraph share parameters and buffers.
  explicit TorchGraph(const Model& model);

  // Trainable parameters, in a stable order (sorted by initializer name).
  std::vector<torch::Tensor> parameters() const;
  std::vector<std::string> parameter_names() const;

  // Runs the graph. `training` selects batch statistics in BatchNormalization (updating the
  // running statistics with ONNX's momentum) and turns Dropout on; it is passed to every op.
  // Throws Error for missing or unknown inputs, a wrong element type or rank, and (naming the
  // node) for anything an op rejects.
  std::map<std::string, torch::Tensor> forward(const std::map<std::string, torch::Tensor>& inputs,
                                               bool training);
  // The single graph output (throws if the graph has several).
  torch::Tensor forward_one(const torch::Tensor& input, bool training);

  // Writes parameters and running statistics back into `model`'s initializers (same names,
  // float32); the graph structure is unchanged.
  void write_back(Model& model) const;

  void set_pre_hook(ValueHook hook) { pre_hook_ = std::move(hook); }
  void set_post_hook(ValueHook hook) { post_hook_ = std::move(hook); }

  // Running statistics (BatchNormalization mean/var), sorted by initializer name.
  std::vector<torch::Tensor> buffers() const;
  std::vector<std::string> buffer_names() const;

 private:
  struct Plan;  // nodes, their mappings, constants, value lifetimes (torch_graph.cpp)
  std::shared_ptr<const Plan> plan_;
  std::map<std::string, torch::Tensor> params_;   // trainable
  std::map<std::string, torch::Tensor> buffers_;  // running statistics
  ValueHook pre_hook_, post_hook_;
};

// Conversions between octet tensors and torch tensors (copies).
torch::Tensor to_torch(const Tensor& t);
Tensor from_torch(const torch::Tensor& t);

}  // namespace octet::train
