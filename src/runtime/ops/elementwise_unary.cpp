// The element-wise family, part 3: unary math and activations, plus Clip and PRelu.
//
// Float functions are evaluated in double and rounded once to the output type (Half/BFloat16 via
// float), which makes this the accurate oracle rather than a bit-exact copy of any float32 library.
// Ops the spec also defines on integers (Abs, Neg, Sign, Relu, Clip, PRelu) compute integers in
// their own type, wrapping like two's complement (Abs/Neg of the minimum value give the minimum).
#include <cmath>
#include <limits>

#include "kernels/ref/round.h"
#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_common.h"
#include "runtime/ops/op_util.h"

namespace octet::elementwise {

namespace {

// y = f(x) with f: double -> double, for the float types only.
template <class F>
void unary_float(OpContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  Tensor out(x.dtype(), x.shape());
  dispatch_float(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i)
      po[i] = store_double<T>(f(static_cast<double>(load(px[i]))));
  });
  ctx.outputs[0] = std::move(out);
}

// y = f(x) for every numeric type: f is called with the integer itself for integer types and with
// a double for the float types.
template <class F>
void unary_numeric(OpContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  Tensor out(x.dtype(), x.shape());
  dispatch_numeric(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      if constexpr (std::is_integral_v<T>) po[i] = f(px[i]);
      else po[i] = store_double<T>(f(static_cast<double>(load(px[i]))));
    }
  });
  ctx.outputs[0] = std::move(out);
}

void infer_float_unary(InferContext& ctx) {
  DType t = ctx.input(0).dtype;
  if (t != DType::Undefined && !dtype_is_float(t))
    ctx.fail(str_cat("element type ", dtype_name(t), " is not supported (a float type is required)"));
  infer_same_as_input(ctx);
}

bool is_numeric(DType t) {
  return dtype_is_float(t) || (dtype_is_integer(t) && t != DType::Int4 && t != DType::UInt4);
}

void infer_numeric_unary(InferContext& ctx) {
  DType t = ctx.input(0).dtype;
  if (t != DType::Undefined && !is_numeric(t))
    ctx.fail(str_cat("element type ", dtype_name(t), " is not supported (a numeric type is required)"));
  infer_same_as_input(ctx);
}

// ---- integer-capable functions -----------------------------------------------------------------

template <class V>
V abs_value(V v) {
  if constexpr (std::is_integral_v<V>) {
    if constexpr (std::is_signed_v<V>) return v < 0 ? wrap_neg(v) : v;
    else return v;
  } else {
    return std::fabs(v);
  }
}

template <class V>
V neg_value(V v) {
  if constexpr (std::is_integral_v<V>) return wrap_neg(v);
  else return -v;
}

template <class V>
V sign_value(V v) {
  if constexpr (std::is_floating_point_v<V>)
    if (std::isnan(v)) return v;
  return v > V(0) ? V(1) : (v < V(0) ? static_cast<V>(-1) : V(0));
}

template <class V>
V relu_value(V v) {
  return v < V(0) ? V(0) : v;  // NaN stays NaN
}

// ---- Clip ----------------------------------------------------------------------------------------

// Clip bound given as an optional scalar input (opset >= 11): same type as X, one element.
template <class T>
bool clip_bound_input(const OpContext& ctx, size_t i, compute_t<T>* bound) {
  if (!ctx.has_input(i)) return false;
  const Tensor& b = ctx.input(i);
  if (b.dtype() != ctx.input(0).dtype())
    ctx.fail(str_cat(i == 1 ? "min" : "max", " has element type ", dtype_name(b.dtype()),
                     " but input has ", dtype_name(ctx.input(0).dtype())));
  if (b.numel() != 1)
    ctx.fail(str_cat(i == 1 ? "min" : "max", " must be a scalar, got shape ", shape_str(b.shape())));
  *bound = load(b.data<T>()[0]);
  return true;
}

template <class C>
C clip_bound_attr(float f) {
  if constexpr (std::is_integral_v<C>) return saturate_from_double<C>(f);
  else return static_cast<C>(f);
}

void run_clip(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor out(x.dtype(), x.shape());
  dispatch_numeric(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    C lo, hi;
    if constexpr (std::is_floating_point_v<C>) {
      lo = -std::numeric_limits<C>::infinity();
      hi = std::numeric_limits<C>::infinity();
    } else {
      lo = std::numeric_limits<C>::lowest();
      hi = std::numeric_limits<C>::max();
    }
    if (ctx.opset < 11) {  // Clip-6: float attributes, defaulting to the float range
      lo = clip_bound_attr<C>(ctx.node.attr_float("min", std::numeric_limits<float>::lowest()));
      hi = clip_bound_attr<C>(ctx.node.attr_float("max", std::numeric_limits<float>::max()));
    } else {
      clip_bound_input<T>(ctx, 1, &lo);
      clip_bound_input<T>(ctx, 2, &hi);
    }
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      // min > max sets everything to max, as the spec says; NaN passes through.
      C v = load(px[i]);
      if (v < lo) v = lo;
      if (v > hi) v = hi;
      po[i] = store<T>(v);
    }
  });
  ctx.outputs[0] = std::move(out);
}

void infer_clip(InferContext& ctx) {
  for (size_t i = 1; i < 3; ++i) {
    if (!ctx.has_input(i)) continue;
    const TensorType& b = ctx.input(i);
    if (b.dtype != DType::Undefined && ctx.input(0).dtype != DType::Undefined &&
        b.dtype != ctx.input(0).dtype)
      ctx.fail(str_cat(i == 1 ? "min" : "max", " has element type ", dtype_name(b.dtype),
                       " but input has ", dtype_name(ctx.input(0).dtype)));
    if (b.fully_known() && shape_numel(b.concrete_shape()) != 1)
      ctx.fail(str_cat(i == 1 ? "min" : "max", " must be a scalar, got ", b.str()));
  }
  infer_numeric_unary(ctx);
}

// ---- PRelu ---------------------------------------------------------------------------------------

// Slope's view for indexing against X: unidirectional numpy broadcasting; before opset 7 a 1-D
// slope of X's channel count is also accepted as per-channel (axis 1), as PRelu-6 models use it.
Shape prelu_slope_view(const OpContext& ctx, const Shape& x, const Shape& s) {
  if (ctx.opset < 7 && s.size() == 1 && x.size() >= 2 && s[0] == x[1] && s[0] != x.back()) {
    Shape v(x.size() - 1, 1);
    v[0] = s[0];
    return v;
  }
  if (s.size() > x.size() || broadcast_shapes(x, s, ctx.node) != x)
    ctx.fail(str_cat("slope of shape ", shape_str(s), " cannot be broadcast to X of shape ",
                     shape_str(x)));
  return s;
}

void run_prelu(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& s = ctx.input(1);
  require_same_dtype(ctx, 0, 1);
  const Shape s_view = prelu_slope_view(ctx, x.shape(), s.shape());
  Tensor out(x.dtype(), x.shape());
  dispatch_numeric(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    const T* px = x.data<T>();
    const T* ps = s.data<T>();
    T* po = out.data<T>();
    for_each_broadcast2(x.shape(), s_view, x.shape(), [&](int64_t i, int64_t ix, int64_t is) {
      const C v = load(px[ix]);
      const C k = load(ps[is]);
      if constexpr (std::is_integral_v<C>) po[i] = v < C(0) ? wrap_mul(v, k) : v;
      else po[i] = store<T>(v < C(0) ? v * k : v);
    });
  });
  ctx.outputs[0] = std::move(out);
}

void infer_prelu(InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  const TensorType& s = ctx.input(1);
  if (x.dtype != DType::Undefined && s.dtype != DType::Undefined && x.dtype != s.dtype)
    ctx.fail(str_cat("X has element type ", dtype_name(x.dtype), " but slope has ", dtype_name(s.dtype)));
  if (x.fully_known() && s.fully_known() && ctx.opset >= 7) {
    const Shape xs = x.concrete_shape(), ss = s.concrete_shape();
    if (ss.size() > xs.size() || broadcast_shapes(xs, ss, ctx.node) != xs)
      ctx.fail(str_cat("slope ", s.str(), " cannot be broadcast to X ", x.str()));
  }
  infer_numeric_unary(ctx);
}

// ---- float functions -----------------------------------------------------------------------------

double sigmoid(double x) {
  if (x >= 0) return 1.0 / (1.0 + std::exp(-x));
  const double e = std::exp(x);
  return e / (1.0 + e);
}

// min(max(v, 0), 1) that keeps NaN (std::min/max would turn it into a bound).
double clamp01(double v) { return std::isnan(v) ? v : (v < 0.0 ? 0.0 : (v > 1.0 ? 1.0 : v)); }

double softplus(double x) {  // log(1 + exp(x)) without overflow
  return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

void run_gelu(OpContext& ctx) {
  const std::string approx = ctx.node.attr_string("approximate", "none");
  if (approx == "none") {
    unary_float(ctx, [](double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); });
  } else if (approx == "tanh") {
    const double pi = 3.14159265358979323846;
    const double k = std::sqrt(2.0 / pi);
    unary_float(ctx, [k](double x) {
      return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
    });
  } else {
    ctx.fail(str_cat("approximate must be \"none\" or \"tanh\", got \"", approx, "\""));
  }
}

using RunFn = void (*)(OpContext&);

}  // namespace

void register_unary_ops(OpRegistry& r) {
  auto add_float = [&r](const char* name, RunFn run) { r.add(name, {run, infer_float_unary}); };
  auto add_numeric = [&r](const char* name, RunFn run) { r.add(name, {run, infer_numeric_unary}); };

  // Defined on integers too.
  add_numeric("Abs", [](OpContext& c) { unary_numeric(c, [](auto v) { return abs_value(v); }); });
  add_numeric("Neg", [](OpContext& c) { unary_numeric(c, [](auto v) { return neg_value(v); }); });
  add_numeric("Sign", [](OpContext& c) { unary_numeric(c, [](auto v) { return sign_value(v); }); });
  add_numeric("Relu", [](OpContext& c) { unary_numeric(c, [](auto v) { return relu_value(v); }); });
  r.add("Clip", {run_clip, infer_clip});
  r.add("PRelu", {run_prelu, infer_prelu});

  // Math.
  add_float("Sqrt", [](OpContext& c) { unary_float(c, [](double x) { return std::sqrt(x); }); });
  add_float("Exp", [](OpContext& c) { unary_float(c, [](double x) { return std::exp(x); }); });
  add_float("Log", [](OpContext& c) { unary_float(c, [](double x) { return std::log(x); }); });
  add_float("Erf", [](OpContext& c) { unary_float(c, [](double x) { return std::erf(x); }); });
  add_float("Tanh", [](OpContext& c) { unary_float(c, [](double x) { return std::tanh(x); }); });
  add_float("Reciprocal", [](OpContext& c) { unary_float(c, [](double x) { return 1.0 / x; }); });
  add_float("Floor", [](OpContext& c) { unary_float(c, [](double x) { return std::floor(x); }); });
  add_float("Ceil", [](OpContext& c) { unary_float(c, [](double x) { return std::ceil(x); }); });
  add_float("Round", [](OpContext& c) {
    unary_float(c, [](double x) { return kernels::round_half_even(x); });
  });

  // Activations. Attributes are float32 in the model; they are used at that precision.
  add_float("Sigmoid", [](OpContext& c) { unary_float(c, sigmoid); });
  add_float("Softplus", [](OpContext& c) { unary_float(c, softplus); });
  add_float("LeakyRelu", [](OpContext& c) {
    const double alpha = c.node.attr_float("alpha", 0.01f);
    unary_float(c, [alpha](double x) { return x < 0 ? alpha * x : x; });
  });
  add_float("Elu", [](OpContext& c) {
    const double alpha = c.node.attr_float("alpha", 1.0f);
    unary_float(c, [alpha](double x) { return x < 0 ? alpha * std::expm1(x) : x; });
  });
  add_float("Selu", [](OpContext& c) {
    const double alpha = c.node.attr_float("alpha", 1.67326319217681884765625f);
    const double gamma = c.node.attr_float("gamma", 1.05070102214813232421875f);
    unary_float(c, [alpha, gamma](double x) { return x > 0 ? gamma * x : gamma * alpha * std::expm1(x); });
  });
  add_float("HardSigmoid", [](OpContext& c) {
    const double alpha = c.node.attr_float("alpha", 0.2f);
    const double beta = c.node.attr_float("beta", 0.5f);
    unary_float(c, [alpha, beta](double x) { return clamp01(alpha * x + beta); });
  });
  add_float("HardSwish", [](OpContext& c) {
    unary_float(c, [](double x) { return x * clamp01(x / 6.0 + 0.5); });
  });
  add_float("Gelu", run_gelu);
}

}  // namespace octet::elementwise
