// The engine's element-wise fast ops: per-tensor QuantizeLinear and DequantizeLinear between
// integer and float regions, float Add / Relu / Clip (Add with a fused Relu/Clip after it), Mul,
// Sub and Div by a constant scalar, and the integer residual add octet.QLinearAdd.
// Split over the pool in contiguous ranges; each element's result does not depend on the split.
#include <cmath>
#include <limits>
#include <type_traits>

#include "ir/error.h"
#include "kernels/avx2/eltwise_avx2.h"
#include "runtime/fast/fast_op.h"
#include "runtime/fast/qadd.h"

namespace octet {
namespace {

// Per-tensor scale and 8-bit zero point of a QuantizeLinear / DequantizeLinear; false otherwise.
bool qparams(const FastOpContext& ctx, float* scale, int32_t* zp, DType* type) {
  const Node& n = ctx.node;
  if (n.inputs.size() < 2 || n.attr_int("block_size", 0) != 0 || n.has_attr("output_dtype")) return false;
  return const_qparams(ctx, 1, DType::UInt8, scale, zp, type);
}

class Quantize : public FastOp {
 public:
  Quantize(float scale, int32_t zp, DType type) : scale_(scale), zp_(zp), type_(type) {}
  std::string kernel() const override { return type_ == DType::UInt8 ? "quantize_f32_u8_avx2" : "quantize_f32_s8_avx2"; }
  std::string precision() const override { return "fp32->int8"; }
  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    if (x.dtype() != DType::Float32) return false;
    Tensor y(type_, x.shape(), Tensor::Uninitialized{});
    const float* xp = x.data<float>();
    pool.parallel_for(x.numel(), kEltwiseGrain, [&](int64_t b, int64_t e) {
      if (type_ == DType::UInt8) kernels::quantize_f32_u8_avx2(xp + b, e - b, scale_, zp_, 0, 255, y.data<uint8_t>() + b);
      else kernels::quantize_f32_s8_avx2(xp + b, e - b, scale_, zp_, -128, 127, y.data<int8_t>() + b);
    });
    out = std::move(y);
    return true;
  }

 private:
  float scale_;
  int32_t zp_;
  DType type_;
};

class Dequantize : public FastOp {
 public:
  Dequantize(float scale, int32_t zp, DType type) : scale_(scale), zp_(zp), type_(type) {}
  std::string kernel() const override { return type_ == DType::UInt8 ? "dequantize_u8_f32_avx2" : "dequantize_s8_f32_avx2"; }
  std::string precision() const override { return "int8->fp32"; }
  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& x = *in[0];
    if (x.dtype() != type_) return false;
    Tensor y(DType::Float32, x.shape(), Tensor::Uninitialized{});
    float* yp = y.data<float>();
    pool.parallel_for(x.numel(), kEltwiseGrain, [&](int64_t b, int64_t e) {
      if (type_ == DType::UInt8) kernels::dequantize_u8_f32_avx2(x.data<uint8_t>() + b, e - b, scale_, zp_, yp + b);
      else kernels::dequantize_s8_f32_avx2(x.data<int8_t>() + b, e - b, scale_, zp_, yp + b);
    });
    out = std::move(y);
    return true;
  }

 private:
  float scale_;
  int32_t zp_;
  DType type_;
};

// Add of two float tensors of one shape, or of a tensor and one that broadcasts along its leading
// dims only (a bias row: [..., D] + [D] or [1, D], either order, D >= 8), or a lone Relu / Clip
// (binary = false). One float addition per element, as the reference: its bits.
class AddClamp : public FastOp {
 public:
  AddClamp(bool binary, float lo, float hi) : binary_(binary), lo_(lo), hi_(hi) {}
  std::string kernel() const override { return binary_ ? "add_f32_avx2" : "clamp_f32_avx2"; }
  std::string precision() const override { return "fp32"; }
  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor* a = in[0];
    if (a->dtype() != DType::Float32) return false;
    const Tensor* b = binary_ ? in[1] : nullptr;
    if (binary_ && (!b || b->dtype() != DType::Float32)) return false;
    int64_t row = 0;  // > 0: b is a row of this many elements repeated along a's leading dims
    if (b && b->shape() != a->shape()) {
      if (b->numel() > a->numel()) std::swap(a, b);  // a + b == b + a, bit for bit
      row = bias_row(a->shape(), b->shape());
      if (row < 8) return false;  // another broadcast, or rows too short for the vector kernel
    }
    Tensor y(DType::Float32, a->shape(), Tensor::Uninitialized{});
    const float* ap = a->data<float>();
    const float* bp = b ? b->data<float>() : nullptr;
    float* yp = y.data<float>();
    if (row > 0) {
      pool.parallel_for(a->numel() / row, std::max<int64_t>(1, kEltwiseGrain / row), [&](int64_t s, int64_t e) {
        for (int64_t r = s; r < e; ++r) kernels::add_clamp_f32_avx2(ap + r * row, bp, row, lo_, hi_, yp + r * row);
      });
    } else {
      pool.parallel_for(a->numel(), kEltwiseGrain, [&](int64_t s, int64_t e) {
        kernels::add_clamp_f32_avx2(ap + s, bp ? bp + s : nullptr, e - s, lo_, hi_, yp + s);
      });
    }
    out = std::move(y);
    return true;
  }

 private:
  // The length of the row that `small` is when it broadcasts against `big` along big's leading
  // dims only (small's shape, leading 1s dropped, is big's trailing dims, and small has no more
  // dims than big, so the result has big's shape); 0 otherwise.
  static int64_t bias_row(const Shape& big, const Shape& small) {
    if (small.size() > big.size()) return 0;
    size_t lead = 0;
    while (lead < small.size() && small[lead] == 1) ++lead;
    int64_t row = 1;
    for (size_t i = lead; i < small.size(); ++i) {
      if (small[i] != big[big.size() - small.size() + i]) return 0;
      row *= small[i];
    }
    return lead == small.size() ? 0 : row;  // all ones: a scalar, left to the reference
  }

  bool binary_;
  float lo_, hi_;
};

// A float tensor with a constant float scalar (attention's score scaling, input normalisation's
// Sub and Div): the output has the tensor's shape, each element one float operation, as the
// reference.
class ScalarArith : public FastOp {
 public:
  ScalarArith(size_t tensor_input, float s, kernels::ScalarOp op) : tensor_input_(tensor_input), s_(s), op_(op) {}
  std::string kernel() const override { return kernels::scalar_op_kernel_name(op_); }
  std::string precision() const override { return "fp32"; }
  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& a = *in[tensor_input_];
    const Tensor& s = *in[1 - tensor_input_];
    if (a.dtype() != DType::Float32 || s.rank() > a.rank()) return false;  // a rank-raising scalar: reference
    Tensor y(DType::Float32, a.shape(), Tensor::Uninitialized{});
    const float* ap = a.data<float>();
    float* yp = y.data<float>();
    pool.parallel_for(a.numel(), kEltwiseGrain,
                      [&](int64_t b, int64_t e) { kernels::scalar_op_f32_avx2(ap + b, e - b, s_, op_, yp + b); });
    out = std::move(y);
    return true;
  }

 private:
  size_t tensor_input_;
  float s_;
  kernels::ScalarOp op_;
};

}  // namespace

namespace {

// octet.QLinearAdd on two 8-bit tensors of one shape (a broadcast goes to the reference op).
class QAdd : public FastOp {
 public:
  explicit QAdd(const fast::QAddKernel& k) : k_(k) {}
  std::string kernel() const override { return k_.name(); }
  std::string precision() const override { return "int8"; }
  bool run(const std::vector<const Tensor*>& in, Tensor& out, ThreadPool& pool) const override {
    const Tensor& a = *in[0];
    const Tensor& b = *in[3];
    if (a.dtype() != k_.a_type() || b.dtype() != k_.b_type() || a.shape() != b.shape()) return false;
    Tensor y(k_.y_type(), a.shape(), Tensor::Uninitialized{});
    const auto* ap = static_cast<const uint8_t*>(a.raw());
    const auto* bp = static_cast<const uint8_t*>(b.raw());
    auto* yp = static_cast<uint8_t*>(y.raw());
    pool.parallel_for(a.numel(), kEltwiseGrain, [&](int64_t lo, int64_t hi) { k_.run(ap + lo, bp + lo, hi - lo, yp + lo); });
    out = std::move(y);
    return true;
  }

 private:
  fast::QAddKernel k_;
};

}  // namespace

std::unique_ptr<FastOp> make_qadd(const FastOpContext& ctx) {
  const Node& n = ctx.node;
  if (n.domain != "octet" || n.op_type != "QLinearAdd" || n.inputs.size() < 7 || n.outputs.size() != 1) return nullptr;
  const Value* av = ctx.graph.find_value(n.inputs[0]);
  const Value* bv = ctx.graph.find_value(n.inputs[3]);
  if (!av || !bv || av->initializer || bv->initializer) return nullptr;
  // A broadcast known at load goes to the reference op (and the profile says so).
  if (av->type.has_shape && bv->type.has_shape && av->type.dims != bv->type.dims) return nullptr;
  fast::QAddKernel k;
  if (!fast::QAddKernel::read(ctx, &k)) return nullptr;
  return std::make_unique<QAdd>(k);
}

std::unique_ptr<FastOp> make_eltwise(const FastOpContext& ctx) {
  const Node& n = ctx.node;
  if (!n.domain.empty() || n.outputs.size() != 1) return nullptr;
  float scale = 0;
  int32_t zp = 0;
  DType type = DType::Undefined;
  if (n.op_type == "QuantizeLinear") {
    if (!qparams(ctx, &scale, &zp, &type)) return nullptr;
    return std::make_unique<Quantize>(scale, zp, type);
  }
  if (n.op_type == "DequantizeLinear") {
    if (!qparams(ctx, &scale, &zp, &type)) return nullptr;
    const Value* x = ctx.graph.find_value(n.inputs[0]);
    if (x && x->initializer) return nullptr;  // constants are folded, not run
    return std::make_unique<Dequantize>(scale, zp, type);
  }
  if (n.op_type == "Add" && n.inputs.size() == 2) return std::make_unique<AddClamp>(true, ctx.act_min, ctx.act_max);
  if ((n.op_type == "Mul" || n.op_type == "Sub" || n.op_type == "Div") && n.inputs.size() == 2) {
    using kernels::ScalarOp;
    for (size_t i = 0; i < 2; ++i) {  // i: the constant's input
      const Tensor* c = constant_input(ctx, i);
      if (!c || c->dtype() != DType::Float32 || c->numel() != 1 || constant_input(ctx, 1 - i)) continue;
      const ScalarOp op = n.op_type == "Mul" ? ScalarOp::Mul
                          : n.op_type == "Sub" ? (i == 1 ? ScalarOp::Sub : ScalarOp::RSub)
                                               : (i == 1 ? ScalarOp::Div : ScalarOp::RDiv);
      return std::make_unique<ScalarArith>(1 - i, c->data<float>()[0], op);
    }
    return nullptr;
  }
  float lo = 0.f, hi = 0.f;
  if (activation_bounds(ctx.graph, n, &lo, &hi)) return std::make_unique<AddClamp>(false, lo, hi);  // Relu, Clip
  return nullptr;
}

}  // namespace octet
