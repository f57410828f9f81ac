// The engine's float Softmax (rows along the last axis), exact Gelu and LayerNormalization on the
// kernels of kernels/avx2/act_avx2.h (on their AVX-512 builds where fast::act_zmm() says so,
// kernels/avx512/act_zmm.h): the transformer ops between the matrix products. Rows
// (Softmax, LayerNormalization) or contiguous ranges (Gelu) are split over the pool; each
// element's result does not depend on the split. Anything else (other axes, other types, Gelu's
// tanh form, broadcast LayerNormalization parameters) stays on the reference op.
#include <algorithm>

#include "kernels/avx2/act_avx2.h"
#include "kernels/avx512/act_zmm.h"
#include "runtime/fast/fast_op.h"
#include "runtime/fast/post_ops.h"

namespace octet {
namespace {

constexpr int64_t kGrain = 8192;  // elements per task: below this, threads cost more than they save

class SoftmaxF32 : public FastOp {
 public:
  SoftmaxF32(int64_t axis, bool coerce_2d) : axis_(axis), coerce_2d_(coerce_2d) {}
  std::string kernel() const override { return std::string("softmax_f32_rows_") + fast::act_isa(); }
  std::string precision() const override { return "fp32"; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    const int64_t rank = static_cast<int64_t>(x.rank());
    if (x.dtype() != DType::Float32 || rank == 0) return false;
    // Opset >= 13 runs along `axis`: rows only when it is the last one. Before, the input is
    // coerced to 2-D at `axis`, so the rows are the dims from `axis` on, for any valid axis.
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    if (axis < 0 || axis >= rank || (!coerce_2d_ && axis != rank - 1)) return false;
    int64_t n = 1;
    for (int64_t d = axis; d < rank; ++d) n *= x.dim(d);
    const int64_t rows = n == 0 ? 0 : x.numel() / n;
    Tensor y(DType::Float32, x.shape(), Tensor::Uninitialized{});
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    pool.parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, n)), [&](int64_t b, int64_t e) {
      fast::softmax_rows(xp + b * n, e - b, n, yp + b * n);
    });
    out = std::move(y);
    return true;
  }

 private:
  int64_t axis_;
  bool coerce_2d_;
};

class GeluF32 : public FastOp {
 public:
  std::string kernel() const override { return std::string("gelu_f32_") + fast::act_isa(); }
  std::string precision() const override { return "fp32"; }
  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    if (x.dtype() != DType::Float32) return false;
    Tensor y(DType::Float32, x.shape(), Tensor::Uninitialized{});
    const float* xp = x.data<float>();
    float* yp = y.data<float>();
    pool.parallel_for(x.numel(), kGrain, [&](int64_t b, int64_t e) { fast::gelu(xp + b, e - b, yp + b); });
    out = std::move(y);
    return true;
  }
};

// LayerNormalization's Y (Mean and InvStdDev not wanted) on float32, with Scale and B as long as
// X's normalised dims: rows split over the pool. Broadcast parameters, other types and nodes
// whose statistics outputs are used stay on the reference op.
class LayerNormF32 : public FastOp {
 public:
  LayerNormF32(int64_t axis, double epsilon) : axis_(axis), epsilon_(epsilon) {}
  std::string kernel() const override { return std::string("layernorm_f32_") + fast::act_isa(); }
  std::string precision() const override { return "fp32"; }

  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    const Tensor* scale = in.size() > 1 ? in[1] : nullptr;
    const Tensor* bias = in.size() > 2 && in[2] && in[2]->defined() ? in[2] : nullptr;
    const int64_t rank = static_cast<int64_t>(x.rank());
    if (x.dtype() != DType::Float32 || rank == 0 || !scale) return false;
    const int64_t axis = axis_ < 0 ? axis_ + rank : axis_;
    if (axis < 0 || axis >= rank) return false;
    const Shape tail(x.shape().begin() + axis, x.shape().end());
    if (!full_parameter(*scale, tail) || (bias && !full_parameter(*bias, tail))) return false;
    int64_t cols = 1;
    for (int64_t d : tail) cols *= d;
    const int64_t rows = cols == 0 ? 0 : x.numel() / cols;
    Tensor y(DType::Float32, x.shape(), Tensor::Uninitialized{});
    const float* xp = x.data<float>();
    const float* sp = scale->data<float>();
    const float* bp = bias ? bias->data<float>() : nullptr;
    float* yp = y.data<float>();
    pool.parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, cols)), [&](int64_t b, int64_t e) {
      if (fast::act_zmm()) kernels::layernorm_f32_zmm(e - b, cols, xp + b * cols, sp, bp, epsilon_, yp + b * cols);
      else kernels::layernorm_f32_avx2(e - b, cols, xp + b * cols, sp, bp, epsilon_, yp + b * cols);
    });
    out = std::move(y);
    return true;
  }

 private:
  // A float32 parameter holding one value per normalised element: its shape is `tail` up to
  // leading 1s on either side (anything that needs broadcasting is the reference op's).
  static bool full_parameter(const Tensor& p, const Shape& tail) {
    if (p.dtype() != DType::Float32) return false;
    auto strip = [](Shape s) {
      while (!s.empty() && s.front() == 1) s.erase(s.begin());
      return s;
    };
    return strip(p.shape()) == strip(tail);
  }

  int64_t axis_;
  double epsilon_;
};

}  // namespace

std::unique_ptr<FastOp> make_activation(const FastOpContext& ctx) {
  const Node& n = ctx.node;
  if (!n.domain.empty() || n.inputs.empty()) return nullptr;
  if (n.op_type == "Softmax") {
    const bool coerce_2d = ctx.opset < 13;
    return std::make_unique<SoftmaxF32>(n.attr_int("axis", coerce_2d ? 1 : -1), coerce_2d);
  }
  if (n.op_type == "Gelu" && n.attr_string("approximate", "none") == "none") return std::make_unique<GeluF32>();
  if (n.op_type == "LayerNormalization" && n.inputs.size() >= 2) {
    for (size_t o = 1; o < n.outputs.size(); ++o)
      if (!n.outputs[o].empty()) return nullptr;  // Mean / InvStdDev wanted: the reference op
    if (n.attr_int("stash_type", 1) != 1) return nullptr;  // the reference op checks other values
    return std::make_unique<LayerNormF32>(n.attr_int("axis", -1), n.attr_float("epsilon", 1e-5f));
  }
  return nullptr;
}

}  // namespace octet
