// Reductions: Reduce{Sum,Mean,Max,Min,Prod,L1,L2,LogSum,LogSumExp,SumSquare}, ArgMax/ArgMin,
// Softmax/LogSoftmax/Hardmax. This file parses attributes, validates axes and shapes and picks
// the element type; the loops are in kernels/ref/reduce_ref and kernels/ref/softmax_ref.
//
// Reduce axes: an attribute up to opset 12 (ReduceSum) / 17 (the others), the optional second
// input from then on. Both forms are accepted at any opset (a model cannot carry both), so a
// model whose opset import is slightly off still runs. noop_with_empty_axes with empty axes
// reduces nothing but still applies the element-wise part, as the ONNX spec says (ReduceSumSquare
// squares, ReduceL1 takes |x|, ReduceLogSum takes log).
#include <optional>
#include <string>
#include <vector>

#include "kernels/ref/reduce_ref.h"
#include "kernels/ref/softmax_ref.h"
#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"

namespace octet {
namespace {

using kernels::ReduceOp;
using kernels::SoftmaxOp;

[[noreturn]] void reduce_fail(const Node& node, const std::string& msg) {
  throw Error(str_cat(node.describe(), ": ", msg));
}

bool is_max_min(ReduceOp op) { return op == ReduceOp::Max || op == ReduceOp::Min; }

// Maps an axis into [0, rank) using ONNX's accepted range [-rank, rank - 1].
int64_t reduce_axis_in_range(int64_t axis, int64_t rank, const Node& node, const char* what) {
  if (axis < -rank || axis >= rank)
    reduce_fail(node, str_cat(what, " ", axis, " is out of range for an input of rank ", rank,
                              " (accepted: [", -rank, ", ", rank - 1, "])"));
  return axis < 0 ? axis + rank : axis;
}

std::string axes_str(const std::vector<int64_t>& axes) {
  std::string s = "[";
  for (size_t i = 0; i < axes.size(); ++i) s += str_cat(i ? "," : "", axes[i]);
  return s + "]";
}

// Per input dim, 1 when reduced. Empty axes reduce everything, or nothing with noop.
std::vector<uint8_t> reduced_dims(const std::vector<int64_t>& axes, int64_t rank, bool noop,
                                  const Node& node) {
  std::vector<uint8_t> red(static_cast<size_t>(rank), axes.empty() && !noop ? 1 : 0);
  for (int64_t a : axes) {
    const int64_t d = reduce_axis_in_range(a, rank, node, "axis");
    if (red[d]) reduce_fail(node, str_cat("axes ", axes_str(axes), " name dimension ", d, " twice"));
    red[d] = 1;
  }
  return red;
}

std::vector<int64_t> axes_from_tensor(const Tensor& t, const Node& node) {
  if (t.rank() > 1)
    reduce_fail(node, str_cat("axes input must be a 1-D tensor, got shape ", shape_str(t.shape())));
  return to_int64s(t, node, "axes input");
}

bool reduce_dtype_ok(DType t, ReduceOp op) {
  if (t == DType::Bool) return is_max_min(op);
  return dtype_is_float(t) || dtype_is_integer(t);
}

// ---- Reduce* ----

void run_reduce(OpContext& ctx, ReduceOp op) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  const bool keepdims = node.attr_int("keepdims", 1) != 0;
  const bool noop = node.attr_int("noop_with_empty_axes", 0) != 0;
  std::vector<int64_t> axes;
  if (ctx.has_input(1)) {
    if (node.has_attr("axes")) ctx.fail("axes are given both as an attribute and as an input");
    axes = axes_from_tensor(*ctx.inputs[1], node);
  } else {
    axes = node.attr_ints("axes", {});
  }
  const int64_t rank = static_cast<int64_t>(x.rank());
  kernels::ReduceParams p;
  p.op = op;
  p.dims = x.shape();
  p.reduce = reduced_dims(axes, rank, noop, node);
  Shape out_shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (!p.reduce[d]) out_shape.push_back(x.dim(d));
    else if (keepdims) out_shape.push_back(1);
  }
  if (!reduce_dtype_ok(x.dtype(), op))
    ctx.fail(str_cat("element type ", dtype_name(x.dtype()), " is not supported"));

  if (x.dtype() == DType::Float16 || x.dtype() == DType::BFloat16) {
    // Computed in float (the kernel accumulates in double), rounded back once.
    Tensor xf = x.cast(DType::Float32);
    Tensor yf(DType::Float32, out_shape);
    kernels::reduce_ref(xf.data<float>(), yf.data<float>(), p);
    ctx.outputs[0] = yf.cast(x.dtype());
    return;
  }
  Tensor y(x.dtype(), out_shape);
  if (x.dtype() == DType::Bool) {
    kernels::reduce_ref(x.data<bool>(), y.data<bool>(), p);
  } else {
    dispatch_arith(x.dtype(), node.describe(), [&](auto tag) {
      using T = decltype(tag);
      kernels::reduce_ref(x.data<T>(), y.data<T>(), p);
    });
  }
  ctx.outputs[0] = y;
}

void infer_reduce(InferContext& ctx, ReduceOp op) {
  const Node& node = ctx.node;
  const TensorType& in = ctx.input(0);
  if (in.dtype != DType::Undefined && !reduce_dtype_ok(in.dtype, op))
    ctx.fail(str_cat("element type ", dtype_name(in.dtype), " is not supported"));
  const bool keepdims = node.attr_int("keepdims", 1) != 0;
  const bool noop = node.attr_int("noop_with_empty_axes", 0) != 0;
  std::optional<std::vector<int64_t>> axes;  // nullopt: not known statically
  if (ctx.has_input(1)) {
    if (node.has_attr("axes")) ctx.fail("axes are given both as an attribute and as an input");
    const TensorType& at = ctx.input(1);
    if (at.has_shape && at.dims.size() > 1) ctx.fail(str_cat("axes input must be 1-D, got ", at.str()));
    if (const Tensor* c = ctx.constant(1)) axes = axes_from_tensor(*c, node);
    else if (at.has_shape && at.dims.size() == 1 && at.dims[0] == Dim::known(0)) axes.emplace();
  } else {
    axes = node.attr_ints("axes", {});
  }

  TensorType out;
  out.dtype = in.dtype;
  if (!in.has_shape) {
    // Rank unknown: only "reduce everything to a scalar" and "reduce nothing" are certain.
    if (axes && axes->empty()) {
      if (noop) out = in;
      else if (!keepdims) out.has_shape = true;
    }
    ctx.outputs[0] = out;
    return;
  }
  const int64_t rank = static_cast<int64_t>(in.dims.size());
  if (axes) {
    const std::vector<uint8_t> red = reduced_dims(*axes, rank, noop, node);
    out.has_shape = true;
    for (int64_t d = 0; d < rank; ++d) {
      if (!red[d]) out.dims.push_back(in.dims[d]);
      else if (keepdims) out.dims.push_back(Dim::known(1));
    }
  } else if (keepdims) {
    // Same rank; a dim keeps its size only where it is 1 (reduced or not, it stays 1).
    out.has_shape = true;
    for (const Dim& d : in.dims) out.dims.push_back(d == Dim::known(1) ? d : Dim{});
  }
  ctx.outputs[0] = out;
}

// ---- ArgMax / ArgMin ----

void run_arg_reduce(OpContext& ctx, bool is_max) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  const int64_t axis = reduce_axis_in_range(node.attr_int("axis", 0), rank, node, "axis");
  const bool keepdims = node.attr_int("keepdims", 1) != 0;
  kernels::ArgReduceParams p;
  p.is_max = is_max;
  p.select_last_index = node.attr_int("select_last_index", 0) != 0;
  Shape out_shape;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) p.outer *= x.dim(d);
    if (d > axis) p.inner *= x.dim(d);
    if (d != axis) out_shape.push_back(x.dim(d));
    else if (keepdims) out_shape.push_back(1);
  }
  p.n = x.dim(axis);
  Tensor y(DType::Int64, out_shape);
  ctx.outputs[0] = y;
  if (y.numel() == 0) return;
  if (p.n == 0)
    ctx.fail(str_cat("cannot take ", node.op_type, " along axis ", axis, " of size 0 (input shape ",
                     shape_str(x.shape()), ")"));
  if (x.dtype() == DType::Float16 || x.dtype() == DType::BFloat16) {
    Tensor xf = x.cast(DType::Float32);  // exact, so the order is unchanged
    kernels::arg_reduce_ref(xf.data<float>(), y.data<int64_t>(), p);
    return;
  }
  dispatch_arith(x.dtype(), node.describe(), [&](auto tag) {
    using T = decltype(tag);
    kernels::arg_reduce_ref(x.data<T>(), y.data<int64_t>(), p);
  });
}

void infer_arg_reduce(InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorType& in = ctx.input(0);
  if (in.dtype != DType::Undefined && !(dtype_is_float(in.dtype) || dtype_is_integer(in.dtype)))
    ctx.fail(str_cat("element type ", dtype_name(in.dtype), " is not supported"));
  TensorType out;
  out.dtype = DType::Int64;
  if (in.has_shape) {
    const int64_t rank = static_cast<int64_t>(in.dims.size());
    const int64_t axis = reduce_axis_in_range(node.attr_int("axis", 0), rank, node, "axis");
    const bool keepdims = node.attr_int("keepdims", 1) != 0;
    out.has_shape = true;
    for (int64_t d = 0; d < rank; ++d) {
      if (d != axis) out.dims.push_back(in.dims[d]);
      else if (keepdims) out.dims.push_back(Dim::known(1));
    }
  }
  ctx.outputs[0] = out;
}

// ---- Softmax / LogSoftmax / Hardmax ----

// Opset >= 13: along `axis` (default -1). Before: the input is coerced to 2-D at `axis`
// (default 1), i.e. the op runs over all dims from `axis` on; axis == rank is allowed there
// (the coerced row then has one element), as the coercion is well defined for it.
int64_t softmax_axis(const Node& node, int64_t opset, int64_t rank) {
  const bool coerce_2d = opset < 13;
  const int64_t axis = node.attr_int("axis", coerce_2d ? 1 : -1);
  if (coerce_2d && rank > 0 && axis == rank) return axis;
  return reduce_axis_in_range(axis, rank, node, "axis");
}

void run_softmax(OpContext& ctx, SoftmaxOp op) {
  const Node& node = ctx.node;
  const Tensor& x = ctx.input(0);
  if (!dtype_is_float(x.dtype()))
    ctx.fail(str_cat("element type ", dtype_name(x.dtype()), " is not supported (float types only)"));
  const int64_t rank = static_cast<int64_t>(x.rank());
  const int64_t axis = softmax_axis(node, ctx.opset, rank);
  kernels::SoftmaxParams p;
  p.op = op;
  p.n = 1;
  for (int64_t d = 0; d < rank; ++d) {
    if (d < axis) p.outer *= x.dim(d);
    else if (d == axis || ctx.opset < 13) p.n *= x.dim(d);
    else p.inner *= x.dim(d);
  }
  if (x.dtype() == DType::Float16 || x.dtype() == DType::BFloat16) {
    Tensor xf = x.cast(DType::Float32);
    Tensor yf(DType::Float32, x.shape());
    kernels::softmax_ref(xf.data<float>(), yf.data<float>(), p);
    ctx.outputs[0] = yf.cast(x.dtype());
    return;
  }
  Tensor y(x.dtype(), x.shape());
  if (x.dtype() == DType::Float64) kernels::softmax_ref(x.data<double>(), y.data<double>(), p);
  else kernels::softmax_ref(x.data<float>(), y.data<float>(), p);
  ctx.outputs[0] = y;
}

void infer_softmax(InferContext& ctx) {
  const TensorType& in = ctx.input(0);
  if (in.dtype != DType::Undefined && !dtype_is_float(in.dtype))
    ctx.fail(str_cat("element type ", dtype_name(in.dtype), " is not supported (float types only)"));
  if (in.has_shape) softmax_axis(ctx.node, ctx.opset, static_cast<int64_t>(in.dims.size()));
  ctx.outputs[0] = in;
}

}  // namespace

void register_reduce_ops(OpRegistry& r) {
  const std::pair<const char*, ReduceOp> reduces[] = {
      {"ReduceSum", ReduceOp::Sum},       {"ReduceMean", ReduceOp::Mean},
      {"ReduceMax", ReduceOp::Max},       {"ReduceMin", ReduceOp::Min},
      {"ReduceProd", ReduceOp::Prod},     {"ReduceL1", ReduceOp::L1},
      {"ReduceL2", ReduceOp::L2},         {"ReduceLogSum", ReduceOp::LogSum},
      {"ReduceLogSumExp", ReduceOp::LogSumExp}, {"ReduceSumSquare", ReduceOp::SumSquare},
  };
  for (const auto& [name, op] : reduces) {
    const ReduceOp o = op;
    r.add(name, OpDef{[o](OpContext& ctx) { run_reduce(ctx, o); },
                      [o](InferContext& ctx) { infer_reduce(ctx, o); }});
  }
  r.add("ArgMax", OpDef{[](OpContext& ctx) { run_arg_reduce(ctx, true); }, infer_arg_reduce});
  r.add("ArgMin", OpDef{[](OpContext& ctx) { run_arg_reduce(ctx, false); }, infer_arg_reduce});
  const std::pair<const char*, SoftmaxOp> softmaxes[] = {
      {"Softmax", SoftmaxOp::Softmax},
      {"LogSoftmax", SoftmaxOp::LogSoftmax},
      {"Hardmax", SoftmaxOp::Hardmax},
  };
  for (const auto& [name, op] : softmaxes) {
    const SoftmaxOp o = op;
    r.add(name, OpDef{[o](OpContext& ctx) { run_softmax(ctx, o); }, infer_softmax});
  }
}

}  // namespace octet
