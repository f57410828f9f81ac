// Extra ops, part 1: element-wise math and small numeric ops the core families do not cover.
//   trigonometric and hyperbolic functions (Sin ... Atanh), IsNaN, IsInf, Mod, BitShift,
//   activations Celu, Softsign, ThresholdedRelu, Shrink, and CumSum, Trilu, EyeLike, Dropout
//   (inference only), LRN, MeanVarianceNormalization.
//
// Float functions are evaluated in double and rounded once to the output type (Half/BFloat16 via
// float), like elementwise_unary.cpp. Integer ops compute in their own type with two's-complement
// wrapping. LRN and MVN are small enough to stay here: one pass of sums per window or group,
// accumulated in double.
#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_common.h"
#include "runtime/ops/op_util.h"

namespace octet {

// Registration of this file's ops; called from register_extra_ops (extra.cpp).
void register_extra_math_ops(OpRegistry& r);

namespace {

using elementwise::compute_t;
using elementwise::dispatch_float;
using elementwise::dispatch_numeric;
using elementwise::load;
using elementwise::store;
using elementwise::store_double;

using RunFn = void (*)(OpContext&);

// ---- type checks for inference -------------------------------------------------------------------

void require_float_type(const InferContext& ctx, DType t, const char* what) {
  if (t != DType::Undefined && !dtype_is_float(t))
    ctx.fail(str_cat(what, " has element type ", dtype_name(t), "; a float type is required"));
}

bool is_numeric_type(DType t) {
  return dtype_is_float(t) || (dtype_is_integer(t) && t != DType::Int4 && t != DType::UInt4);
}

void require_numeric_type(const InferContext& ctx, DType t, const char* what) {
  if (t != DType::Undefined && !is_numeric_type(t))
    ctx.fail(str_cat(what, " has element type ", dtype_name(t), "; a numeric type is required"));
}

void infer_float_same(InferContext& ctx) {
  require_float_type(ctx, ctx.input(0).dtype, "input");
  infer_same_as_input(ctx);
}

void infer_numeric_same(InferContext& ctx) {
  require_numeric_type(ctx, ctx.input(0).dtype, "input");
  infer_same_as_input(ctx);
}

// A rank check on a type whose rank is known.
void require_rank_at_least(const InferContext& ctx, const TensorType& t, size_t rank, const char* what) {
  if (t.has_shape && t.dims.size() < rank)
    ctx.fail(str_cat(what, " must have rank >= ", rank, ", got ", t.str()));
}

// Reads a one-element tensor (0-D or [1]) as int64; integer types only.
int64_t scalar_int64(const OpContext& ctx, const Tensor& t, const char* what) {
  if (t.numel() != 1) ctx.fail(str_cat(what, " must hold exactly one value, got shape ", shape_str(t.shape())));
  return to_int64s(t, ctx.node, what)[0];
}

// ---- unary float functions -----------------------------------------------------------------------

// y = f(x) for the float types, f evaluated in double.
template <class F>
void unary_float(OpContext& ctx, F f) {
  const Tensor& x = ctx.input(0);
  Tensor out(x.dtype(), x.shape());
  dispatch_float(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) po[i] = store_double<T>(f(static_cast<double>(load(px[i]))));
  });
  ctx.outputs[0] = std::move(out);
}

// y = pred(x) as BOOL for the float types.
template <class P>
void float_predicate(OpContext& ctx, P pred) {
  const Tensor& x = ctx.input(0);
  Tensor out(DType::Bool, x.shape());
  bool* po = out.data<bool>();
  dispatch_float(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) po[i] = pred(static_cast<double>(load(px[i])));
  });
  ctx.outputs[0] = std::move(out);
}

void infer_float_predicate(InferContext& ctx) {
  require_float_type(ctx, ctx.input(0).dtype, "input");
  infer_same_as_input(ctx);
  if (!ctx.outputs.empty()) ctx.outputs[0].dtype = DType::Bool;
}

void run_isinf(OpContext& ctx) {
  const bool pos = ctx.node.attr_int("detect_positive", 1) != 0;
  const bool neg = ctx.node.attr_int("detect_negative", 1) != 0;
  float_predicate(ctx, [pos, neg](double v) { return std::isinf(v) && (v > 0 ? pos : neg); });
}

void run_celu(OpContext& ctx) {
  const double alpha = ctx.node.attr_float("alpha", 1.0f);
  if (alpha == 0.0) ctx.fail("alpha must not be 0 (Celu divides by it)");
  unary_float(ctx, [alpha](double x) {
    if (std::isnan(x)) return x;
    return std::max(0.0, x) + std::min(0.0, alpha * std::expm1(x / alpha));
  });
}

void run_thresholded_relu(OpContext& ctx) {
  const double alpha = ctx.node.attr_float("alpha", 1.0f);
  unary_float(ctx, [alpha](double x) { return x > alpha ? x : (std::isnan(x) ? x : 0.0); });
}

// Shrink: y = x + bias if x < -lambd, x - bias if x > lambd, else 0. Defined on every numeric
// type; integers are computed in double and truncated back (as numpy's astype).
void run_shrink(OpContext& ctx) {
  const double lambd = ctx.node.attr_float("lambd", 0.5f);
  const double bias = ctx.node.attr_float("bias", 0.0f);
  const Tensor& x = ctx.input(0);
  Tensor out(x.dtype(), x.shape());
  dispatch_numeric(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double v = static_cast<double>(load(px[i]));
      const double y = v < -lambd ? v + bias : (v > lambd ? v - bias : 0.0);
      if constexpr (std::is_integral_v<T>) po[i] = elementwise::saturate_from_double<T>(y);
      else po[i] = store_double<T>(y);
    }
  });
  ctx.outputs[0] = std::move(out);
}

// ---- Mod -----------------------------------------------------------------------------------------

// Integer remainder without UB: MIN % -1 is 0. Python-style (sign of the divisor) unless
// `truncated`, which gives C's fmod-style remainder (sign of the dividend).
template <class V>
V int_mod(V a, V b, bool truncated) {
  if constexpr (std::is_signed_v<V>) {
    if (b == V(-1)) return V(0);
    V r = static_cast<V>(a % b);
    if (!truncated && r != 0 && ((r < 0) != (b < 0))) r = static_cast<V>(r + b);
    return r;
  } else {
    return static_cast<V>(a % b);
  }
}

void run_mod(OpContext& ctx) {
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  elementwise::require_same_dtype(ctx, 0, 1);
  const int64_t fmod_attr = ctx.node.attr_int("fmod", 0);
  if (fmod_attr != 0 && fmod_attr != 1) ctx.fail(str_cat("fmod must be 0 or 1, got ", fmod_attr));
  const bool fmod = fmod_attr == 1;
  if (!fmod && dtype_is_float(a.dtype()))
    ctx.fail(str_cat("fmod must be 1 for floating-point inputs (got ", dtype_name(a.dtype()), ")"));
  Tensor out(a.dtype(), broadcast_shapes(a.shape(), b.shape(), ctx.node));
  dispatch_numeric(ctx.node, a.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    if constexpr (std::is_integral_v<T>) {
      if (out.numel() > 0)
        for (int64_t i = 0; i < b.numel(); ++i)
          if (pb[i] == 0) ctx.fail(str_cat("integer modulo by zero (divisor element ", i, ")"));
      for_each_broadcast2(a.shape(), b.shape(), out.shape(), [&](int64_t i, int64_t ia, int64_t ib) {
        po[i] = int_mod<T>(pa[ia], pb[ib], fmod);
      });
    } else {
      for_each_broadcast2(a.shape(), b.shape(), out.shape(), [&](int64_t i, int64_t ia, int64_t ib) {
        po[i] = store_double<T>(std::fmod(static_cast<double>(load(pa[ia])), static_cast<double>(load(pb[ib]))));
      });
    }
  });
  ctx.outputs[0] = std::move(out);
}

void infer_mod(InferContext& ctx) {
  const DType t = ctx.input(0).dtype;
  require_numeric_type(ctx, t, "A");
  if (ctx.node.attr_int("fmod", 0) == 0 && dtype_is_float(t))
    ctx.fail(str_cat("fmod must be 1 for floating-point inputs (got ", dtype_name(t), ")"));
  elementwise::infer_binary(ctx, DType::Undefined, true);
}

// ---- BitShift ------------------------------------------------------------------------------------

void run_bitshift(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& y = ctx.input(1);
  elementwise::require_same_dtype(ctx, 0, 1);
  const std::string dir = ctx.node.attr_string("direction", "");
  if (dir != "LEFT" && dir != "RIGHT")
    ctx.fail(str_cat("direction must be \"LEFT\" or \"RIGHT\", got \"", dir, "\""));
  const bool left = dir == "LEFT";
  Tensor out(x.dtype(), broadcast_shapes(x.shape(), y.shape(), ctx.node));
  auto shift = [&](auto tag) {
    using T = decltype(tag);
    constexpr uint64_t bits = sizeof(T) * 8;
    const T* px = x.data<T>();
    const T* py = y.data<T>();
    T* po = out.data<T>();
    // Shifting by the width or more is UB in C++; numpy gives 0, and so does this.
    for_each_broadcast2(x.shape(), y.shape(), out.shape(), [&](int64_t i, int64_t ix, int64_t iy) {
      const uint64_t v = px[ix], s = py[iy];
      po[i] = s >= bits ? T(0) : static_cast<T>(left ? (v << s) : (v >> s));
    });
  };
  switch (x.dtype()) {
    case DType::UInt8: shift(uint8_t{}); break;
    case DType::UInt16: shift(uint16_t{}); break;
    case DType::UInt32: shift(uint32_t{}); break;
    case DType::UInt64: shift(uint64_t{}); break;
    default: ctx.fail(str_cat("element type ", dtype_name(x.dtype()), " is not supported (unsigned integers only)"));
  }
  ctx.outputs[0] = std::move(out);
}

void infer_bitshift(InferContext& ctx) {
  const DType t = ctx.input(0).dtype;
  if (t != DType::Undefined && t != DType::UInt8 && t != DType::UInt16 && t != DType::UInt32 &&
      t != DType::UInt64)
    ctx.fail(str_cat("element type ", dtype_name(t), " is not supported (unsigned integers only)"));
  elementwise::infer_binary(ctx, DType::Undefined, true);
}

// ---- CumSum --------------------------------------------------------------------------------------

// Floats accumulate in double (each output rounded once); integers wrap in their own type.
void run_cumsum(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  if (rank == 0) ctx.fail("input must have rank >= 1");
  const int64_t axis = normalize_axis(scalar_int64(ctx, ctx.input(1), "axis"), rank, ctx.node);
  const bool exclusive = ctx.node.attr_int("exclusive", 0) != 0;
  const bool reverse = ctx.node.attr_int("reverse", 0) != 0;
  const Shape& s = x.shape();
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= s[d];
  for (int64_t d = axis + 1; d < rank; ++d) inner *= s[d];
  const int64_t n = s[axis];
  Tensor out(x.dtype(), s);
  dispatch_numeric(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_integral_v<T>, T, double>;
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        Acc acc = 0;
        for (int64_t step = 0; step < n; ++step) {
          const int64_t k = reverse ? n - 1 - step : step;
          const int64_t off = (o * n + k) * inner + in;
          Acc v;
          if constexpr (std::is_integral_v<T>) v = px[off];
          else v = static_cast<double>(load(px[off]));
          auto add = [](Acc a, Acc b) -> Acc {
            if constexpr (std::is_integral_v<T>) return elementwise::wrap_add<T>(a, b);
            else return a + b;
          };
          if (!exclusive) acc = add(acc, v);
          if constexpr (std::is_integral_v<T>) po[off] = acc;
          else po[off] = store_double<T>(acc);
          if (exclusive) acc = add(acc, v);
        }
      }
  });
  ctx.outputs[0] = std::move(out);
}

void infer_cumsum(InferContext& ctx) {
  require_numeric_type(ctx, ctx.input(0).dtype, "input");
  require_rank_at_least(ctx, ctx.input(0), 1, "input");
  const DType at = ctx.input(1).dtype;
  if (at != DType::Undefined && at != DType::Int32 && at != DType::Int64)
    ctx.fail(str_cat("axis must be INT32 or INT64, got ", dtype_name(at)));
  infer_same_as_input(ctx);
}

// ---- Trilu, EyeLike ------------------------------------------------------------------------------

// Keeps the upper (j - i >= k) or lower (j - i <= k) triangle of each trailing matrix and zeroes
// the rest. Works for every dtype: a zero element is all-zero bytes (or "" for strings).
void run_trilu(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail(str_cat("input must have rank >= 2, got shape ", shape_str(x.shape())));
  const int64_t k = ctx.has_input(1) ? scalar_int64(ctx, ctx.input(1), "k") : 0;
  const bool upper = ctx.node.attr_int("upper", 1) != 0;
  const int64_t rows = x.dim(x.rank() - 2), cols = x.dim(x.rank() - 1);
  Tensor out = x.clone();
  const int64_t mat = rows * cols;
  const int64_t count = mat == 0 ? 0 : out.numel() / mat;
  const size_t esize = dtype_size(x.dtype());
  if (x.dtype() != DType::String && esize == 0)
    ctx.fail(str_cat("element type ", dtype_name(x.dtype()), " is not supported"));
  for (int64_t m = 0; m < count; ++m)
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) {
        const bool keep = upper ? (j - i >= k) : (j - i <= k);
        if (keep) continue;
        const int64_t off = m * mat + i * cols + j;
        if (x.dtype() == DType::String) out.data<std::string>()[off].clear();
        else std::memset(static_cast<uint8_t*>(out.raw()) + off * esize, 0, esize);
      }
  ctx.outputs[0] = std::move(out);
}

void infer_trilu(InferContext& ctx) {
  require_rank_at_least(ctx, ctx.input(0), 2, "input");
  if (ctx.has_input(1)) {
    const TensorType& k = ctx.input(1);
    if (k.dtype != DType::Undefined && k.dtype != DType::Int64)
      ctx.fail(str_cat("k must be INT64, got ", dtype_name(k.dtype)));
  }
  infer_same_as_input(ctx);
}

DType eyelike_dtype(const Node& node, DType input) {
  if (!node.has_attr("dtype")) return input;
  const int64_t code = node.attr_int("dtype");
  if (code < 0 || code > std::numeric_limits<int32_t>::max() || !dtype_is_known(static_cast<int32_t>(code)))
    throw Error(str_cat(node.describe(), ": dtype ", code, " is not a known element type"));
  return static_cast<DType>(code);
}

void run_eyelike(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() != 2) ctx.fail(str_cat("input must be 2-D, got shape ", shape_str(x.shape())));
  const DType t = eyelike_dtype(ctx.node, x.dtype());
  if (t == DType::String || !dtype_is_computable(t))
    ctx.fail(str_cat("output element type ", dtype_name(t), " is not supported"));
  const int64_t k = ctx.node.attr_int("k", 0);
  const int64_t rows = x.dim(0), cols = x.dim(1);
  Tensor out(t, x.shape());
  dispatch_dtype(t, [&](auto tag) {
    using T = decltype(tag);
    T one;
    if constexpr (elementwise::is_half_like_v<T>) one = T(1.0f);
    else one = static_cast<T>(1);
    T* po = out.data<T>();
    for (int64_t i = 0; i < rows; ++i) {
      // j = i + k, computed without overflow for any k.
      if (k >= cols || k <= -rows) break;
      const int64_t j = i + k;
      if (j >= 0 && j < cols) po[i * cols + j] = one;
    }
  });
  ctx.outputs[0] = std::move(out);
}

void infer_eyelike(InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  if (x.has_shape && x.dims.size() != 2) ctx.fail(str_cat("input must be 2-D, got ", x.str()));
  infer_same_as_input(ctx);
  if (ctx.outputs.empty()) return;
  const DType t = eyelike_dtype(ctx.node, x.dtype);
  if (t == DType::String) ctx.fail("output element type STRING is not supported");
  ctx.outputs[0].dtype = t;
}

// ---- Dropout -------------------------------------------------------------------------------------

// octet runs inference: Dropout is the identity and the mask is all true (ones of the input type
// before opset 10, BOOL from 10). Training mode (opset >= 12, input 2) is random unless the ratio
// is 0, where it is the identity too; other ratios are refused rather than faked. The opset 1-6
// `is_test` attribute is ignored: a model being run is being tested.
double dropout_ratio(const OpContext& ctx) {
  if (ctx.has_input(1)) {
    const Tensor& r = ctx.input(1);
    if (r.numel() != 1) ctx.fail(str_cat("ratio must be a scalar, got shape ", shape_str(r.shape())));
    if (!dtype_is_float(r.dtype())) ctx.fail(str_cat("ratio must be a float, got ", dtype_name(r.dtype())));
    return r.get_as_double(0);
  }
  return ctx.node.attr_float("ratio", 0.5f);
}

void run_dropout(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (!dtype_is_float(x.dtype()))
    ctx.fail(str_cat("element type ", dtype_name(x.dtype()), " is not supported (a float type is required)"));
  const double ratio = dropout_ratio(ctx);
  bool training = false;
  if (ctx.has_input(2)) {
    const Tensor& t = ctx.input(2);
    if (t.dtype() != DType::Bool || t.numel() != 1)
      ctx.fail(str_cat("training_mode must be a BOOL scalar, got ", dtype_name(t.dtype()), shape_str(t.shape())));
    training = t.data<bool>()[0];
  }
  if (training) {
    if (!(ratio >= 0.0 && ratio < 1.0)) ctx.fail(str_cat("ratio must be in [0, 1), got ", ratio));
    if (ratio != 0.0) ctx.unsupported(str_cat("training-mode Dropout is not supported (ratio ", ratio, ")"));
  }
  ctx.outputs[0] = x;  // shares the buffer; no op writes into its inputs
  if (ctx.wants_output(1)) {
    if (ctx.opset >= 10) {
      Tensor mask(DType::Bool, x.shape());
      bool* pm = mask.data<bool>();
      for (int64_t i = 0; i < mask.numel(); ++i) pm[i] = true;
      ctx.outputs[1] = std::move(mask);
    } else {
      Tensor mask(x.dtype(), x.shape());
      dispatch_float(ctx.node, x.dtype(), [&](auto tag) {
        using T = decltype(tag);
        T* pm = mask.data<T>();
        for (int64_t i = 0; i < mask.numel(); ++i) pm[i] = store_double<T>(1.0);
      });
      ctx.outputs[1] = std::move(mask);
    }
  }
}

void infer_dropout(InferContext& ctx) {
  require_float_type(ctx, ctx.input(0).dtype, "data");
  if (ctx.has_input(2)) {
    const DType t = ctx.input(2).dtype;
    if (t != DType::Undefined && t != DType::Bool)
      ctx.fail(str_cat("training_mode must be BOOL, got ", dtype_name(t)));
  }
  infer_same_as_input(ctx, 0, 0);
  if (ctx.outputs.size() > 1) {
    ctx.outputs[1] = ctx.input(0);
    if (ctx.opset >= 10) ctx.outputs[1].dtype = DType::Bool;
  }
}

// ---- LRN -----------------------------------------------------------------------------------------

// X is [N, C, D1..Dk]; the window runs across channels: [c - floor((size-1)/2), c + ceil((size-1)/2)]
// clipped to [0, C). Sums of squares in double.
void run_lrn(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() < 2) ctx.fail(str_cat("input must have rank >= 2 (N, C, ...), got shape ", shape_str(x.shape())));
  const int64_t size = ctx.node.attr_int("size");
  if (size < 1) ctx.fail(str_cat("size must be >= 1, got ", size));
  const double alpha = ctx.node.attr_float("alpha", 1e-4f);
  const double beta = ctx.node.attr_float("beta", 0.75f);
  const double bias = ctx.node.attr_float("bias", 1.0f);
  const int64_t n = x.dim(0), c = x.dim(1);
  int64_t inner = 1;
  for (size_t d = 2; d < x.rank(); ++d) inner *= x.dim(d);
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  Tensor out(x.dtype(), x.shape());
  dispatch_float(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ch = 0; ch < c; ++ch) {
        const int64_t lo = std::max<int64_t>(0, ch - before);
        const int64_t hi = ch > c - 1 - after ? c - 1 : ch + after;  // no overflow for huge size
        for (int64_t s = 0; s < inner; ++s) {
          double sum = 0;
          for (int64_t i = lo; i <= hi; ++i) {
            const double v = static_cast<double>(load(px[(b * c + i) * inner + s]));
            sum += v * v;
          }
          const int64_t off = (b * c + ch) * inner + s;
          const double v = static_cast<double>(load(px[off]));
          po[off] = store_double<T>(v / std::pow(bias + alpha / static_cast<double>(size) * sum, beta));
        }
      }
  });
  ctx.outputs[0] = std::move(out);
}

void infer_lrn(InferContext& ctx) {
  require_float_type(ctx, ctx.input(0).dtype, "input");
  require_rank_at_least(ctx, ctx.input(0), 2, "input");
  if (ctx.node.attr_int("size") < 1) ctx.fail(str_cat("size must be >= 1, got ", ctx.node.attr_int("size")));
  infer_same_as_input(ctx);
}

// ---- MeanVarianceNormalization -------------------------------------------------------------------

// Y = (X - mean) / (sqrt(var) + 1e-9) over `axes` (default [0, 2, 3]), as in ONNX's function body
// (population variance; epsilon added to the standard deviation, not the variance).
std::vector<bool> mvn_reduced_axes(const Node& node, int64_t rank) {
  std::vector<int64_t> axes = node.attr_ints("axes", {0, 2, 3});
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  for (int64_t a : axes) {
    const int64_t na = normalize_axis(a, rank, node);
    if (rank == 0 || reduced[na])
      throw Error(str_cat(node.describe(), ": axes ", shape_str(axes), " repeat axis ", a,
                          " or do not fit rank ", rank));
    reduced[na] = true;
  }
  return reduced;
}

void run_mvn(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  const std::vector<bool> reduced = mvn_reduced_axes(ctx.node, rank);
  // Group of each element: its index with the reduced axes dropped.
  Shape group_shape;
  for (int64_t d = 0; d < rank; ++d) group_shape.push_back(reduced[d] ? 1 : x.dim(d));
  const int64_t groups = shape_numel(group_shape);
  const std::vector<int64_t> gstrides = broadcast_strides(group_shape, x.shape());
  std::vector<int64_t> group_of(static_cast<size_t>(x.numel()));
  {
    std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
    int64_t g = 0;
    for (int64_t i = 0; i < x.numel(); ++i) {
      group_of[i] = g;
      for (int64_t d = rank; d-- > 0;) {
        ++idx[d];
        g += gstrides[d];
        if (idx[d] < x.dim(d)) break;
        g -= gstrides[d] * x.dim(d);
        idx[d] = 0;
      }
    }
  }
  Tensor out(x.dtype(), x.shape());
  dispatch_float(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* px = x.data<T>();
    T* po = out.data<T>();
    std::vector<double> mean(groups, 0.0), var(groups, 0.0);
    std::vector<int64_t> count(groups, 0);
    for (int64_t i = 0; i < x.numel(); ++i) {
      mean[group_of[i]] += static_cast<double>(load(px[i]));
      ++count[group_of[i]];
    }
    for (int64_t g = 0; g < groups; ++g)
      if (count[g] > 0) mean[g] /= static_cast<double>(count[g]);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const double dv = static_cast<double>(load(px[i])) - mean[group_of[i]];
      var[group_of[i]] += dv * dv;
    }
    for (int64_t g = 0; g < groups; ++g)
      if (count[g] > 0) var[g] /= static_cast<double>(count[g]);
    for (int64_t i = 0; i < x.numel(); ++i) {
      const int64_t g = group_of[i];
      po[i] = store_double<T>((static_cast<double>(load(px[i])) - mean[g]) / (std::sqrt(var[g]) + 1e-9));
    }
  });
  ctx.outputs[0] = std::move(out);
}

void infer_mvn(InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  require_float_type(ctx, x.dtype, "input");
  if (x.has_shape) mvn_reduced_axes(ctx.node, static_cast<int64_t>(x.dims.size()));
  infer_same_as_input(ctx);
}

}  // namespace

void register_extra_math_ops(OpRegistry& r) {
  auto add_float = [&r](const char* name, RunFn run) { r.add(name, {run, infer_float_same}); };

  add_float("Sin", [](OpContext& c) { unary_float(c, [](double x) { return std::sin(x); }); });
  add_float("Cos", [](OpContext& c) { unary_float(c, [](double x) { return std::cos(x); }); });
  add_float("Tan", [](OpContext& c) { unary_float(c, [](double x) { return std::tan(x); }); });
  add_float("Asin", [](OpContext& c) { unary_float(c, [](double x) { return std::asin(x); }); });
  add_float("Acos", [](OpContext& c) { unary_float(c, [](double x) { return std::acos(x); }); });
  add_float("Atan", [](OpContext& c) { unary_float(c, [](double x) { return std::atan(x); }); });
  add_float("Sinh", [](OpContext& c) { unary_float(c, [](double x) { return std::sinh(x); }); });
  add_float("Cosh", [](OpContext& c) { unary_float(c, [](double x) { return std::cosh(x); }); });
  add_float("Asinh", [](OpContext& c) { unary_float(c, [](double x) { return std::asinh(x); }); });
  add_float("Acosh", [](OpContext& c) { unary_float(c, [](double x) { return std::acosh(x); }); });
  add_float("Atanh", [](OpContext& c) { unary_float(c, [](double x) { return std::atanh(x); }); });
  add_float("Softsign", [](OpContext& c) { unary_float(c, [](double x) { return x / (1.0 + std::fabs(x)); }); });
  add_float("Celu", run_celu);
  add_float("ThresholdedRelu", run_thresholded_relu);
  r.add("Shrink", {run_shrink, infer_numeric_same});

  r.add("IsNaN", {[](OpContext& c) { float_predicate(c, [](double v) { return std::isnan(v); }); },
                  infer_float_predicate});
  r.add("IsInf", {run_isinf, infer_float_predicate});

  r.add("Mod", {run_mod, infer_mod});
  r.add("BitShift", {run_bitshift, infer_bitshift});
  r.add("CumSum", {run_cumsum, infer_cumsum});
  r.add("Trilu", {run_trilu, infer_trilu});
  r.add("EyeLike", {run_eyelike, infer_eyelike});
  r.add("Dropout", {run_dropout, infer_dropout});
  r.add("LRN", {run_lrn, infer_lrn});
  r.add("MeanVarianceNormalization", {run_mvn, infer_mvn});
}

}  // namespace octet
