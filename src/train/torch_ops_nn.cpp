// The libtorch bridge, neural-network ops: Conv, ConvTranspose, Gemm, MatMul, the pools,
// BatchNormalization, InstanceNormalization, LayerNormalization, Dropout, LRN and
// MeanVarianceNormalization. Geometry (pads, auto_pad, ceil_mode, output_shape) follows
// src/runtime/ops/nn_common.cpp and nn_conv.cpp exactly; the arithmetic is ATen's, in float32.
#include <algorithm>
#include <limits>

#include "train/torch_ops.h"

namespace octet::train::detail {
namespace {

// ---- sliding-window geometry (as nn_common.cpp) ----------------------------------------------

enum class AutoPad { NotSet, SameUpper, SameLower, Valid };

struct Window {
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end, out;
  AutoPad auto_pad = AutoPad::NotSet;
  bool ceil_mode = false;
};

std::vector<int64_t> per_dim(const OpCall& c, const char* key, size_t n, int64_t def, int64_t min) {
  std::vector<int64_t> v = c.node.attr_ints(key, std::vector<int64_t>(n, def));
  if (v.size() != n)
    c.fail(str_cat("attribute ", key, " has ", v.size(), " values; expected ", n, " (one per spatial dim)"));
  for (int64_t x : v)
    if (x < min || x > (int64_t{1} << 31)) c.fail(str_cat("attribute ", key, " has value ", x));
  return v;
}

Window read_window(const OpCall& c, std::vector<int64_t> kernel, bool allow_ceil) {
  const size_t n = kernel.size();
  Window w;
  w.kernel = std::move(kernel);
  for (int64_t k : w.kernel)
    if (k < 1) c.fail(str_cat("kernel size ", k, " must be >= 1"));
  w.strides = per_dim(c, "strides", n, 1, 1);
  w.dilations = per_dim(c, "dilations", n, 1, 1);
  const std::vector<int64_t> pads = per_dim(c, "pads", 2 * n, 0, 0);
  w.pad_begin.assign(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(n));
  w.pad_end.assign(pads.begin() + static_cast<std::ptrdiff_t>(n), pads.end());
  const std::string ap = c.node.attr_string("auto_pad", "NOTSET");
  if (ap == "NOTSET" || ap.empty())
    w.auto_pad = AutoPad::NotSet;
  else if (ap == "SAME_UPPER")
    w.auto_pad = AutoPad::SameUpper;
  else if (ap == "SAME_LOWER")
    w.auto_pad = AutoPad::SameLower;
  else if (ap == "VALID")
    w.auto_pad = AutoPad::Valid;
  else
    c.fail(str_cat("auto_pad '", ap, "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"));
  if (w.auto_pad != AutoPad::NotSet) {
    std::fill(w.pad_begin.begin(), w.pad_begin.end(), 0);
    std::fill(w.pad_end.begin(), w.pad_end.end(), 0);
  }
  w.ceil_mode = allow_ceil && c.node.attr_int("ceil_mode", 0) != 0;
  return w;
}

int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

// Output sizes and pads of a forward window op for spatial input sizes `in`.
void resolve_window(const OpCall& c, Window& w, const std::vector<int64_t>& in) {
  w.out.assign(in.size(), 0);
  for (size_t i = 0; i < in.size(); ++i) {
    const int64_t s = w.strides[i];
    const int64_t ek = (w.kernel[i] - 1) * w.dilations[i] + 1;
    if (w.auto_pad == AutoPad::SameUpper || w.auto_pad == AutoPad::SameLower) {
      w.out[i] = ceil_div(in[i], s);
      const int64_t total = std::max<int64_t>(0, (w.out[i] - 1) * s + ek - in[i]);
      const int64_t small = total / 2, big = total - small;
      w.pad_begin[i] = w.auto_pad == AutoPad::SameUpper ? small : big;
      w.pad_end[i] = w.auto_pad == AutoPad::SameUpper ? big : small;
      continue;
    }
    const int64_t padded = in[i] + w.pad_begin[i] + w.pad_end[i];
    if (padded < ek)
      c.fail(str_cat("spatial dim ", i, ": the kernel (extent ", ek, ") is larger than the padded input (",
                     padded, ")"));
    if (w.ceil_mode) {
      w.out[i] = ceil_div(padded - ek, s) + 1;
      if ((w.out[i] - 1) * s >= in[i] + w.pad_begin[i]) --w.out[i];
    } else {
      w.out[i] = (padded - ek) / s + 1;
    }
  }
}

// constant_pad_nd's pad list (last dim first) for begin/end pads of the spatial dims.
std::vector<int64_t> pad_list(const std::vector<int64_t>& begin, const std::vector<int64_t>& end) {
  std::vector<int64_t> p;
  for (size_t i = begin.size(); i-- > 0;) {
    p.push_back(begin[i]);
    p.push_back(end[i]);
  }
  return p;
}

std::vector<int64_t> spatial_dims(const at::Tensor& x) {
  return std::vector<int64_t>(x.sizes().begin() + 2, x.sizes().end());
}

// ---- Conv, ConvTranspose ---------------------------------------------------------------------

// Checks X, W, B types and ranks; returns the kernel from W (checked against kernel_shape).
std::vector<int64_t> conv_common(const OpCall& c) {
  c.require_float(0, "input X");
  c.require_same(0, 1);
  if (c.has(2)) c.require_same(0, 2);
  const at::Tensor& x = c.x(0);
  const at::Tensor& w = c.x(1);
  if (x.dim() != w.dim())
    c.fail(str_cat("input X has rank ", x.dim(), " but weight W has rank ", w.dim(), "; they must match"));
  if (x.dim() < 3 || x.dim() > 5)
    c.fail(str_cat("input X must have rank 3 to 5 (N, C, 1 to 3 spatial dims), got rank ", x.dim()));
  std::vector<int64_t> k = spatial_dims(w);
  if (c.node.has_attr("kernel_shape") && c.node.attr_ints("kernel_shape") != k)
    c.fail(str_cat("kernel_shape ", shape_str(c.node.attr_ints("kernel_shape")),
                   " does not match the spatial dims of W ", shape_str(w.sizes().vec())));
  if (c.has(2) && c.x(2).dim() != 1) c.fail("bias B must be 1-D");
  if (c.node.attr_int("group", 1) < 1) c.fail("group must be >= 1");
  return k;
}

void run_conv(OpCall& c) {
  const std::vector<int64_t> k = conv_common(c);
  const at::Tensor& x = c.x(0);
  const at::Tensor& w = c.x(1);
  const int64_t group = c.node.attr_int("group", 1);
  if (x.size(1) != w.size(1) * group || w.size(0) % group != 0)
    c.fail(str_cat("input X has ", x.size(1), " channels but W ", shape_str(w.sizes().vec()), " with group ",
                   group, " expects ", w.size(1) * group));
  if (c.has(2) && c.x(2).size(0) != w.size(0))
    c.fail(str_cat("bias B has ", c.x(2).size(0), " elements but there are ", w.size(0), " output channels"));
  Window win = read_window(c, k, false);
  resolve_window(c, win, spatial_dims(x));
  at::Tensor xin = x;
  std::vector<int64_t> padding = win.pad_begin;
  if (win.pad_begin != win.pad_end) {  // asymmetric: pad explicitly, convolve unpadded
    xin = at::constant_pad_nd(x, pad_list(win.pad_begin, win.pad_end), 0);
    std::fill(padding.begin(), padding.end(), 0);
  }
  const std::vector<int64_t> zeros(k.size(), 0);
  c.set(0, at::convolution(xin, w, c.has(2) ? c.x(2) : at::Tensor(), win.strides, padding, win.dilations,
                           false, zeros, group));
}

void run_conv_transpose(OpCall& c) {
  const std::vector<int64_t> k = conv_common(c);
  const at::Tensor& x = c.x(0);
  const at::Tensor& w = c.x(1);
  const int64_t group = c.node.attr_int("group", 1);
  const size_t n = k.size();
  if (x.size(1) != w.size(0) || x.size(1) % group != 0)
    c.fail(
        str_cat("input X has ", x.size(1), " channels but W dim 0 is ", w.size(0), " (group ", group, ")"));
  const int64_t m = w.size(1) * group;
  if (c.has(2) && c.x(2).size(0) != m)
    c.fail(str_cat("bias B has ", c.x(2).size(0), " elements but there are ", m, " output channels"));
  Window win = read_window(c, k, false);
  std::vector<int64_t> out_pad = c.node.attr_ints("output_padding", std::vector<int64_t>(n, 0));
  if (out_pad.size() != n) c.fail(str_cat("output_padding has ", out_pad.size(), " values; expected ", n));
  std::vector<int64_t> out_shape = c.node.attr_ints("output_shape");
  if (out_shape.size() == n + 2) out_shape.erase(out_shape.begin(), out_shape.begin() + 2);
  if (!out_shape.empty() && out_shape.size() != n)
    c.fail(str_cat("output_shape has ", out_shape.size(), " values; expected ", n));
  const bool same = win.auto_pad == AutoPad::SameUpper || win.auto_pad == AutoPad::SameLower;

  // The full scatter (no padding) has s * (in - 1) + extent outputs per dim; output j is its
  // element j + pad_begin, zero (plus bias) where that falls outside.
  const std::vector<int64_t> zeros(n, 0);
  at::Tensor full =
      at::convolution(x, w, at::Tensor(), win.strides, zeros, win.dilations, true, zeros, group);
  std::vector<int64_t> begin(n), end(n);
  for (size_t i = 0; i < n; ++i) {
    const int64_t in = x.size(static_cast<int64_t>(2 + i));
    const int64_t s = win.strides[i];
    const int64_t ek = (k[i] - 1) * win.dilations[i] + 1;
    int64_t pb = win.pad_begin[i], pe = win.pad_end[i], out;
    if (!out_shape.empty() || same) {
      out = out_shape.empty() ? in * s : out_shape[i];
      if (out < 1) c.fail(str_cat("output_shape value ", out, " must be >= 1"));
      const int64_t total = std::max<int64_t>(0, s * (in - 1) + out_pad[i] + ek - out);
      pb = win.auto_pad == AutoPad::SameUpper ? total / 2 : total - total / 2;
    } else {
      out = s * (in - 1) + out_pad[i] + ek - pb - pe;
      if (out < 1) c.fail(str_cat("spatial dim ", i, ": output size ", out, " is not positive"));
    }
    const int64_t full_len = full.size(static_cast<int64_t>(2 + i));
    begin[i] = -pb;
    end[i] = out - (full_len - pb);
  }
  at::Tensor y = at::constant_pad_nd(full, pad_list(begin, end), 0);
  if (c.has(2)) {
    std::vector<int64_t> view(static_cast<size_t>(y.dim()), 1);
    view[1] = m;
    y = y + c.x(2).reshape(view);
  }
  c.set(0, y);
}

// ---- Gemm, MatMul ----------------------------------------------------------------------------

void run_gemm(OpCall& c) {
  if (!at::isFloatingType(c.x(0).scalar_type())) {
    run_on_executor(c);  // integer Gemm goes through double and truncates
    return;
  }
  c.require_float(0, "input A");
  c.require_same(0, 1);
  if (c.has(2)) c.require_same(0, 2);
  const at::Tensor& A = c.x(0);
  const at::Tensor& B = c.x(1);
  if (A.dim() != 2 || B.dim() != 2)
    c.fail(str_cat("inputs A and B must be 2-D, got shapes ", shape_str(A.sizes().vec()), " and ",
                   shape_str(B.sizes().vec())));
  const bool ta = c.node.attr_int("transA", 0) != 0, tb = c.node.attr_int("transB", 0) != 0;
  const at::Tensor a = ta ? A.t() : A;
  const at::Tensor b = tb ? B.t() : B;
  if (a.size(1) != b.size(0))
    c.fail(str_cat("inner dims do not match: op(A) is ", shape_str(a.sizes().vec()), " and op(B) is ",
                   shape_str(b.sizes().vec())));
  const double alpha = c.node.attr_float("alpha", 1.0f), beta = c.node.attr_float("beta", 1.0f);
  at::Tensor y = at::mm(a, b);
  if (alpha != 1.0) y = y * alpha;
  if (c.has(2)) {
    const at::Tensor& C = c.x(2);
    const std::vector<int64_t> o = {a.size(0), b.size(1)};
    if (C.dim() > 2 || broadcast(c, o, C.sizes()) != o)
      c.fail(str_cat("input C of shape ", shape_str(C.sizes().vec()), " cannot be broadcast to the output ",
                     shape_str(o)));
    y = beta == 1.0 ? y + C : y + beta * C;
  }
  c.set(0, y);
}

void run_matmul(OpCall& c) {
  c.require_same(0, 1);
  if (!at::isFloatingType(c.x(0).scalar_type())) {
    run_on_executor(c);
    return;
  }
  const at::Tensor& a = c.x(0);
  const at::Tensor& b = c.x(1);
  if (a.dim() == 0 || b.dim() == 0) c.fail("inputs must have rank >= 1");
  const int64_t ka = a.size(-1), kb = b.dim() == 1 ? b.size(0) : b.size(-2);
  if (ka != kb)
    c.fail(str_cat("inner dims do not match: A is ", shape_str(a.sizes().vec()), " and B is ",
                   shape_str(b.sizes().vec())));
  if (a.dim() > 2 && b.dim() > 2)
    broadcast(c, a.sizes().slice(0, static_cast<size_t>(a.dim() - 2)),
              b.sizes().slice(0, static_cast<size_t>(b.dim() - 2)));
  c.set(0, at::matmul(a, b));
}

// ---- pools -----------------------------------------------------------------------------------

// Sum (or max) over every window tap by strided slices of the padded input; any dilation.
at::Tensor window_reduce(const at::Tensor& xp, const Window& w, bool is_max) {
  const size_t n = w.kernel.size();
  std::vector<int64_t> tap(n, 0);
  at::Tensor acc;
  while (true) {
    at::Tensor v = xp;
    for (size_t i = 0; i < n; ++i) {
      const int64_t d = static_cast<int64_t>(2 + i);
      const int64_t start = tap[i] * w.dilations[i];
      v = v.slice(d, start, start + (w.out[i] - 1) * w.strides[i] + 1, w.strides[i]);
    }
    acc = !acc.defined() ? v : (is_max ? at::maximum(acc, v) : acc + v);
    size_t i = n;
    while (i-- > 0) {
      if (++tap[i] < w.kernel[i]) break;
      tap[i] = 0;
    }
    if (i == static_cast<size_t>(-1)) break;
  }
  return acc;
}

// Window sums with ATen's pooling when there is no dilation (divisor 1 = the plain sum).
at::Tensor window_sum(const at::Tensor& xp, const Window& w) {
  for (int64_t d : w.dilations)
    if (d != 1) return window_reduce(xp, w, false);
  const size_t n = w.kernel.size();
  const std::vector<int64_t> zeros(n, 0);
  if (n == 1) {
    return at::avg_pool2d(xp.unsqueeze(2), {1, w.kernel[0]}, {1, w.strides[0]}, {0, 0}, false, true, 1)
        .squeeze(2);
  }
  if (n == 2) return at::avg_pool2d(xp, w.kernel, w.strides, zeros, false, true, 1);
  return at::avg_pool3d(xp, w.kernel, w.strides, zeros, false, true, 1);
}

void run_pool(OpCall& c, bool is_max) {
  const at::Tensor& x = c.x(0);
  if (is_max && (c.dtype(0) == DType::Int8 || c.dtype(0) == DType::UInt8)) {
    run_on_executor(c);
    return;
  }
  c.require_float(0, "input X");
  if (!c.node.has_attr("kernel_shape")) c.fail("attribute kernel_shape is required");
  const std::vector<int64_t> k = c.node.attr_ints("kernel_shape");
  if (k.empty() || k.size() > 3) c.fail(str_cat(k.size(), " spatial dims are not supported (1 to 3)"));
  if (x.dim() != static_cast<int64_t>(k.size() + 2))
    c.fail(str_cat("input X has rank ", x.dim(), " but kernel_shape has ", k.size(), " dims"));
  Window w = read_window(c, k, true);
  const std::vector<int64_t> in = spatial_dims(x);
  resolve_window(c, w, in);
  // Pad so that every window lies inside: the end pad is whatever the last window needs
  // (negative crops input it never reads).
  std::vector<int64_t> reach(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    reach[i] =
        (w.out[i] - 1) * w.strides[i] + (w.kernel[i] - 1) * w.dilations[i] + 1 - in[i] - w.pad_begin[i];
  const std::vector<int64_t> zeros(k.size(), 0);
  if (is_max) {
    const at::Tensor xp =
        at::constant_pad_nd(x, pad_list(w.pad_begin, reach), -std::numeric_limits<double>::infinity());
    at::Tensor y;
    if (k.size() == 1)
      y = at::max_pool1d(xp, k, w.strides, zeros, w.dilations, false);
    else if (k.size() == 2)
      y = at::max_pool2d(xp, k, w.strides, zeros, w.dilations, false);
    else
      y = at::max_pool3d(xp, k, w.strides, zeros, w.dilations, false);
    if (c.wants(1)) {  // Indices in ONNX's layout: the executor's
      run_on_executor(c);
      const TValue indices = c.out[1];
      c.set(1, indices.t, indices.dtype);
    }
    c.set(0, y);
    return;
  }
  const bool include_pad = c.node.attr_int("count_include_pad", 0) != 0;
  const at::Tensor sum = window_sum(at::constant_pad_nd(x, pad_list(w.pad_begin, reach), 0), w);
  // Divisor per window: taps inside the input, or with count_include_pad inside the explicitly
  // padded input (never the extra reach ceil_mode adds).
  std::vector<int64_t> one_shape(static_cast<size_t>(x.dim()), 1);
  for (size_t i = 0; i < in.size(); ++i) one_shape[2 + i] = in[i];
  at::Tensor mask = at::ones(one_shape, x.options());
  if (include_pad) {
    mask = at::constant_pad_nd(mask, pad_list(w.pad_begin, w.pad_end), 1);
    std::vector<int64_t> rest(in.size());
    for (size_t i = 0; i < in.size(); ++i) rest[i] = reach[i] - w.pad_end[i];
    mask = at::constant_pad_nd(mask, pad_list(zeros, rest), 0);
  } else {
    mask = at::constant_pad_nd(mask, pad_list(w.pad_begin, reach), 0);
  }
  c.set(0, sum / window_sum(mask, w));
}

void run_global_pool(OpCall& c, bool is_max) {
  c.require_float(0, "input X");
  const at::Tensor& x = c.x(0);
  if (x.dim() < 2) c.fail(str_cat("input X must have rank >= 2 (N, C, ...), got rank ", x.dim()));
  if (x.dim() == 2) {
    c.set(0, x.clone());
    return;
  }
  std::vector<int64_t> dims;
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  c.set(0, is_max ? at::amax(x, dims, true) : at::mean(x, dims, true));
}

// ---- normalisation ---------------------------------------------------------------------------

// Per-channel view [1, C, 1, ...] of a 1-D parameter for X of rank r.
at::Tensor channel_view(const OpCall& c, size_t i, const char* what, int64_t channels, int64_t rank) {
  const at::Tensor& p = c.x(i);
  c.require_float(i, what);
  if (p.dim() != 1 || p.size(0) != channels)
    c.fail(str_cat(what, " must be 1-D with ", channels, " values (one per channel), got shape ",
                   shape_str(p.sizes().vec())));
  std::vector<int64_t> v(static_cast<size_t>(rank), 1);
  v[1] = channels;
  return p.reshape(v);
}

// Batch mean and (biased) variance per channel, as [C].
void channel_moments(const at::Tensor& x, at::Tensor* mean, at::Tensor* var) {
  std::vector<int64_t> dims = {0};
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  *mean = at::mean(x, dims);
  *var = at::var(x, dims, /*unbiased=*/false);
}

void run_batchnorm(OpCall& c) {
  c.require_float(0, "input X");
  const at::Tensor& x = c.x(0);
  if (x.dim() < 2) c.fail(str_cat("input X must have rank >= 2 (N, C, ...), got rank ", x.dim()));
  if (c.opset < 9 && c.node.attr_int("spatial", 1) != 1)
    c.fail("spatial=0 (per-activation statistics) is not supported; only spatial=1");
  const int64_t ch = x.size(1);
  const char* names[] = {"scale", "bias B", "input_mean", "input_var"};
  for (size_t i = 1; i <= 4; ++i) channel_view(c, i, names[i - 1], ch, 2);
  const double eps = c.node.attr_float("epsilon", 1e-5f);
  const double momentum = c.node.attr_float("momentum", 0.9f);
  const bool node_training = c.opset >= 14 && c.node.attr_int("training_mode", 0) != 0;
  at::Tensor y;
  at::Tensor run_mean, run_var;  // outputs 1 and 2
  if (c.training) {
    // PyTorch's update, in place on the buffers: running = running * m + batch * (1 - m), the
    // batch variance unbiased. Without buffers (computed mean/var) nothing is updated.
    at::Tensor* mb = c.buffer(3);
    at::Tensor* vb = c.buffer(4);
    at::Tensor rm = mb ? *mb : c.x(3).detach().clone(), rv = vb ? *vb : c.x(4).detach().clone();
    y = at::batch_norm(x, c.x(1), c.x(2), rm, rv, true, 1.0 - momentum, eps, false);
    run_mean = rm.clone();
    run_var = rv.clone();
  } else {
    at::Tensor bm, bv;
    if (node_training || c.wants(1) || c.wants(2)) channel_moments(x.detach(), &bm, &bv);
    if (node_training) {  // the executor: batch statistics, nothing kept
      y = at::batch_norm(x, c.x(1), c.x(2), at::Tensor(), at::Tensor(), true, 0.0, eps, false);
    } else {
      y = at::batch_norm(x, c.x(1), c.x(2), c.x(3), c.x(4), false, 0.0, eps, false);
    }
    if (bm.defined()) {
      run_mean = c.x(3).detach() * momentum + bm * (1 - momentum);
      run_var = c.x(4).detach() * momentum + bv * (1 - momentum);
    }
  }
  c.set(0, y);
  if (c.wants(1)) c.set(1, run_mean, c.dtype(3));
  if (c.wants(2)) c.set(2, run_var, c.dtype(4));
  if (c.wants(3) || c.wants(4)) {
    at::Tensor bm, bv;
    channel_moments(x.detach(), &bm, &bv);
    if (c.wants(3)) c.set(3, bm, c.dtype(3));
    if (c.wants(4)) c.set(4, bv, c.dtype(4));
  }
}

void run_instancenorm(OpCall& c) {
  c.require_float(0, "input X");
  const at::Tensor& x = c.x(0);
  if (x.dim() < 2) c.fail(str_cat("input X must have rank >= 2 (N, C, ...), got rank ", x.dim()));
  const at::Tensor scale = channel_view(c, 1, "scale", x.size(1), x.dim());
  const at::Tensor bias = channel_view(c, 2, "bias B", x.size(1), x.dim());
  const double eps = c.node.attr_float("epsilon", 1e-5f);
  if (x.dim() == 2) {  // one element per instance: zero variance, the result is the bias
    c.set(0, (x - x) * scale + bias);
    return;
  }
  std::vector<int64_t> dims;
  for (int64_t d = 2; d < x.dim(); ++d) dims.push_back(d);
  const at::Tensor mean = at::mean(x, dims, true);
  const at::Tensor centered = x - mean;
  const at::Tensor var = at::mean(centered * centered, dims, true);
  c.set(0, centered * at::rsqrt(var + eps) * scale + bias);
}

void run_layernorm(OpCall& c) {
  c.require_float(0, "input X");
  c.require_float(1, "Scale");
  if (c.has(2)) c.require_float(2, "bias B");
  const at::Tensor& x = c.x(0);
  if (x.dim() < 1) c.fail("input X must have rank >= 1");
  const int64_t code = c.node.attr_int("stash_type", 1);
  if (!dtype_is_known(static_cast<int32_t>(code)) || !dtype_is_float(static_cast<DType>(code)))
    c.fail(str_cat("stash_type ", code, " is not a float element type"));
  const int64_t axis = norm_axis(c, c.node.attr_int("axis", -1), x.dim());
  const std::vector<int64_t> tail(x.sizes().begin() + axis, x.sizes().end());
  auto check_param = [&](size_t i, const char* what) {
    std::vector<int64_t> p = c.x(i).sizes().vec();
    while (p.size() > tail.size() && p.front() == 1) p.erase(p.begin());
    if (p.size() > tail.size() || broadcast(c, tail, p) != tail)
      c.fail(str_cat(what, " of shape ", shape_str(c.x(i).sizes().vec()),
                     " cannot be broadcast to X.shape[axis:] ", shape_str(tail)));
    return c.x(i).reshape(p);
  };
  const at::Tensor scale = check_param(1, "Scale");
  std::vector<int64_t> dims;
  for (int64_t d = axis; d < x.dim(); ++d) dims.push_back(d);
  const double eps = c.node.attr_float("epsilon", 1e-5f);
  const at::Tensor mean = at::mean(x, dims, true);
  const at::Tensor centered = x - mean;
  const at::Tensor inv_std = at::rsqrt(at::mean(centered * centered, dims, true) + eps);
  at::Tensor y = centered * inv_std * scale;
  if (c.has(2)) y = y + check_param(2, "bias B");
  c.set(0, y);
  const DType stash = static_cast<DType>(code);
  if (c.wants(1)) c.set(1, mean, stash);
  if (c.wants(2)) c.set(2, inv_std, stash);
}

// ---- Dropout, LRN, MeanVarianceNormalization --------------------------------------------------

// Training (TorchGraph's flag, or the node's training_mode input) drops with the ratio; otherwise
// the identity with an all-true mask, as the executor.
void run_dropout(OpCall& c) {
  c.require_float(0, "data");
  const at::Tensor& x = c.x(0);
  const double ratio = c.has(1) ? c.scalar(1, "ratio") : c.node.attr_float("ratio", 0.5f);
  bool node_training = false;
  if (c.has(2)) {
    if (c.dtype(2) != DType::Bool || c.x(2).numel() != 1) c.fail("training_mode must be a BOOL scalar");
    node_training = c.x(2).reshape({}).item<bool>();
  }
  const bool active = c.training || node_training;
  if (active && !(ratio >= 0.0 && ratio < 1.0)) c.fail(str_cat("ratio must be in [0, 1), got ", ratio));
  at::Tensor keep;
  if (active && ratio > 0.0) {
    keep = at::empty_like(x).bernoulli_(1.0 - ratio).to(at::kBool);
    c.set(0, x * keep * (1.0 / (1.0 - ratio)));
  } else {
    keep = at::ones(x.sizes(), x.options().dtype(at::kBool));
    c.set(0, x);
  }
  if (c.wants(1)) {
    if (c.opset >= 10)
      c.set(1, keep, DType::Bool);
    else
      c.set(1, keep.to(x.scalar_type()), c.dtype(0));
  }
}

void run_lrn(OpCall& c) {
  c.require_float(0, "input");
  const at::Tensor& x = c.x(0);
  if (x.dim() < 2) c.fail("input must have rank >= 2 (N, C, ...)");
  const int64_t size = c.node.attr_int("size");
  if (size < 1) c.fail(str_cat("size must be >= 1, got ", size));
  const double alpha = c.node.attr_float("alpha", 1e-4f), beta = c.node.attr_float("beta", 0.75f),
               bias = c.node.attr_float("bias", 1.0f);
  const int64_t before = (size - 1) / 2, after = size - 1 - before, ch = x.size(1);
  // Sum of squares over the channel window: pad C, add `size` shifted slices.
  const at::Tensor sq = (x * x).movedim(1, -1);
  const at::Tensor padded = at::constant_pad_nd(sq, {before, after}, 0);
  at::Tensor sum = padded.narrow(-1, 0, ch);
  for (int64_t i = 1; i < size; ++i) sum = sum + padded.narrow(-1, i, ch);
  sum = sum.movedim(-1, 1);
  c.set(0, x / at::pow(bias + (alpha / static_cast<double>(size)) * sum, beta));
}

void run_mvn(OpCall& c) {
  c.require_float(0, "input");
  const at::Tensor& x = c.x(0);
  std::vector<int64_t> dims;
  for (int64_t a : c.node.attr_ints("axes", {0, 2, 3})) {
    const int64_t n = norm_axis(c, a, x.dim());
    if (x.dim() == 0 || std::find(dims.begin(), dims.end(), n) != dims.end())
      c.fail(str_cat("axes ", shape_str(c.node.attr_ints("axes", {0, 2, 3})), " repeat axis ", a));
    dims.push_back(n);
  }
  if (dims.empty()) {  // nothing reduced: each element is its own group
    c.set(0, (x - x) / 1e-9);
    return;
  }
  const at::Tensor mean = at::mean(x, dims, true);
  const at::Tensor centered = x - mean;
  const at::Tensor var = at::mean(centered * centered, dims, true);
  c.set(0, centered / (at::sqrt(var) + 1e-9));
}

}  // namespace

void add_nn_ops(OpTable& t) {
  t["Conv"] = OpMapping{run_conv, {}};
  t["ConvTranspose"] = OpMapping{run_conv_transpose, {}};
  t["Gemm"] = OpMapping{run_gemm, {}};
  t["MatMul"] = OpMapping{run_matmul, {}};
  t["MaxPool"] = OpMapping{[](OpCall& c) { run_pool(c, true); }, {}};
  t["AveragePool"] = OpMapping{[](OpCall& c) { run_pool(c, false); }, {}};
  t["GlobalMaxPool"] = OpMapping{[](OpCall& c) { run_global_pool(c, true); }, {}};
  t["GlobalAveragePool"] = OpMapping{[](OpCall& c) { run_global_pool(c, false); }, {}};
  t["BatchNormalization"] = OpMapping{run_batchnorm, {3, 4}};
  t["InstanceNormalization"] = OpMapping{run_instancenorm, {}};
  t["LayerNormalization"] = OpMapping{run_layernorm, {}};
  t["Dropout"] = OpMapping{run_dropout, {1, 2}};
  t["LRN"] = OpMapping{run_lrn, {}};
  t["MeanVarianceNormalization"] = OpMapping{run_mvn, {}};
}

}  // namespace octet::train::detail
