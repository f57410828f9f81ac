// Integer convolutions: ConvInteger (int32 output) and QLinearConv (requantized output), any number
// of spatial dims, with group/depthwise, pads, auto_pad, strides and dilations. The accumulation is
// qconv_s32_ref (exact, checked against int32 overflow, bias added to the accumulator);
// QLinearConv then requantizes per output channel with requantize_s32_ref:
//   y = saturate(round_half_even(acc * float(float(x_scale * w_scale[m]) / y_scale)) + y_zp),
// the multiplier formed in float and the product with the int32 accumulator taken in double, which
// is the order of ONNX's reference implementation (numpy: int32 * float32 -> float64).
// onnxruntime's MLAS requantizes in float; the two can differ by one step only when
// acc * multiplier lands within float rounding of a .5 tie (random cases agree bit for bit).
// ONNX's reference mishandles auto_pad SAME_* (it reads the batch/channel dims as spatial ones);
// the SAME padding here follows the spec and onnxruntime.
#include <algorithm>
#include <cstdint>

#include "kernels/ref/qconv_ref.h"
#include "kernels/ref/quantize_ref.h"
#include "runtime/ops/op_util.h"
#include "runtime/ops/quant_util.h"

namespace octet {
namespace quant_detail {

ConvGeometry conv_geometry(const Node& node, const std::vector<int64_t>& in_spatial,
                           const std::vector<int64_t>& w_spatial) {
  const size_t s = w_spatial.size();
  auto bad = [&](const std::string& msg) { throw Error(str_cat(node.describe(), ": ", msg)); };
  ConvGeometry g;
  g.group = node.attr_int("group", 1);
  if (g.group < 1) bad(str_cat("group must be >= 1, got ", g.group));
  g.kernel = node.attr_ints("kernel_shape", w_spatial);
  if (g.kernel.size() != s)
    bad(str_cat("kernel_shape must have ", s, " values, got ", shape_str(g.kernel)));
  if (g.kernel != w_spatial) {
    bool unknown = std::any_of(w_spatial.begin(), w_spatial.end(), [](int64_t v) { return v < 0; });
    if (!unknown)
      bad(str_cat("kernel_shape ", shape_str(g.kernel),
                  " does not match the weight's spatial dims ", shape_str(w_spatial)));
  }
  g.strides = node.attr_ints("strides", std::vector<int64_t>(s, 1));
  g.dilations = node.attr_ints("dilations", std::vector<int64_t>(s, 1));
  if (g.strides.size() != s)
    bad(str_cat("strides must have ", s, " values, got ", g.strides.size()));
  if (g.dilations.size() != s)
    bad(str_cat("dilations must have ", s, " values, got ", g.dilations.size()));
  // Bounding every attribute to int32 keeps the size arithmetic below far from int64 overflow.
  constexpr int64_t kMaxAttr = INT32_MAX;
  for (size_t d = 0; d < s; ++d) {
    if (g.strides[d] < 1 || g.strides[d] > kMaxAttr)
      bad(str_cat("strides must be in [1, 2^31), got ", shape_str(g.strides)));
    if (g.dilations[d] < 1 || g.dilations[d] > kMaxAttr)
      bad(str_cat("dilations must be in [1, 2^31), got ", shape_str(g.dilations)));
    if (g.kernel[d] > kMaxAttr) bad(str_cat("kernel_shape ", shape_str(g.kernel), " is too large"));
  }
  const std::string auto_pad = node.attr_string("auto_pad", "NOTSET");
  std::vector<int64_t> pads = node.attr_ints("pads", std::vector<int64_t>(2 * s, 0));
  if (auto_pad == "NOTSET") {
    if (pads.size() != 2 * s) bad(str_cat("pads must have ", 2 * s, " values, got ", pads.size()));
    for (int64_t p : pads)
      if (p < 0 || p > kMaxAttr) bad(str_cat("pads must be in [0, 2^31), got ", shape_str(pads)));
  } else if (auto_pad != "VALID" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") {
    bad(str_cat("auto_pad must be NOTSET, SAME_UPPER, SAME_LOWER or VALID, got '", auto_pad, "'"));
  }
  g.pads_begin.assign(s, 0);
  g.out_spatial.assign(s, -1);
  for (size_t d = 0; d < s; ++d) {
    const int64_t in = in_spatial[d];
    if (g.kernel[d] < 0) continue;
    if (g.kernel[d] == 0) bad("kernel dims must be >= 1");
    const int64_t eff_k = (g.kernel[d] - 1) * g.dilations[d] + 1;
    int64_t pb = 0, pe = 0;
    if (auto_pad == "NOTSET") {
      pb = pads[d];
      pe = pads[d + s];
    } else if (auto_pad != "VALID") {
      if (in < 0) continue;
      const int64_t out = (in + g.strides[d] - 1) / g.strides[d];
      const int64_t total = std::max<int64_t>(0, (out - 1) * g.strides[d] + eff_k - in);
      pb = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pe = total - pb;
    }
    g.pads_begin[d] = pb;
    if (in < 0) continue;
    if (in + pb + pe < eff_k)
      bad(str_cat("the kernel (", g.kernel[d], " dilated to ", eff_k,
                  ") is larger than the padded ", "input (", in, " + ", pb, " + ", pe,
                  ") along spatial dim ", d));
    g.out_spatial[d] = (in + pb + pe - eff_k) / g.strides[d] + 1;
  }
  return g;
}

ConvShapes conv_shapes(const Node& node, const Shape& x, const Shape& w) {
  if (x.size() < 3 || w.size() != x.size())
    throw Error(str_cat(node.describe(), ": x must have rank >= 3 and w the same rank, got x ",
                        shape_str(x), " and w ", shape_str(w)));
  std::vector<int64_t> in_sp(x.begin() + 2, x.end()), w_sp(w.begin() + 2, w.end());
  ConvGeometry g = conv_geometry(node, in_sp, w_sp);
  ConvShapes cs;
  kernels::QConvParams& p = cs.params;
  p.batch = x[0];
  p.in_channels = x[1];
  p.out_channels = w[0];
  p.group = g.group;
  if (p.in_channels != w[1] * g.group || p.out_channels % g.group != 0)
    throw Error(str_cat(node.describe(), ": x has ", x[1], " channels and w has shape ",
                        shape_str(w), " with group ", g.group,
                        "; need x channels = w.shape[1] * group and ",
                        "w.shape[0] divisible by group"));
  p.in_spatial = in_sp;
  p.out_spatial = g.out_spatial;
  p.kernel = g.kernel;
  p.strides = g.strides;
  p.dilations = g.dilations;
  p.pads_begin = g.pads_begin;
  cs.out = {p.batch, p.out_channels};
  cs.out.insert(cs.out.end(), g.out_spatial.begin(), g.out_spatial.end());
  return cs;
}


// A zero point of the operand's type; absent -> {0}.
std::vector<int32_t> conv_zero_points(const OpContext& ctx, size_t index, DType operand_type,
                                      const std::string& what) {
  if (!ctx.has_input(index)) return {0};
  const Tensor& zp = *ctx.inputs[index];
  if (zp.dtype() != operand_type)
    ctx.fail(str_cat(what, " has type ", dtype_name(zp.dtype()), " but its operand has type ",
                     dtype_name(operand_type)));
  return read_zero_points(zp, ctx.node, what);
}

// Per-tensor (one value) or per-output-channel (1-D of M values) parameter; returns the stride.
int64_t per_channel_stride(const OpContext& ctx, const Shape& shape, int64_t m,
                           const std::string& what) {
  if (shape_numel(shape) == 1) return 0;
  if (shape.size() == 1 && shape[0] == m) return 1;
  ctx.fail(str_cat(what, " must be a scalar or 1-D with one value per output channel (", m,
                   "), got shape ", shape_str(shape)));
}

// Runs the integer convolution into an int32 tensor of shape cs.out.
Tensor qconv_accumulate(const OpContext& ctx, const Tensor& x, const Tensor& w, int32_t x_zp,
                        const std::vector<int32_t>& w_zp, int64_t w_zp_stride, const int32_t* bias,
                        const ConvShapes& cs) {
  Tensor y(DType::Int32, cs.out);
  bool fits = true;
  with_8bit_types(x.dtype(), w.dtype(), [&](auto tx, auto tw) {
    using TX = decltype(tx);
    using TW = decltype(tw);
    fits = kernels::qconv_s32_ref(cs.params, x.data<TX>(), x_zp, w.data<TW>(), w_zp.data(),
                                  w_zp_stride, bias, y.data<int32_t>());
  });
  if (!fits) {
    int64_t k = cs.params.in_channels / cs.params.group;
    for (int64_t v : cs.params.kernel) k *= v;
    ctx.fail(str_cat("an accumulator does not fit INT32 (K = ", k, "; with 8-bit inputs and no ",
                     "bias K <= 33025 can never overflow)"));
  }
  return y;
}

}  // namespace quant_detail

namespace {

using namespace quant_detail;

void run_conv_integer(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& w = ctx.input(1);
  check_operand_type(ctx.node, x.dtype(), "x");
  check_operand_type(ctx.node, w.dtype(), "w");
  const ConvShapes cs = conv_shapes(ctx.node, x.shape(), w.shape());
  const std::vector<int32_t> x_zp = conv_zero_points(ctx, 2, x.dtype(), "x_zero_point");
  if (x_zp.size() != 1)
    ctx.fail(str_cat("x_zero_point must be a scalar (per-tensor), got ", x_zp.size(), " values"));
  const std::vector<int32_t> w_zp = conv_zero_points(ctx, 3, w.dtype(), "w_zero_point");
  const int64_t w_zp_stride =
      per_channel_stride(ctx, ctx.has_input(3) ? ctx.inputs[3]->shape() : Shape{},
                         cs.params.out_channels, "w_zero_point");
  ctx.outputs[0] = qconv_accumulate(ctx, x, w, x_zp[0], w_zp, w_zp_stride, nullptr, cs);
}

void run_qlinear_conv(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  const Tensor& x_scale = ctx.input(1);
  const Tensor& w = ctx.input(3);
  const Tensor& w_scale = ctx.input(4);
  const Tensor& y_scale = ctx.input(6);
  check_operand_type(node, x.dtype(), "x");
  check_operand_type(node, w.dtype(), "w");
  // y's type is y_zero_point's; without one (the spec requires it, ONNX's reference does not), x's.
  const DType y_type = ctx.has_input(7) ? ctx.inputs[7]->dtype() : x.dtype();
  check_operand_type(node, y_type, "y_zero_point");
  const ConvShapes cs = conv_shapes(node, x.shape(), w.shape());
  const int64_t m = cs.params.out_channels;

  require_single(x_scale, node, "x_scale");
  require_single(y_scale, node, "y_scale");
  const float xs = read_scales(x_scale, node, "x_scale")[0];
  const float ys = read_scales(y_scale, node, "y_scale")[0];
  const std::vector<float> ws = read_scales(w_scale, node, "w_scale");
  const int64_t ws_stride = per_channel_stride(ctx, w_scale.shape(), m, "w_scale");
  const std::vector<int32_t> x_zp = conv_zero_points(ctx, 2, x.dtype(), "x_zero_point");
  if (x_zp.size() != 1)
    ctx.fail(str_cat("x_zero_point must be a scalar (per-tensor), got ", x_zp.size(), " values"));
  const std::vector<int32_t> w_zp = conv_zero_points(ctx, 5, w.dtype(), "w_zero_point");
  const int64_t w_zp_stride = per_channel_stride(
      ctx, ctx.has_input(5) ? ctx.inputs[5]->shape() : Shape{}, m, "w_zero_point");
  int32_t y_zp = 0;
  if (ctx.has_input(7)) {
    require_single(*ctx.inputs[7], node, "y_zero_point");
    y_zp = read_zero_points(*ctx.inputs[7], node, "y_zero_point")[0];
  }
  const int32_t* bias = nullptr;
  if (ctx.has_input(8)) {
    const Tensor& b = *ctx.inputs[8];
    if (b.dtype() != DType::Int32)
      ctx.fail(str_cat("B must be INT32, got ", dtype_name(b.dtype())));
    if (b.rank() != 1 || b.dim(0) != m)
      ctx.fail(str_cat("B must be 1-D with ", m, " values, got shape ", shape_str(b.shape())));
    bias = b.data<int32_t>();
  }

  const Tensor acc = qconv_accumulate(ctx, x, w, x_zp[0], w_zp, w_zp_stride, bias, cs);
  Tensor y(y_type, cs.out);
  kernels::RequantParams rp;
  rp.rows = m;
  rp.cols = m == 0 ? 0 : (cs.params.batch == 0 ? 0 : acc.numel() / (cs.params.batch * m));
  rp.row_scale = ws.data();
  rp.row_scale_stride = ws_stride;
  rp.col_scale = &xs;
  rp.col_scale_stride = 0;
  rp.out_scale = ys;
  rp.zero_point = y_zp;
  quant_range(y_type, &rp.qmin, &rp.qmax);
  for (int64_t n = 0; n < cs.params.batch; ++n) {
    const int64_t off = n * rp.rows * rp.cols;
    if (y_type == DType::UInt8)
      kernels::requantize_s32_ref(acc.data<int32_t>() + off, rp, y.data<uint8_t>() + off);
    else
      kernels::requantize_s32_ref(acc.data<int32_t>() + off, rp, y.data<int8_t>() + off);
  }
  ctx.outputs[0] = std::move(y);
}

}  // namespace

namespace quant_detail {

// Static output type of a convolution; unknown dims stay unknown.
TensorType infer_conv_type(const InferContext& ctx, const TensorType& x, const TensorType& w,
                           DType dtype) {
  TensorType out;
  out.dtype = dtype;
  if (!x.has_shape || !w.has_shape) return out;
  if (x.dims.size() < 3 || w.dims.size() != x.dims.size())
    ctx.fail(
        str_cat("x must have rank >= 3 and w the same rank, got x ", x.str(), " and w ", w.str()));
  std::vector<int64_t> in_sp, w_sp;
  for (size_t i = 2; i < x.dims.size(); ++i) in_sp.push_back(x.dims[i].value);
  for (size_t i = 2; i < w.dims.size(); ++i) w_sp.push_back(w.dims[i].value);
  const ConvGeometry g = conv_geometry(ctx.node, in_sp, w_sp);
  const Dim& c = x.dims[1];
  const Dim& wc = w.dims[1];
  const Dim& m = w.dims[0];
  if (c.is_known() && wc.is_known() && c.value != wc.value * g.group)
    ctx.fail(str_cat("x has ", c.value, " channels but w ", w.str(), " with group ", g.group,
                     " needs ", wc.value * g.group));
  if (m.is_known() && m.value % g.group != 0)
    ctx.fail(str_cat("w.shape[0] = ", m.value, " is not divisible by group ", g.group));
  out.has_shape = true;
  out.dims = {x.dims[0], m};
  for (int64_t v : g.out_spatial) out.dims.push_back(v >= 0 ? Dim::known(v) : Dim{});
  return out;
}

}  // namespace quant_detail

namespace {

void infer_conv_integer(InferContext& ctx) {
  check_operand_type_infer(ctx, 0, "x");
  check_operand_type_infer(ctx, 1, "w");
  ctx.outputs[0] = infer_conv_type(ctx, ctx.input(0), ctx.input(1), DType::Int32);
}

void infer_qlinear_conv(InferContext& ctx) {
  check_operand_type_infer(ctx, 0, "x");
  check_operand_type_infer(ctx, 3, "w");
  check_operand_type_infer(ctx, 7, "y_zero_point");
  const DType y_type = ctx.has_input(7) ? ctx.input(7).dtype : ctx.input(0).dtype;
  ctx.outputs[0] = infer_conv_type(ctx, ctx.input(0), ctx.input(3), y_type);
}

}  // namespace

namespace quant_detail {

void register_qconv_ops(OpRegistry& r) {
  r.add("ConvInteger", {run_conv_integer, infer_conv_integer});
  r.add("QLinearConv", {run_qlinear_conv, infer_qlinear_conv});
}

}  // namespace quant_detail
}  // namespace octet
