// Quantization ops: QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear (this file), the
// integer matmuls (quant_matmul.cpp) and the integer convolutions (quant_conv.cpp). The numeric
// loops are in src/kernels/ref/{quantize,qgemm,qconv}_ref; this file parses attributes, checks
// shapes and types, and converts between tensor element types and the kernels' float/int32 views.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/ref/quantize_ref.h"
#include "runtime/ops/op_util.h"
#include "runtime/ops/quant_util.h"

namespace octet {

namespace quant_detail {

bool is_fp8(DType t) {
  return t == DType::Float8E4M3FN || t == DType::Float8E4M3FNUZ || t == DType::Float8E5M2 ||
         t == DType::Float8E5M2FNUZ;
}

void reject_fp8(const Node& node, DType t, const std::string& what) {
  if (is_fp8(t))
    throw Unsupported(str_cat(node.describe(), ": ", what, " has element type ", dtype_name(t),
                              "; FP8 types are not computable in octet"));
}

bool is_int8_type(DType t) { return t == DType::Int8 || t == DType::UInt8; }

void check_operand_type(const Node& node, DType t, const std::string& what) {
  reject_fp8(node, t, what);
  if (!is_int8_type(t))
    throw Error(str_cat(node.describe(), ": ", what, " must be INT8 or UINT8, got ", dtype_name(t)));
}

void check_operand_type_infer(const InferContext& ctx, size_t i, const std::string& what) {
  if (!ctx.has_input(i)) return;
  const DType t = ctx.input(i).dtype;
  if (t != DType::Undefined && !is_int8_type(t) && !is_fp8(t))
    ctx.fail(str_cat(what, " must be INT8 or UINT8, got ", dtype_name(t)));
}

bool quant_range(DType t, int32_t* qmin, int32_t* qmax) {
  auto set = [&](int32_t lo, int32_t hi) {
    *qmin = lo;
    *qmax = hi;
    return true;
  };
  switch (t) {
    case DType::UInt8: return set(0, 255);
    case DType::Int8: return set(-128, 127);
    case DType::UInt16: return set(0, 65535);
    case DType::Int16: return set(-32768, 32767);
    case DType::UInt4: return set(0, 15);
    case DType::Int4: return set(-8, 7);
    case DType::Int32: return set(INT32_MIN, INT32_MAX);
    default: return false;
  }
}

std::vector<float> read_scales(const Tensor& t, const Node& node, const std::string& what) {
  reject_fp8(node, t.dtype(), what);
  std::vector<float> out(static_cast<size_t>(t.numel()));
  auto copy = [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) out[static_cast<size_t>(i)] = static_cast<float>(p[i]);
  };
  switch (t.dtype()) {
    case DType::Float32: copy(float{}); break;
    case DType::Float64: copy(double{}); break;
    case DType::Float16: copy(Half{}); break;
    case DType::BFloat16: copy(BFloat16{}); break;
    case DType::Int32: copy(int32_t{}); break;
    default:
      throw Error(str_cat(node.describe(), ": ", what, " must be FLOAT, FLOAT16 or BFLOAT16, got ",
                          dtype_name(t.dtype())));
  }
  return out;
}

std::vector<int32_t> read_zero_points(const Tensor& t, const Node& node, const std::string& what) {
  reject_fp8(node, t.dtype(), what);
  std::vector<int32_t> out(static_cast<size_t>(t.numel()));
  auto copy = [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i)
      out[static_cast<size_t>(i)] = static_cast<int32_t>(p[i]);
  };
  switch (t.dtype()) {
    case DType::Int8:
    case DType::Int4: copy(int8_t{}); break;
    case DType::UInt8:
    case DType::UInt4: copy(uint8_t{}); break;
    case DType::Int16: copy(int16_t{}); break;
    case DType::UInt16: copy(uint16_t{}); break;
    case DType::Int32: copy(int32_t{}); break;
    default:
      throw Error(str_cat(node.describe(), ": ", what, " has element type ", dtype_name(t.dtype()),
                          ", which is not an integer quantized type"));
  }
  return out;
}

void require_single(const Tensor& t, const Node& node, const std::string& what) {
  if (t.numel() != 1)
    throw Error(str_cat(node.describe(), ": ", what, " must be a scalar (per-tensor), got shape ",
                        shape_str(t.shape())));
}

}  // namespace quant_detail

namespace {

using namespace quant_detail;
using kernels::QuantLayout;

// Works out how the scale tensor maps onto x (see QuantLayout in quantize_ref.h):
// one element -> per-tensor; block_size == 0 -> 1-D per-axis; block_size > 0 -> blocked, scale of
// x's rank with the axis dim ceil(D / block_size). Throws Error naming the node on a mismatch.
QuantLayout quant_layout(const Node& node, const Shape& x, const Shape& s, int64_t axis_attr,
                         int64_t block_size) {
  if (block_size < 0)
    throw Error(str_cat(node.describe(), ": block_size must be >= 0, got ", block_size));
  QuantLayout l;
  if (shape_numel(s) == 1) {  // per-tensor, whatever the scale's rank (as ONNX's reference)
    l.axis_len = shape_numel(x);
    return l;
  }
  const int64_t r = static_cast<int64_t>(x.size());
  if (r == 0)
    throw Error(str_cat(node.describe(), ": x is a scalar but the scale has shape ", shape_str(s),
                        "; a scalar can only be quantized per-tensor"));
  const int64_t axis = normalize_axis(axis_attr, r, node);
  const size_t ax = static_cast<size_t>(axis);
  for (size_t i = 0; i < ax; ++i) l.outer *= x[i];
  l.axis_len = x[ax];
  for (size_t i = ax + 1; i < x.size(); ++i) l.inner *= x[i];
  if (block_size == 0) {
    if (s.size() != 1 || s[0] != x[ax])
      throw Error(str_cat(node.describe(), ": per-axis scale must be 1-D with x.shape[", axis,
                          "] = ", x[ax], " elements, got shape ", shape_str(s), " for x of shape ",
                          shape_str(x), " (blocked quantization needs the block_size attribute)"));
    l.param_axis_stride = 1;
    return l;
  }
  const int64_t nblocks = x[ax] / block_size + (x[ax] % block_size != 0 ? 1 : 0);
  bool ok = static_cast<int64_t>(s.size()) == r;
  for (size_t i = 0; ok && i < x.size(); ++i) ok = s[i] == (i == ax ? nblocks : x[i]);
  if (!ok) {
    Shape want = x;
    want[ax] = nblocks;
    throw Error(str_cat(node.describe(), ": blocked quantization with block_size ", block_size,
                        " along axis ", axis, " of x ", shape_str(x), " needs a scale of shape ",
                        shape_str(want), ", got ", shape_str(s)));
  }
  l.block = block_size;
  l.param_inner_stride = 1;
  l.param_axis_stride = l.inner;
  l.param_outer_stride = nblocks * l.inner;
  return l;
}

// The zero point must match the scale: same element count, and the same shape when blocked.
void check_zero_point_shape(const Node& node, const Shape& scale, const Shape& zp,
                            int64_t block_size) {
  const bool same_count = shape_numel(scale) == shape_numel(zp);
  const bool blocked = block_size > 0 && shape_numel(scale) != 1;
  if (!same_count || (blocked && scale != zp))
    throw Error(str_cat(node.describe(), ": zero point shape ", shape_str(zp),
                        " does not match scale shape ", shape_str(scale)));
}

// QuantizeLinear's output type: y_zero_point's type, else output_dtype (opset 21), else UINT8.
DType quantize_output_dtype(const Node& node, DType zp_type) {
  const int64_t code = node.attr_int("output_dtype", 0);
  if (code != 0 && !dtype_is_known(static_cast<int32_t>(code)))
    throw Error(str_cat(node.describe(), ": output_dtype ", code, " is not a known element type"));
  const DType attr = static_cast<DType>(code);
  if (zp_type != DType::Undefined) {
    if (code != 0 && attr != zp_type)
      throw Error(str_cat(node.describe(), ": output_dtype ", dtype_name(attr),
                          " differs from y_zero_point's type ", dtype_name(zp_type)));
    return zp_type;
  }
  return code != 0 ? attr : DType::UInt8;
}

bool is_quantize_target(DType t) {
  int32_t lo, hi;
  return (quant_range(t, &lo, &hi) && t != DType::Int32) || is_fp8(t);
}

// x as float: FLOAT is used in place, FLOAT16/BFLOAT16/DOUBLE/INT32 are converted, and x / scale
// is always divided in float. For FLOAT16 this is a choice: ONNX's reference divides in float16
// (the quotient rounded to half before rint), so near a .5 tie the two can differ by one step.
// INT32 x above 2^24 loses precision in the conversion (ONNX's reference divides in double).
const float* quantize_input_as_float(const Tensor& x, std::vector<float>& buf, const Node& node) {
  if (x.dtype() == DType::Float32) return x.data<float>();
  switch (x.dtype()) {
    case DType::Float16:
    case DType::BFloat16:
    case DType::Float64:
    case DType::Int32: buf = read_scales(x, node, "x"); return buf.data();
    default:
      throw Error(str_cat(node.describe(), ": x must be FLOAT, FLOAT16, BFLOAT16 or INT32, got ",
                          dtype_name(x.dtype())));
  }
}

void run_quantize_linear(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? ctx.inputs[2] : nullptr;
  const DType out_type = quantize_output_dtype(node, zp ? zp->dtype() : DType::Undefined);
  reject_fp8(node, out_type, "the output");
  int32_t qmin = 0, qmax = 0;
  if (!is_quantize_target(out_type))
    ctx.fail(str_cat("cannot quantize to ", dtype_name(out_type),
                     " (UINT8, INT8, UINT16, INT16, UINT4 or INT4 expected)"));
  quant_range(out_type, &qmin, &qmax);
  (void)node.attr_int("saturate", 1);  // only meaningful for FP8, which is rejected above

  const int64_t block_size = node.attr_int("block_size", 0);
  const QuantLayout layout =
      quant_layout(node, x.shape(), scale.shape(), node.attr_int("axis", 1), block_size);
  const std::vector<float> scales = read_scales(scale, node, "y_scale");
  std::vector<int32_t> zps;
  if (zp) {
    check_zero_point_shape(node, scale.shape(), zp->shape(), block_size);
    zps = read_zero_points(*zp, node, "y_zero_point");
  }
  std::vector<float> xbuf;
  const float* xf = quantize_input_as_float(x, xbuf, node);

  Tensor y(out_type, x.shape());
  const int32_t* zp_ptr = zp ? zps.data() : nullptr;
  switch (out_type) {
    case DType::UInt8:
    case DType::UInt4:
      kernels::quantize_linear_ref(xf, scales.data(), zp_ptr, layout, qmin, qmax,
                                   y.data<uint8_t>());
      break;
    case DType::Int8:
    case DType::Int4:
      kernels::quantize_linear_ref(xf, scales.data(), zp_ptr, layout, qmin, qmax, y.data<int8_t>());
      break;
    case DType::UInt16:
      kernels::quantize_linear_ref(xf, scales.data(), zp_ptr, layout, qmin, qmax,
                                   y.data<uint16_t>());
      break;
    case DType::Int16:
      kernels::quantize_linear_ref(xf, scales.data(), zp_ptr, layout, qmin, qmax,
                                   y.data<int16_t>());
      break;
    default: OCTET_CHECK(false, "unhandled quantize type ", dtype_name(out_type));
  }
  ctx.outputs[0] = std::move(y);
}

// Validates the layout at inference time when every shape involved is known.
void infer_check_layout(InferContext& ctx, int64_t block_size) {
  const TensorType& x = ctx.input(0);
  const TensorType& s = ctx.input(1);
  if (x.fully_known() && s.fully_known())
    quant_layout(ctx.node, x.concrete_shape(), s.concrete_shape(), ctx.node.attr_int("axis", 1),
                 block_size);
  if (ctx.has_input(2) && s.fully_known() && ctx.input(2).fully_known())
    check_zero_point_shape(ctx.node, s.concrete_shape(), ctx.input(2).concrete_shape(), block_size);
}

void infer_quantize_linear(InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  const DType zp_type = ctx.has_input(2) ? ctx.input(2).dtype : DType::Undefined;
  const DType out_type = quantize_output_dtype(ctx.node, zp_type);
  if (out_type != DType::Undefined && !is_quantize_target(out_type))
    ctx.fail(str_cat("cannot quantize to ", dtype_name(out_type)));
  infer_check_layout(ctx, ctx.node.attr_int("block_size", 0));
  TensorType y = x;
  y.dtype = out_type;
  ctx.outputs[0] = y;
}

// DequantizeLinear's output type: output_dtype (opset 23) if given, else x_scale's type.
DType dequantize_output_dtype(const Node& node, DType scale_type) {
  const int64_t code = node.attr_int("output_dtype", 0);
  const DType t = code != 0 ? static_cast<DType>(code) : scale_type;
  if (t != DType::Float32 && t != DType::Float16 && t != DType::BFloat16 && t != DType::Undefined)
    throw Error(str_cat(node.describe(), ": DequantizeLinear output must be FLOAT, FLOAT16 or ",
                        "BFLOAT16, got ", code != 0 ? dtype_name(t) : dtype_name(scale_type)));
  return t;
}

void run_dequantize_linear(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* zp = ctx.has_input(2) ? ctx.inputs[2] : nullptr;
  reject_fp8(node, x.dtype(), "x");
  int32_t qmin, qmax;
  if (!quant_range(x.dtype(), &qmin, &qmax))
    ctx.fail(str_cat("x must be an integer quantized type (INT8, UINT8, INT16, UINT16, INT32, ",
                     "INT4, UINT4), got ", dtype_name(x.dtype())));
  const DType out_type = dequantize_output_dtype(node, scale.dtype());
  const int64_t block_size = node.attr_int("block_size", 0);
  const QuantLayout layout =
      quant_layout(node, x.shape(), scale.shape(), node.attr_int("axis", 1), block_size);
  const std::vector<float> scales = read_scales(scale, node, "x_scale");
  std::vector<int32_t> zps;
  if (zp) {
    if (zp->dtype() != x.dtype())
      ctx.fail(str_cat("x_zero_point has type ", dtype_name(zp->dtype()), " but x has type ",
                       dtype_name(x.dtype())));
    check_zero_point_shape(node, scale.shape(), zp->shape(), block_size);
    zps = read_zero_points(*zp, node, "x_zero_point");
  }
  const int32_t* zp_ptr = zp ? zps.data() : nullptr;

  Tensor yf(DType::Float32, x.shape());
  float* out = yf.data<float>();
  switch (x.dtype()) {
    case DType::UInt8:
    case DType::UInt4:
      kernels::dequantize_linear_ref(x.data<uint8_t>(), scales.data(), zp_ptr, layout, out);
      break;
    case DType::Int8:
    case DType::Int4:
      kernels::dequantize_linear_ref(x.data<int8_t>(), scales.data(), zp_ptr, layout, out);
      break;
    case DType::UInt16:
      kernels::dequantize_linear_ref(x.data<uint16_t>(), scales.data(), zp_ptr, layout, out);
      break;
    case DType::Int16:
      kernels::dequantize_linear_ref(x.data<int16_t>(), scales.data(), zp_ptr, layout, out);
      break;
    case DType::Int32:
      kernels::dequantize_linear_ref(x.data<int32_t>(), scales.data(), zp_ptr, layout, out);
      break;
    default: OCTET_CHECK(false, "unhandled dequantize type ", dtype_name(x.dtype()));
  }
  if (out_type == DType::Float32) {
    ctx.outputs[0] = std::move(yf);
    return;
  }
  Tensor y(out_type, x.shape());
  if (out_type == DType::Float16) {
    Half* d = y.data<Half>();
    for (int64_t i = 0; i < y.numel(); ++i) d[i] = Half(out[i]);
  } else {
    BFloat16* d = y.data<BFloat16>();
    for (int64_t i = 0; i < y.numel(); ++i) d[i] = BFloat16(out[i]);
  }
  ctx.outputs[0] = std::move(y);
}

void infer_dequantize_linear(InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  const TensorType& s = ctx.input(1);
  if (ctx.has_input(2) && x.dtype != DType::Undefined && ctx.input(2).dtype != DType::Undefined &&
      ctx.input(2).dtype != x.dtype)
    ctx.fail(str_cat("x_zero_point has type ", dtype_name(ctx.input(2).dtype), " but x has type ",
                     dtype_name(x.dtype)));
  int32_t qmin, qmax;
  if (x.dtype != DType::Undefined && !quant_range(x.dtype, &qmin, &qmax) && !is_fp8(x.dtype))
    ctx.fail(str_cat("x must be an integer or FP8 quantized type, got ", dtype_name(x.dtype)));
  infer_check_layout(ctx, ctx.node.attr_int("block_size", 0));
  TensorType y = x;
  y.dtype = dequantize_output_dtype(ctx.node, s.dtype);
  ctx.outputs[0] = y;
}

// DynamicQuantizeLinear (UINT8 only, as the spec): y, y_scale (FLOAT scalar), y_zero_point
// (UINT8 scalar). Parameters as ONNX's reference computes them; see quantize_ref.h.
void run_dynamic_quantize_linear(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  if (!dtype_is_float(x.dtype())) ctx.fail(str_cat("x must be FLOAT, got ", dtype_name(x.dtype())));
  std::vector<float> xbuf;
  const float* xf = quantize_input_as_float(x, xbuf, node);
  float scale = 1.f;
  uint8_t zp = 0;
  kernels::dynamic_quantize_params_u8_ref(xf, x.numel(), &scale, &zp);
  const int32_t zp32 = zp;
  QuantLayout layout;
  layout.axis_len = x.numel();
  Tensor y(DType::UInt8, x.shape());
  kernels::quantize_linear_ref(xf, &scale, &zp32, layout, 0, 255, y.data<uint8_t>());
  ctx.outputs[0] = std::move(y);
  if (ctx.outputs.size() > 1) ctx.outputs[1] = Tensor::scalar<float>(scale);
  if (ctx.outputs.size() > 2) ctx.outputs[2] = Tensor::scalar<uint8_t>(zp);
}

void infer_dynamic_quantize_linear(InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  if (x.dtype != DType::Undefined && !dtype_is_float(x.dtype))
    ctx.fail(str_cat("x must be FLOAT, got ", dtype_name(x.dtype)));
  TensorType y = x;
  y.dtype = DType::UInt8;
  ctx.outputs[0] = y;
  if (ctx.outputs.size() > 1) ctx.outputs[1] = TensorType::of(DType::Float32, {});
  if (ctx.outputs.size() > 2) ctx.outputs[2] = TensorType::of(DType::UInt8, {});
}

}  // namespace

namespace quant_detail {

void register_quantize_linear_ops(OpRegistry& r) {
  r.add("QuantizeLinear", {run_quantize_linear, infer_quantize_linear});
  r.add("DequantizeLinear", {run_dequantize_linear, infer_dequantize_linear});
  r.add("DynamicQuantizeLinear", {run_dynamic_quantize_linear, infer_dynamic_quantize_linear});
}

}  // namespace quant_detail

void register_quant_ops(OpRegistry& r) {
  quant_detail::register_quantize_linear_ops(r);
  quant_detail::register_qmatmul_ops(r);
  quant_detail::register_qconv_ops(r);
  quant_detail::register_fused_qops(r);
}

}  // namespace octet
