// The libtorch bridge, quantization: QuantizeLinear and DequantizeLinear as fake quantization,
// so that Q/DQ graphs train (quantization-aware training); the integer ops (QLinearConv,
// QLinearMatMul, ConvInteger, MatMulInteger, DynamicQuantizeLinear) run on the executor.
//
// QuantizeLinear: q = clamp(round(x / scale) + zero_point, qmin, qmax), x / scale divided in
// float and rounded half to even, exactly as kernels/ref/round.h's quantize_value; the rounding
// passes gradients straight through (STE) and the clamp passes them only inside [qmin, qmax].
// The result is carried in float32 holding the integers (see TValue) and read as such by
// DequantizeLinear: y = (q - zero_point) * scale. Scales and zero points are never parameters.
// Per-tensor, per-axis and blocked (block_size) layouts, as src/runtime/ops/quant.cpp.
#include "train/torch_ops.h"

namespace octet::train::detail {
namespace {

bool int_range(DType t, double* lo, double* hi) {
  switch (t) {
    case DType::UInt8:
      *lo = 0, *hi = 255;
      return true;
    case DType::Int8:
      *lo = -128, *hi = 127;
      return true;
    case DType::UInt16:
      *lo = 0, *hi = 65535;
      return true;
    case DType::Int16:
      *lo = -32768, *hi = 32767;
      return true;
    case DType::UInt4:
      *lo = 0, *hi = 15;
      return true;
    case DType::Int4:
      *lo = -8, *hi = 7;
      return true;
    default:
      return false;
  }
}

// Scale or zero point (input i) shaped to broadcast against x: per-tensor, per-axis or blocked.
at::Tensor param_view(const OpCall& c, size_t i, const at::Tensor& x, const char* what) {
  at::Tensor p = c.x(i).to(at::kFloat);
  if (p.numel() == 1) return p.reshape({});
  if (x.dim() == 0)
    c.fail(str_cat("x is a scalar but ", what, " has shape ", shape_str(p.sizes().vec()),
                   "; a scalar can only be quantized per-tensor"));
  const int64_t axis = norm_axis(c, c.node.attr_int("axis", 1), x.dim());
  const int64_t block = c.node.attr_int("block_size", 0);
  if (block < 0) c.fail(str_cat("block_size must be >= 0, got ", block));
  const int64_t d = x.size(axis);
  if (block == 0) {
    if (p.dim() != 1 || p.size(0) != d)
      c.fail(str_cat("per-axis ", what, " must be 1-D with x.shape[", axis, "] = ", d,
                     " elements, got shape ", shape_str(p.sizes().vec())));
    std::vector<int64_t> view(static_cast<size_t>(x.dim()), 1);
    view[static_cast<size_t>(axis)] = d;
    return p.reshape(view);
  }
  std::vector<int64_t> want = x.sizes().vec();
  want[static_cast<size_t>(axis)] = (d + block - 1) / block;
  if (p.sizes().vec() != want)
    c.fail(str_cat("blocked quantization with block_size ", block, " needs ", what, " of shape ",
                   shape_str(want), ", got ", shape_str(p.sizes().vec())));
  return p.repeat_interleave(block, axis).narrow(axis, 0, d);
}

void run_quantize(OpCall& c) {
  if (!dtype_is_float(c.dtype(0))) {
    run_on_executor(c);  // INT32 x, or an error
    return;
  }
  const at::Tensor& x = c.x(0);
  const int64_t code = c.node.attr_int("output_dtype", 0);
  if (code != 0 && !dtype_is_known(static_cast<int32_t>(code)))
    c.fail(str_cat("output_dtype ", code, " is not a known element type"));
  DType out = code != 0 ? static_cast<DType>(code) : DType::UInt8;
  if (c.has(2)) {
    if (code != 0 && static_cast<DType>(code) != c.dtype(2))
      c.fail(str_cat("output_dtype ", dtype_name(out), " differs from y_zero_point's type ",
                     dtype_name(c.dtype(2))));
    out = c.dtype(2);
  }
  double lo, hi;
  if (!int_range(out, &lo, &hi))
    c.fail(str_cat("cannot quantize to ", dtype_name(out),
                   " (UINT8, INT8, UINT16, INT16, UINT4 or INT4 expected)"));
  c.require_float(1, "y_scale");
  const at::Tensor scale = param_view(c, 1, x, "y_scale");
  const at::Tensor xf = x.to(at::kFloat);
  const at::Tensor v = xf / scale;
  const at::Tensor rounded = v + (at::round(v) - v).detach();  // half to even, straight-through
  at::Tensor q = c.has(2) ? rounded + param_view(c, 2, x, "y_zero_point") : rounded;
  q = at::clamp(q, lo, hi);
  c.set(0, q, out);
}

void run_dequantize(OpCall& c) {
  const DType xt = c.dtype(0);
  double lo, hi;
  if (!int_range(xt, &lo, &hi) && xt != DType::Int32)
    c.fail(
        str_cat("x must be an integer quantized type (INT8, UINT8, INT16, UINT16, INT32, INT4, UINT4), got ",
                dtype_name(xt)));
  if (c.has(2) && c.dtype(2) != xt)
    c.fail(str_cat("x_zero_point has type ", dtype_name(c.dtype(2)), " but x has type ", dtype_name(xt)));
  c.require_float(1, "x_scale");
  const int64_t code = c.node.attr_int("output_dtype", 0);
  const DType out = code != 0 ? static_cast<DType>(code) : c.dtype(1);
  if (out != DType::Float32 && out != DType::Float16 && out != DType::BFloat16)
    c.fail(str_cat("DequantizeLinear output must be FLOAT, FLOAT16 or BFLOAT16, got ", dtype_name(out)));
  const at::Tensor& x = c.x(0);
  at::Tensor xf = x.to(at::kFloat);  // a fake-quant carrier already is; gradients pass
  if (c.has(2)) xf = xf - param_view(c, 2, x, "x_zero_point");
  at::Tensor y = xf * param_view(c, 1, x, "x_scale");
  if (out == DType::Float16) y = y.to(at::kHalf).to(at::kFloat);
  if (out == DType::BFloat16) y = y.to(at::kBFloat16).to(at::kFloat);
  c.set(0, y, out);
}

}  // namespace

void add_quant_ops(OpTable& t) {
  t["QuantizeLinear"] = OpMapping{run_quantize, {1, 2}};
  OpMapping dq{run_dequantize, {1, 2}};
  dq.reads_carriers = true;
  t["DequantizeLinear"] = dq;
  for (const char* name :
       {"DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger", "MatMulInteger"})
    t[name] = executor_mapping();
}

}  // namespace octet::train::detail
