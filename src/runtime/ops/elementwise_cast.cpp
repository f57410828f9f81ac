// The element-wise family, part 4: Cast and CastLike. Conversions are Tensor::cast (ONNX Cast
// semantics, see src/ir/tensor.h) with two refinements made here:
//  - to STRING, float values print as the shortest decimal that reads back to the same value
//    ("0.9767611", as numpy and the ONNX test data write them), "NaN", "INF", "-INF";
//  - to INT4/UINT4, values wrap modulo 16 from the integer part, also for negative floats into
//    UINT4 (ONNX's test data: -9.0 -> UINT4 7), rather than saturating at 0 first.
// FP8 and other types octet cannot compute on are reported as errors naming the node; the
// `saturate` attribute (Cast-19) only concerns FP8 and is therefore not used.
#include <cstdio>
#include <cstdlib>

#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_common.h"
#include "runtime/ops/op_util.h"

namespace octet::elementwise {

namespace {

// Shortest "%.Ng" text that parses back to exactly v.
template <class T>
std::string format_shortest(T v) {
  const double d = static_cast<double>(load(v));
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "INF" : "-INF";
  char buf[64];
  for (int prec = 1; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof buf, "%.*g", prec, d);
    const double back = std::strtod(buf, nullptr);
    bool same;
    if constexpr (is_half_like_v<T>) same = T(static_cast<float>(back)).bits == v.bits;
    else same = static_cast<T>(back) == v;
    if (same) break;
  }
  return buf;
}

Tensor cast_tensor(const OpContext& ctx, const Tensor& x, DType to) {
  if (!dtype_is_computable(to))
    ctx.unsupported(str_cat("casting to ", dtype_name(to), " is not supported"));
  if (!dtype_is_computable(x.dtype()))
    ctx.unsupported(str_cat("casting from ", dtype_name(x.dtype()), " is not supported"));
  try {
    if (to == DType::String && dtype_is_float(x.dtype())) {
      Tensor out(DType::String, x.shape());
      std::string* po = out.data<std::string>();
      dispatch_float(ctx.node, x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        const T* px = x.data<T>();
        for (int64_t i = 0; i < x.numel(); ++i) po[i] = format_shortest(px[i]);
      });
      return out;
    }
    if ((to == DType::Int4 || to == DType::UInt4) && dtype_is_float(x.dtype()))
      return x.cast(DType::Int64).cast(to);  // truncate, then wrap into 4 bits
    return x.cast(to);
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
}

void run_cast(OpContext& ctx) {
  const int64_t code = ctx.node.attr_int("to");
  if (code < 0 || code > INT32_MAX || !dtype_is_known(static_cast<int32_t>(code)))
    ctx.fail(str_cat("attribute 'to' is ", code, ", which is not an element type octet knows"));
  ctx.outputs[0] = cast_tensor(ctx, ctx.input(0), static_cast<DType>(code));
}

void infer_cast(InferContext& ctx) {
  const int64_t code = ctx.node.attr_int("to");
  if (code < 0 || code > INT32_MAX || !dtype_is_known(static_cast<int32_t>(code)))
    ctx.fail(str_cat("attribute 'to' is ", code, ", which is not an element type octet knows"));
  infer_same_as_input(ctx);
  if (!ctx.outputs.empty()) ctx.outputs[0].dtype = static_cast<DType>(code);
}

void run_cast_like(OpContext& ctx) {
  ctx.outputs[0] = cast_tensor(ctx, ctx.input(0), ctx.input(1).dtype());
}

void infer_cast_like(InferContext& ctx) {
  const DType to = ctx.input(1).dtype;
  infer_same_as_input(ctx);
  if (!ctx.outputs.empty()) ctx.outputs[0].dtype = to;
}

}  // namespace

void register_cast_ops(OpRegistry& r) {
  r.add("Cast", {run_cast, infer_cast});
  r.add("CastLike", {run_cast_like, infer_cast_like});
}

}  // namespace octet::elementwise
