// MaxPool, AveragePool (1-D to 3-D; pads, auto_pad, strides, dilations, ceil_mode; MaxPool's
// Indices output and storage_order; AveragePool's count_include_pad), GlobalAveragePool and
// GlobalMaxPool. Float types compute through kernels::*pool_ref (f16 and bf16 in float, exact
// for max); MaxPool also takes int8 and uint8 (opset 12).
#include <string>
#include <vector>

#include "kernels/ref/pool_ref.h"
#include "runtime/ops/nn_common.h"

namespace octet {
namespace {

using namespace nn_detail;

enum class PoolKind { Max, Average };

bool pool_dtype_ok(PoolKind kind, DType t) {
  return is_float_type(t) || (kind == PoolKind::Max && (t == DType::Int8 || t == DType::UInt8));
}

void check_pool_dtype(const Node& node, PoolKind kind, DType t) {
  if (t != DType::Undefined && !pool_dtype_ok(kind, t))
    fail(node, str_cat("input X has element type ", dtype_name(t), "; expected ",
                       kind == PoolKind::Max ? "FLOAT, DOUBLE, FLOAT16, BFLOAT16, INT8 or UINT8"
                                             : "FLOAT, DOUBLE, FLOAT16 or BFLOAT16"));
}

struct PoolGeometry {
  std::vector<int64_t> out;  // full output dims, -1 where unknown; empty when rank unknown
  WindowSpec win;
  std::vector<WindowDim> dims;
};

// x: X dims (-1 unknown); has_x false when X's rank is unknown (then the rank follows from
// kernel_shape).
PoolGeometry pool_geometry(const Node& node, const std::vector<int64_t>& x, bool has_x) {
  PoolGeometry g;
  if (!node.has_attr("kernel_shape")) fail(node, "attribute kernel_shape is required");
  const std::vector<int64_t> kernel = node.attr_ints("kernel_shape");
  const size_t spatial = kernel.size();
  if (spatial == 0) fail(node, "kernel_shape is empty");
  if (spatial > static_cast<size_t>(kernels::kPoolSpatialDims))
    fail(node, str_cat(spatial, " spatial dims are not supported (octet supports 1 to ",
                       kernels::kPoolSpatialDims, ")"));
  for (int64_t k : kernel)
    if (k < 1) fail(node, str_cat("kernel_shape value ", k, " must be >= 1"));
  if (has_x && x.size() != spatial + 2)
    fail(node, str_cat("input X has rank ", x.size(), " but kernel_shape has ", spatial,
                       " dims; X must be (N, C, ", spatial, " spatial dims)"));
  g.win = read_window(node, spatial, kernel, true);
  g.out.assign(spatial + 2, -1);
  if (has_x) {
    g.out[0] = x[0];
    g.out[1] = x[1];
  }
  for (size_t i = 0; i < spatial; ++i) {
    g.dims.push_back(resolve_window_dim(node, g.win, i, has_x ? x[2 + i] : -1));
    g.out[2 + i] = g.dims.back().out;
  }
  return g;
}

kernels::PoolParams pool_params(const Shape& x, const PoolGeometry& g) {
  kernels::PoolParams p;
  p.channels = x[0] * x[1];
  const size_t spatial = x.size() - 2;
  const size_t off = kernels::kPoolSpatialDims - spatial;  // unused leading dims stay 1
  for (size_t i = 0; i < spatial; ++i) {
    p.in[off + i] = x[2 + i];
    p.kernel[off + i] = g.win.kernel[i];
    p.out[off + i] = g.out[2 + i];
    p.stride[off + i] = g.win.strides[i];
    p.dilation[off + i] = g.win.dilations[i];
    p.pad_begin[off + i] = g.dims[i].pad_begin;
    p.pad_end[off + i] = g.dims[i].pad_end;
  }
  return p;
}

template <PoolKind kKind>
void run_pool(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& X = ctx.input(0);
  check_pool_dtype(node, kKind, X.dtype());
  const PoolGeometry g = pool_geometry(node, X.shape(), true);
  const kernels::PoolParams p = pool_params(X.shape(), g);
  // f16 / bf16 compute in float; int8, uint8, float and double natively.
  const DType ct =
      (X.dtype() == DType::Float16 || X.dtype() == DType::BFloat16) ? DType::Float32 : X.dtype();
  const Tensor xc = to_dtype(X, ct);
  Tensor y(ct, g.out);
  if constexpr (kKind == PoolKind::Max) {
    const int64_t storage_order = node.attr_int("storage_order", 0);
    if (storage_order != 0 && storage_order != 1)
      fail(node,
           str_cat("storage_order ", storage_order, " must be 0 (row major) or 1 (column major)"));
    Tensor indices;
    if (ctx.wants_output(1)) indices = Tensor(DType::Int64, g.out);
    int64_t* ip = ctx.wants_output(1) ? indices.data<int64_t>() : nullptr;
    auto go = [&](auto tag) {
      using T = decltype(tag);
      kernels::maxpool_nchw_ref(p, xc.data<T>(), y.data<T>(), ip, storage_order == 1);
    };
    switch (ct) {
      case DType::Float32:
        go(float{});
        break;
      case DType::Float64:
        go(double{});
        break;
      case DType::Int8:
        go(int8_t{});
        break;
      case DType::UInt8:
        go(uint8_t{});
        break;
      default:
        fail(node, str_cat("element type ", dtype_name(ct), " is not supported"));
    }
    if (ctx.wants_output(1)) ctx.outputs[1] = indices;
  } else {
    const bool include_pad = node.attr_int("count_include_pad", 0) != 0;
    dispatch_compute(ct, [&](auto tag) {
      using T = decltype(tag);
      kernels::avgpool_nchw_ref(p, include_pad, xc.data<T>(), y.data<T>());
    });
  }
  ctx.outputs[0] = to_dtype(y, X.dtype());
}

template <PoolKind kKind>
void infer_pool(InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorType& X = ctx.input(0);
  check_pool_dtype(node, kKind, X.dtype);
  const PoolGeometry g = pool_geometry(node, known_dims(X), X.has_shape);
  std::vector<Dim> pass(g.out.size());
  if (X.has_shape) pass[0] = X.dims[0], pass[1] = X.dims[1];  // symbolic N, C pass through
  ctx.outputs[0] = make_type(X.dtype, g.out, pass);
  if (ctx.outputs.size() > 1) ctx.outputs[1] = make_type(DType::Int64, g.out, pass);
}

// ---- Global pools ----

template <PoolKind kKind>
void run_global_pool(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& X = ctx.input(0);
  require_float(node, X.dtype(), "input X");
  if (X.rank() < 2)
    fail(node, str_cat("input X must have rank >= 2 (N, C, ...), got rank ", X.rank()));
  Shape out = X.shape();
  int64_t spatial = 1;
  for (size_t i = 2; i < out.size(); ++i) spatial *= out[i], out[i] = 1;
  const Tensor xc = to_compute(X);
  Tensor y(xc.dtype(), out);
  dispatch_compute(xc.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (kKind == PoolKind::Max)
      kernels::global_maxpool_ref(X.dim(0) * X.dim(1), spatial, xc.data<T>(), y.data<T>());
    else
      kernels::global_avgpool_ref(X.dim(0) * X.dim(1), spatial, xc.data<T>(), y.data<T>());
  });
  ctx.outputs[0] = to_dtype(y, X.dtype());
}

void infer_global_pool(InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorType& X = ctx.input(0);
  if (X.dtype != DType::Undefined) require_float(node, X.dtype, "input X");
  TensorType out = X;
  if (out.has_shape) {
    if (out.dims.size() < 2)
      fail(node, str_cat("input X must have rank >= 2 (N, C, ...), got ", X.str()));
    for (size_t i = 2; i < out.dims.size(); ++i) out.dims[i] = Dim::known(1);
  }
  ctx.outputs[0] = out;
}

}  // namespace

void register_nn_pool_ops(OpRegistry& r) {
  r.add("MaxPool", {run_pool<PoolKind::Max>, infer_pool<PoolKind::Max>});
  r.add("AveragePool", {run_pool<PoolKind::Average>, infer_pool<PoolKind::Average>});
  r.add("GlobalMaxPool", {run_global_pool<PoolKind::Max>, infer_global_pool});
  r.add("GlobalAveragePool", {run_global_pool<PoolKind::Average>, infer_global_pool});
}

}  // namespace octet
