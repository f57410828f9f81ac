// Shape/data-movement op family, part 1: ops that only relabel a buffer or make a small tensor
// from attributes and shapes (Identity, Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size,
// Constant, ConstantOfShape, Range). The rest of the family lives in shape_*.cpp and is
// registered from register_shape_ops below.
//
// Reshape, Flatten, Squeeze, Unsqueeze and Identity return a tensor that shares the input's
// buffer (Tensor copies are handles): no op writes into its inputs, so this is safe and free.
#include <algorithm>
#include <cmath>
#include <set>

#include "runtime/ops/shape_internal.h"

namespace octet {
namespace {

using namespace shape_detail;

// ---------------------------------------------------------------------------------------------
// Identity

void run_identity(OpContext& ctx) { ctx.outputs[0] = ctx.input(0); }

void infer_identity(InferContext& ctx) {
  ensure_outputs(ctx);
  infer_same_as_input(ctx);
}

// ---------------------------------------------------------------------------------------------
// Reshape

std::vector<int64_t> reshape_spec(const OpContext& ctx) {
  if (ctx.has_input(1)) return to_int64s(ctx.input(1), ctx.node, "shape");
  if (ctx.node.has_attr("shape")) return ctx.node.attr_ints("shape");  // Reshape-1 form
  ctx.fail("the shape input is missing");
}

void run_reshape(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<int64_t> spec = reshape_spec(ctx);
  const bool allowzero = ctx.node.attr_int("allowzero", 0) != 0;
  const Shape& in = x.shape();
  Shape out(spec.size());
  int neg = -1;
  bool has_zero = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    const int64_t v = spec[i];
    if (v == 0 && !allowzero) {
      if (i >= in.size())
        ctx.fail(str_cat("shape ", shape_str(spec), " copies dim ", i, " (0) but the input ",
                         shape_str(in), " has rank ", in.size()));
      out[i] = in[i];
    } else if (v == -1) {
      if (neg >= 0) ctx.fail(str_cat("shape ", shape_str(spec), " has more than one -1"));
      neg = static_cast<int>(i);
      out[i] = 1;
    } else if (v < -1) {
      ctx.fail(str_cat("shape ", shape_str(spec), " has invalid dim ", v));
    } else {
      if (v == 0) has_zero = true;
      out[i] = v;
    }
  }
  if (allowzero && has_zero && neg >= 0)
    ctx.fail(str_cat("shape ", shape_str(spec), " has both 0 and -1 with allowzero=1"));
  int64_t others = 1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (static_cast<int>(i) == neg) continue;
    if (out[i] != 0 && others > INT64_MAX / out[i])
      ctx.fail(str_cat("shape ", shape_str(spec), " overflows"));
    others *= out[i];
  }
  if (neg >= 0) {
    if (others == 0 || x.numel() % others != 0)
      ctx.fail(str_cat("cannot reshape ", shape_str(in), " to ", shape_str(spec),
                       ": the -1 dim cannot be inferred"));
    out[neg] = x.numel() / others;
  } else if (others != x.numel()) {
    ctx.fail(str_cat("cannot reshape ", shape_str(in), " (", x.numel(), " elements) to ",
                     shape_str(out)));
  }
  ctx.outputs[0] = x.reshaped(out);
}

void infer_reshape(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  bool known = true;
  std::optional<std::vector<int64_t>> spec;
  if (ctx.has_input(1)) {
    if (const Tensor* c = ctx.constant(1)) spec = to_int64s(*c, ctx.node, "shape");
    else known = false;
  } else if (ctx.node.has_attr("shape")) {
    spec = ctx.node.attr_ints("shape");
  }
  if (!spec) {
    const TensorType* s = ctx.has_input(1) ? &ctx.input(1) : nullptr;
    if (!known && s && s->has_shape && s->dims.size() == 1 && s->dims[0].is_known())
      ctx.outputs[0] = make_type(x.dtype, std::vector<Dim>(s->dims[0].value));
    else
      ctx.outputs[0] = dtype_only(x.dtype);
    return;
  }
  const bool allowzero = ctx.node.attr_int("allowzero", 0) != 0;
  std::vector<Dim> out(spec->size());
  int neg = -1;
  for (size_t i = 0; i < spec->size(); ++i) {
    const int64_t v = (*spec)[i];
    if (v == 0 && !allowzero) {
      if (x.has_shape) {
        if (i >= x.dims.size())
          ctx.fail(str_cat("shape ", shape_str(*spec), " copies dim ", i, " but the input ",
                           x.str(), " has rank ", x.dims.size()));
        out[i] = x.dims[i];
      }
    } else if (v == -1) {
      if (neg >= 0) ctx.fail(str_cat("shape ", shape_str(*spec), " has more than one -1"));
      neg = static_cast<int>(i);
    } else if (v < -1) {
      ctx.fail(str_cat("shape ", shape_str(*spec), " has invalid dim ", v));
    } else {
      out[i] = Dim::known(v);
    }
  }
  if (neg >= 0 && x.has_shape) {
    // Cancel symbolic dims that the output copies from the input ([N,3,4] -> [0,-1] gives
    // [N,12]); the -1 is known when nothing unknown is left on either side.
    std::multiset<std::string> syms;
    int64_t in_prod = 1;
    bool ok = true;
    for (const Dim& d : x.dims) {
      if (d.is_known()) {
        if (d.value != 0 && in_prod > INT64_MAX / d.value) ok = false;
        else in_prod *= d.value;
      } else if (!d.param.empty()) {
        syms.insert(d.param);
      } else {
        ok = false;
      }
    }
    int64_t out_prod = 1;
    for (size_t i = 0; ok && i < out.size(); ++i) {
      if (static_cast<int>(i) == neg) continue;
      const Dim& d = out[i];
      if (d.is_known()) {
        if (d.value != 0 && out_prod > INT64_MAX / d.value) ok = false;
        else out_prod *= d.value;
      } else if (!d.param.empty() && syms.count(d.param)) {
        syms.erase(syms.find(d.param));
      } else {
        ok = false;
      }
    }
    if (ok && syms.empty() && out_prod != 0) {
      if (in_prod % out_prod != 0)
        ctx.fail(str_cat("cannot reshape ", x.str(), " to ", shape_str(*spec)));
      out[neg] = Dim::known(in_prod / out_prod);
    }
  } else if (neg < 0 && x.has_shape) {
    bool all_known = true;
    for (const Dim& d : x.dims) all_known = all_known && d.is_known();
    for (const Dim& d : out) all_known = all_known && d.is_known();
    if (all_known) {
      Shape a, b;
      for (const Dim& d : x.dims) a.push_back(d.value);
      for (const Dim& d : out) b.push_back(d.value);
      if (shape_numel(a) != shape_numel(b))
        ctx.fail(str_cat("cannot reshape ", x.str(), " to ", shape_str(b)));
    }
  }
  ctx.outputs[0] = make_type(x.dtype, std::move(out));
}

// ---------------------------------------------------------------------------------------------
// Flatten

int64_t flatten_axis(const Node& node, int64_t rank) {
  int64_t axis = node.attr_int("axis", 1);
  if (axis < -rank || axis > rank)
    throw Error(str_cat(node.describe(), ": axis ", axis, " is out of range for rank ", rank));
  return axis < 0 ? axis + rank : axis;
}

void run_flatten(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t axis = flatten_axis(ctx.node, static_cast<int64_t>(x.rank()));
  const Shape& in = x.shape();
  Shape out{shape_numel(Shape(in.begin(), in.begin() + axis)),
            shape_numel(Shape(in.begin() + axis, in.end()))};
  ctx.outputs[0] = x.reshaped(out);
}

void infer_flatten(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  if (!x.has_shape) {
    ctx.outputs[0] = make_type(x.dtype, {Dim{}, Dim{}});
    return;
  }
  const size_t axis = static_cast<size_t>(flatten_axis(ctx.node, static_cast<int64_t>(x.dims.size())));
  ctx.outputs[0] = make_type(x.dtype, {dims_product(x.dims, 0, axis),
                                       dims_product(x.dims, axis, x.dims.size())});
}

// ---------------------------------------------------------------------------------------------
// Squeeze / Unsqueeze (axes attribute before opset 13, input from 13)

std::vector<int64_t> normalized_unique_axes(const std::vector<int64_t>& axes, int64_t rank,
                                            const Node& node) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    int64_t n = normalize_axis(a, rank, node);
    if (rank == 0) throw Error(str_cat(node.describe(), ": axis ", a, " is out of range for rank 0"));
    if (std::find(out.begin(), out.end(), n) != out.end())
      throw Error(str_cat(node.describe(), ": axes ", shape_str(axes), " repeat axis ", n));
    out.push_back(n);
  }
  return out;
}

void run_squeeze(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  auto axes = ints_from_input_or_attr(ctx, 1, "axes");
  const int64_t r = static_cast<int64_t>(x.rank());
  std::vector<bool> drop(x.rank(), false);
  if (axes) {
    for (int64_t a : normalized_unique_axes(*axes, r, ctx.node)) {
      if (x.dim(static_cast<size_t>(a)) != 1)
        ctx.fail(str_cat("cannot squeeze axis ", a, " of shape ", shape_str(x.shape()),
                         ": its size is not 1"));
      drop[static_cast<size_t>(a)] = true;
    }
  } else {
    for (size_t i = 0; i < x.rank(); ++i) drop[i] = x.dim(i) == 1;
  }
  Shape out;
  for (size_t i = 0; i < x.rank(); ++i)
    if (!drop[i]) out.push_back(x.dim(i));
  ctx.outputs[0] = x.reshaped(out);
}

void infer_squeeze(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  bool known = true;
  auto axes = infer_ints_from_input_or_attr(ctx, 1, "axes", &known);
  if (!x.has_shape || !known) {
    ctx.outputs[0] = dtype_only(x.dtype);
    return;
  }
  std::vector<bool> drop(x.dims.size(), false);
  if (axes) {
    for (int64_t a : normalized_unique_axes(*axes, static_cast<int64_t>(x.dims.size()), ctx.node)) {
      const Dim& d = x.dims[static_cast<size_t>(a)];
      if (d.is_known() && d.value != 1)
        ctx.fail(str_cat("cannot squeeze axis ", a, " of ", x.str(), ": its size is not 1"));
      drop[static_cast<size_t>(a)] = true;
    }
  } else {
    for (size_t i = 0; i < x.dims.size(); ++i) {
      if (!x.dims[i].is_known()) {  // whether it is 1 decides the rank
        ctx.outputs[0] = dtype_only(x.dtype);
        return;
      }
      drop[i] = x.dims[i].value == 1;
    }
  }
  std::vector<Dim> out;
  for (size_t i = 0; i < x.dims.size(); ++i)
    if (!drop[i]) out.push_back(x.dims[i]);
  ctx.outputs[0] = make_type(x.dtype, std::move(out));
}

// Output dims of Unsqueeze: `in` with 1s inserted at `axes` (relative to the output rank).
template <class D>
std::vector<D> unsqueeze_dims(const std::vector<D>& in, const std::vector<int64_t>& axes,
                              const D& one, const Node& node) {
  const int64_t out_rank = static_cast<int64_t>(in.size() + axes.size());
  std::vector<int64_t> norm = normalized_unique_axes(axes, out_rank, node);
  std::vector<bool> ins(static_cast<size_t>(out_rank), false);
  for (int64_t a : norm) ins[static_cast<size_t>(a)] = true;
  std::vector<D> out;
  size_t j = 0;
  for (size_t i = 0; i < ins.size(); ++i) out.push_back(ins[i] ? one : in[j++]);
  return out;
}

void run_unsqueeze(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  auto axes = ints_from_input_or_attr(ctx, 1, "axes");
  if (!axes) ctx.fail("axes are required");
  ctx.outputs[0] = x.reshaped(unsqueeze_dims<int64_t>(x.shape(), *axes, 1, ctx.node));
}

void infer_unsqueeze(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  bool known = true;
  auto axes = infer_ints_from_input_or_attr(ctx, 1, "axes", &known);
  if (!x.has_shape || !known || !axes) {
    const TensorType* a = ctx.has_input(1) ? &ctx.input(1) : nullptr;
    if (x.has_shape && a && a->has_shape && a->dims.size() == 1 && a->dims[0].is_known())
      ctx.outputs[0] = make_type(x.dtype, std::vector<Dim>(x.dims.size() + a->dims[0].value));
    else
      ctx.outputs[0] = dtype_only(x.dtype);
    return;
  }
  ctx.outputs[0] = make_type(x.dtype, unsqueeze_dims<Dim>(x.dims, *axes, Dim::known(1), ctx.node));
}

// ---------------------------------------------------------------------------------------------
// Shape (start/end from opset 15) and Size

void shape_range(const Node& node, int64_t rank, int64_t* start, int64_t* end) {
  auto clampi = [rank](int64_t v) {
    if (v < 0) v += rank;
    return std::min(std::max<int64_t>(v, 0), rank);
  };
  *start = clampi(node.attr_int("start", 0));
  *end = node.has_attr("end") ? clampi(node.attr_int("end")) : rank;
  if (*end < *start) *end = *start;
}

void run_shape(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  int64_t start, end;
  shape_range(ctx.node, static_cast<int64_t>(x.rank()), &start, &end);
  Tensor out(DType::Int64, {end - start});
  for (int64_t i = start; i < end; ++i) out.data<int64_t>()[i - start] = x.dim(static_cast<size_t>(i));
  ctx.outputs[0] = out;
}

void infer_shape(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  if (!x.has_shape) {
    ctx.outputs[0] = make_type(DType::Int64, {Dim{}});
    return;
  }
  int64_t start, end;
  shape_range(ctx.node, static_cast<int64_t>(x.dims.size()), &start, &end);
  ctx.outputs[0] = make_type(DType::Int64, {Dim::known(end - start)});
}

void run_size(OpContext& ctx) { ctx.outputs[0] = Tensor::scalar<int64_t>(ctx.input(0).numel()); }

void infer_size(InferContext& ctx) {
  ensure_outputs(ctx);
  ctx.outputs[0] = make_type(DType::Int64, {});
}

// ---------------------------------------------------------------------------------------------
// Constant

Tensor constant_value(const Node& node) {
  auto one_of = [&](const char* k) { return node.has_attr(k); };
  if (one_of("value")) return node.attr_tensor("value");
  if (one_of("value_float")) return Tensor::scalar<float>(node.attr_float("value_float", 0.f));
  if (one_of("value_floats")) {
    std::vector<float> v = node.attr_floats("value_floats");
    return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
  }
  if (one_of("value_int")) return Tensor::scalar<int64_t>(node.attr_int("value_int"));
  if (one_of("value_ints")) {
    std::vector<int64_t> v = node.attr_ints("value_ints");
    return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
  }
  if (one_of("value_string")) return Tensor::scalar<std::string>(node.attr_string("value_string", ""));
  if (one_of("value_strings")) {
    const Attribute& a = node.attrs.at("value_strings");
    if (a.kind != Attribute::Kind::Strings)
      throw Error(str_cat(node.describe(), ": attribute 'value_strings' must be a list of strings"));
    return Tensor::from_vector<std::string>({static_cast<int64_t>(a.strings.size())}, a.strings);
  }
  if (one_of("sparse_value"))
    throw Error(str_cat(node.describe(), ": sparse_value constants are not supported"));
  throw Error(str_cat(node.describe(), ": Constant has no value attribute"));
}

void run_constant(OpContext& ctx) { ctx.outputs[0] = constant_value(ctx.node); }

void infer_constant(InferContext& ctx) {
  ensure_outputs(ctx);
  Tensor t = constant_value(ctx.node);
  ctx.outputs[0] = TensorType::of(t.dtype(), t.shape());
}

// ---------------------------------------------------------------------------------------------
// ConstantOfShape

Tensor constant_of_shape_value(const Node& node) {
  if (!node.has_attr("value")) return Tensor::scalar<float>(0.f);
  const Tensor& v = node.attr_tensor("value");
  if (v.numel() != 1)
    throw Error(str_cat(node.describe(), ": attribute 'value' must hold one element, it has ",
                        v.numel()));
  return v;
}

void run_constant_of_shape(OpContext& ctx) {
  const std::vector<int64_t> dims = to_int64s(ctx.input(0), ctx.node, "shape");
  if (ctx.input(0).rank() > 1)
    ctx.fail(str_cat("the shape input must be 1-D, got ", shape_str(ctx.input(0).shape())));
  for (int64_t d : dims)
    if (d < 0) ctx.fail(str_cat("shape ", shape_str(dims), " has a negative dim"));
  const Tensor v = constant_of_shape_value(ctx.node);
  Tensor out = alloc_output(ctx, v.dtype(), dims);
  const int64_t n = out.numel();
  with_mover(v, out, [&](const auto& mv) {
    for (int64_t i = 0; i < n; ++i) mv.one(i, 0);
  });
  ctx.outputs[0] = out;
}

void infer_constant_of_shape(InferContext& ctx) {
  ensure_outputs(ctx);
  const DType dt = constant_of_shape_value(ctx.node).dtype();
  if (const Tensor* c = ctx.constant(0)) {
    const std::vector<int64_t> dims = to_int64s(*c, ctx.node, "shape");
    for (int64_t d : dims)
      if (d < 0) ctx.fail(str_cat("shape ", shape_str(dims), " has a negative dim"));
    ctx.outputs[0] = make_type(dt, known_dims(dims));
    return;
  }
  const TensorType& s = ctx.input(0);
  if (s.has_shape && s.dims.size() == 1 && s.dims[0].is_known())
    ctx.outputs[0] = make_type(dt, std::vector<Dim>(static_cast<size_t>(s.dims[0].value)));
  else
    ctx.outputs[0] = dtype_only(dt);
}

// ---------------------------------------------------------------------------------------------
// Range: max(ceil((limit - start) / delta), 0) elements start + i * delta.

constexpr int64_t kRangeMaxElements = int64_t{1} << 34;

int64_t range_count(const Tensor& start, const Tensor& limit, const Tensor& delta, const Node& node) {
  for (const Tensor* t : {&start, &limit, &delta}) {
    if (t->numel() != 1)
      throw Error(str_cat(node.describe(), ": start, limit and delta must be scalars, got shape ",
                          shape_str(t->shape())));
    if (t->dtype() != start.dtype())
      throw Error(str_cat(node.describe(), ": start, limit and delta must have one type, got ",
                          dtype_name(start.dtype()), " and ", dtype_name(t->dtype())));
  }
  if (dtype_is_integer(start.dtype())) {
    int64_t a = 0, b = 0, d = 0;
    dispatch_dtype(start.dtype(), [&](auto tag) {
      using T = decltype(tag);
      if constexpr (std::is_integral_v<T>) {
        a = static_cast<int64_t>(start.data<T>()[0]);
        b = static_cast<int64_t>(limit.data<T>()[0]);
        d = static_cast<int64_t>(delta.data<T>()[0]);
      }
    });
    if (start.dtype() == DType::UInt64)  // values above INT64_MAX are not meaningful ranges
      throw Error(str_cat(node.describe(), ": Range does not support UINT64"));
    if (d == 0) throw Error(str_cat(node.describe(), ": delta must not be 0"));
    const __int128 diff = static_cast<__int128>(b) - a;
    __int128 n = diff / d;
    if (n * d != diff && ((diff > 0) == (d > 0))) ++n;  // ceil for a positive quotient
    if (n < 0) n = 0;
    if (n > kRangeMaxElements)
      throw Error(str_cat(node.describe(), ": Range(", a, ", ", b, ", ", d, ") is too long"));
    return static_cast<int64_t>(n);
  }
  const double a = start.get_as_double(0), b = limit.get_as_double(0), d = delta.get_as_double(0);
  if (d == 0) throw Error(str_cat(node.describe(), ": delta must not be 0"));
  const double count = std::ceil((b - a) / d);
  if (std::isnan(count))
    throw Error(str_cat(node.describe(), ": Range(", a, ", ", b, ", ", d, ") is not finite"));
  if (count > static_cast<double>(kRangeMaxElements))
    throw Error(str_cat(node.describe(), ": Range(", a, ", ", b, ", ", d, ") is too long"));
  return count < 0 ? 0 : static_cast<int64_t>(count);
}

Tensor range_values(const Tensor& start, const Tensor& delta, int64_t n) {
  Tensor out(start.dtype(), {n});
  dispatch_dtype(start.dtype(), [&](auto tag) {
    using T = decltype(tag);
    T* o = out.data<T>();
    if constexpr (std::is_integral_v<T>) {
      const int64_t a = static_cast<int64_t>(start.data<T>()[0]);
      const int64_t d = static_cast<int64_t>(delta.data<T>()[0]);
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(a + i * d);
    } else {
      const double a = start.get_as_double(0), d = delta.get_as_double(0);
      for (int64_t i = 0; i < n; ++i) o[i] = static_cast<T>(a + static_cast<double>(i) * d);
    }
  });
  return out;
}

void run_range(OpContext& ctx) {
  const Tensor &s = ctx.input(0), &l = ctx.input(1), &d = ctx.input(2);
  if (s.dtype() == DType::Bool || s.dtype() == DType::String)
    ctx.fail(str_cat("Range does not support ", dtype_name(s.dtype())));
  const int64_t n = range_count(s, l, d, ctx.node);
  ctx.outputs[0] = range_values(s, d, n);
}

void infer_range(InferContext& ctx) {
  ensure_outputs(ctx);
  const DType dt = ctx.input(0).dtype;
  const Tensor *s = ctx.constant(0), *l = ctx.constant(1), *d = ctx.constant(2);
  if (s && l && d && dt != DType::Bool && dt != DType::String)
    ctx.outputs[0] = make_type(dt, {Dim::known(range_count(*s, *l, *d, ctx.node))});
  else
    ctx.outputs[0] = make_type(dt, {Dim{}});
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  r.add("Identity", {run_identity, infer_identity});
  r.add("Reshape", {run_reshape, infer_reshape});
  r.add("Flatten", {run_flatten, infer_flatten});
  r.add("Squeeze", {run_squeeze, infer_squeeze});
  r.add("Unsqueeze", {run_unsqueeze, infer_unsqueeze});
  r.add("Shape", {run_shape, infer_shape});
  r.add("Size", {run_size, infer_size});
  r.add("Constant", {run_constant, infer_constant});
  r.add("ConstantOfShape", {run_constant_of_shape, infer_constant_of_shape});
  r.add("Range", {run_range, infer_range});
  register_shape_index_ops(r);
  register_shape_concat_ops(r);
  register_shape_pad_ops(r);
  register_shape_resize_ops(r);
}

}  // namespace octet
