// Shape/data-movement op family, part 2: ops that read elements through an index map (Gather,
// GatherElements) or a strided view (Transpose, Tile, Expand). Elements are moved by size, so
// every dtype works, strings and bool included.
#include <algorithm>

#include "runtime/ops/shape_internal.h"

namespace octet {
namespace {

using namespace shape_detail;

// ---------------------------------------------------------------------------------------------
// Gather: out[a..., i..., b...] = data[a..., indices[i...], b...], negative indices count from
// the end of the axis.

void check_gather_indices(const std::vector<int64_t>& idx, int64_t n, int64_t axis,
                          const Shape& data_shape, const std::string& node_desc,
                          const char* op) {
  for (size_t i = 0; i < idx.size(); ++i)
    if (idx[i] < -n || idx[i] >= n)
      throw Error(str_cat(node_desc, ": index ", idx[i], " (at position ", i, " of the indices) is out of range for axis ",
                          axis, " of size ", n, " in data of shape ", shape_str(data_shape),
                          " (", op, " accepts [", -n, ", ", n - 1, "])"));
}

void run_gather(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  const int64_t r = static_cast<int64_t>(x.rank());
  if (r == 0) ctx.fail("data must have rank >= 1, got a scalar");
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), r, ctx.node);
  std::vector<int64_t> idx = to_int64s(ind, ctx.node, "indices");
  const int64_t n = x.dim(static_cast<size_t>(axis));
  check_gather_indices(idx, n, axis, x.shape(), ctx.node.describe(), "Gather");
  Shape out_shape(x.shape().begin(), x.shape().begin() + axis);
  out_shape.insert(out_shape.end(), ind.shape().begin(), ind.shape().end());
  out_shape.insert(out_shape.end(), x.shape().begin() + axis + 1, x.shape().end());
  Tensor out = alloc_output(ctx, x.dtype(), out_shape);
  const int64_t outer = shape_numel(Shape(x.shape().begin(), x.shape().begin() + axis));
  const int64_t inner = shape_numel(Shape(x.shape().begin() + axis + 1, x.shape().end()));
  const int64_t k = static_cast<int64_t>(idx.size());
  for (int64_t& v : idx)
    if (v < 0) v += n;
  with_mover(x, out, [&](const auto& mv) {
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < k; ++j) mv.run((o * k + j) * inner, (o * n + idx[j]) * inner, inner);
  });
  ctx.outputs[0] = out;
}

void infer_gather(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  const TensorType& ind = ctx.input(1);
  if (!x.has_shape || !ind.has_shape) {
    ctx.outputs[0] = dtype_only(x.dtype);
    return;
  }
  const int64_t r = static_cast<int64_t>(x.dims.size());
  if (r == 0) ctx.fail("data must have rank >= 1, got a scalar");
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), r, ctx.node);
  const Dim& ad = x.dims[static_cast<size_t>(axis)];
  if (const Tensor* c = ctx.constant(1); c && ad.is_known()) {
    Shape xs;
    for (const Dim& d : x.dims) xs.push_back(d.is_known() ? d.value : -1);
    check_gather_indices(to_int64s(*c, ctx.node, "indices"), ad.value, axis, xs,
                         ctx.node.describe(), "Gather");
  }
  std::vector<Dim> out(x.dims.begin(), x.dims.begin() + axis);
  out.insert(out.end(), ind.dims.begin(), ind.dims.end());
  out.insert(out.end(), x.dims.begin() + axis + 1, x.dims.end());
  ctx.outputs[0] = make_type(x.dtype, std::move(out));
}

// ---------------------------------------------------------------------------------------------
// GatherElements: out[i][j][k] = data[indices[i][j][k]][j][k] for axis 0 (likewise for others).
// indices has the rank of data and is no larger than data on the other axes.

void run_gather_elements(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& ind = ctx.input(1);
  const size_t r = x.rank();
  if (r == 0) ctx.fail("data must have rank >= 1, got a scalar");
  if (ind.rank() != r)
    ctx.fail(str_cat("indices ", shape_str(ind.shape()), " must have the rank of data ",
                     shape_str(x.shape())));
  const size_t axis = static_cast<size_t>(normalize_axis(ctx.node.attr_int("axis", 0),
                                                         static_cast<int64_t>(r), ctx.node));
  for (size_t d = 0; d < r; ++d)
    if (d != axis && ind.dim(d) > x.dim(d))
      ctx.fail(str_cat("indices ", shape_str(ind.shape()), " exceed data ", shape_str(x.shape()),
                       " on axis ", d));
  std::vector<int64_t> idx = to_int64s(ind, ctx.node, "indices");
  const int64_t n = x.dim(axis);
  check_gather_indices(idx, n, static_cast<int64_t>(axis), x.shape(), ctx.node.describe(),
                       "GatherElements");
  Tensor out = alloc_output(ctx, x.dtype(), ind.shape());
  const std::vector<int64_t> xs = contiguous_strides(x.shape());
  const Shape& is = ind.shape();
  const int64_t total = ind.numel();
  with_mover(x, out, [&](const auto& mv) {
    std::vector<int64_t> pos(r, 0);
    int64_t base = 0;  // data offset of pos with the axis coordinate set to 0
    for (int64_t i = 0; i < total; ++i) {
      int64_t j = idx[static_cast<size_t>(i)];
      if (j < 0) j += n;
      mv.one(i, base + j * xs[axis]);
      for (size_t d = r; d-- > 0;) {
        ++pos[d];
        if (d != axis) base += xs[d];
        if (pos[d] < is[d]) break;
        if (d != axis) base -= xs[d] * is[d];
        pos[d] = 0;
      }
    }
  });
  ctx.outputs[0] = out;
}

void infer_gather_elements(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  const TensorType& ind = ctx.input(1);
  if (x.has_shape && ind.has_shape && x.dims.size() != ind.dims.size())
    ctx.fail(str_cat("indices ", ind.str(), " must have the rank of data ", x.str()));
  TensorType out = ind;
  out.dtype = x.dtype;
  ctx.outputs[0] = out;
}

// ---------------------------------------------------------------------------------------------
// Transpose (perm defaults to reversing the axes)

std::vector<int64_t> transpose_perm(const Node& node, size_t rank) {
  std::vector<int64_t> perm = node.attr_ints("perm");
  if (!node.has_attr("perm")) {
    for (size_t i = 0; i < rank; ++i) perm.push_back(static_cast<int64_t>(rank - 1 - i));
    return perm;
  }
  if (perm.size() != rank)
    throw Error(str_cat(node.describe(), ": perm ", shape_str(perm), " does not match rank ", rank));
  std::vector<bool> seen(rank, false);
  for (int64_t p : perm) {
    if (p < 0 || p >= static_cast<int64_t>(rank) || seen[static_cast<size_t>(p)])
      throw Error(str_cat(node.describe(), ": perm ", shape_str(perm), " is not a permutation of 0..",
                          static_cast<int64_t>(rank) - 1));
    seen[static_cast<size_t>(p)] = true;
  }
  return perm;
}

void run_transpose(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<int64_t> perm = transpose_perm(ctx.node, x.rank());
  const std::vector<int64_t> cs = contiguous_strides(x.shape());
  Shape out_shape(x.rank());
  std::vector<int64_t> strides(x.rank());
  for (size_t i = 0; i < x.rank(); ++i) {
    out_shape[i] = x.dim(static_cast<size_t>(perm[i]));
    strides[i] = cs[static_cast<size_t>(perm[i])];
  }
  Tensor out = alloc_output(ctx, x.dtype(), out_shape);
  with_mover(x, out, [&](const auto& mv) { strided_copy(mv, out_shape, 0, strides); });
  ctx.outputs[0] = out;
}

void infer_transpose(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  if (!x.has_shape) {
    if (ctx.node.has_attr("perm"))
      ctx.outputs[0] = make_type(x.dtype, std::vector<Dim>(ctx.node.attr_ints("perm").size()));
    else
      ctx.outputs[0] = dtype_only(x.dtype);
    return;
  }
  const std::vector<int64_t> perm = transpose_perm(ctx.node, x.dims.size());
  std::vector<Dim> out;
  for (int64_t p : perm) out.push_back(x.dims[static_cast<size_t>(p)]);
  ctx.outputs[0] = make_type(x.dtype, std::move(out));
}

// ---------------------------------------------------------------------------------------------
// Tile: output dim i is input dim i times repeats[i]. Done as a strided copy of the view
// [rep0, d0, rep1, d1, ...] with stride 0 on the repeat dims.

std::vector<int64_t> tile_repeats(const Tensor& t, size_t rank, const Node& node) {
  std::vector<int64_t> rep = to_int64s(t, node, "repeats");
  if (t.rank() > 1 || rep.size() != rank)
    throw Error(str_cat(node.describe(), ": repeats ", shape_str(rep), " must be 1-D with one value per input dim (rank ",
                        rank, ")"));
  for (int64_t v : rep)
    if (v < 0) throw Error(str_cat(node.describe(), ": repeats ", shape_str(rep), " has a negative value"));
  return rep;
}

void run_tile(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<int64_t> rep = tile_repeats(ctx.input(1), x.rank(), ctx.node);
  const std::vector<int64_t> cs = contiguous_strides(x.shape());
  Shape out_shape, view;
  std::vector<int64_t> strides;
  for (size_t i = 0; i < x.rank(); ++i) {
    const int64_t d = x.dim(i);
    if (d != 0 && rep[i] > INT64_MAX / d)
      ctx.fail(str_cat("tiling ", shape_str(x.shape()), " by ", shape_str(rep), " overflows"));
    out_shape.push_back(d * rep[i]);
    view.push_back(rep[i]);
    view.push_back(d);
    strides.push_back(0);
    strides.push_back(cs[i]);
  }
  Tensor out = alloc_output(ctx, x.dtype(), out_shape);
  with_mover(x, out, [&](const auto& mv) { strided_copy(mv, view, 0, strides); });
  ctx.outputs[0] = out;
}

void infer_tile(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  if (!x.has_shape) {
    ctx.outputs[0] = dtype_only(x.dtype);
    return;
  }
  std::vector<Dim> out(x.dims.size());
  if (const Tensor* c = ctx.constant(1)) {
    const std::vector<int64_t> rep = tile_repeats(*c, x.dims.size(), ctx.node);
    for (size_t i = 0; i < out.size(); ++i) {
      const Dim& d = x.dims[i];
      if (rep[i] == 0) out[i] = Dim::known(0);
      else if (rep[i] == 1) out[i] = d;
      else if (d.is_known() && d.value <= INT64_MAX / rep[i]) out[i] = Dim::known(d.value * rep[i]);
    }
  }
  ctx.outputs[0] = make_type(x.dtype, std::move(out));
}

// ---------------------------------------------------------------------------------------------
// Expand: broadcasts the input and the shape input together (either may be larger).

Shape expand_target(const Tensor& t, const Node& node) {
  std::vector<int64_t> s = to_int64s(t, node, "shape");
  if (t.rank() > 1)
    throw Error(str_cat(node.describe(), ": shape must be 1-D, got a tensor of shape ", shape_str(t.shape())));
  for (int64_t v : s)
    if (v < 0) throw Error(str_cat(node.describe(), ": shape ", shape_str(s), " has a negative dim"));
  return s;
}

void run_expand(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Shape out_shape = broadcast_shapes(x.shape(), expand_target(ctx.input(1), ctx.node), ctx.node);
  Tensor out = alloc_output(ctx, x.dtype(), out_shape);
  const std::vector<int64_t> strides = broadcast_strides(x.shape(), out_shape);
  with_mover(x, out, [&](const auto& mv) { strided_copy(mv, out_shape, 0, strides); });
  ctx.outputs[0] = out;
}

void infer_expand(InferContext& ctx) {
  ensure_outputs(ctx);
  const TensorType& x = ctx.input(0);
  if (const Tensor* c = ctx.constant(1)) {
    ctx.outputs[0] =
        broadcast_types(x, make_type(x.dtype, known_dims(expand_target(*c, ctx.node))), ctx.node);
    ctx.outputs[0].dtype = x.dtype;
    return;
  }
  const TensorType* s = ctx.has_input(1) ? &ctx.input(1) : nullptr;
  if (x.has_shape && s && s->has_shape && s->dims.size() == 1 && s->dims[0].is_known()) {
    const size_t r = std::max(x.dims.size(), static_cast<size_t>(s->dims[0].value));
    ctx.outputs[0] = make_type(x.dtype, std::vector<Dim>(r));
  } else {
    ctx.outputs[0] = dtype_only(x.dtype);
  }
}

}  // namespace

void register_shape_index_ops(OpRegistry& r) {
  r.add("Gather", {run_gather, infer_gather});
  r.add("GatherElements", {run_gather_elements, infer_gather_elements});
  r.add("Transpose", {run_transpose, infer_transpose});
  r.add("Tile", {run_tile, infer_tile});
  r.add("Expand", {run_expand, infer_expand});
}

}  // namespace octet
