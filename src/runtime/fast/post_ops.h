// Element-wise nodes after a float matrix product, applied by the product's fast op to each block
// of rows it writes while the block is still in cache, instead of as nodes of their own that each
// read and write the whole tensor (a transformer's MatMul -> Add(bias) -> Gelu, or attention's
// MatMul -> Mul(scale) -> Softmax). The engine (runtime/engine.cpp) builds the chain; the fast
// ops of fast/matmul_f32.cpp run it.
//
// Exactness: Gelu and Softmax run the kernels the unfused nodes' fast ops run (fast::gelu,
// fast::softmax_rows below), whose per-element (per-row for Softmax) result does not depend on where
// a block starts; the others are one IEEE operation per element (add_clamp_f32_avx2,
// scalar_op_f32_avx2), as the unfused node computes it on whichever path it takes (fast op or
// reference). So the fused output equals the unfused engine's bit for bit; a bias or clamp folded
// into the SGEMM epilogue is the same single add or min/max after the sum. The engine fuses only
// ops that fit the product's inferred shape, so a run declines a chain (and its nodes then run one
// by one on the reference ops) only for inputs whose shapes contradict that inference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "kernels/avx2/eltwise_avx2.h"

namespace octet {

struct PostOp {
  enum class Kind {
    AddRow,   // + a float32 initializer holding one value per element of the last dim
    Scalar,   // (op) a float32 initializer scalar: scalar_op, s
    Clamp,    // Relu or Clip with constant bounds: min(hi, max(lo, v))
    Gelu,     // Gelu, approximate = "none"
    Softmax,  // Softmax along the last axis
    AddTensor,  // + a run-time float32 value of the product's whole shape (a residual connection),
                // which the fast op receives as its input kProductAddendInput; at most one a chain
  };
  Kind kind = Kind::Clamp;
  const Tensor* operand = nullptr;  // AddRow: the row; Scalar: the scalar tensor
  kernels::ScalarOp scalar_op = kernels::ScalarOp::Mul;
  float s = 0.f;
  float lo = 0.f, hi = 0.f;
  // Softmax's axis attribute (default 1 before opset 13, -1 from 13 on). Before 13 the rows are
  // the dims from `axis` on, from 13 on the dim `axis`: the last dim either way when `axis` is
  // the last one, the only case fused.
  int64_t axis = -1;
};

// Where a float MatMul / Gemm fast op receives a fused AddTensor's value: after the node's own
// inputs (Gemm's A, B, C; a MatMul's third slot absent).
constexpr size_t kProductAddendInput = 3;

namespace fast {

// Gelu and Softmax on the kernels this CPU runs fastest, one choice for the process: the AVX-512
// builds (kernels/avx512/act_zmm.h) where the INT8 GEMM takes its AVX-512 VNNI loop
// (kernels::qgemm_default_isa(), so OCTET_ISA=avx2 selects AVX2 here too), else the AVX2 ones
// (kernels/avx2/act_avx2.h). The fused chains and the unfused nodes' fast ops both call these.
bool act_zmm();
inline const char* act_isa() { return act_zmm() ? "avx512" : "avx2"; }
void gelu(const float* x, int64_t n, float* y);
void softmax_rows(const float* x, int64_t rows, int64_t n, float* y);

}  // namespace fast

class PostOps {
 public:
  // What node `n` does to `x`, one of its inputs, as a PostOp; false when it is not one of the
  // kinds above (or x is not the input such an op transforms, e.g. the divisor of a Div).
  static bool describe(const Graph& g, int64_t opset, const Node& n, const std::string& x, PostOp* op);

  void push(const PostOp& op) { ops_.push_back(op); }
  bool empty() const { return ops_.empty(); }
  size_t size() const { return ops_.size(); }
  const PostOp& operator[](size_t i) const { return ops_[i]; }

  // True when `op` applies to a product of this shape as the unfused node would, with the
  // product's shape as its result's (no broadcast that adds dims, a row as long as the last dim,
  // Softmax along the last axis). A dim of -1 is unknown; an empty shape fits nothing.
  static bool fits(const PostOp& op, const Shape& shape);
  // fits() for every op.
  bool fits(const Shape& shape) const;

  // Applies ops [first, size()) in order to `rows` whole rows of `cols` floats at y, in place;
  // addend: the same rows of an AddTensor's value (nullptr when the chain has none).
  void apply(float* y, int64_t rows, int64_t cols, size_t first = 0, const float* addend = nullptr) const;
  // Whether an op is an AddTensor.
  bool has_addend() const;

 private:
  std::vector<PostOp> ops_;
};

}  // namespace octet
