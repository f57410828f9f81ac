// Shape/data-movement op family, part 3: Concat, Split and Slice, which cut or join tensors
// along axes. Elements are moved by size, so every dtype works.
#include <algorithm>

#include "runtime/ops/shape_internal.h"

namespace octet {
namespace {

using namespace shape_detail;

// ---------------------------------------------------------------------------------------------
// Concat

void run_concat(OpContext& ctx) {
  std::vector<const Tensor*> ins;
  for (size_t i = 0; i < ctx.num_inputs(); ++i)
    if (ctx.has_input(i)) ins.push_back(ctx.inputs[i]);
  if (ins.empty()) ctx.fail("needs at least one input");
  const Tensor& first = *ins[0];
  const size_t r = first.rank();
  if (r == 0) ctx.fail("inputs must have rank >= 1, got a scalar");
  const size_t axis = static_cast<size_t>(
      normalize_axis(ctx.node.attr_int("axis"), static_cast<int64_t>(r), ctx.node));
  Shape out_shape = first.shape();
  out_shape[axis] = 0;
  for (const Tensor* t : ins) {
    if (t->dtype() != first.dtype())
      ctx.fail(str_cat("inputs have different types ", dtype_name(first.dtype()), " and ",
                       dtype_name(t->dtype())));
    bool ok = t->rank() == r;
    for (size_t d = 0; ok && d < r; ++d) ok = d == axis || t->dim(d) == first.dim(d);
    if (!ok)
      ctx.fail(str_cat("input shapes ", shape_str(first.shape()), " and ", shape_str(t->shape()),
                       " differ outside axis ", axis));
    out_shape[axis] += t->dim(axis);
  }
  Tensor out = alloc_output(ctx, first.dtype(), out_shape);
  const int64_t outer = shape_numel(Shape(out_shape.begin(), out_shape.begin() + axis));
  const int64_t inner = shape_numel(Shape(out_shape.begin() + axis + 1, out_shape.end()));
  const int64_t out_block = out_shape[axis] * inner;
  int64_t offset = 0;  // start of this input's block inside each output block
  for (const Tensor* t : ins) {
    const int64_t block = t->dim(axis) * inner;
    with_mover(*t, out, [&](const auto& mv) {
      for (int64_t o = 0; o < outer; ++o) mv.run(o * out_block + offset, o * block, block);
    });
    offset += block;
  }
  ctx.outputs[0] = out;
}

void infer_concat(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType* first = nullptr;
  const TensorType* shaped = nullptr;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    if (!first) first = &ctx.input(i);
    if (!shaped && ctx.input(i).has_shape) shaped = &ctx.input(i);
  }
  if (!first) ctx.fail("needs at least one input");
  if (!shaped) {
    ctx.outputs[0] = dtype_only(first->dtype);
    return;
  }
  const size_t r = shaped->dims.size();
  if (r == 0) ctx.fail("inputs must have rank >= 1, got a scalar");
  const size_t axis = static_cast<size_t>(
      normalize_axis(ctx.node.attr_int("axis"), static_cast<int64_t>(r), ctx.node));
  std::vector<Dim> out(r);
  int64_t total = 0;
  bool total_known = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    const TensorType& t = ctx.input(i);
    if (t.dtype != first->dtype)
      ctx.fail(str_cat("inputs have different types ", dtype_name(first->dtype), " and ",
                       dtype_name(t.dtype)));
    if (!t.has_shape) {
      total_known = false;
      continue;
    }
    if (t.dims.size() != r)
      ctx.fail(str_cat("inputs ", shaped->str(), " and ", t.str(), " have different ranks"));
    for (size_t d = 0; d < r; ++d) {
      const Dim& v = t.dims[d];
      if (d == axis) {
        if (v.is_known()) total += v.value;
        else total_known = false;
        continue;
      }
      if (!v.is_known()) {
        if (!out[d].is_known() && out[d].param.empty()) out[d] = v;
        continue;
      }
      if (out[d].is_known() && out[d].value != v.value)
        ctx.fail(str_cat("input shapes ", shaped->str(), " and ", t.str(), " differ outside axis ", axis));
      out[d] = v;
    }
  }
  out[axis] = total_known ? Dim::known(total) : Dim{};
  ctx.outputs[0] = make_type(first->dtype, std::move(out));
}

// ---------------------------------------------------------------------------------------------
// Split: sizes from the split input (opset 13+) or attribute (before 13); otherwise num_outputs
// (opset 18) or the output count, in chunks of ceil(dim / n) with a smaller last chunk.

std::vector<int64_t> split_sizes(const Node& node, int64_t dim, size_t n_outputs,
                                 const std::optional<std::vector<int64_t>>& split) {
  if (split && !split->empty()) {
    if (split->size() != n_outputs)
      throw Error(str_cat(node.describe(), ": split ", shape_str(*split), " has ", split->size(),
                          " sizes for ", n_outputs, " outputs"));
    int64_t sum = 0;
    for (int64_t v : *split) {
      if (v < 0) throw Error(str_cat(node.describe(), ": split ", shape_str(*split), " has a negative size"));
      sum += v;
    }
    if (dim >= 0 && sum != dim)
      throw Error(str_cat(node.describe(), ": split ", shape_str(*split), " sums to ", sum,
                          " but the axis has size ", dim));
    return *split;
  }
  int64_t n = static_cast<int64_t>(n_outputs);
  if (node.has_attr("num_outputs")) {
    n = node.attr_int("num_outputs");
    if (n != static_cast<int64_t>(n_outputs))
      throw Error(str_cat(node.describe(), ": num_outputs ", n, " does not match the ", n_outputs,
                          " outputs"));
  }
  if (n <= 0) throw Error(str_cat(node.describe(), ": Split has no outputs"));
  if (dim < 0) return std::vector<int64_t>(static_cast<size_t>(n), -1);
  const int64_t chunk = (dim + n - 1) / n;
  std::vector<int64_t> sizes(static_cast<size_t>(n), chunk);
  sizes.back() = dim - chunk * (n - 1);
  if (sizes.back() < 0)
    throw Error(str_cat(node.describe(), ": an axis of size ", dim, " cannot be split into ", n,
                        " chunks of ", chunk));
  return sizes;
}

void run_split(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t r = static_cast<int64_t>(x.rank());
  if (r == 0) ctx.fail("input must have rank >= 1, got a scalar");
  const size_t axis = static_cast<size_t>(normalize_axis(ctx.node.attr_int("axis", 0), r, ctx.node));
  const std::vector<int64_t> sizes =
      split_sizes(ctx.node, x.dim(axis), ctx.num_outputs(), ints_from_input_or_attr(ctx, 1, "split"));
  const int64_t outer = shape_numel(Shape(x.shape().begin(), x.shape().begin() + axis));
  const int64_t inner = shape_numel(Shape(x.shape().begin() + axis + 1, x.shape().end()));
  const int64_t in_block = x.dim(axis) * inner;
  int64_t offset = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    Shape s = x.shape();
    s[axis] = sizes[i];
    Tensor out = alloc_output(ctx, x.dtype(), s);
    const int64_t block = sizes[i] * inner;
    with_mover(x, out, [&](const auto& mv) {
      for (int64_t o = 0; o < outer; ++o) mv.run(o * block, o * in_block + offset, block);
    });
    offset += block;
    ctx.outputs[i] = out;
  }
}

void infer_split(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  if (!x.has_shape) {
    for (auto& o : ctx.outputs) o = dtype_only(x.dtype);
    return;
  }
  const int64_t r = static_cast<int64_t>(x.dims.size());
  if (r == 0) ctx.fail("input must have rank >= 1, got a scalar");
  const size_t axis = static_cast<size_t>(normalize_axis(ctx.node.attr_int("axis", 0), r, ctx.node));
  bool known = true;
  auto split = infer_ints_from_input_or_attr(ctx, 1, "split", &known);
  const Dim& d = x.dims[axis];
  std::vector<int64_t> sizes(ctx.node.outputs.size(), -1);
  if (known) sizes = split_sizes(ctx.node, d.is_known() ? d.value : -1, ctx.node.outputs.size(), split);
  for (size_t i = 0; i < ctx.outputs.size() && i < sizes.size(); ++i) {
    std::vector<Dim> dims = x.dims;
    dims[axis] = sizes[i] >= 0 ? Dim::known(sizes[i]) : Dim{};
    ctx.outputs[i] = make_type(x.dtype, std::move(dims));
  }
}

// ---------------------------------------------------------------------------------------------
// Slice: starts/ends/axes attributes before opset 10; inputs starts, ends, axes, steps after.

struct SliceSpec {
  std::vector<int64_t> starts, ends, axes, steps;  // axes normalized
};

SliceSpec slice_spec(const Node& node, int64_t rank, std::optional<std::vector<int64_t>> starts,
                     std::optional<std::vector<int64_t>> ends, std::optional<std::vector<int64_t>> axes,
                     std::optional<std::vector<int64_t>> steps) {
  if (!starts || !ends) throw Error(str_cat(node.describe(), ": starts and ends are required"));
  SliceSpec s;
  s.starts = *starts;
  s.ends = *ends;
  const size_t k = s.starts.size();
  if (s.ends.size() != k)
    throw Error(str_cat(node.describe(), ": starts ", shape_str(s.starts), " and ends ",
                        shape_str(s.ends), " differ in length"));
  if (axes && !axes->empty()) {
    if (axes->size() != k)
      throw Error(str_cat(node.describe(), ": axes ", shape_str(*axes), " and starts ",
                          shape_str(s.starts), " differ in length"));
    for (int64_t a : *axes) {
      const int64_t n = normalize_axis(a, rank, node);
      if (rank == 0) throw Error(str_cat(node.describe(), ": cannot slice a scalar"));
      if (std::find(s.axes.begin(), s.axes.end(), n) != s.axes.end())
        throw Error(str_cat(node.describe(), ": axes ", shape_str(*axes), " repeat axis ", n));
      s.axes.push_back(n);
    }
  } else {
    if (static_cast<int64_t>(k) > rank)
      throw Error(str_cat(node.describe(), ": ", k, " starts for an input of rank ", rank));
    for (size_t i = 0; i < k; ++i) s.axes.push_back(static_cast<int64_t>(i));
  }
  if (steps && !steps->empty()) {
    if (steps->size() != k)
      throw Error(str_cat(node.describe(), ": steps ", shape_str(*steps), " and starts ",
                          shape_str(s.starts), " differ in length"));
    for (int64_t v : *steps)
      if (v == 0) throw Error(str_cat(node.describe(), ": steps ", shape_str(*steps), " has a 0"));
    s.steps = *steps;
  } else {
    s.steps.assign(k, 1);
  }
  return s;
}

// Clamps one axis' slice to an axis of size `dim`: first element and count.
void slice_axis(int64_t start, int64_t end, int64_t step, int64_t dim, int64_t* first, int64_t* count) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (dim == 0) {
    *first = 0;
    *count = 0;
    return;
  }
  if (step > 0) {
    start = std::clamp<int64_t>(start, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    *first = start;
    *count = end > start ? (end - start - 1) / step + 1 : 0;
  } else {
    start = std::clamp<int64_t>(start, 0, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    *first = start;
    // -step overflows for INT64_MIN, where the count is at most 1 anyway
    *count = start > end ? (step == INT64_MIN ? 1 : (start - end - 1) / -step + 1) : 0;
  }
}

void run_slice(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t r = static_cast<int64_t>(x.rank());
  const SliceSpec s = slice_spec(ctx.node, r, ints_from_input_or_attr(ctx, 1, "starts"),
                                 ints_from_input_or_attr(ctx, 2, "ends"),
                                 ints_from_input_or_attr(ctx, 3, "axes"),
                                 ctx.has_input(4) ? to_int64s(ctx.input(4), ctx.node, "steps")
                                                  : std::optional<std::vector<int64_t>>{});
  const std::vector<int64_t> cs = contiguous_strides(x.shape());
  Shape out_shape = x.shape();
  std::vector<int64_t> strides = cs;
  int64_t base = 0;
  for (size_t i = 0; i < s.axes.size(); ++i) {
    const size_t a = static_cast<size_t>(s.axes[i]);
    int64_t first, count;
    slice_axis(s.starts[i], s.ends[i], s.steps[i], x.dim(a), &first, &count);
    out_shape[a] = count;
    if (count > 0) base += first * cs[a];
    strides[a] = count > 1 ? s.steps[i] * cs[a] : 0;
  }
  Tensor out = alloc_output(ctx, x.dtype(), out_shape);
  with_mover(x, out, [&](const auto& mv) { strided_copy(mv, out_shape, base, strides); });
  ctx.outputs[0] = out;
}

void infer_slice(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  if (!x.has_shape) {
    ctx.outputs[0] = dtype_only(x.dtype);
    return;
  }
  const int64_t r = static_cast<int64_t>(x.dims.size());
  bool ks = true, ke = true, ka = true, kst = true;
  auto starts = infer_ints_from_input_or_attr(ctx, 1, "starts", &ks);
  auto ends = infer_ints_from_input_or_attr(ctx, 2, "ends", &ke);
  auto axes = infer_ints_from_input_or_attr(ctx, 3, "axes", &ka);
  std::optional<std::vector<int64_t>> steps;
  if (ctx.has_input(4)) {
    if (const Tensor* c = ctx.constant(4)) steps = to_int64s(*c, ctx.node, "steps");
    else kst = false;
  }
  std::vector<Dim> out = x.dims;
  if (!ka) {  // which axes are sliced is unknown
    ctx.outputs[0] = make_type(x.dtype, std::vector<Dim>(x.dims.size()));
    return;
  }
  if (!ks || !ke || !kst) {
    if (axes) {
      for (int64_t a : *axes) out[static_cast<size_t>(normalize_axis(a, r, ctx.node))] = Dim{};
    } else {
      const TensorType* st = ctx.has_input(1) ? &ctx.input(1) : nullptr;
      if (st && st->has_shape && st->dims.size() == 1 && st->dims[0].is_known()) {
        for (int64_t i = 0; i < st->dims[0].value && i < r; ++i) out[static_cast<size_t>(i)] = Dim{};
      } else {
        out.assign(out.size(), Dim{});
      }
    }
    ctx.outputs[0] = make_type(x.dtype, std::move(out));
    return;
  }
  const SliceSpec s = slice_spec(ctx.node, r, starts, ends, axes, steps);
  for (size_t i = 0; i < s.axes.size(); ++i) {
    Dim& d = out[static_cast<size_t>(s.axes[i])];
    if (d.is_known()) {
      int64_t first, count;
      slice_axis(s.starts[i], s.ends[i], s.steps[i], d.value, &first, &count);
      d = Dim::known(count);
    } else if (!(s.starts[i] == 0 && s.steps[i] == 1 && s.ends[i] == INT64_MAX)) {
      d = Dim{};  // a whole-axis slice keeps a symbolic dim; anything else is unknown
    }
  }
  ctx.outputs[0] = make_type(x.dtype, std::move(out));
}

}  // namespace

void register_shape_concat_ops(OpRegistry& r) {
  r.add("Concat", {run_concat, infer_concat});
  r.add("Split", {run_split, infer_split});
  r.add("Slice", {run_slice, infer_slice});
}

}  // namespace octet
