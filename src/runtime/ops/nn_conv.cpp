// Conv and ConvTranspose (all opsets up to 21; float, double, float16, bfloat16), 1-D to 3-D.
// Shape logic is written once over int64 dims (-1 = unknown) and used by both the run and the
// infer function, so static inference and execution cannot disagree.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/ref/conv_ref.h"
#include "runtime/ops/nn_common.h"

namespace octet {
namespace {

using namespace nn_detail;

// The resolved geometry of a conv-like node.
struct ConvGeometry {
  int64_t group = 1;
  std::vector<int64_t> out;  // full output dims (-1 where unknown); empty when rank unknown
  WindowSpec win;
  std::vector<WindowDim> dims;  // per spatial dim
};

int64_t read_group(const Node& node) {
  const int64_t group = node.attr_int("group", 1);
  if (group < 1) fail(node, str_cat("group ", group, " must be >= 1"));
  return group;
}

// Rank of a conv-like node from X or W (whichever is known); checks they agree and that the
// spatial rank is one octet supports. Returns 0 when neither rank is known.
size_t conv_rank(const Node& node, const std::vector<int64_t>& x, const std::vector<int64_t>& w,
                 bool has_x, bool has_w) {
  if (has_x && has_w && x.size() != w.size())
    fail(node, str_cat("input X has rank ", x.size(), " but weight W has rank ", w.size(),
                       "; they must match"));
  const size_t r = has_x ? x.size() : (has_w ? w.size() : 0);
  if (r == 0) return 0;
  if (r < 3) fail(node, str_cat("input X must have rank >= 3 (N, C, spatial...), got rank ", r));
  if (r - 2 > static_cast<size_t>(kernels::kConvSpatialDims))
    fail(node, str_cat(r - 2, " spatial dims are not supported (octet supports 1 to ",
                       kernels::kConvSpatialDims, ")"));
  return r;
}

// kernel_shape from the attribute, checked against W's spatial dims, else W's spatial dims.
std::vector<int64_t> read_kernel(const Node& node, const std::vector<int64_t>& w, bool has_w,
                                 size_t spatial) {
  std::vector<int64_t> k(spatial, -1);
  if (has_w)
    for (size_t i = 0; i < spatial; ++i) k[i] = w[2 + i];
  if (node.has_attr("kernel_shape")) {
    std::vector<int64_t> attr = node.attr_ints("kernel_shape");
    if (attr.size() != spatial)
      fail(node, str_cat("kernel_shape has ", attr.size(), " values; expected ", spatial));
    for (size_t i = 0; i < spatial; ++i) {
      if (attr[i] < 1) fail(node, str_cat("kernel_shape value ", attr[i], " must be >= 1"));
      if (k[i] >= 0 && k[i] != attr[i])
        fail(node, str_cat("kernel_shape ", shape_str(attr),
                           " does not match the spatial dims of W ", shape_str(w)));
      k[i] = attr[i];
    }
  }
  return k;
}

// b: the bias dims, nullptr when B is absent or its rank unknown.
void check_bias(const Node& node, const std::vector<int64_t>* b, int64_t m) {
  if (!b) return;
  if (b->size() != 1) fail(node, str_cat("bias B must be 1-D, got rank ", b->size()));
  if ((*b)[0] >= 0 && m >= 0 && (*b)[0] != m)
    fail(node, str_cat("bias B has ", (*b)[0], " elements but there are ", m, " output channels"));
}

// x, w: dims with -1 for unknown; has_x / has_w false when the rank is unknown. b: bias dims or
// nullptr (absent / rank unknown).
ConvGeometry conv_geometry(const Node& node, const std::vector<int64_t>& x, bool has_x,
                           const std::vector<int64_t>& w, bool has_w,
                           const std::vector<int64_t>* b) {
  ConvGeometry g;
  g.group = read_group(node);
  const size_t r = conv_rank(node, x, w, has_x, has_w);
  if (r == 0) return g;
  const size_t spatial = r - 2;
  g.win = read_window(node, spatial, read_kernel(node, w, has_w, spatial), false);
  const int64_t c = has_x ? x[1] : -1;
  const int64_t m = has_w ? w[0] : -1;
  if (c >= 0 && c % g.group != 0)
    fail(node, str_cat("input channels ", c, " are not divisible by group ", g.group));
  if (m >= 0 && m % g.group != 0)
    fail(node, str_cat("output channels (W dim 0) ", m, " are not divisible by group ", g.group));
  if (c >= 0 && has_w && w[1] >= 0 && c != w[1] * g.group)
    fail(node, str_cat("input X has ", c, " channels but W expects ", w[1], " x group ", g.group,
                       " = ", w[1] * g.group, " (X ", shape_str(x), ", W ", shape_str(w), ")"));
  check_bias(node, b, m);
  g.out.assign(r, -1);
  g.out[0] = has_x ? x[0] : -1;
  g.out[1] = m;
  for (size_t i = 0; i < spatial; ++i) {
    g.dims.push_back(resolve_window_dim(node, g.win, i, has_x ? x[2 + i] : -1));
    g.out[2 + i] = g.dims.back().out;
  }
  return g;
}

// Bounds input and requested output sizes so that stride * size + kernel extent (each factor at
// most kMaxWindowAttr = 2^31) stays far inside int64.
constexpr int64_t kMaxTransposeDim = int64_t{1} << 40;

// ConvTranspose: W is [C, M/group, k...], output channels M = W[1] * group.
ConvGeometry conv_transpose_geometry(const Node& node, const std::vector<int64_t>& x, bool has_x,
                                     const std::vector<int64_t>& w, bool has_w,
                                     const std::vector<int64_t>* b) {
  ConvGeometry g;
  g.group = read_group(node);
  const size_t r = conv_rank(node, x, w, has_x, has_w);
  if (r == 0) return g;
  const size_t spatial = r - 2;
  g.win = read_window(node, spatial, read_kernel(node, w, has_w, spatial), false);
  const int64_t c = has_x ? x[1] : -1;
  if (c >= 0 && c % g.group != 0)
    fail(node, str_cat("input channels ", c, " are not divisible by group ", g.group));
  if (c >= 0 && has_w && w[0] >= 0 && c != w[0])
    fail(node, str_cat("input X has ", c, " channels but W dim 0 is ", w[0], " (X ", shape_str(x),
                       ", W ", shape_str(w), ")"));
  const int64_t m = has_w && w[1] >= 0 ? w[1] * g.group : -1;
  check_bias(node, b, m);

  std::vector<int64_t> out_pad = node.attr_ints("output_padding", std::vector<int64_t>(spatial, 0));
  if (out_pad.size() != spatial)
    fail(node, str_cat("output_padding has ", out_pad.size(), " values; expected ", spatial));
  for (int64_t v : out_pad)
    if (v < 0 || v > kMaxWindowAttr)
      fail(node, str_cat("output_padding value ", v, " must be in [0, ", kMaxWindowAttr, "]"));
  std::vector<int64_t> out_shape = node.attr_ints("output_shape");
  if (out_shape.size() == spatial + 2)  // some exporters write the full N, C, spatial shape
    out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && out_shape.size() != spatial)
    fail(node, str_cat("output_shape has ", out_shape.size(), " values; expected ", spatial));

  g.out.assign(r, -1);
  g.out[0] = has_x ? x[0] : -1;
  g.out[1] = m;
  for (size_t i = 0; i < spatial; ++i) {
    WindowDim d;
    d.pad_begin = g.win.pads[i];
    d.pad_end = g.win.pads[spatial + i];
    const int64_t in = has_x ? x[2 + i] : -1;
    if (in > kMaxTransposeDim)
      fail(node, str_cat("spatial dim ", i, " of X (", in, ") is too large"));
    const int64_t k = g.win.kernel[i];
    const int64_t s = g.win.strides[i];
    const int64_t ek = k < 0 ? -1 : (k - 1) * g.win.dilations[i] + 1;
    const bool same = g.win.auto_pad == AutoPad::SameUpper || g.win.auto_pad == AutoPad::SameLower;
    if (!out_shape.empty() || same) {
      // The pads follow from the requested output size; when the total is odd SAME_UPPER puts
      // the extra pad at the end, NOTSET and SAME_LOWER at the beginning (ONNX spec). A
      // negative total (output larger than the scatter reaches) is clamped to 0: the extra
      // outputs at the end hold the bias.
      if (!out_shape.empty() && (out_shape[i] < 1 || out_shape[i] > kMaxTransposeDim))
        fail(node, str_cat("output_shape value ", out_shape[i], " must be in [1, ",
                           kMaxTransposeDim, "]"));
      if (in >= 0)
        d.out = out_shape.empty() ? in * s : out_shape[i];
      else if (!out_shape.empty())
        d.out = out_shape[i];
      if (in >= 0 && ek >= 0) {
        const int64_t total = std::max<int64_t>(0, s * (in - 1) + out_pad[i] + ek - d.out);
        const bool upper = g.win.auto_pad == AutoPad::SameUpper;
        d.pad_begin = upper ? total / 2 : total - total / 2;
        d.pad_end = total - d.pad_begin;
      }
    } else if (in >= 0 && ek >= 0) {
      d.out = s * (in - 1) + out_pad[i] + ek - d.pad_begin - d.pad_end;
      if (d.out < 1)
        fail(node, str_cat("spatial dim ", i, ": output size ", d.out, " is not positive (input ",
                           in, ", stride ", s, ", kernel extent ", ek, ", pads ", d.pad_begin,
                           " + ", d.pad_end, ")"));
    }
    g.dims.push_back(d);
    g.out[2 + i] = d.out;
  }
  return g;
}

kernels::ConvParams conv_params(const Shape& x, const ConvGeometry& g) {
  kernels::ConvParams p;
  p.batch = x[0];
  p.in_channels = x[1];
  p.out_channels = g.out[1];
  p.group = g.group;
  const size_t spatial = x.size() - 2;
  const size_t off = kernels::kConvSpatialDims - spatial;  // unused leading dims stay 1
  for (size_t i = 0; i < spatial; ++i) {
    p.in[off + i] = x[2 + i];
    p.kernel[off + i] = g.win.kernel[i];
    p.out[off + i] = g.out[2 + i];
    p.stride[off + i] = g.win.strides[i];
    p.dilation[off + i] = g.win.dilations[i];
    p.pad_begin[off + i] = g.dims[i].pad_begin;
  }
  return p;
}

template <bool kTranspose>
void run_conv(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& X = ctx.input(0);
  const Tensor& W = ctx.input(1);
  const Tensor* B = ctx.has_input(2) ? ctx.inputs[2] : nullptr;
  require_float(node, X.dtype(), "input X");
  require_same_dtype(node, X.dtype(), "input X", W.dtype(), "weight W");
  if (B) require_same_dtype(node, X.dtype(), "input X", B->dtype(), "bias B");
  if (X.rank() < 3 || W.rank() != X.rank())  // found by fuzzing: rank-0 inputs reached conv_params
    ctx.fail(str_cat("input X ", shape_str(X.shape()), " and weight W ", shape_str(W.shape()),
                     " must have the same rank, at least 3 ([N,C,spatial...])"));
  const ConvGeometry g =
      kTranspose ? conv_transpose_geometry(node, X.shape(), true, W.shape(), true,
                                           B ? &B->shape() : nullptr)
                 : conv_geometry(node, X.shape(), true, W.shape(), true, B ? &B->shape() : nullptr);
  const Tensor xc = to_compute(X), wc = to_compute(W);
  const Tensor bc = B ? to_compute(*B) : Tensor();
  const kernels::ConvParams p = conv_params(X.shape(), g);
  Tensor y(xc.dtype(), g.out);
  dispatch_compute(xc.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* bias = B ? bc.data<T>() : nullptr;
    if constexpr (kTranspose)
      kernels::conv_transpose_nchw_ref(p, xc.data<T>(), wc.data<T>(), bias, y.data<T>());
    else
      kernels::conv_nchw_ref(p, xc.data<T>(), wc.data<T>(), bias, y.data<T>());
  });
  ctx.outputs[0] = to_dtype(y, X.dtype());
}

template <bool kTranspose>
void infer_conv(InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorType& X = ctx.input(0);
  const TensorType& W = ctx.input(1);
  const TensorType* B = ctx.has_input(2) ? ctx.inputs[2] : nullptr;
  if (X.dtype != DType::Undefined) require_float(node, X.dtype, "input X");
  if (X.dtype != DType::Undefined && W.dtype != DType::Undefined)
    require_same_dtype(node, X.dtype, "input X", W.dtype, "weight W");
  const std::vector<int64_t> x = known_dims(X), w = known_dims(W);
  std::vector<int64_t> b;
  if (B && B->has_shape) b = known_dims(*B);
  const std::vector<int64_t>* bp = B && B->has_shape ? &b : nullptr;
  const ConvGeometry g = kTranspose
                             ? conv_transpose_geometry(node, x, X.has_shape, w, W.has_shape, bp)
                             : conv_geometry(node, x, X.has_shape, w, W.has_shape, bp);
  TensorType out;
  out.dtype = X.dtype != DType::Undefined ? X.dtype : W.dtype;
  if (!g.out.empty()) {
    std::vector<Dim> pass(g.out.size());
    if (X.has_shape) pass[0] = X.dims[0];  // symbolic batch passes through
    out = make_type(out.dtype, g.out, pass);
  }
  ctx.outputs[0] = out;
}

}  // namespace

void register_nn_conv_ops(OpRegistry& r) {
  r.add("Conv", {run_conv<false>, infer_conv<false>});
  r.add("ConvTranspose", {run_conv<true>, infer_conv<true>});
}

}  // namespace octet
