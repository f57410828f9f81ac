// Integer matrix multiplies: MatMulInteger (int32 output) and QLinearMatMul (requantized output).
// Both follow numpy.matmul: 1-D operands are promoted ([K] -> [1, K] for a, [K] -> [K, 1] for b,
// the promoted dim dropped from the result) and batch dims broadcast. The accumulation is
// qgemm_s32_ref (exact, checked against int32 overflow); QLinearMatMul then requantizes with
// requantize_s32_ref:
//   y = saturate(round_half_even(acc * float(float(a_scale * b_scale) / y_scale)) + y_zp),
// the product taken in double, the order of ONNX's reference implementation. The result saturates
// to y's range as the spec says (ONNX's reference wraps instead; onnxruntime saturates).
//
// Per-row / per-column parameters (zero points of both ops, scales of QLinearMatMul): a scalar
// (one element) is per-tensor; for a, a 1-D tensor of M elements is per row, and an N-D tensor
// broadcastable to a's shape with the last dim 1 ([..., M, 1]) is per row and batch; for b, a 1-D
// tensor of N elements is per column, and an N-D tensor broadcastable to [..., 1, N] is per column
// and batch. y_scale and y_zero_point are per-tensor.
#include <algorithm>

#include "kernels/ref/qgemm_ref.h"
#include "kernels/ref/quantize_ref.h"
#include "runtime/ops/op_util.h"
#include "runtime/ops/quant_util.h"

namespace octet {
namespace {

using namespace quant_detail;

// Shapes of a numpy.matmul after 1-D promotion.
struct MatMulGeometry {
  Shape a3, b3;  // a as [batch_a..., M, K], b as [batch_b..., K, N]
  Shape a_batch, b_batch, out_batch;
  int64_t M = 0, K = 0, N = 0;
  Shape out;  // final output shape, promoted dims dropped
};

MatMulGeometry matmul_geometry(const Node& node, const Shape& a, const Shape& b) {
  if (a.empty() || b.empty())
    throw Error(str_cat(node.describe(), ": matmul operands must have rank >= 1, got ",
                        shape_str(a), " and ", shape_str(b)));
  MatMulGeometry g;
  g.a3 = a.size() == 1 ? Shape{1, a[0]} : a;
  g.b3 = b.size() == 1 ? Shape{b[0], 1} : b;
  g.M = g.a3[g.a3.size() - 2];
  g.K = g.a3.back();
  g.N = g.b3.back();
  if (g.b3[g.b3.size() - 2] != g.K)
    throw Error(str_cat(node.describe(), ": matmul inner dimensions differ: a ", shape_str(a),
                        ", b ", shape_str(b)));
  g.a_batch.assign(g.a3.begin(), g.a3.end() - 2);
  g.b_batch.assign(g.b3.begin(), g.b3.end() - 2);
  g.out_batch = broadcast_shapes(g.a_batch, g.b_batch, node);
  g.out = g.out_batch;
  if (a.size() > 1) g.out.push_back(g.M);
  if (b.size() > 1) g.out.push_back(g.N);
  return g;
}

// Expands a per-row (for a) or per-column (for b) parameter over [batch..., rows]: the result has
// one value per (batch of that operand, row or column). `operand3` is the promoted operand shape;
// `per_row` picks dim -2 (rows of a) or dim -1 (columns of b) as the parameter's dim.
template <class T>
std::vector<T> expand_rowcol_param(const Node& node, const std::vector<T>& values,
                                   const Shape& param_shape, const Shape& operand3, bool per_row,
                                   const std::string& what) {
  const size_t r = operand3.size();
  Shape batch(operand3.begin(), operand3.end() - 2);
  const int64_t len = per_row ? operand3[r - 2] : operand3[r - 1];
  const int64_t batches = shape_numel(batch);
  std::vector<T> out(static_cast<size_t>(batches * len));
  if (values.size() == 1) {
    std::fill(out.begin(), out.end(), values[0]);
    return out;
  }
  Shape target = batch;  // [batch..., len] is the parameter's logical shape
  target.push_back(len);
  Shape p = param_shape;
  if (p.size() == 1 && p[0] == len) {
    // 1-D: per row/column, shared by every batch.
  } else if (p.size() >= 2 && p.size() <= r && p[p.size() - (per_row ? 1 : 2)] == 1) {
    // N-D: drop the unit dim ([..., M, 1] -> [..., M]; [..., 1, N] -> [..., N]).
    p.erase(p.end() - (per_row ? 1 : 2));
  } else {
    p.clear();
    p.push_back(-1);  // mark as invalid
  }
  bool ok = p.size() <= target.size() && !(p.size() == 1 && p[0] == -1);
  for (size_t i = 0; ok && i < p.size(); ++i) {
    const int64_t t = target[target.size() - p.size() + i];
    ok = p[i] == t || p[i] == 1;
  }
  if (!ok)
    throw Error(str_cat(node.describe(), ": ", what, " has shape ", shape_str(param_shape),
                        ", which is neither a scalar nor per-", per_row ? "row" : "column",
                        " for an operand of shape ", shape_str(operand3)));
  const std::vector<int64_t> strides = broadcast_strides(p, target);
  std::vector<int64_t> idx(target.size(), 0);
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t off = 0;
    for (size_t d = 0; d < target.size(); ++d) off += idx[d] * strides[d];
    out[i] = values[static_cast<size_t>(off)];
    for (size_t d = target.size(); d-- > 0;) {
      if (++idx[d] < target[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}


// Zero point of an operand: same type as the operand; absent -> 0.
std::vector<int32_t> operand_zero_points(const OpContext& ctx, size_t index, DType operand_type,
                                         const std::string& what) {
  if (!ctx.has_input(index)) return {0};
  const Tensor& zp = *ctx.inputs[index];
  if (zp.dtype() != operand_type)
    ctx.fail(str_cat(what, " has type ", dtype_name(zp.dtype()), " but its operand has type ",
                     dtype_name(operand_type)));
  if (zp.numel() == 0) ctx.fail(str_cat(what, " is empty"));
  return read_zero_points(zp, ctx.node, what);
}

Shape param_shape(const OpContext& ctx, size_t index) {
  return ctx.has_input(index) ? ctx.inputs[index]->shape() : Shape{};
}

// Runs the batched integer matmul into an int32 [out_batch..., M, N] buffer.
void qmatmul_accumulate(const OpContext& ctx, const Tensor& a, const Tensor& b,
                        const MatMulGeometry& g, const std::vector<int32_t>& a_zp_rows,
                        const std::vector<int32_t>& b_zp_cols, int32_t* acc) {
  kernels::QGemmParams p;
  p.M = g.M;
  p.N = g.N;
  p.K = g.K;
  p.lda = g.K;
  p.ldb = g.N;
  p.ldc = g.N;
  bool fits = true;
  for_each_broadcast2(g.a_batch, g.b_batch, g.out_batch, [&](int64_t o, int64_t ia, int64_t ib) {
    with_8bit_types(a.dtype(), b.dtype(), [&](auto ta, auto tb) {
      using TA = decltype(ta);
      using TB = decltype(tb);
      fits &= kernels::qgemm_s32_ref(p, a.data<TA>() + ia * g.M * g.K, a_zp_rows.data() + ia * g.M,
                                     1, b.data<TB>() + ib * g.K * g.N, b_zp_cols.data() + ib * g.N,
                                     1, acc + o * g.M * g.N);
    });
  });
  if (!fits)
    ctx.fail(str_cat("an accumulator does not fit INT32 (K = ", g.K,
                     "; with 8-bit inputs K <= ", kernels::kQGemmMaxSafeK, " can never overflow)"));
}

void run_matmul_integer(OpContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  check_operand_type(ctx.node, a.dtype(), "A");
  check_operand_type(ctx.node, b.dtype(), "B");
  const MatMulGeometry g = matmul_geometry(ctx.node, a.shape(), b.shape());
  const std::vector<int32_t> a_zp =
      expand_rowcol_param(ctx.node, operand_zero_points(ctx, 2, a.dtype(), "a_zero_point"),
                          param_shape(ctx, 2), g.a3, true, "a_zero_point");
  const std::vector<int32_t> b_zp =
      expand_rowcol_param(ctx.node, operand_zero_points(ctx, 3, b.dtype(), "b_zero_point"),
                          param_shape(ctx, 3), g.b3, false, "b_zero_point");
  Tensor y(DType::Int32, g.out);
  qmatmul_accumulate(ctx, a, b, g, a_zp, b_zp, y.data<int32_t>());
  ctx.outputs[0] = std::move(y);
}

void run_qlinear_matmul(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& a = ctx.input(0);
  const Tensor& a_scale = ctx.input(1);
  const Tensor& b = ctx.input(3);
  const Tensor& b_scale = ctx.input(4);
  const Tensor& y_scale = ctx.input(6);
  check_operand_type(node, a.dtype(), "a");
  check_operand_type(node, b.dtype(), "b");
  // y's type is y_zero_point's; without one (the spec requires it, ONNX's reference does not), a's.
  const DType y_type = ctx.has_input(7) ? ctx.inputs[7]->dtype() : a.dtype();
  check_operand_type(node, y_type, "y_zero_point");
  const MatMulGeometry g = matmul_geometry(node, a.shape(), b.shape());

  const std::vector<float> a_s = expand_rowcol_param(node, read_scales(a_scale, node, "a_scale"),
                                                     a_scale.shape(), g.a3, true, "a_scale");
  const std::vector<float> b_s = expand_rowcol_param(node, read_scales(b_scale, node, "b_scale"),
                                                     b_scale.shape(), g.b3, false, "b_scale");
  const std::vector<int32_t> a_zp =
      expand_rowcol_param(node, operand_zero_points(ctx, 2, a.dtype(), "a_zero_point"),
                          param_shape(ctx, 2), g.a3, true, "a_zero_point");
  const std::vector<int32_t> b_zp =
      expand_rowcol_param(node, operand_zero_points(ctx, 5, b.dtype(), "b_zero_point"),
                          param_shape(ctx, 5), g.b3, false, "b_zero_point");
  require_single(y_scale, node, "y_scale");
  const float ys = read_scales(y_scale, node, "y_scale")[0];
  int32_t y_zp = 0;
  if (ctx.has_input(7)) {
    require_single(*ctx.inputs[7], node, "y_zero_point");
    y_zp = read_zero_points(*ctx.inputs[7], node, "y_zero_point")[0];
  }

  Tensor acc(DType::Int32, g.out);
  qmatmul_accumulate(ctx, a, b, g, a_zp, b_zp, acc.data<int32_t>());

  Tensor y(y_type, g.out);
  kernels::RequantParams rp;
  rp.rows = g.M;
  rp.cols = g.N;
  rp.row_scale_stride = 1;
  rp.col_scale_stride = 1;
  rp.out_scale = ys;
  rp.zero_point = y_zp;
  quant_range(y_type, &rp.qmin, &rp.qmax);
  const int32_t* accp = acc.data<int32_t>();
  for_each_broadcast2(g.a_batch, g.b_batch, g.out_batch, [&](int64_t o, int64_t ia, int64_t ib) {
    rp.row_scale = a_s.data() + ia * g.M;
    rp.col_scale = b_s.data() + ib * g.N;
    const int64_t off = o * g.M * g.N;
    if (y_type == DType::UInt8)
      kernels::requantize_s32_ref(accp + off, rp, y.data<uint8_t>() + off);
    else
      kernels::requantize_s32_ref(accp + off, rp, y.data<int8_t>() + off);
  });
  ctx.outputs[0] = std::move(y);
}

// numpy.matmul output type for static inference; unknown dims stay unknown.
TensorType infer_matmul_type(const InferContext& ctx, const TensorType& a, const TensorType& b,
                             DType dtype) {
  TensorType out;
  out.dtype = dtype;
  if (!a.has_shape || !b.has_shape) return out;
  if (a.dims.empty() || b.dims.empty())
    ctx.fail(str_cat("matmul operands must have rank >= 1, got ", a.str(), " and ", b.str()));
  std::vector<Dim> ad = a.dims, bd = b.dims;
  if (ad.size() == 1) ad.insert(ad.begin(), Dim::known(1));
  if (bd.size() == 1) bd.push_back(Dim::known(1));
  const Dim& ka = ad.back();
  const Dim& kb = bd[bd.size() - 2];
  if (ka.is_known() && kb.is_known() && ka.value != kb.value)
    ctx.fail(str_cat("matmul inner dimensions differ: a ", a.str(), ", b ", b.str()));
  TensorType ab, bb;
  ab.has_shape = bb.has_shape = true;
  ab.dims.assign(ad.begin(), ad.end() - 2);
  bb.dims.assign(bd.begin(), bd.end() - 2);
  out = broadcast_types(ab, bb, ctx.node);
  out.dtype = dtype;
  if (a.dims.size() > 1) out.dims.push_back(ad[ad.size() - 2]);
  if (b.dims.size() > 1) out.dims.push_back(bd.back());
  return out;
}

void infer_matmul_integer(InferContext& ctx) {
  check_operand_type_infer(ctx, 0, "A");
  check_operand_type_infer(ctx, 1, "B");
  ctx.outputs[0] = infer_matmul_type(ctx, ctx.input(0), ctx.input(1), DType::Int32);
}

void infer_qlinear_matmul(InferContext& ctx) {
  check_operand_type_infer(ctx, 0, "a");
  check_operand_type_infer(ctx, 3, "b");
  check_operand_type_infer(ctx, 7, "y_zero_point");
  const DType y_type = ctx.has_input(7) ? ctx.input(7).dtype : ctx.input(0).dtype;
  ctx.outputs[0] = infer_matmul_type(ctx, ctx.input(0), ctx.input(3), y_type);
}

}  // namespace

namespace quant_detail {

void register_qmatmul_ops(OpRegistry& r) {
  r.add("MatMulInteger", {run_matmul_integer, infer_matmul_integer});
  r.add("QLinearMatMul", {run_qlinear_matmul, infer_qlinear_matmul});
}

}  // namespace quant_detail
}  // namespace octet
