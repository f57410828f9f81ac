// The libtorch bridge, element-wise ops: arithmetic, the variadic ops, unary math and
// activations, Clip, PRelu, Where, Cast, and the executor-run comparisons and logic ops.
// Semantics follow src/runtime/ops/elementwise*.cpp and extra_math.cpp; the executor computes in
// double and rounds once, these compute in float32, so results agree to float rounding.
#include <cmath>
#include <limits>

#include "train/torch_ops.h"

namespace octet::train::detail {
namespace {

// ---- binary and variadic -------------------------------------------------------------------

enum class Arith { Add, Sub, Mul, Div };

void run_arith(OpCall& c, Arith op) {
  c.require_same(0, 1);
  const at::Tensor& a = c.x(0);
  const at::Tensor b = legacy_broadcast_b(c, a, c.x(1));
  broadcast(c, a.sizes(), b.sizes());  // fails naming the node on a mismatch
  switch (op) {
    case Arith::Add:
      c.set(0, a + b);
      break;
    case Arith::Sub:
      c.set(0, a - b);
      break;
    case Arith::Mul:
      c.set(0, a * b);
      break;
    case Arith::Div:
      if (!at::isFloatingType(a.scalar_type())) {
        run_on_executor(c);  // integer division: the executor's truncation and checks
        return;
      }
      c.set(0, a / b);
      break;
  }
}

void run_pow(OpCall& c) {
  const at::Tensor& a = c.x(0);
  if (!at::isFloatingType(a.scalar_type())) {
    run_on_executor(c);  // integer base: wrapping powers, saturation
    return;
  }
  at::Tensor e = legacy_broadcast_b(c, a, c.x(1));
  if (e.scalar_type() == at::kBool) c.fail("exponent must be numeric, got BOOL");
  e = e.to(a.scalar_type());
  broadcast(c, a.sizes(), e.sizes());
  c.set(0, at::pow(a, e));
}

enum class Variadic { Max, Min, Sum, Mean };

void run_variadic(OpCall& c, Variadic op) {
  if (c.num_inputs() == 0) c.fail("needs at least one input");
  for (size_t i = 0; i < c.num_inputs(); ++i) {
    c.x(i);
    c.require_same(0, i);
  }
  if (!at::isFloatingType(c.x(0).scalar_type())) {
    run_on_executor(c);
    return;
  }
  at::Tensor acc = c.x(0);
  for (size_t i = 1; i < c.num_inputs(); ++i) {
    broadcast(c, acc.sizes(), c.x(i).sizes());
    switch (op) {
      case Variadic::Max:
        acc = at::maximum(acc, c.x(i));
        break;  // NaN propagates, as numpy
      case Variadic::Min:
        acc = at::minimum(acc, c.x(i));
        break;
      case Variadic::Sum:
      case Variadic::Mean:
        acc = acc + c.x(i);
        break;
    }
  }
  if (op == Variadic::Mean) acc = acc / static_cast<double>(c.num_inputs());
  if (c.num_inputs() == 1) acc = acc.clone();
  c.set(0, acc);
}

// ---- unary -----------------------------------------------------------------------------------

using UnaryFn = at::Tensor (*)(const OpCall&, const at::Tensor&);

// A float-only unary op (the executor rejects other types with the same message).
OpMapping unary(UnaryFn f) {
  OpMapping m;
  m.run = [f](OpCall& c) {
    c.require_float(0, "input");
    c.set(0, f(c, c.x(0)));
  };
  return m;
}

// Defined on integers too: integers go to the executor (wrapping semantics), floats here.
OpMapping numeric_unary(UnaryFn f) {
  OpMapping m;
  m.run = [f](OpCall& c) {
    if (!at::isFloatingType(c.x(0).scalar_type())) {
      run_on_executor(c);
      return;
    }
    c.set(0, f(c, c.x(0)));
  };
  return m;
}

at::Tensor clamp01(const at::Tensor& v) { return at::clamp(v, 0.0, 1.0); }

at::Tensor gelu(const OpCall& c, const at::Tensor& x) {
  const std::string approx = c.node.attr_string("approximate", "none");
  if (approx != "none" && approx != "tanh")
    c.fail(str_cat("approximate must be \"none\" or \"tanh\", got \"", approx, "\""));
  return at::gelu(x, approx);
}

// ---- Clip, PRelu, Where, Cast --------------------------------------------------------------------

void run_clip(OpCall& c) {
  const at::Tensor& x = c.x(0);
  if (!at::isFloatingType(x.scalar_type())) {
    run_on_executor(c);
    return;
  }
  std::optional<double> lo, hi;
  if (c.opset < 11) {
    lo = c.node.attr_float("min", std::numeric_limits<float>::lowest());
    hi = c.node.attr_float("max", std::numeric_limits<float>::max());
  } else {
    for (size_t i = 1; i <= 2; ++i) {
      if (!c.has(i)) continue;
      if (c.dtype(i) != c.dtype(0))
        c.fail(str_cat(i == 1 ? "min" : "max", " has element type ", dtype_name(c.dtype(i)),
                       " but input has ", dtype_name(c.dtype(0))));
      const double v = c.scalar(i, i == 1 ? "min" : "max");
      (i == 1 ? lo : hi) = v;
    }
  }
  // x < lo -> lo, then x > hi -> hi (so min > max gives max everywhere, as the executor; so
  // does at::clamp, in one pass).
  at::Tensor y;
  if (lo && hi) y = at::clamp(x, *lo, *hi);
  else if (lo) y = at::clamp_min(x, *lo);
  else if (hi) y = at::clamp_max(x, *hi);
  else y = x.clone();
  c.set(0, y);
}

void run_prelu(OpCall& c) {
  c.require_same(0, 1);
  const at::Tensor& x = c.x(0);
  if (!at::isFloatingType(x.scalar_type())) {
    run_on_executor(c);
    return;
  }
  at::Tensor s = c.x(1);
  // PRelu-6 models give a per-channel 1-D slope of X's channel count.
  if (c.opset < 7 && s.dim() == 1 && x.dim() >= 2 && s.size(0) == x.size(1) && s.size(0) != x.size(-1)) {
    std::vector<int64_t> view(static_cast<size_t>(x.dim() - 1), 1);
    view[0] = s.size(0);
    s = s.reshape(view);
  }
  if (s.dim() > x.dim() || broadcast(c, x.sizes(), s.sizes()) != x.sizes().vec())
    c.fail(str_cat("slope of shape ", shape_str(c.x(1).sizes().vec()), " cannot be broadcast to X of shape ",
                   shape_str(x.sizes().vec())));
  c.set(0, at::where(x < 0, x * s, x));
}

void run_where(OpCall& c) {
  if (c.dtype(0) != DType::Bool) c.fail(str_cat("condition must be BOOL, got ", dtype_name(c.dtype(0))));
  c.require_same(1, 2);
  if (!at::isFloatingType(c.x(1).scalar_type())) {
    run_on_executor(c);
    return;
  }
  broadcast(c, broadcast(c, c.x(0).sizes(), c.x(1).sizes()), c.x(2).sizes());
  c.set(0, at::where(c.x(0), c.x(1), c.x(2)));
}

// Float to float is differentiable and done here (FLOAT16/BFLOAT16 targets round through their
// type and are carried in float32); everything else is the executor's ONNX Cast.
void cast_to(OpCall& c, DType to) {
  const at::Tensor& x = c.x(0);
  if (!at::isFloatingType(x.scalar_type()) || !dtype_is_float(to)) {
    run_on_executor(c);
    return;
  }
  at::Tensor y;
  switch (to) {
    case DType::Float16:
      y = x.to(at::kHalf).to(at::kFloat);
      break;
    case DType::BFloat16:
      y = x.to(at::kBFloat16).to(at::kFloat);
      break;
    case DType::Float64:
      y = x.to(at::kDouble);
      break;
    default:
      y = x.to(at::kFloat);
      break;
  }
  c.set(0, y, to);
}

void run_cast(OpCall& c) {
  const int64_t code = c.node.attr_int("to");
  if (code <= 0 || code > std::numeric_limits<int32_t>::max() || !dtype_is_known(static_cast<int32_t>(code)))
    c.fail(str_cat("'to' ", code, " is not a known element type"));
  cast_to(c, static_cast<DType>(code));
}

void run_cast_like(OpCall& c) {
  c.x(1);
  cast_to(c, c.dtype(1));
}

// Mod: fmod=1 on floats is here (gradient 1 in x); integers and errors are the executor's.
void run_mod(OpCall& c) {
  if (!at::isFloatingType(c.x(0).scalar_type()) || c.node.attr_int("fmod", 0) != 1) {
    run_on_executor(c);
    return;
  }
  c.require_same(0, 1);
  broadcast(c, c.x(0).sizes(), c.x(1).sizes());
  c.set(0, at::fmod(c.x(0), c.x(1)));
}

}  // namespace

void add_elementwise_ops(OpTable& t) {
  auto arith = [](Arith op) {
    OpMapping m;
    m.run = [op](OpCall& c) { run_arith(c, op); };
    return m;
  };
  t["Add"] = arith(Arith::Add);
  t["Sub"] = arith(Arith::Sub);
  t["Mul"] = arith(Arith::Mul);
  t["Div"] = arith(Arith::Div);
  t["Pow"] = OpMapping{run_pow, {1}};
  auto variadic = [](Variadic op) {
    OpMapping m;
    m.run = [op](OpCall& c) { run_variadic(c, op); };
    return m;
  };
  t["Max"] = variadic(Variadic::Max);
  t["Min"] = variadic(Variadic::Min);
  t["Sum"] = variadic(Variadic::Sum);
  t["Mean"] = variadic(Variadic::Mean);

  // Integer-capable.
  t["Abs"] = numeric_unary([](const OpCall&, const at::Tensor& x) { return at::abs(x); });
  t["Neg"] = numeric_unary([](const OpCall&, const at::Tensor& x) { return at::neg(x); });
  t["Sign"] = numeric_unary([](const OpCall&, const at::Tensor& x) { return at::sign(x); });
  t["Relu"] = numeric_unary([](const OpCall&, const at::Tensor& x) { return at::relu(x); });
  t["Shrink"] = numeric_unary([](const OpCall& c, const at::Tensor& x) {
    const double lambd = c.node.attr_float("lambd", 0.5f), bias = c.node.attr_float("bias", 0.0f);
    return at::where(x < -lambd, x + bias, at::where(x > lambd, x - bias, at::zeros_like(x)));
  });
  t["Clip"] = OpMapping{run_clip, {1, 2}};
  t["PRelu"] = OpMapping{run_prelu, {}};

  // Math.
  t["Sqrt"] = unary([](const OpCall&, const at::Tensor& x) { return at::sqrt(x); });
  t["Exp"] = unary([](const OpCall&, const at::Tensor& x) { return at::exp(x); });
  t["Log"] = unary([](const OpCall&, const at::Tensor& x) { return at::log(x); });
  t["Erf"] = unary([](const OpCall&, const at::Tensor& x) { return at::erf(x); });
  t["Tanh"] = unary([](const OpCall&, const at::Tensor& x) { return at::tanh(x); });
  t["Reciprocal"] = unary([](const OpCall&, const at::Tensor& x) { return at::reciprocal(x); });
  t["Floor"] = unary([](const OpCall&, const at::Tensor& x) { return at::floor(x); });
  t["Ceil"] = unary([](const OpCall&, const at::Tensor& x) { return at::ceil(x); });
  t["Round"] = unary([](const OpCall&, const at::Tensor& x) { return at::round(x); });  // half to even
  t["Sin"] = unary([](const OpCall&, const at::Tensor& x) { return at::sin(x); });
  t["Cos"] = unary([](const OpCall&, const at::Tensor& x) { return at::cos(x); });
  t["Tan"] = unary([](const OpCall&, const at::Tensor& x) { return at::tan(x); });
  t["Asin"] = unary([](const OpCall&, const at::Tensor& x) { return at::asin(x); });
  t["Acos"] = unary([](const OpCall&, const at::Tensor& x) { return at::acos(x); });
  t["Atan"] = unary([](const OpCall&, const at::Tensor& x) { return at::atan(x); });
  t["Sinh"] = unary([](const OpCall&, const at::Tensor& x) { return at::sinh(x); });
  t["Cosh"] = unary([](const OpCall&, const at::Tensor& x) { return at::cosh(x); });
  t["Asinh"] = unary([](const OpCall&, const at::Tensor& x) { return at::asinh(x); });
  t["Acosh"] = unary([](const OpCall&, const at::Tensor& x) { return at::acosh(x); });
  t["Atanh"] = unary([](const OpCall&, const at::Tensor& x) { return at::atanh(x); });

  // Activations.
  t["Sigmoid"] = unary([](const OpCall&, const at::Tensor& x) { return at::sigmoid(x); });
  // ATen's stable forms: a where() over an overflowing branch would give NaN gradients.
  t["Softplus"] = unary([](const OpCall&, const at::Tensor& x) { return at::softplus(x); });
  t["Softsign"] = unary([](const OpCall&, const at::Tensor& x) { return x / (1 + at::abs(x)); });
  t["LeakyRelu"] = unary([](const OpCall& c, const at::Tensor& x) {
    return at::leaky_relu(x, c.node.attr_float("alpha", 0.01f));
  });
  t["Elu"] = unary(
      [](const OpCall& c, const at::Tensor& x) { return at::elu(x, c.node.attr_float("alpha", 1.0f)); });
  t["Selu"] = unary([](const OpCall& c, const at::Tensor& x) {
    const double alpha = c.node.attr_float("alpha", 1.67326319217681884765625f);
    const double gamma = c.node.attr_float("gamma", 1.05070102214813232421875f);
    return at::elu(x, alpha, gamma);  // gamma * (x > 0 ? x : alpha * (e^x - 1))
  });
  t["Celu"] = unary([](const OpCall& c, const at::Tensor& x) {
    const double alpha = c.node.attr_float("alpha", 1.0f);
    if (alpha == 0.0) c.fail("alpha must not be 0 (Celu divides by it)");
    return at::celu(x, alpha);
  });
  t["ThresholdedRelu"] = unary([](const OpCall& c, const at::Tensor& x) {
    const double alpha = c.node.attr_float("alpha", 1.0f);
    return at::where(x > alpha, x, at::zeros_like(x));
  });
  t["HardSigmoid"] = unary([](const OpCall& c, const at::Tensor& x) {
    const double alpha = c.node.attr_float("alpha", 0.2f), beta = c.node.attr_float("beta", 0.5f);
    return clamp01(alpha * x + beta);
  });
  t["HardSwish"] = unary([](const OpCall&, const at::Tensor& x) { return x * clamp01(x / 6.0 + 0.5); });
  t["Gelu"] = unary(gelu);

  t["Where"] = OpMapping{run_where, {0}};
  t["Cast"] = OpMapping{run_cast, {}};
  t["CastLike"] = OpMapping{run_cast_like, {1}};
  t["Mod"] = OpMapping{run_mod, {}};

  // No gradient: boolean results, bit ops, predicates.
  for (const char* name : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or",
                           "Xor", "BitShift", "IsNaN", "IsInf"})
    t[name] = executor_mapping();
}

}  // namespace octet::train::detail
