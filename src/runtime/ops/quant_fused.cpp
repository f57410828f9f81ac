// octet's fused integer ops (domain "octet"), written by the Q/DQ lowering pass
// (src/passes/lower_qdq.h) and run by the engine's fast kernels; these are their reference
// semantics, on the reference kernels, and the oracle the fast kernels must equal bit for bit.
//
// octet.QLinearConv(x, x_scale, x_zero_point, w, w_scale, w_zero_point, [y_scale, y_zero_point], [B])
//   Conv attributes as QLinearConv, plus act_min / act_max (float, default -inf / +inf): a Relu
//   (0, +inf) or Clip fused after the convolution. acc = the exact int32 convolution
//   sum (x - x_zp)(w - w_zp[m]) (qconv_s32_ref).
//   - With y_scale (quantized output, y's type that of y_zero_point, B int32 with scale
//     x_scale * w_scale as in QLinearConv): y = clamp(requantize(acc + B[m]), Q(act_min), Q(act_max))
//     where requantize is QLinearConv's (requantize_value, multiplier (w_scale[m] * x_scale) /
//     y_scale in float) and Q is QuantizeLinear with (y_scale, y_zero_point). Q is monotone, so this
//     equals QuantizeLinear(Clip(the real-valued result, act_min, act_max)).
//   - Without (float output, B float32): y = clamp(float(acc) * (w_scale[m] * x_scale) + B[m],
//     act_min, act_max), each operation in float in that order (no fused multiply-add).
// octet.QLinearMatMul(a, a_scale, a_zero_point, b, b_scale, b_zero_point, [y_scale, y_zero_point], [B])
//   a [..., K] with per-tensor parameters, b a 2-D [K, N] (the weights) with per-tensor or
//   per-column (N) scale and zero point; acc[r][n] = sum_k (a[r][k] - a_zp)(b[k][n] - b_zp[n]).
//   Output and act_min/act_max as octet.QLinearConv with n in place of m (B has N values).
// octet.QLinearAdd(a, a_scale, a_zero_point, b, b_scale, b_zero_point, y_scale, [y_zero_point])
//   The quantized residual add: DequantizeLinear of a and b (8-bit, per-tensor), Add with numpy
//   broadcasting, the act_min / act_max clamp, QuantizeLinear to y (y_zero_point's type, UINT8
//   when absent), element by element as kernels::qadd_value: the Q/DQ graph's float arithmetic
//   step for step, so the fused op equals the graph it replaces bit for bit.
// octet.QLinearGlobalAveragePool(x, x_scale, x_zero_point, y_scale, [y_zero_point])
//   The quantized global average pool: x [N, C, spatial...] 8-bit with per-tensor parameters,
//   y [N, C, 1, ...] of y_zero_point's type (UINT8 when absent); each plane as
//   kernels::qglobal_avgpool_ref, the DequantizeLinear -> GlobalAveragePool -> QuantizeLinear
//   graph's arithmetic step for step, so it too equals the graph it replaces bit for bit.
#include <cmath>
#include <limits>

#include "kernels/ref/pool_ref.h"
#include "kernels/ref/qgemm_ref.h"
#include "kernels/ref/quantize_ref.h"
#include "kernels/ref/round.h"
#include "runtime/ops/op_util.h"
#include "runtime/ops/quant_util.h"

namespace octet {
namespace {

using namespace quant_detail;

// What follows the int32 accumulation of a fused op.
struct FusedOutput {
  bool quantized = false;
  DType y_type = DType::Float32;
  float y_scale = 1.f;
  int32_t y_zp = 0, lo = 0, hi = 0;  // quantized: clamp range (activation within type range)
  float act_min = -std::numeric_limits<float>::infinity();
  float act_max = std::numeric_limits<float>::infinity();
};

FusedOutput read_fused_output(const OpContext& ctx, size_t y_scale_index, DType x_type) {
  FusedOutput out;
  out.act_min = ctx.node.attr_float("act_min", -std::numeric_limits<float>::infinity());
  out.act_max = ctx.node.attr_float("act_max", std::numeric_limits<float>::infinity());
  if (std::isnan(out.act_min) || std::isnan(out.act_max) || out.act_min > out.act_max)
    ctx.fail(str_cat("act_min ", out.act_min, " and act_max ", out.act_max,
                     " must be numbers with act_min <= act_max"));
  out.quantized = ctx.has_input(y_scale_index);
  if (!out.quantized) return out;
  const Node& node = ctx.node;
  out.y_type = ctx.has_input(y_scale_index + 1) ? ctx.inputs[y_scale_index + 1]->dtype() : x_type;
  check_operand_type(node, out.y_type, "y_zero_point");
  require_single(*ctx.inputs[y_scale_index], node, "y_scale");
  out.y_scale = read_scales(*ctx.inputs[y_scale_index], node, "y_scale")[0];
  if (!(out.y_scale > 0.f) || !std::isfinite(out.y_scale))
    ctx.fail(str_cat("y_scale must be positive and finite, got ", out.y_scale));
  if (ctx.has_input(y_scale_index + 1)) {
    require_single(*ctx.inputs[y_scale_index + 1], node, "y_zero_point");
    out.y_zp = read_zero_points(*ctx.inputs[y_scale_index + 1], node, "y_zero_point")[0];
  }
  int32_t qmin = 0, qmax = 0;
  quant_range(out.y_type, &qmin, &qmax);
  out.lo = std::isinf(out.act_min) ? qmin : kernels::quantize_value(out.act_min, out.y_scale, out.y_zp, qmin, qmax);
  out.hi = std::isinf(out.act_max) ? qmax : kernels::quantize_value(out.act_max, out.y_scale, out.y_zp, qmin, qmax);
  return out;
}

// The optional bias at `index`: int32 with a quantized output, float32 with a float one; `n` values.
const Tensor* read_fused_bias(const OpContext& ctx, size_t index, const FusedOutput& out, int64_t n) {
  if (!ctx.has_input(index)) return nullptr;
  const Tensor& b = *ctx.inputs[index];
  const DType want = out.quantized ? DType::Int32 : DType::Float32;
  if (b.dtype() != want)
    ctx.fail(str_cat("B must be ", dtype_name(want), " with a ", out.quantized ? "quantized" : "float",
                     " output, got ", dtype_name(b.dtype())));
  if (b.rank() != 1 || b.dim(0) != n)
    ctx.fail(str_cat("B must be 1-D with ", n, " values, got shape ", shape_str(b.shape())));
  return &b;
}

// The per-tensor scale (input i + 1) and zero point (input i + 2, absent: 0) of operand i, named
// `name` in errors ("x" -> "x_scale", "x_zero_point").
struct PerTensor {
  float scale = 1.f;
  int32_t zp = 0;
};
PerTensor per_tensor_operand(const OpContext& ctx, size_t i, const std::string& name) {
  const Node& node = ctx.node;
  require_single(ctx.input(i + 1), node, name + "_scale");
  PerTensor r;
  r.scale = read_scales(ctx.input(i + 1), node, name + "_scale")[0];
  const std::vector<int32_t> z = conv_zero_points(ctx, i + 2, ctx.input(i).dtype(), name + "_zero_point");
  if (z.size() != 1)
    ctx.fail(str_cat(name, "_zero_point must be a scalar (per-tensor), got ", z.size(), " values"));
  r.zp = z[0];
  return r;
}

// per_tensor_operand, and the scale must be positive and finite (QLinearAdd and
// QLinearGlobalAveragePool divide by nothing that would report a zero or NaN scale later).
PerTensor positive_per_tensor_operand(const OpContext& ctx, size_t i, const std::string& name) {
  const PerTensor q = per_tensor_operand(ctx, i, name);
  if (!(q.scale > 0.f) || !std::isfinite(q.scale))
    ctx.fail(str_cat(name, "_scale must be positive and finite, got ", q.scale));
  return q;
}

// Writes element i of y from the accumulator (bias already added for a quantized output).
// `mult_or_scale` is the requantize multiplier (quantized) or the dequantize scale (float).
inline void write_fused(const FusedOutput& out, Tensor& y, int64_t i, int32_t acc, float mult_or_scale,
                        float fbias) {
  if (out.quantized) {
    int32_t q = kernels::requantize_value(acc, mult_or_scale, out.y_zp, out.lo, out.hi);
    if (out.y_type == DType::UInt8) y.data<uint8_t>()[i] = static_cast<uint8_t>(q);
    else y.data<int8_t>()[i] = static_cast<int8_t>(q);
  } else {
    float v = static_cast<float>(acc) * mult_or_scale;
    v = v + fbias;
    y.data<float>()[i] = std::min(std::max(v, out.act_min), out.act_max);
  }
}

void run_fused_qconv(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(3);
  check_operand_type(node, x.dtype(), "x");
  check_operand_type(node, w.dtype(), "w");
  const ConvShapes cs = conv_shapes(node, x.shape(), w.shape());
  const int64_t m = cs.params.out_channels;
  const PerTensor xq = per_tensor_operand(ctx, 0, "x");
  const float xs = xq.scale;
  const std::vector<float> ws = read_scales(ctx.input(4), node, "w_scale");
  const int64_t ws_stride = per_channel_stride(ctx, ctx.input(4).shape(), m, "w_scale");
  const std::vector<int32_t> w_zp = conv_zero_points(ctx, 5, w.dtype(), "w_zero_point");
  const int64_t w_zp_stride = per_channel_stride(
      ctx, ctx.has_input(5) ? ctx.inputs[5]->shape() : Shape{}, m, "w_zero_point");
  const FusedOutput out = read_fused_output(ctx, 6, x.dtype());
  const Tensor* b = read_fused_bias(ctx, 8, out, m);

  const Tensor acc = qconv_accumulate(ctx, x, w, xq.zp, w_zp, w_zp_stride,
                                      out.quantized && b ? b->data<int32_t>() : nullptr, cs);
  Tensor y(out.quantized ? out.y_type : DType::Float32, cs.out);
  const int64_t plane = cs.params.batch * m == 0 ? 0 : acc.numel() / (cs.params.batch * m);
  const int32_t* a = acc.data<int32_t>();
  for (int64_t n = 0; n < cs.params.batch; ++n)
    for (int64_t c = 0; c < m; ++c) {
      const float wsc = ws[c * ws_stride];
      const float f = out.quantized ? (wsc * xs) / out.y_scale : wsc * xs;
      const float fb = (!out.quantized && b) ? b->data<float>()[c] : 0.f;
      const int64_t off = (n * m + c) * plane;
      for (int64_t i = 0; i < plane; ++i) write_fused(out, y, off + i, a[off + i], f, fb);
    }
  ctx.outputs[0] = std::move(y);
}

void infer_fused_qconv(InferContext& ctx) {
  check_operand_type_infer(ctx, 0, "x");
  check_operand_type_infer(ctx, 3, "w");
  DType y_type = DType::Float32;
  if (ctx.has_input(6)) {
    check_operand_type_infer(ctx, 7, "y_zero_point");
    y_type = ctx.has_input(7) ? ctx.input(7).dtype : ctx.input(0).dtype;
  }
  ctx.outputs[0] = infer_conv_type(ctx, ctx.input(0), ctx.input(3), y_type);
}

void run_fused_qmatmul(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(3);
  check_operand_type(node, a.dtype(), "a");
  check_operand_type(node, b.dtype(), "b");
  if (a.rank() < 1 || b.rank() != 2 || a.dim(a.rank() - 1) != b.dim(0))
    ctx.fail(str_cat("a must be [..., K] and b [K, N], got a ", shape_str(a.shape()), " and b ",
                     shape_str(b.shape())));
  const int64_t K = b.dim(0), N = b.dim(1);
  const int64_t rows = K == 0 ? 0 : a.numel() / K;
  const PerTensor aq = per_tensor_operand(ctx, 0, "a");
  const float as = aq.scale;
  const std::vector<float> bs = read_scales(ctx.input(4), node, "b_scale");
  const int64_t bs_stride = per_channel_stride(ctx, ctx.input(4).shape(), N, "b_scale");
  const std::vector<int32_t> b_zp = conv_zero_points(ctx, 5, b.dtype(), "b_zero_point");
  const int64_t bz_stride = per_channel_stride(
      ctx, ctx.has_input(5) ? ctx.inputs[5]->shape() : Shape{}, N, "b_zero_point");
  const FusedOutput out = read_fused_output(ctx, 6, a.dtype());
  const Tensor* bias = read_fused_bias(ctx, 8, out, N);

  std::vector<int32_t> acc(static_cast<size_t>(rows * N));
  std::vector<int32_t> b_zp_cols(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) b_zp_cols[n] = b_zp[n * bz_stride];
  kernels::QGemmParams p;
  p.M = rows;
  p.N = N;
  p.K = K;
  p.lda = K;
  p.ldb = N;
  p.ldc = N;
  bool fits = true;
  with_8bit_types(a.dtype(), b.dtype(), [&](auto ta, auto tb) {
    using TA = decltype(ta);
    using TB = decltype(tb);
    fits = kernels::qgemm_s32_ref(p, a.data<TA>(), &aq.zp, 0, b.data<TB>(), b_zp_cols.data(), 1,
                                  acc.data());
  });
  if (!fits) ctx.fail(str_cat("an accumulator does not fit INT32 (K = ", K, ")"));

  Shape out_shape = a.shape();
  out_shape.back() = N;
  Tensor y(out.quantized ? out.y_type : DType::Float32, out_shape);
  for (int64_t n = 0; n < N; ++n) {
    const float bsc = bs[n * bs_stride];
    const float f = out.quantized ? (as * bsc) / out.y_scale : as * bsc;
    const float fb = (!out.quantized && bias) ? bias->data<float>()[n] : 0.f;
    const int32_t ib = (out.quantized && bias) ? bias->data<int32_t>()[n] : 0;
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t i = r * N + n;
      const int64_t s = static_cast<int64_t>(acc[i]) + ib;
      if (s < INT32_MIN || s > INT32_MAX)
        ctx.fail(str_cat("an accumulator plus bias does not fit INT32 (column ", n, ")"));
      write_fused(out, y, i, static_cast<int32_t>(s), f, fb);
    }
  }
  ctx.outputs[0] = std::move(y);
}

void infer_fused_qmatmul(InferContext& ctx) {
  check_operand_type_infer(ctx, 0, "a");
  check_operand_type_infer(ctx, 3, "b");
  TensorType t;
  t.dtype = DType::Float32;
  if (ctx.has_input(6)) {
    check_operand_type_infer(ctx, 7, "y_zero_point");
    t.dtype = ctx.has_input(7) ? ctx.input(7).dtype : ctx.input(0).dtype;
  }
  const TensorType& a = ctx.input(0);
  const TensorType& b = ctx.input(3);
  if (a.has_shape && b.has_shape && b.dims.size() == 2 && !a.dims.empty()) {
    t.has_shape = true;
    t.dims = a.dims;
    t.dims.back() = b.dims[1];
  }
  ctx.outputs[0] = t;
}

void run_fused_qadd(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(3);
  check_operand_type(node, a.dtype(), "a");
  check_operand_type(node, b.dtype(), "b");
  if (!ctx.has_input(6)) ctx.fail("y_scale is required (octet.QLinearAdd writes a quantized output)");
  const FusedOutput out = read_fused_output(ctx, 6, DType::UInt8);
  kernels::QAddParams p;
  const PerTensor aq = positive_per_tensor_operand(ctx, 0, "a"), bq = positive_per_tensor_operand(ctx, 3, "b");
  p.a_scale = aq.scale;
  p.a_zp = aq.zp;
  p.b_scale = bq.scale;
  p.b_zp = bq.zp;
  p.y_scale = out.y_scale;
  p.y_zp = out.y_zp;
  quant_range(out.y_type, &p.qmin, &p.qmax);
  p.lo = out.act_min;
  p.hi = out.act_max;
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), node);
  Tensor y(out.y_type, shape);
  auto at = [](const Tensor& t, int64_t i) {
    return t.dtype() == DType::UInt8 ? static_cast<int32_t>(t.data<uint8_t>()[i])
                                     : static_cast<int32_t>(t.data<int8_t>()[i]);
  };
  for_each_broadcast2(a.shape(), b.shape(), shape, [&](int64_t i, int64_t ia, int64_t ib) {
    const int32_t q = kernels::qadd_value(at(a, ia), at(b, ib), p);
    if (out.y_type == DType::UInt8) y.data<uint8_t>()[i] = static_cast<uint8_t>(q);
    else y.data<int8_t>()[i] = static_cast<int8_t>(q);
  });
  ctx.outputs[0] = std::move(y);
}

void infer_fused_qadd(InferContext& ctx) {
  check_operand_type_infer(ctx, 0, "a");
  check_operand_type_infer(ctx, 3, "b");
  if (ctx.has_input(7)) check_operand_type_infer(ctx, 7, "y_zero_point");
  TensorType t = broadcast_types(ctx.input(0), ctx.input(3), ctx.node);
  t.dtype = ctx.has_input(7) ? ctx.input(7).dtype : DType::UInt8;
  ctx.outputs[0] = t;
}

void run_fused_qglobal_avgpool(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  check_operand_type(node, x.dtype(), "x");
  if (x.rank() < 3) ctx.fail(str_cat("x must be [N, C, spatial...] (rank 3 or more), got ", shape_str(x.shape())));
  if (!ctx.has_input(3)) ctx.fail("y_scale is required (octet.QLinearGlobalAveragePool writes a quantized output)");
  const PerTensor xq = positive_per_tensor_operand(ctx, 0, "x");
  const FusedOutput out = read_fused_output(ctx, 3, DType::UInt8);
  kernels::QGlobalAvgPoolParams p;
  p.x_scale = xq.scale;
  p.x_zp = xq.zp;
  p.y_scale = out.y_scale;
  p.y_zp = out.y_zp;
  quant_range(out.y_type, &p.qmin, &p.qmax);
  Shape shape = x.shape();
  int64_t spatial = 1;
  for (size_t i = 2; i < shape.size(); ++i) spatial *= shape[i], shape[i] = 1;
  Tensor y(out.y_type, shape);
  const int64_t planes = x.dim(0) * x.dim(1);
  with_8bit_types(x.dtype(), out.y_type, [&](auto tx, auto ty) {
    using TX = decltype(tx);
    using TY = decltype(ty);
    kernels::qglobal_avgpool_ref(planes, spatial, x.data<TX>(), p, y.data<TY>());
  });
  ctx.outputs[0] = std::move(y);
}

void infer_fused_qglobal_avgpool(InferContext& ctx) {
  check_operand_type_infer(ctx, 0, "x");
  if (ctx.has_input(4)) check_operand_type_infer(ctx, 4, "y_zero_point");
  TensorType t = ctx.input(0);
  t.dtype = ctx.has_input(4) ? ctx.input(4).dtype : DType::UInt8;
  if (t.has_shape) {
    if (t.dims.size() < 3) ctx.fail("x must be [N, C, spatial...] (rank 3 or more)");
    for (size_t i = 2; i < t.dims.size(); ++i) t.dims[i] = Dim::known(1);
  }
  ctx.outputs[0] = t;
}

}  // namespace

namespace quant_detail {

void register_fused_qops(OpRegistry& r) {
  r.add("QLinearConv", {run_fused_qconv, infer_fused_qconv}, "octet");
  r.add("QLinearMatMul", {run_fused_qmatmul, infer_fused_qmatmul}, "octet");
  r.add("QLinearAdd", {run_fused_qadd, infer_fused_qadd}, "octet");
  r.add("QLinearGlobalAveragePool", {run_fused_qglobal_avgpool, infer_fused_qglobal_avgpool}, "octet");
}

}  // namespace quant_detail
}  // namespace octet
