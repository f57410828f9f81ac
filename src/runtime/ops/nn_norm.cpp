// BatchNormalization, InstanceNormalization and LayerNormalization (float, double, float16,
// bfloat16; f16 and bf16 compute in float). Numeric loops are in kernels/ref/norm_ref.
//
// BatchNormalization across opsets: 6 and 7 have `spatial` (only spatial=1 is supported) and 6
// has `is_test` (ignored); 9..13 drop them; 14 adds training_mode with outputs running_mean and
// running_var; 15 lets scale/B and mean/var have their own float types. Before opset 14 Y is
// always computed from the given mean and var (inference); if a node of those opsets asks for
// the optional training outputs (mean, var, saved_mean, saved_var) they are filled with the
// momentum-updated running statistics and the batch statistics.
#include <string>
#include <vector>

#include "kernels/ref/norm_ref.h"
#include "runtime/ops/nn_common.h"
#include "runtime/ops/op_util.h"

namespace octet {
namespace {

using namespace nn_detail;

// Checks that a per-channel parameter (scale, B, mean, var) is 1-D with C elements.
void check_channel_param(const Node& node, const TensorType* t, const std::string& what,
                         int64_t channels) {
  if (!t) return;
  if (t->dtype != DType::Undefined) require_float(node, t->dtype, what);
  if (!t->has_shape) return;
  if (t->dims.size() != 1)
    fail(node, str_cat(what, " must be 1-D with one value per channel, got ", t->str()));
  if (t->dims[0].is_known() && channels >= 0 && t->dims[0].value != channels)
    fail(node,
         str_cat(what, " has ", t->dims[0].value, " elements but X has ", channels, " channels"));
}

// Checks X (rank >= 2, float) and the per-channel inputs from index 1 on; returns C or -1.
int64_t check_channel_norm(const Node& node, const TensorType& x,
                           const std::vector<std::pair<const TensorType*, std::string>>& params) {
  if (x.dtype != DType::Undefined) require_float(node, x.dtype, "input X");
  int64_t channels = -1;
  if (x.has_shape) {
    if (x.dims.size() < 2)
      fail(node, str_cat("input X must have rank >= 2 (N, C, ...), got ", x.str()));
    if (x.dims[1].is_known()) channels = x.dims[1].value;
  }
  for (const auto& [t, what] : params) check_channel_param(node, t, what, channels);
  return channels;
}

TensorType type_of(const Tensor& t) { return TensorType::of(t.dtype(), t.shape()); }

// [N, C, S] view of X.
void nchw_sizes(const Shape& x, int64_t* n, int64_t* c, int64_t* s) {
  *n = x[0];
  *c = x[1];
  *s = 1;
  for (size_t i = 2; i < x.size(); ++i) *s *= x[i];
}

// ---- BatchNormalization ----

bool bn_training(const OpContext& ctx) {
  return ctx.opset >= 14 && ctx.node.attr_int("training_mode", 0) != 0;
}

void check_bn_attrs(const Node& node, int64_t opset) {
  if (opset < 9 && node.attr_int("spatial", 1) != 1)
    fail(node, "spatial=0 (per-activation statistics) is not supported; only spatial=1");
}

void run_batchnorm(OpContext& ctx) {
  const Node& node = ctx.node;
  check_bn_attrs(node, ctx.opset);
  const Tensor& X = ctx.input(0);
  const char* names[] = {"scale", "bias B", "input_mean", "input_var"};
  std::vector<TensorType> types;
  for (size_t i = 1; i <= 4; ++i) types.push_back(type_of(ctx.input(i)));
  check_channel_norm(
      node, type_of(X),
      {{&types[0], names[0]}, {&types[1], names[1]}, {&types[2], names[2]}, {&types[3], names[3]}});
  const double eps = node.attr_float("epsilon", 1e-5f);
  const double momentum = node.attr_float("momentum", 0.9f);
  const DType ct = compute_dtype(X.dtype());
  const Tensor xc = to_dtype(X, ct);
  Tensor prm[4];
  for (size_t i = 0; i < 4; ++i) prm[i] = to_dtype(ctx.input(i + 1), ct);
  int64_t N, C, S;
  nchw_sizes(X.shape(), &N, &C, &S);
  const bool training = bn_training(ctx);
  const bool want_stats = training || ctx.wants_output(1) || ctx.wants_output(2) ||
                          ctx.wants_output(3) || ctx.wants_output(4);
  Tensor y(ct, X.shape());
  Tensor batch_mean(ct, {C}), batch_var(ct, {C}), run_mean(ct, {C}), run_var(ct, {C});
  dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    if (want_stats) {
      kernels::channel_moments_nchw_ref(N, C, S, xc.data<T>(), batch_mean.data<T>(),
                                        batch_var.data<T>());
      for (int64_t c = 0; c < C; ++c) {
        run_mean.data<T>()[c] = static_cast<T>(prm[2].data<T>()[c] * momentum +
                                               batch_mean.data<T>()[c] * (1 - momentum));
        run_var.data<T>()[c] = static_cast<T>(prm[3].data<T>()[c] * momentum +
                                              batch_var.data<T>()[c] * (1 - momentum));
      }
    }
    const Tensor& mean = training ? batch_mean : prm[2];
    const Tensor& var = training ? batch_var : prm[3];
    kernels::batchnorm_nchw_ref(N, C, S, xc.data<T>(), prm[0].data<T>(), prm[1].data<T>(),
                                mean.data<T>(), var.data<T>(), eps, y.data<T>());
  });
  ctx.outputs[0] = to_dtype(y, X.dtype());
  const DType stat_type = ctx.input(3).dtype();
  const Tensor outs[4] = {run_mean, run_var, batch_mean, batch_var};
  for (size_t i = 1; i < ctx.outputs.size() && i <= 4; ++i)
    if (ctx.wants_output(i)) ctx.outputs[i] = to_dtype(outs[i - 1], stat_type);
}

void infer_batchnorm(InferContext& ctx) {
  const Node& node = ctx.node;
  check_bn_attrs(node, ctx.opset);
  const TensorType& X = ctx.input(0);
  const int64_t channels = check_channel_norm(node, X,
                                              {{&ctx.input(1), "scale"},
                                               {&ctx.input(2), "bias B"},
                                               {&ctx.input(3), "input_mean"},
                                               {&ctx.input(4), "input_var"}});
  ctx.outputs[0] = X;
  TensorType stat;
  stat.dtype = ctx.input(3).dtype;
  stat.has_shape = true;
  stat.dims = {channels >= 0 ? Dim::known(channels) : Dim{}};
  for (size_t i = 1; i < ctx.outputs.size() && i <= 4; ++i) ctx.outputs[i] = stat;
}

// ---- InstanceNormalization ----

void run_instancenorm(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& X = ctx.input(0);
  const TensorType ts = type_of(ctx.input(1)), tb = type_of(ctx.input(2));
  check_channel_norm(node, type_of(X), {{&ts, "scale"}, {&tb, "bias B"}});
  const double eps = node.attr_float("epsilon", 1e-5f);
  const DType ct = compute_dtype(X.dtype());
  const Tensor xc = to_dtype(X, ct), sc = to_dtype(ctx.input(1), ct),
               bc = to_dtype(ctx.input(2), ct);
  int64_t N, C, S;
  nchw_sizes(X.shape(), &N, &C, &S);
  Tensor y(ct, X.shape());
  dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    kernels::instancenorm_nchw_ref(N, C, S, xc.data<T>(), sc.data<T>(), bc.data<T>(), eps,
                                   y.data<T>());
  });
  ctx.outputs[0] = to_dtype(y, X.dtype());
}

void infer_instancenorm(InferContext& ctx) {
  check_channel_norm(ctx.node, ctx.input(0), {{&ctx.input(1), "scale"}, {&ctx.input(2), "bias B"}});
  ctx.outputs[0] = ctx.input(0);
}

// ---- LayerNormalization ----

DType layernorm_stash_type(const Node& node) {
  const int64_t code = node.attr_int("stash_type", 1);
  if (!dtype_is_known(static_cast<int32_t>(code)) || !is_float_type(static_cast<DType>(code)))
    fail(node, str_cat("stash_type ", code, " is not a float element type"));
  return static_cast<DType>(code);
}

// Checks that `p` (Scale or B) broadcasts to X.shape[axis:] (leading 1s beyond that rank are
// allowed). Works on static dims (-1 unknown).
void check_layernorm_param(const Node& node, const std::vector<int64_t>& x, size_t axis,
                           std::vector<int64_t> p, const std::string& what) {
  const size_t tail = x.size() - axis;
  while (p.size() > tail && p.front() == 1) p.erase(p.begin());
  bool ok = p.size() <= tail;
  for (size_t i = 0; ok && i < p.size(); ++i) {
    const int64_t pd = p[i], xd = x[axis + tail - p.size() + i];
    if (pd >= 0 && xd >= 0 && pd != 1 && pd != xd) ok = false;
  }
  if (!ok)
    fail(node,
         str_cat(what, " of shape ", shape_str(p), " cannot be broadcast to X.shape[axis:] (X ",
                 shape_str(x), ", axis ", axis, ")"));
}

// `p` expanded to the `cols` elements of X.shape[axis:], row-major.
Tensor expand_layernorm_param(const Tensor& p, const Shape& x, size_t axis) {
  Shape tail(x.begin() + static_cast<std::ptrdiff_t>(axis), x.end());
  Shape ps = p.shape();
  while (ps.size() > tail.size()) ps.erase(ps.begin());  // leading 1s, checked before
  Tensor out(p.dtype(), tail);
  const Tensor src = p.reshaped(ps);
  dispatch_compute(p.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* s = src.data<T>();
    T* d = out.data<T>();
    for_each_broadcast2(ps, ps, tail, [&](int64_t i, int64_t a, int64_t) { d[i] = s[a]; });
  });
  return out;
}

void run_layernorm(OpContext& ctx) {
  const Node& node = ctx.node;
  const Tensor& X = ctx.input(0);
  const Tensor& scale = ctx.input(1);
  const Tensor* B = ctx.has_input(2) ? ctx.inputs[2] : nullptr;
  require_float(node, X.dtype(), "input X");
  require_float(node, scale.dtype(), "Scale");
  if (B) require_float(node, B->dtype(), "bias B");
  const DType stash = layernorm_stash_type(node);
  const int64_t rank = static_cast<int64_t>(X.rank());
  if (rank < 1) fail(node, "input X must have rank >= 1");
  const size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", -1), rank, node));
  check_layernorm_param(node, X.shape(), axis, scale.shape(), "Scale");
  if (B) check_layernorm_param(node, X.shape(), axis, B->shape(), "bias B");
  const double eps = node.attr_float("epsilon", 1e-5f);
  int64_t rows = 1, cols = 1;
  for (size_t i = 0; i < X.rank(); ++i) (i < axis ? rows : cols) *= X.dim(i);
  // Statistics in stash_type's precision (float by default, as ONNX defines it), or in double
  // for double X.
  const DType ct = stash == DType::Float64 ? DType::Float64 : compute_dtype(X.dtype());
  const Tensor xc = to_dtype(X, ct);
  const Tensor sc = expand_layernorm_param(to_dtype(scale, ct), X.shape(), axis);
  const Tensor bc = B ? expand_layernorm_param(to_dtype(*B, ct), X.shape(), axis) : Tensor();
  Shape stat_shape = X.shape();
  for (size_t i = axis; i < stat_shape.size(); ++i) stat_shape[i] = 1;
  Tensor y(ct, X.shape()), mean(ct, stat_shape), inv_std(ct, stat_shape);
  dispatch_compute(ct, [&](auto tag) {
    using T = decltype(tag);
    kernels::layernorm_ref(rows, cols, xc.data<T>(), sc.data<T>(), B ? bc.data<T>() : nullptr, eps,
                           y.data<T>(), mean.data<T>(), inv_std.data<T>());
  });
  ctx.outputs[0] = to_dtype(y, X.dtype());
  if (ctx.wants_output(1)) ctx.outputs[1] = to_dtype(mean, stash);
  if (ctx.wants_output(2)) ctx.outputs[2] = to_dtype(inv_std, stash);
}

void infer_layernorm(InferContext& ctx) {
  const Node& node = ctx.node;
  const TensorType& X = ctx.input(0);
  if (X.dtype != DType::Undefined) require_float(node, X.dtype, "input X");
  const DType stash = layernorm_stash_type(node);
  ctx.outputs[0] = X;
  TensorType stat;
  stat.dtype = stash;
  if (X.has_shape) {
    const int64_t rank = static_cast<int64_t>(X.dims.size());
    if (rank < 1) fail(node, "input X must have rank >= 1");
    const size_t axis = static_cast<size_t>(normalize_axis(node.attr_int("axis", -1), rank, node));
    const std::vector<int64_t> x = known_dims(X);
    if (ctx.input(1).has_shape)
      check_layernorm_param(node, x, axis, known_dims(ctx.input(1)), "Scale");
    if (ctx.has_input(2) && ctx.input(2).has_shape)
      check_layernorm_param(node, x, axis, known_dims(ctx.input(2)), "bias B");
    stat = X;
    stat.dtype = stash;
    for (size_t i = axis; i < stat.dims.size(); ++i) stat.dims[i] = Dim::known(1);
  }
  for (size_t i = 1; i < ctx.outputs.size() && i <= 2; ++i) ctx.outputs[i] = stat;
}

}  // namespace

void register_nn_norm_ops(OpRegistry& r) {
  r.add("BatchNormalization", {run_batchnorm, infer_batchnorm});
  r.add("InstanceNormalization", {run_instancenorm, infer_instancenorm});
  r.add("LayerNormalization", {run_layernorm, infer_layernorm});
}

}  // namespace octet
