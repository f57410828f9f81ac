// The libtorch bridge, shape and data-movement ops: Identity, Reshape, Flatten, Squeeze,
// Unsqueeze, Shape, Size, Concat, Split, Slice, Gather, GatherElements, Transpose, Tile, Expand,
// Pad, Trilu. Attribute and input forms and the checks follow src/runtime/ops/shape*.cpp. These
// run here only when the data is a float tensor (integer shape arithmetic is the executor's).
#include <algorithm>

#include "train/torch_ops.h"

namespace octet::train::detail {
namespace {

std::string shp(at::IntArrayRef s) { return shape_str(s.vec()); }

// Distinct axes normalized for `rank`.
std::vector<int64_t> unique_axes(const OpCall& c, const std::vector<int64_t>& axes, int64_t rank) {
  std::vector<int64_t> out;
  for (int64_t a : axes) {
    const int64_t n = norm_axis(c, a, rank);
    if (rank == 0) c.fail(str_cat("axis ", a, " is out of range for rank 0"));
    if (std::find(out.begin(), out.end(), n) != out.end())
      c.fail(str_cat("axes ", shape_str(axes), " repeat axis ", n));
    out.push_back(n);
  }
  return out;
}

// ---- Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size ------------------------------------------

void run_reshape(OpCall& c) {
  const at::Tensor& x = c.x(0);
  std::vector<int64_t> spec;
  if (c.has(1))
    spec = c.ints(1, "shape");
  else if (c.node.has_attr("shape"))
    spec = c.node.attr_ints("shape");
  else
    c.fail("the shape input is missing");
  const bool allowzero = c.node.attr_int("allowzero", 0) != 0;
  std::vector<int64_t> out(spec.size());
  int64_t neg = -1, others = 1;
  bool has_zero = false;
  for (size_t i = 0; i < spec.size(); ++i) {
    const int64_t v = spec[i];
    if (v == 0 && !allowzero) {
      if (static_cast<int64_t>(i) >= x.dim())
        c.fail(str_cat("shape ", shape_str(spec), " copies dim ", i, " (0) but the input ", shp(x.sizes()),
                       " has rank ", x.dim()));
      out[i] = x.size(static_cast<int64_t>(i));
    } else if (v == -1) {
      if (neg >= 0) c.fail(str_cat("shape ", shape_str(spec), " has more than one -1"));
      neg = static_cast<int64_t>(i);
      out[i] = 1;
    } else if (v < -1) {
      c.fail(str_cat("shape ", shape_str(spec), " has invalid dim ", v));
    } else {
      has_zero = has_zero || v == 0;
      out[i] = v;
    }
    if (static_cast<int64_t>(i) != neg) others *= out[i];
  }
  if (allowzero && has_zero && neg >= 0)
    c.fail(str_cat("shape ", shape_str(spec), " has both 0 and -1 with allowzero=1"));
  if (neg >= 0) {
    if (others == 0 || x.numel() % others != 0)
      c.fail(str_cat("cannot reshape ", shp(x.sizes()), " to ", shape_str(spec),
                     ": the -1 dim cannot be inferred"));
    out[static_cast<size_t>(neg)] = x.numel() / others;
  } else if (others != x.numel()) {
    c.fail(str_cat("cannot reshape ", shp(x.sizes()), " (", x.numel(), " elements) to ", shape_str(out)));
  }
  c.set(0, x.reshape(out));
}

void run_flatten(OpCall& c) {
  const at::Tensor& x = c.x(0);
  const int64_t r = x.dim();
  int64_t axis = c.node.attr_int("axis", 1);
  if (axis < -r || axis > r) c.fail(str_cat("axis ", axis, " is out of range for rank ", r));
  if (axis < 0) axis += r;
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x.size(d);
  int64_t inner = 1;
  for (int64_t d = axis; d < r; ++d) inner *= x.size(d);
  c.set(0, x.reshape({outer, inner}));
}

void run_squeeze(OpCall& c) {
  const at::Tensor& x = c.x(0);
  const auto axes = c.ints_input_or_attr(1, "axes");
  std::vector<bool> drop(static_cast<size_t>(x.dim()), false);
  if (axes) {
    for (int64_t a : unique_axes(c, *axes, x.dim())) {
      if (x.size(a) != 1)
        c.fail(str_cat("cannot squeeze axis ", a, " of shape ", shp(x.sizes()), ": its size is not 1"));
      drop[static_cast<size_t>(a)] = true;
    }
  } else {
    for (int64_t d = 0; d < x.dim(); ++d) drop[static_cast<size_t>(d)] = x.size(d) == 1;
  }
  std::vector<int64_t> out;
  for (int64_t d = 0; d < x.dim(); ++d)
    if (!drop[static_cast<size_t>(d)]) out.push_back(x.size(d));
  c.set(0, x.reshape(out));
}

void run_unsqueeze(OpCall& c) {
  const at::Tensor& x = c.x(0);
  const auto axes = c.ints_input_or_attr(1, "axes");
  if (!axes) c.fail("axes are required");
  const int64_t out_rank = x.dim() + static_cast<int64_t>(axes->size());
  std::vector<bool> ins(static_cast<size_t>(out_rank), false);
  for (int64_t a : unique_axes(c, *axes, out_rank)) ins[static_cast<size_t>(a)] = true;
  std::vector<int64_t> out;
  int64_t j = 0;
  for (bool one : ins) out.push_back(one ? 1 : x.size(j++));
  c.set(0, x.reshape(out));
}

void run_shape(OpCall& c) {
  const at::Tensor& x = c.x(0);
  const int64_t r = x.dim();
  auto clampi = [r](int64_t v) { return std::min(std::max<int64_t>(v < 0 ? v + r : v, 0), r); };
  const int64_t start = clampi(c.node.attr_int("start", 0));
  int64_t end = c.node.has_attr("end") ? clampi(c.node.attr_int("end")) : r;
  if (end < start) end = start;
  const std::vector<int64_t> dims(x.sizes().begin() + start, x.sizes().begin() + end);
  c.set(0, at::tensor(dims, at::kLong).reshape({end - start}));
}

// ---- Concat, Split, Slice --------------------------------------------------------------------

void run_concat(OpCall& c) {
  std::vector<at::Tensor> ins;
  for (size_t i = 0; i < c.num_inputs(); ++i)
    if (c.has(i)) {
      c.require_same(0, i);
      ins.push_back(c.x(i));
    }
  if (ins.empty()) c.fail("needs at least one input");
  const int64_t r = ins[0].dim();
  if (r == 0) c.fail("inputs must have rank >= 1, got a scalar");
  const int64_t axis = norm_axis(c, c.node.attr_int("axis"), r);
  for (const at::Tensor& t : ins) {
    bool ok = t.dim() == r;
    for (int64_t d = 0; ok && d < r; ++d) ok = d == axis || t.size(d) == ins[0].size(d);
    if (!ok)
      c.fail(str_cat("input shapes ", shp(ins[0].sizes()), " and ", shp(t.sizes()), " differ outside axis ",
                     axis));
  }
  c.set(0, at::cat(ins, axis));
}

void run_split(OpCall& c) {
  const at::Tensor& x = c.x(0);
  if (x.dim() == 0) c.fail("input must have rank >= 1, got a scalar");
  const int64_t axis = norm_axis(c, c.node.attr_int("axis", 0), x.dim());
  const int64_t dim = x.size(axis);
  const size_t n_out = c.node.outputs.size();
  std::vector<int64_t> sizes;
  const auto split = c.ints_input_or_attr(1, "split");
  if (split && !split->empty()) {
    if (split->size() != n_out)
      c.fail(str_cat("split ", shape_str(*split), " has ", split->size(), " sizes for ", n_out, " outputs"));
    int64_t sum = 0;
    for (int64_t v : *split) {
      if (v < 0) c.fail(str_cat("split ", shape_str(*split), " has a negative size"));
      sum += v;
    }
    if (sum != dim)
      c.fail(str_cat("split ", shape_str(*split), " sums to ", sum, " but the axis has size ", dim));
    sizes = *split;
  } else {
    int64_t n = static_cast<int64_t>(n_out);
    if (c.node.has_attr("num_outputs") && c.node.attr_int("num_outputs") != n)
      c.fail(
          str_cat("num_outputs ", c.node.attr_int("num_outputs"), " does not match the ", n_out, " outputs"));
    if (n <= 0) c.fail("Split has no outputs");
    const int64_t chunk = (dim + n - 1) / n;
    sizes.assign(static_cast<size_t>(n), chunk);
    sizes.back() = dim - chunk * (n - 1);
    if (sizes.back() < 0)
      c.fail(str_cat("an axis of size ", dim, " cannot be split into ", n, " chunks of ", chunk));
  }
  const std::vector<at::Tensor> parts = at::split_with_sizes(x, sizes, axis);
  for (size_t i = 0; i < parts.size(); ++i) c.set(i, parts[i]);
}

// One axis of a Slice: first element and count, as the executor clamps them.
void slice_axis(int64_t start, int64_t end, int64_t step, int64_t dim, int64_t* first, int64_t* count) {
  if (start < 0) start += dim;
  if (end < 0) end += dim;
  if (dim == 0) {
    *first = *count = 0;
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
    *count = start > end ? (step == INT64_MIN ? 1 : (start - end - 1) / -step + 1) : 0;
  }
}

void run_slice(OpCall& c) {
  at::Tensor y = c.x(0);
  const int64_t r = y.dim();
  const auto starts = c.ints_input_or_attr(1, "starts");
  const auto ends = c.ints_input_or_attr(2, "ends");
  const auto axes_in = c.ints_input_or_attr(3, "axes");
  if (!starts || !ends) c.fail("starts and ends are required");
  const size_t k = starts->size();
  if (ends->size() != k)
    c.fail(str_cat("starts ", shape_str(*starts), " and ends ", shape_str(*ends), " differ in length"));
  std::vector<int64_t> axes;
  if (axes_in && !axes_in->empty()) {
    if (axes_in->size() != k) c.fail(str_cat("axes ", shape_str(*axes_in), " and starts differ in length"));
    if (r == 0) c.fail("cannot slice a scalar");
    axes = unique_axes(c, *axes_in, r);
  } else {
    if (static_cast<int64_t>(k) > r) c.fail(str_cat(k, " starts for an input of rank ", r));
    for (size_t i = 0; i < k; ++i) axes.push_back(static_cast<int64_t>(i));
  }
  std::vector<int64_t> steps(k, 1);
  if (c.has(4)) {
    steps = c.ints(4, "steps");
    if (steps.size() != k) c.fail(str_cat("steps ", shape_str(steps), " and starts differ in length"));
    for (int64_t v : steps)
      if (v == 0) c.fail(str_cat("steps ", shape_str(steps), " has a 0"));
  }
  for (size_t i = 0; i < k; ++i) {
    int64_t first, count;
    slice_axis((*starts)[i], (*ends)[i], steps[i], y.size(axes[i]), &first, &count);
    if (steps[i] > 0 || count <= 1) {
      y = y.slice(axes[i], first, first + (count > 0 ? (count - 1) * std::max<int64_t>(steps[i], 1) + 1 : 0),
                  std::max<int64_t>(steps[i], 1));
    } else {  // negative step: an index list (ATen slices only forwards)
      const at::Tensor idx = at::arange(count, at::kLong) * steps[i] + first;
      y = y.index_select(axes[i], idx);
    }
  }
  c.set(0, y);
}

// ---- Gather, GatherElements, Transpose, Tile, Expand --------------------------------------------

// Indices with negatives wrapped, after checking every index is in [-n, n).
at::Tensor checked_indices(const OpCall& c, size_t i, int64_t n, int64_t axis, const char* op) {
  const at::Tensor& ind = c.x(i);
  if (at::isFloatingType(ind.scalar_type()) || ind.scalar_type() == at::kBool)
    c.fail(str_cat("indices must be INT64 or INT32, got ", dtype_name(c.dtype(i))));
  const at::Tensor idx = ind.to(at::kLong);
  if (idx.numel() > 0) {
    const int64_t lo = idx.min().item<int64_t>(), hi = idx.max().item<int64_t>();
    if (lo < -n || hi >= n)
      c.fail(str_cat("index ", lo < -n ? lo : hi, " is out of range for axis ", axis, " of size ", n,
                     " in data of shape ", shp(c.x(0).sizes()), " (", op, " accepts [", -n, ", ", n - 1,
                     "])"));
  }
  return at::where(idx < 0, idx + n, idx);
}

void run_gather(OpCall& c) {
  const at::Tensor& x = c.x(0);
  if (x.dim() == 0) c.fail("data must have rank >= 1, got a scalar");
  const int64_t axis = norm_axis(c, c.node.attr_int("axis", 0), x.dim());
  const at::Tensor idx = checked_indices(c, 1, x.size(axis), axis, "Gather");
  std::vector<int64_t> out(x.sizes().begin(), x.sizes().begin() + axis);
  for (int64_t d : idx.sizes()) out.push_back(d);
  out.insert(out.end(), x.sizes().begin() + axis + 1, x.sizes().end());
  c.set(0, x.index_select(axis, idx.reshape({-1})).reshape(out));
}

void run_gather_elements(OpCall& c) {
  const at::Tensor& x = c.x(0);
  if (x.dim() == 0) c.fail("data must have rank >= 1, got a scalar");
  if (c.x(1).dim() != x.dim())
    c.fail(str_cat("indices ", shp(c.x(1).sizes()), " must have the rank of data ", shp(x.sizes())));
  const int64_t axis = norm_axis(c, c.node.attr_int("axis", 0), x.dim());
  for (int64_t d = 0; d < x.dim(); ++d)
    if (d != axis && c.x(1).size(d) > x.size(d))
      c.fail(str_cat("indices ", shp(c.x(1).sizes()), " exceed data ", shp(x.sizes()), " on axis ", d));
  c.set(0, at::gather(x, axis, checked_indices(c, 1, x.size(axis), axis, "GatherElements")));
}

void run_transpose(OpCall& c) {
  const at::Tensor& x = c.x(0);
  const size_t r = static_cast<size_t>(x.dim());
  std::vector<int64_t> perm = c.node.attr_ints("perm");
  if (!c.node.has_attr("perm"))
    for (size_t i = 0; i < r; ++i) perm.push_back(static_cast<int64_t>(r - 1 - i));
  std::vector<bool> seen(r, false);
  bool ok = perm.size() == r;
  for (int64_t p : perm) {
    ok = ok && p >= 0 && p < static_cast<int64_t>(r) && !seen[static_cast<size_t>(p)];
    if (ok) seen[static_cast<size_t>(p)] = true;
  }
  if (!ok) c.fail(str_cat("perm ", shape_str(perm), " is not a permutation of the ", r, " axes"));
  c.set(0, x.permute(perm));
}

void run_tile(OpCall& c) {
  const at::Tensor& x = c.x(0);
  const std::vector<int64_t> rep = c.ints(1, "repeats");
  if (c.x(1).dim() > 1 || static_cast<int64_t>(rep.size()) != x.dim())
    c.fail(str_cat("repeats ", shape_str(rep), " must be 1-D with one value per input dim (rank ", x.dim(),
                   ")"));
  for (int64_t v : rep)
    if (v < 0) c.fail(str_cat("repeats ", shape_str(rep), " has a negative value"));
  c.set(0, x.dim() == 0 ? x.clone() : x.repeat(rep));
}

void run_expand(OpCall& c) {
  const at::Tensor& x = c.x(0);
  if (c.x(1).dim() > 1) c.fail("shape must be 1-D");
  const std::vector<int64_t> s = c.ints(1, "shape");
  for (int64_t v : s)
    if (v < 0) c.fail(str_cat("shape ", shape_str(s), " has a negative dim"));
  c.set(0, x.expand(broadcast(c, x.sizes(), s)));
}

// ---- Pad, Trilu ------------------------------------------------------------------------------

// Source index along one axis for each output index (edge, reflect, wrap), as shape_pad.cpp.
std::vector<int64_t> pad_axis_map(const OpCall& c, int64_t d, int64_t b, int64_t e, const std::string& mode) {
  const int64_t out = d + b + e;
  if (out < 0) c.fail(str_cat("pads ", b, " and ", e, " on an axis of size ", d, " give an invalid size"));
  const int64_t lo = std::max<int64_t>(0, -b), hi = d - std::max<int64_t>(0, -e), n = hi - lo;
  std::vector<int64_t> map(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t pos = o - b;
    if (pos >= lo && pos < hi) {
      map[static_cast<size_t>(o)] = pos;
      continue;
    }
    if (n <= 0) c.fail(str_cat("cannot pad an empty axis in mode '", mode, "'"));
    int64_t rel = pos - lo;
    if (mode == "edge") {
      rel = rel < 0 ? 0 : n - 1;
    } else if (mode == "wrap") {
      rel %= n;
      if (rel < 0) rel += n;
    } else if (n == 1) {
      rel = 0;
    } else {
      const int64_t period = 2 * (n - 1);
      rel %= period;
      if (rel < 0) rel += period;
      if (rel >= n) rel = period - rel;
    }
    map[static_cast<size_t>(o)] = lo + rel;
  }
  return map;
}

void run_pad(OpCall& c) {
  const at::Tensor& x = c.x(0);
  const int64_t r = x.dim();
  const std::string mode = c.node.attr_string("mode", "constant");
  if (mode != "constant" && mode != "edge" && mode != "reflect" && mode != "wrap")
    c.fail(str_cat("unknown pad mode '", mode, "'"));
  const auto pads = c.ints_input_or_attr(1, "pads");
  if (!pads) c.fail("pads are required");
  std::vector<int64_t> axes;
  if (c.has(3))
    axes = unique_axes(c, c.ints(3, "axes"), r);
  else
    for (int64_t i = 0; i < r; ++i) axes.push_back(i);
  if (pads->size() != 2 * axes.size())
    c.fail(str_cat("pads ", shape_str(*pads), " must have ", 2 * axes.size(), " values"));
  std::vector<int64_t> b(static_cast<size_t>(r), 0), e(static_cast<size_t>(r), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    b[static_cast<size_t>(axes[i])] = (*pads)[i];
    e[static_cast<size_t>(axes[i])] = (*pads)[axes.size() + i];
  }
  if (mode == "constant") {
    double value = 0.0;
    if (c.has(2) && c.x(2).numel() > 0) {
      c.require_same(0, 2);
      value = c.scalar(2, "constant_value");
    } else if (c.node.has_attr("value")) {
      value = c.node.attr_float("value", 0.f);
    }
    std::vector<int64_t> list;
    for (int64_t d = r; d-- > 0;) {
      if (x.size(d) + b[static_cast<size_t>(d)] + e[static_cast<size_t>(d)] < 0)
        c.fail(str_cat("pads ", shape_str(*pads), " give axis ", d, " a negative size"));
      list.push_back(b[static_cast<size_t>(d)]);
      list.push_back(e[static_cast<size_t>(d)]);
    }
    c.set(0, at::constant_pad_nd(x, list, value));
    return;
  }
  at::Tensor y = x;
  for (int64_t d = 0; d < r; ++d) {
    if (b[static_cast<size_t>(d)] == 0 && e[static_cast<size_t>(d)] == 0) continue;
    const std::vector<int64_t> map =
        pad_axis_map(c, x.size(d), b[static_cast<size_t>(d)], e[static_cast<size_t>(d)], mode);
    y = y.index_select(d, at::tensor(map, at::kLong));
  }
  c.set(0, y.is_same(x) ? x.clone() : y);
}

void run_trilu(OpCall& c) {
  const at::Tensor& x = c.x(0);
  if (x.dim() < 2) c.fail(str_cat("input must have rank >= 2, got shape ", shp(x.sizes())));
  int64_t k = 0;
  if (c.has(1)) {
    const std::vector<int64_t> v = c.ints(1, "k");
    if (v.size() != 1) c.fail("k must hold exactly one value");
    k = v[0];
  }
  c.set(0, c.node.attr_int("upper", 1) != 0 ? at::triu(x, k) : at::tril(x, k));
}

OpMapping mover(OpFn f, std::vector<size_t> frozen) {
  OpMapping m{std::move(f), std::move(frozen)};
  m.moves_carriers = true;
  return m;
}

}  // namespace

void add_shape_ops(OpTable& t) {
  t["Identity"] = mover([](OpCall& c) { c.set(0, c.x(0)); }, {});
  t["Reshape"] = mover(run_reshape, {1});
  t["Flatten"] = mover(run_flatten, {});
  t["Squeeze"] = mover(run_squeeze, {1});
  t["Unsqueeze"] = mover(run_unsqueeze, {1});
  t["Shape"] = OpMapping{run_shape, {0}};
  t["Size"] = OpMapping{[](OpCall& c) { c.set(0, at::scalar_tensor(c.x(0).numel(), at::kLong)); }, {0}};
  t["Concat"] = OpMapping{run_concat, {}};
  t["Split"] = mover(run_split, {1});
  t["Slice"] = mover(run_slice, {1, 2, 3, 4});
  t["Gather"] = mover(run_gather, {1});
  t["GatherElements"] = OpMapping{run_gather_elements, {1}};
  t["Transpose"] = mover(run_transpose, {});
  t["Tile"] = mover(run_tile, {1});
  t["Expand"] = mover(run_expand, {1});
  t["Pad"] = OpMapping{run_pad, {1, 2, 3}};
  t["Trilu"] = OpMapping{run_trilu, {1}};
  for (const char* name : {"Constant", "ConstantOfShape", "Range", "EyeLike", "OneHot", "NonZero", "Unique"})
    t[name] = executor_mapping();
}

}  // namespace octet::train::detail
