// The element-wise family, part 1: the family's shared helpers, registration, binary arithmetic
// (Add, Sub, Mul, Div, Pow) and the variadic ops (Max, Min, Sum, Mean). Other ops of the family
// live in elementwise_logic.cpp, elementwise_unary.cpp and elementwise_cast.cpp.
//
// Semantics: numpy broadcasting (opset >= 7; the older `broadcast`/`axis` attributes are honoured
// below opset 7), integer arithmetic wraps in two's complement, integer division truncates toward
// zero and fails on a zero divisor, Half/BFloat16 are computed in float.
#include <cmath>

#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_common.h"
#include "runtime/ops/op_util.h"

namespace octet {

namespace elementwise {

std::optional<Shape> legacy_broadcast_b(const Node& node, int64_t opset, const Shape& a,
                                        const Shape& b) {
  if (opset >= 7 || node.attr_int("broadcast", 0) != 1 || !node.has_attr("axis")) return std::nullopt;
  const int64_t ra = static_cast<int64_t>(a.size()), rb = static_cast<int64_t>(b.size());
  int64_t axis = node.attr_int("axis");
  if (axis < 0) axis += ra;
  if (axis < 0 || axis + rb > ra)
    throw Error(str_cat(node.describe(), ": legacy broadcast axis ", node.attr_int("axis"),
                        " does not fit B of shape ", shape_str(b), " into A of shape ", shape_str(a)));
  Shape out(static_cast<size_t>(ra), 1);
  for (int64_t i = 0; i < rb; ++i) out[static_cast<size_t>(axis + i)] = b[static_cast<size_t>(i)];
  return out;
}

std::optional<TensorType> legacy_broadcast_b(const Node& node, int64_t opset, const TensorType& a,
                                             const TensorType& b) {
  if (opset >= 7 || node.attr_int("broadcast", 0) != 1 || !node.has_attr("axis")) return std::nullopt;
  if (!a.has_shape || !b.has_shape) return std::nullopt;
  const int64_t ra = static_cast<int64_t>(a.dims.size()), rb = static_cast<int64_t>(b.dims.size());
  int64_t axis = node.attr_int("axis");
  if (axis < 0) axis += ra;
  if (axis < 0 || axis + rb > ra)
    throw Error(str_cat(node.describe(), ": legacy broadcast axis ", node.attr_int("axis"),
                        " does not fit B of type ", b.str(), " into A of type ", a.str()));
  TensorType out = b;
  out.dims.assign(static_cast<size_t>(ra), Dim::known(1));
  for (int64_t i = 0; i < rb; ++i) out.dims[static_cast<size_t>(axis + i)] = b.dims[static_cast<size_t>(i)];
  return out;
}

Shape binary_broadcast_shape(const OpContext& ctx, const Shape& a, const Shape& b, Shape* b_view) {
  if (auto lb = legacy_broadcast_b(ctx.node, ctx.opset, a, b)) {
    Shape out = broadcast_shapes(a, *lb, ctx.node);
    if (out != a)
      ctx.fail(str_cat("legacy broadcast of B ", shape_str(b), " at axis ", ctx.node.attr_int("axis"),
                       " does not match A ", shape_str(a)));
    *b_view = *lb;
    return out;
  }
  *b_view = b;
  return broadcast_shapes(a, b, ctx.node);
}

void infer_binary(InferContext& ctx, DType dtype, bool same_types) {
  if (ctx.outputs.empty()) return;
  const TensorType& a = ctx.input(0);
  const TensorType& b = ctx.input(1);
  if (same_types && a.dtype != DType::Undefined && b.dtype != DType::Undefined && a.dtype != b.dtype)
    ctx.fail(str_cat("inputs must have the same element type, got ", dtype_name(a.dtype), " and ",
                     dtype_name(b.dtype)));
  TensorType out;
  if (auto lb = legacy_broadcast_b(ctx.node, ctx.opset, a, b)) out = broadcast_types(a, *lb, ctx.node);
  else out = broadcast_types(a, b, ctx.node);
  if (dtype == DType::Undefined) dtype = a.dtype != DType::Undefined ? a.dtype : b.dtype;
  out.dtype = dtype;
  ctx.outputs[0] = out;
}

void require_same_dtype(const OpContext& ctx, size_t i, size_t j) {
  DType a = ctx.input(i).dtype(), b = ctx.input(j).dtype();
  if (a != b)
    ctx.fail(str_cat("input ", i, " has element type ", dtype_name(a), " but input ", j, " has ",
                     dtype_name(b), "; they must match"));
}

namespace {

// ---- Add, Sub, Mul, Div --------------------------------------------------------------------------

enum class Arith { Add, Sub, Mul, Div };

template <class T, class F>
void binary_loop(const Tensor& a, const Tensor& b, const Shape& b_view, Tensor& out, F f) {
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* po = out.data<T>();
  for_each_broadcast2(a.shape(), b_view, out.shape(), [&](int64_t i, int64_t ia, int64_t ib) {
    po[i] = store<T>(f(load(pa[ia]), load(pb[ib])));
  });
}

void run_arith(OpContext& ctx, Arith op) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  require_same_dtype(ctx, 0, 1);
  Shape b_view;
  Tensor out(a.dtype(), binary_broadcast_shape(ctx, a.shape(), b.shape(), &b_view));
  dispatch_numeric(ctx.node, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    constexpr bool integral = std::is_integral_v<C>;
    switch (op) {
      case Arith::Add:
        binary_loop<T>(a, b, b_view, out, [](C x, C y) -> C {
          if constexpr (integral) return wrap_add(x, y);
          else return x + y;
        });
        break;
      case Arith::Sub:
        binary_loop<T>(a, b, b_view, out, [](C x, C y) -> C {
          if constexpr (integral) return wrap_sub(x, y);
          else return x - y;
        });
        break;
      case Arith::Mul:
        binary_loop<T>(a, b, b_view, out, [](C x, C y) -> C {
          if constexpr (integral) return wrap_mul(x, y);
          else return x * y;
        });
        break;
      case Arith::Div:
        if constexpr (integral) {
          if (out.numel() > 0) {
            const T* pb = b.data<T>();
            for (int64_t i = 0; i < b.numel(); ++i)
              if (pb[i] == 0) ctx.fail(str_cat("integer division by zero (divisor element ", i, ")"));
          }
          binary_loop<T>(a, b, b_view, out, [](C x, C y) -> C {
            // C++ division truncates toward zero, like C and ONNX; MIN / -1 wraps to MIN.
            if constexpr (std::is_signed_v<C>)
              if (y == C(-1)) return wrap_neg(x);
            return static_cast<C>(x / y);
          });
        } else {
          binary_loop<T>(a, b, b_view, out, [](C x, C y) -> C { return x / y; });
        }
        break;
    }
  });
  ctx.outputs[0] = std::move(out);
}

// ---- Pow -----------------------------------------------------------------------------------------

// Integer power by squaring, wrapping like repeated multiplication. A negative exponent gives the
// truncated integer result of 1 / base^-e: 1 for base 1, +-1 for base -1, 0 otherwise; 0 to a
// negative power is a division by zero (reported by the caller).
template <class B, class E>
B int_pow(B base, E e) {
  if constexpr (std::is_signed_v<E>) {
    if (e < 0) {
      if (base == B(1)) return B(1);
      if constexpr (std::is_signed_v<B>)
        if (base == B(-1)) return (e % 2 == 0) ? B(1) : B(-1);
      return B(0);
    }
  }
  B result = 1;
  auto n = static_cast<std::make_unsigned_t<E>>(e);
  while (n) {
    if (n & 1u) result = wrap_mul(result, base);
    base = wrap_mul(base, base);
    n >>= 1;
  }
  return result;
}

void run_pow(OpContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  Shape b_view;
  Tensor out(a.dtype(), binary_broadcast_shape(ctx, a.shape(), b.shape(), &b_view));
  dispatch_numeric(ctx.node, a.dtype(), [&](auto btag) {
    using TB = decltype(btag);
    using CB = compute_t<TB>;
    dispatch_numeric(ctx.node, b.dtype(), [&](auto etag) {
      using TE = decltype(etag);
      using CE = compute_t<TE>;
      const TB* pa = a.data<TB>();
      const TE* pb = b.data<TE>();
      TB* po = out.data<TB>();
      for_each_broadcast2(a.shape(), b_view, out.shape(), [&](int64_t i, int64_t ia, int64_t ib) {
        CB x = load(pa[ia]);
        CE y = load(pb[ib]);
        if constexpr (std::is_floating_point_v<CB>) {
          po[i] = store_double<TB>(std::pow(static_cast<double>(x), static_cast<double>(y)));
        } else if constexpr (std::is_integral_v<CE>) {
          if constexpr (std::is_signed_v<CE>)
            if (x == 0 && y < 0) ctx.fail("integer zero raised to a negative power");
          po[i] = int_pow<CB, CE>(x, y);
        } else {
          po[i] = saturate_from_double<CB>(std::pow(static_cast<double>(x), static_cast<double>(y)));
        }
      });
    });
  });
  ctx.outputs[0] = std::move(out);
}

// ---- Max, Min, Sum, Mean -------------------------------------------------------------------------

enum class Variadic { Max, Min, Sum, Mean };

void run_variadic(OpContext& ctx, Variadic op) {
  const size_t n = ctx.num_inputs();
  if (n == 0) ctx.fail("needs at least one input");
  for (size_t i = 0; i < n; ++i) {
    ctx.input(i);  // fails if absent
    require_same_dtype(ctx, 0, i);
  }
  Shape out_shape = ctx.input(0).shape();
  for (size_t i = 1; i < n; ++i) out_shape = broadcast_shapes(out_shape, ctx.input(i).shape(), ctx.node);
  const DType dtype = ctx.input(0).dtype();
  if (op == Variadic::Mean && !dtype_is_float(dtype))
    ctx.fail(str_cat("element type ", dtype_name(dtype), " is not supported (a float type is required)"));
  Tensor out(dtype, out_shape);
  dispatch_numeric(ctx.node, dtype, [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    std::vector<C> acc(static_cast<size_t>(out.numel()));
    const T* p0 = ctx.input(0).data<T>();
    for_each_broadcast2(out_shape, ctx.input(0).shape(), out_shape,
                        [&](int64_t i, int64_t, int64_t ib) { acc[i] = load(p0[ib]); });
    for (size_t k = 1; k < n; ++k) {
      const Tensor& in = ctx.input(k);
      const T* p = in.data<T>();
      for_each_broadcast2(out_shape, in.shape(), out_shape, [&](int64_t i, int64_t, int64_t ib) {
        const C v = load(p[ib]);
        C& r = acc[i];
        switch (op) {
          case Variadic::Max:  // NaN propagates, as numpy.maximum
            if constexpr (std::is_floating_point_v<C>) {
              if (v > r || std::isnan(v)) r = v;
            } else if (v > r) {
              r = v;
            }
            break;
          case Variadic::Min:
            if constexpr (std::is_floating_point_v<C>) {
              if (v < r || std::isnan(v)) r = v;
            } else if (v < r) {
              r = v;
            }
            break;
          case Variadic::Sum:
          case Variadic::Mean:
            if constexpr (std::is_integral_v<C>) r = wrap_add(r, v);
            else r = r + v;
            break;
        }
      });
    }
    T* po = out.data<T>();
    for (int64_t i = 0; i < out.numel(); ++i) {
      C v = acc[i];
      if constexpr (std::is_floating_point_v<C>)
        if (op == Variadic::Mean) v = v / static_cast<C>(n);
      po[i] = store<T>(v);
    }
  });
  ctx.outputs[0] = std::move(out);
}

void infer_variadic(InferContext& ctx) {
  DType dtype = DType::Undefined;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    DType t = ctx.input(i).dtype;
    if (t == DType::Undefined) continue;
    if (dtype != DType::Undefined && t != dtype)
      ctx.fail(str_cat("inputs must have the same element type, got ", dtype_name(dtype), " and ",
                       dtype_name(t)));
    dtype = t;
  }
  infer_broadcast(ctx, dtype);
}

}  // namespace

void register_binary_ops(OpRegistry& r) {
  auto same = [](InferContext& ctx) { infer_binary(ctx, DType::Undefined, true); };
  r.add("Add", {[](OpContext& c) { run_arith(c, Arith::Add); }, same});
  r.add("Sub", {[](OpContext& c) { run_arith(c, Arith::Sub); }, same});
  r.add("Mul", {[](OpContext& c) { run_arith(c, Arith::Mul); }, same});
  r.add("Div", {[](OpContext& c) { run_arith(c, Arith::Div); }, same});
  // Pow: the exponent may have another type; the output has the base's type.
  r.add("Pow", {run_pow, [](InferContext& ctx) {
                  DType base = ctx.input(0).dtype;
                  infer_binary(ctx, base, false);
                }});
  r.add("Max", {[](OpContext& c) { run_variadic(c, Variadic::Max); }, infer_variadic});
  r.add("Min", {[](OpContext& c) { run_variadic(c, Variadic::Min); }, infer_variadic});
  r.add("Sum", {[](OpContext& c) { run_variadic(c, Variadic::Sum); }, infer_variadic});
  r.add("Mean", {[](OpContext& c) { run_variadic(c, Variadic::Mean); }, infer_variadic});
}

}  // namespace elementwise

void register_elementwise_ops(OpRegistry& r) {
  elementwise::register_binary_ops(r);
  elementwise::register_logic_ops(r);
  elementwise::register_unary_ops(r);
  elementwise::register_cast_ops(r);
}

}  // namespace octet
