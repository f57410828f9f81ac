// Gemm and MatMul. Float types compute through kernels::gemm_ref / matmul_ref (f16 and bf16 in
// float); MatMul on integers wraps like numpy; Gemm on integers computes in double (alpha and
// beta are floats) and truncates toward zero like a Cast.
#include <string>
#include <vector>

#include "kernels/ref/gemm_ref.h"
#include "runtime/ops/nn_common.h"
#include "runtime/ops/op_util.h"

namespace octet {
namespace {

using namespace nn_detail;

bool gemm_dtype_ok(DType t) {
  return is_float_type(t) || t == DType::Int32 || t == DType::Int64 || t == DType::UInt32 ||
         t == DType::UInt64;
}

bool matmul_dtype_ok(DType t) {
  return is_float_type(t) || (dtype_is_integer(t) && t != DType::Int4 && t != DType::UInt4);
}

// ---- Gemm ----

struct GemmShape {
  int64_t M = -1, N = -1, K = -1;  // -1 where unknown
};

// a, b: dims of A and B (rank 2, -1 unknown); c: dims of C or nullptr.
GemmShape gemm_shape(const Node& node, const std::vector<int64_t>& a, const std::vector<int64_t>& b,
                     const std::vector<int64_t>* c) {
  if (a.size() != 2) fail(node, str_cat("input A must be 2-D, got rank ", a.size()));
  if (b.size() != 2) fail(node, str_cat("input B must be 2-D, got rank ", b.size()));
  const bool ta = node.attr_int("transA", 0) != 0, tb = node.attr_int("transB", 0) != 0;
  GemmShape s;
  s.M = ta ? a[1] : a[0];
  s.K = ta ? a[0] : a[1];
  const int64_t kb = tb ? b[1] : b[0];
  s.N = tb ? b[0] : b[1];
  if (s.K >= 0 && kb >= 0 && s.K != kb)
    fail(node, str_cat("inner dims do not match: op(A) is [", s.M, ",", s.K, "] and op(B) is [", kb,
                       ",", s.N, "] (transA=", ta, ", transB=", tb, ")"));
  if (s.K < 0) s.K = kb;
  if (c) {
    if (c->size() > 2) fail(node, str_cat("input C must have rank <= 2, got rank ", c->size()));
    const int64_t want[2] = {s.M, s.N};
    for (size_t i = 0; i < c->size(); ++i) {
      const int64_t cd = (*c)[i], od = want[2 - c->size() + i];
      if (cd >= 0 && od >= 0 && cd != 1 && cd != od)
        fail(node, str_cat("input C of shape ", shape_str(*c),
                           " cannot be broadcast to the output [", s.M, ",", s.N, "]"));
    }
  }
  return s;
}

void run_gemm(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& A = ctx.input(0);
  const Tensor& B = ctx.input(1);
  const Tensor* C = ctx.has_input(2) ? ctx.inputs[2] : nullptr;
  if (!gemm_dtype_ok(A.dtype()))
    fail(node, str_cat("element type ", dtype_name(A.dtype()), " is not supported"));
  require_same_dtype(node, A.dtype(), "input A", B.dtype(), "input B");
  if (C) require_same_dtype(node, A.dtype(), "input A", C->dtype(), "input C");
  const GemmShape s = gemm_shape(node, A.shape(), B.shape(), C ? &C->shape() : nullptr);

  kernels::GemmParams p;
  p.M = s.M;
  p.N = s.N;
  p.K = s.K;
  p.trans_a = node.attr_int("transA", 0) != 0;
  p.trans_b = node.attr_int("transB", 0) != 0;
  p.alpha = node.attr_float("alpha", 1.0f);
  p.beta = node.attr_float("beta", 1.0f);
  if (C) {
    const Shape& cs = C->shape();
    const int64_t rows = cs.size() == 2 ? cs[0] : 1;
    const int64_t cols = cs.empty() ? 1 : cs.back();
    p.c_stride_row = rows == 1 ? 0 : cols;
    p.c_stride_col = cols == 1 ? 0 : 1;
  }
  // Integers go through double: alpha and beta are floats, the result is cast back.
  const DType ct = is_float_type(A.dtype()) ? compute_dtype(A.dtype()) : DType::Float64;
  const Tensor ac = to_dtype(A, ct), bc = to_dtype(B, ct);
  const Tensor cc = C ? to_dtype(*C, ct) : Tensor();
  Tensor y(ct, {s.M, s.N});
  dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    kernels::gemm_ref(p, ac.data<T>(), bc.data<T>(), C ? cc.data<T>() : nullptr, y.data<T>());
  });
  ctx.outputs[0] = to_dtype(y, A.dtype());
}

void infer_gemm(InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorType& A = ctx.input(0);
  const TensorType& B = ctx.input(1);
  const TensorType* C = ctx.has_input(2) ? ctx.inputs[2] : nullptr;
  if (A.dtype != DType::Undefined && !gemm_dtype_ok(A.dtype))
    fail(node, str_cat("element type ", dtype_name(A.dtype), " is not supported"));
  if (A.dtype != DType::Undefined && B.dtype != DType::Undefined)
    require_same_dtype(node, A.dtype, "input A", B.dtype, "input B");
  TensorType out;
  out.dtype = A.dtype;
  const std::vector<int64_t> a = A.has_shape ? known_dims(A) : std::vector<int64_t>{-1, -1};
  const std::vector<int64_t> b = B.has_shape ? known_dims(B) : std::vector<int64_t>{-1, -1};
  std::vector<int64_t> c;
  if (C && C->has_shape) c = known_dims(*C);
  const GemmShape s = gemm_shape(node, a, b, C && C->has_shape ? &c : nullptr);
  // M and N may be symbolic in A / B: pass those through.
  const bool ta = node.attr_int("transA", 0) != 0, tb = node.attr_int("transB", 0) != 0;
  std::vector<Dim> pass(2);
  if (A.has_shape) pass[0] = A.dims[ta ? 1 : 0];
  if (B.has_shape) pass[1] = B.dims[tb ? 0 : 1];
  ctx.outputs[0] = make_type(A.dtype, {s.M, s.N}, pass);
}

// ---- MatMul ----

void run_matmul(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& A = ctx.input(0);
  const Tensor& B = ctx.input(1);
  if (!matmul_dtype_ok(A.dtype()))
    fail(node, str_cat("element type ", dtype_name(A.dtype()), " is not supported"));
  require_same_dtype(node, A.dtype(), "input A", B.dtype(), "input B");
  if (A.rank() == 0 || B.rank() == 0)
    fail(node, str_cat("inputs must have rank >= 1, got shapes ", shape_str(A.shape()), " and ",
                       shape_str(B.shape())));
  // numpy: a 1-D A is a row [1, K], a 1-D B a column [K, 1]; the added dim is removed after.
  Shape a = A.shape(), b = B.shape();
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), 1);
  if (b_vec) b.push_back(1);
  const int64_t M = a[a.size() - 2], K = a.back(), N = b.back();
  if (b[b.size() - 2] != K)
    fail(node, str_cat("inner dims do not match: A is ", shape_str(A.shape()), " and B is ",
                       shape_str(B.shape()), " (", K, " vs ", b[b.size() - 2], ")"));
  const Shape batch_a(a.begin(), a.end() - 2), batch_b(b.begin(), b.end() - 2);
  const Shape batch = broadcast_shapes(batch_a, batch_b, node);
  Shape out = batch;
  if (!a_vec) out.push_back(M);
  if (!b_vec) out.push_back(N);

  const DType ct = is_float_type(A.dtype()) ? compute_dtype(A.dtype()) : A.dtype();
  const Tensor ac = to_dtype(A, ct), bc = to_dtype(B, ct);
  Tensor y(ct, out);
  dispatch_arith(ct, node.describe(), [&](auto tag) {
    using T = decltype(tag);
    const T* ap = ac.data<T>();
    const T* bp = bc.data<T>();
    T* yp = y.data<T>();
    for_each_broadcast2(batch_a, batch_b, batch, [&](int64_t i, int64_t ia, int64_t ib) {
      kernels::matmul_ref(M, N, K, ap + ia * M * K, bp + ib * K * N, yp + i * M * N);
    });
  });
  ctx.outputs[0] = to_dtype(y, A.dtype());
}

void infer_matmul(InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorType& A = ctx.input(0);
  const TensorType& B = ctx.input(1);
  if (A.dtype != DType::Undefined && !matmul_dtype_ok(A.dtype))
    fail(node, str_cat("element type ", dtype_name(A.dtype), " is not supported"));
  if (A.dtype != DType::Undefined && B.dtype != DType::Undefined)
    require_same_dtype(node, A.dtype, "input A", B.dtype, "input B");
  TensorType out;
  out.dtype = A.dtype;
  if (!A.has_shape || !B.has_shape) {
    ctx.outputs[0] = out;
    return;
  }
  if (A.dims.empty() || B.dims.empty())
    fail(node, str_cat("inputs must have rank >= 1, got ", A.str(), " and ", B.str()));
  std::vector<Dim> a = A.dims, b = B.dims;
  const bool a_vec = a.size() == 1, b_vec = b.size() == 1;
  if (a_vec) a.insert(a.begin(), Dim::known(1));
  if (b_vec) b.push_back(Dim::known(1));
  const Dim& ka = a.back();
  const Dim& kb = b[b.size() - 2];
  if (ka.is_known() && kb.is_known() && ka.value != kb.value)
    fail(node, str_cat("inner dims do not match: A is ", A.str(), " and B is ", B.str()));
  TensorType ba, bb;
  ba.has_shape = bb.has_shape = true;
  ba.dims.assign(a.begin(), a.end() - 2);
  bb.dims.assign(b.begin(), b.end() - 2);
  out = broadcast_types(ba, bb, node);
  out.dtype = A.dtype;
  if (!a_vec) out.dims.push_back(a[a.size() - 2]);
  if (!b_vec) out.dims.push_back(b.back());
  ctx.outputs[0] = out;
}

}  // namespace

void register_nn_gemm_ops(OpRegistry& r) {
  r.add("Gemm", {run_gemm, infer_gemm});
  r.add("MatMul", {run_matmul, infer_matmul});
}

}  // namespace octet
