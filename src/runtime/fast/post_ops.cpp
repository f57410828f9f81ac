#include "runtime/fast/post_ops.h"

#include <limits>

#include "kernels/avx2/act_avx2.h"
#include "kernels/avx2/qgemm_avx2.h"
#include "kernels/avx512/act_zmm.h"
#include "runtime/fast/fast_op.h"

namespace octet {
namespace {

const Tensor* float_initializer(const Graph& g, const std::string& name) {
  const Value* v = name.empty() ? nullptr : g.find_value(name);
  return v && v->initializer && v->initializer->dtype() == DType::Float32 ? &*v->initializer : nullptr;
}

}  // namespace

namespace fast {

bool act_zmm() {
  static const bool zmm = kernels::qgemm_default_isa() == kernels::QgemmIsa::Avx512Vnni;
  return zmm;
}

void gelu(const float* x, int64_t n, float* y) {
  if (act_zmm()) kernels::gelu_f32_zmm(x, n, y);
  else kernels::gelu_f32_avx2(x, n, y);
}

void softmax_rows(const float* x, int64_t rows, int64_t n, float* y) {
  if (act_zmm()) kernels::softmax_rows_f32_zmm(x, rows, n, y);
  else kernels::softmax_rows_f32_avx2(x, rows, n, y);
}

}  // namespace fast

bool PostOps::describe(const Graph& g, int64_t opset, const Node& n, const std::string& x, PostOp* op) {
  if (!n.domain.empty() || n.outputs.size() != 1 || n.inputs.empty()) return false;
  *op = PostOp{};
  const bool binary = n.op_type == "Add" || n.op_type == "Mul" || n.op_type == "Sub" || n.op_type == "Div";
  if (binary) {
    if (n.inputs.size() != 2 || n.inputs[0] == n.inputs[1]) return false;
    const size_t xi = n.inputs[0] == x ? 0 : n.inputs[1] == x ? 1 : 2;
    if (xi == 2) return false;
    const Tensor* c = float_initializer(g, n.inputs[1 - xi]);
    if (!c) return false;
    using kernels::ScalarOp;
    if (c->numel() == 1) {
      op->kind = PostOp::Kind::Scalar;
      op->operand = c;
      op->s = c->data<float>()[0];
      op->scalar_op = n.op_type == "Add"   ? ScalarOp::Add
                      : n.op_type == "Mul" ? ScalarOp::Mul
                      : n.op_type == "Sub" ? (xi == 0 ? ScalarOp::Sub : ScalarOp::RSub)
                                           : (xi == 0 ? ScalarOp::Div : ScalarOp::RDiv);
      return true;
    }
    if (n.op_type != "Add") return false;
    // A row along the last dim: its shape, leading 1s dropped, is [len].
    for (size_t d = 0; d + 1 < c->rank(); ++d)
      if (c->dim(d) != 1) return false;
    op->kind = PostOp::Kind::AddRow;
    op->operand = c;
    return true;
  }
  if (n.inputs[0] != x) return false;
  if (n.op_type == "Gelu") {
    if (n.attr_string("approximate", "none") != "none") return false;
    op->kind = PostOp::Kind::Gelu;
    return true;
  }
  if (n.op_type == "Softmax") {
    op->kind = PostOp::Kind::Softmax;
    op->axis = n.attr_int("axis", opset < 13 ? 1 : -1);
    return true;
  }
  float lo = 0.f, hi = 0.f;
  if (!activation_bounds(g, n, &lo, &hi)) return false;
  op->kind = PostOp::Kind::Clamp;
  op->lo = lo;
  op->hi = hi;
  return true;
}

bool PostOps::fits(const PostOp& op, const Shape& shape) {
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (rank == 0) return false;
  switch (op.kind) {
    case PostOp::Kind::AddRow:
      return static_cast<int64_t>(op.operand->rank()) <= rank && op.operand->numel() == shape.back();
    case PostOp::Kind::Scalar:
      return static_cast<int64_t>(op.operand->rank()) <= rank;
    case PostOp::Kind::Softmax:
      return (op.axis < 0 ? op.axis + rank : op.axis) == rank - 1;
    case PostOp::Kind::Clamp:
    case PostOp::Kind::Gelu:
    case PostOp::Kind::AddTensor:  // the fast op compares the value's shape with the product's at run time
      return true;
  }
  return false;
}

bool PostOps::has_addend() const {
  for (const PostOp& op : ops_)
    if (op.kind == PostOp::Kind::AddTensor) return true;
  return false;
}

bool PostOps::fits(const Shape& shape) const {
  for (const PostOp& op : ops_)
    if (!fits(op, shape)) return false;
  return true;
}

void PostOps::apply(float* y, int64_t rows, int64_t cols, size_t first, const float* addend) const {
  const int64_t n = rows * cols;
  for (size_t i = first; i < ops_.size(); ++i) {
    const PostOp& op = ops_[i];
    switch (op.kind) {
      case PostOp::Kind::AddRow: {
        const float* b = op.operand->data<float>();
        const float inf = std::numeric_limits<float>::infinity();
        for (int64_t r = 0; r < rows; ++r) kernels::add_clamp_f32_avx2(y + r * cols, b, cols, -inf, inf, y + r * cols);
        break;
      }
      case PostOp::Kind::Scalar:
        kernels::scalar_op_f32_avx2(y, n, op.s, op.scalar_op, y);
        break;
      case PostOp::Kind::Clamp:
        kernels::add_clamp_f32_avx2(y, nullptr, n, op.lo, op.hi, y);
        break;
      case PostOp::Kind::Gelu:
        fast::gelu(y, n, y);
        break;
      case PostOp::Kind::Softmax:
        fast::softmax_rows(y, rows, cols, y);
        break;
      case PostOp::Kind::AddTensor: {  // y + r, the unfused Add's operation (addition commutes bit for bit)
        OCTET_CHECK(addend, "post ops: an AddTensor without its value");
        const float inf = std::numeric_limits<float>::infinity();
        kernels::add_clamp_f32_avx2(y, addend, n, -inf, inf, y);
        break;
      }
    }
  }
}

}  // namespace octet
