// The engine's fast operators: a node's work prepared once at load (weights packed, geometry
// read, activation fused) and run on the optimized kernels of src/kernels/<isa>. Each has a
// reference twin: the registry op of the same node, which the engine falls back to whenever a
// fast op does not apply (make_fast_op returns nullptr, or run() meets a shape it was not
// prepared for and returns false).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/thread_pool.h"

namespace octet {

class FastOp {
 public:
  virtual ~FastOp() = default;
  // Computes outputs[0] from the inputs (the node's inputs, nullptr where absent). Returns false,
  // leaving outputs untouched, when the inputs do not fit what was prepared (the engine then runs
  // the reference op). Bad data that no path could run throws Error naming the node.
  virtual bool run(const std::vector<const Tensor*>& inputs, Tensor& output, ThreadPool& pool) const = 0;
  // Kernel name for the profile, e.g. "conv_f32_im2col_sgemm_6x16_avx2".
  virtual std::string kernel() const = 0;
  // "fp32" or "int8".
  virtual std::string precision() const = 0;
  // Whether each sample's result is the same bits whatever the batch it comes in (the engine
  // splits large batches only when every step's is: runtime/batch_split.h). octet's own kernels
  // are; oneDNN picks its plan (blocking, bands of rows) by the problem's shape and promises no
  // summation order across them.
  virtual bool batch_invariant() const { return true; }
};

class PostOps;  // runtime/fast/post_ops.h

// What the planner tells a fast op about its node.
struct FastOpContext {
  const Node& node;
  const Graph& graph;
  int64_t opset;
  // A Relu or Clip with constant bounds that the op should apply to its output (the engine then
  // skips that node); -inf / +inf when none.
  float act_min, act_max;
  // Float convolutions may run on oneDNN (EngineOptions::onednn).
  bool onednn = true;
  // Float MatMul / Gemm: the element-wise nodes after it that the op applies to its output (the
  // engine then skips them; post_ops.h), in place of act_min / act_max. nullptr: none.
  const PostOps* post = nullptr;
  // Conv or octet.QLinearConv: the residual block's Add after it that the engine fuses (a float
  // Add, then act_min / act_max from the Relu/Clip after it, if any; or an octet.QLinearAdd, its
  // clamp in its attributes). run() gets the residual as input residual_input(node) (after the
  // node's own, absent ones nullptr) and returns the Add's result, or declines. An op that cannot
  // take this Add returns nullptr, and the engine fuses nothing. Null: none.
  const Node* residual_add = nullptr;
  // A float MatMul of two run-time operands: operand i (0: A, 1: B) comes as the input of a
  // Transpose that the engine folded into it, to be read through that Transpose's permutation
  // (output dim j is input dim perm[j]; the default reversal spelled out). nullptr: the operand as
  // it is. make_fast returns nullptr for a node whose op cannot read such a view.
  const std::vector<int64_t>* operand_perm[2] = {nullptr, nullptr};
  // The same MatMul's output goes through a Transpose (this permutation, which keeps the last dim
  // last) that the engine folded into it: run() returns the product in the Transpose's layout.
  // nullptr: none. Only with no other fused node after the product.
  const std::vector<int64_t>* output_perm = nullptr;
};
// Elements (or bytes) per task of an element-wise pass (an Add, a QLinearAdd, a fused residual's
// pass over a convolution's output): below this, threads cost more than they save.
constexpr int64_t kEltwiseGrain = 16384;
// Where a fused residual add's other operand comes in a convolution's inputs: after X, W, B of a
// Conv, after the nine of an octet.QLinearConv.
constexpr size_t kConvResidualInput = 3, kQConvResidualInput = 9;
inline size_t residual_input(const Node& conv) {
  return conv.op_type == "QLinearConv" ? kQConvResidualInput : kConvResidualInput;
}

// Each returns nullptr when the node is outside what its fast op covers.
std::unique_ptr<FastOp> make_conv_f32(const FastOpContext& ctx);       // Conv
std::unique_ptr<FastOp> make_matmul_f32(const FastOpContext& ctx);     // MatMul (constant or run-time B), Gemm
std::unique_ptr<FastOp> make_qconv(const FastOpContext& ctx);          // octet.QLinearConv
std::unique_ptr<FastOp> make_qmatmul(const FastOpContext& ctx);        // octet.QLinearMatMul
std::unique_ptr<FastOp> make_qadd(const FastOpContext& ctx);           // octet.QLinearAdd (one shape)
std::unique_ptr<FastOp> make_eltwise(const FastOpContext& ctx);  // Quantize/DequantizeLinear, Add, Relu, Clip,
                                                                 // Mul/Sub/Div by a constant scalar
std::unique_ptr<FastOp> make_maxpool(const FastOpContext& ctx);  // 2-D MaxPool on float / uint8 / int8
std::unique_ptr<FastOp> make_global_avgpool(const FastOpContext& ctx);  // float GlobalAveragePool
std::unique_ptr<FastOp> make_qglobal_avgpool(const FastOpContext& ctx);  // octet.QLinearGlobalAveragePool
std::unique_ptr<FastOp> make_transpose(const FastOpContext& ctx);   // Transpose of 32-bit elements
std::unique_ptr<FastOp> make_activation(const FastOpContext& ctx);  // float Softmax (last axis), Gelu,
                                                                    // LayerNormalization

// True when the CPU runs the AVX2 kernels (all fast ops need them).
bool fast_kernels_available();

// Whether perm holds each of 0 .. rank - 1 once (a Transpose's permutation, checked before it is
// used to index dims and strides).
bool is_permutation(const std::vector<int64_t>& perm, size_t rank);

// Input i of the node when it is an initializer, else nullptr (absent, or computed at run time).
const Tensor* constant_input(const FastOpContext& ctx, size_t i);

// A per-tensor constant scale (positive, finite float32) and zero point (8-bit, or absent: 0 of
// `absent_type`) at inputs i and i + 1 of the node; false when they are not.
bool const_qparams(const FastOpContext& ctx, size_t i, DType absent_type, float* scale, int32_t* zp, DType* type);

// The clamp [lo, hi] a Relu (0, +inf) or a Clip with constant float bounds (attributes before
// opset 11, initializer inputs after) applies; false for any other node or unusable bounds. The
// one rule for "which activation can be fused", shared by the engine and the Q/DQ lowering
// (src/passes/lower_qdq.cpp), so both fuse exactly the same nodes.
bool activation_bounds(const Graph& g, const Node& n, float* lo, float* hi);

}  // namespace octet
