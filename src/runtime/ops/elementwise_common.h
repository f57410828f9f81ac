// Private to the element-wise op family (elementwise*.cpp): type dispatch with Half/BFloat16
// computed in float, wrapping integer arithmetic, ONNX's pre-opset-7 "legacy" broadcasting and
// the registration entry points of the family's files. Not for use by other op families.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/ops/op_util.h"

namespace octet::elementwise {

// Registration of the family's files; register_elementwise_ops calls all of them.
void register_binary_ops(OpRegistry& r);   // Add, Sub, Mul, Div, Pow, Max, Min, Sum, Mean
void register_logic_ops(OpRegistry& r);    // comparisons, Not/And/Or/Xor, Where
void register_unary_ops(OpRegistry& r);    // math functions and activations, Clip, PRelu
void register_cast_ops(OpRegistry& r);     // Cast, CastLike

// ---- storage type <-> compute type -------------------------------------------------------------
// Half and BFloat16 are computed in float; every other type in itself.
template <class T> struct ComputeOf { using type = T; };
template <> struct ComputeOf<Half> { using type = float; };
template <> struct ComputeOf<BFloat16> { using type = float; };
template <class T> using compute_t = typename ComputeOf<T>::type;

template <class T>
constexpr bool is_half_like_v = std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>;
// float, double, Half, BFloat16.
template <class T>
constexpr bool is_float_like_v = std::is_floating_point_v<T> || is_half_like_v<T>;

template <class T>
compute_t<T> load(T v) {
  if constexpr (is_half_like_v<T>) return static_cast<float>(v);
  else return v;
}
template <class T>
T store(compute_t<T> v) {
  if constexpr (is_half_like_v<T>) return T(v);
  else return v;
}
// Result of a computation done in double, rounded once to the storage type (twice for
// Half/BFloat16: double -> float -> half, which is what "computed in float" means here).
template <class T>
T store_double(double v) {
  if constexpr (is_half_like_v<T>) return T(static_cast<float>(v));
  else return static_cast<T>(v);
}

// ---- dispatch ----------------------------------------------------------------------------------
// Calls f(T{}) for the numeric types: float, double, Half, BFloat16 and the 8..64-bit integers.
// Other types (bool, string, FP8, 4-bit) throw Error naming the node.
template <class F>
decltype(auto) dispatch_numeric(const Node& node, DType t, F&& f) {
  if (t == DType::Float16) return f(Half{});
  if (t == DType::BFloat16) return f(BFloat16{});
  return dispatch_arith(t, node.describe(), f);
}

// Calls f(T{}) for float, double, Half and BFloat16 only.
template <class F>
decltype(auto) dispatch_float(const Node& node, DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Float16: return f(Half{});
    case DType::BFloat16: return f(BFloat16{});
    default:
      throw Error(str_cat(node.describe(), ": element type ", dtype_name(t),
                          " is not supported (a float type is required)"));
  }
}

// ---- wrapping integer arithmetic (two's complement, as numpy and onnxruntime) --------------------
// Computing in an unsigned type of at least 32 bits avoids signed overflow (UB) and the promotion of
// small unsigned types to int.
template <class T>
using wide_unsigned_t =
    std::conditional_t<(sizeof(T) < 4), uint32_t, std::make_unsigned_t<T>>;

template <class T> T wrap_add(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(static_cast<U>(a) + static_cast<U>(b)));
}
template <class T> T wrap_sub(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(static_cast<U>(a) - static_cast<U>(b)));
}
template <class T> T wrap_mul(T a, T b) {
  using U = wide_unsigned_t<T>;
  return static_cast<T>(static_cast<U>(static_cast<U>(a) * static_cast<U>(b)));
}
template <class T> T wrap_neg(T a) { return wrap_sub<T>(T(0), a); }

// Double to an integer type: truncates toward zero and saturates; NaN gives 0.
template <class T>
T saturate_from_double(double d) {
  static_assert(std::is_integral_v<T>);
  if (std::isnan(d)) return T(0);
  d = std::trunc(d);
  if (d <= static_cast<double>(std::numeric_limits<T>::lowest())) return std::numeric_limits<T>::lowest();
  if (d >= static_cast<double>(std::numeric_limits<T>::max())) return std::numeric_limits<T>::max();
  return static_cast<T>(d);
}

// ---- legacy broadcasting (opset < 7) -----------------------------------------------------------
// Before opset 7, binary ops took `broadcast` and `axis` attributes: with broadcast=1, B is
// broadcast to A, and `axis` says where B's dims start in A's shape (default: aligned to the end,
// which numpy broadcasting already does). Returns B's rank-of-A shape when that axis form applies,
// nothing otherwise (then plain numpy broadcasting is used, which also accepts every valid
// legacy model without `axis`).
std::optional<Shape> legacy_broadcast_b(const Node& node, int64_t opset, const Shape& a,
                                        const Shape& b);
// The same for shape inference: B's dims placed at `axis` in a rank-of-A type.
std::optional<TensorType> legacy_broadcast_b(const Node& node, int64_t opset, const TensorType& a,
                                             const TensorType& b);

// Output shape of a binary op; `b_view` receives the shape under which B is indexed (B's own
// shape, or its legacy-axis reshaping).
Shape binary_broadcast_shape(const OpContext& ctx, const Shape& a, const Shape& b, Shape* b_view);
// Infers output 0 of a binary op: broadcast of inputs 0 and 1 with element type `dtype`.
// Fails when both element types are known and `same_types` is set and they differ.
void infer_binary(InferContext& ctx, DType dtype, bool same_types);

// Fails with a message naming both types when two inputs that must share a type do not.
void require_same_dtype(const OpContext& ctx, size_t i, size_t j);

}  // namespace octet::elementwise
