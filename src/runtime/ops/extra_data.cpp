// Extra ops, part 2: data movement and selection the core shape family does not cover.
//   DepthToSpace, SpaceToDepth, TopK, GatherND, ScatterND, ScatterElements (and its opset 9-10
//   name Scatter), OneHot, NonZero, Compress, ReverseSequence, Unique.
//
// Most of these compute, for each output element, which input element it comes from (a "source
// map") and then move elements by byte size, so they work for every dtype, strings included.
// Index tensors from the model are checked element by element: an index outside [-n, n) fails
// with the node's name and the offending value, never reads out of bounds.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "runtime/op_registry.h"
#include "runtime/ops/elementwise_common.h"
#include "runtime/ops/op_util.h"

namespace octet {

// Registration of this file's ops; called from register_extra_ops (extra.cpp).
void register_extra_data_ops(OpRegistry& r);

namespace {

using elementwise::compute_t;
using elementwise::dispatch_numeric;
using elementwise::load;
using elementwise::store;

// ---- element movement ----------------------------------------------------------------------------

template <size_t N>
struct ByteCopy {
  const uint8_t* s;
  uint8_t* d;
  void operator()(int64_t di, int64_t si) const { std::memcpy(d + di * N, s + si * N, N); }
};

struct StringCopy {
  const std::string* s;
  std::string* d;
  void operator()(int64_t di, int64_t si) const { d[di] = s[si]; }
};

// Calls f(copy) where copy(di, si) sets dst element di to src element si (same dtype).
template <class F>
void with_copier(const OpContext& ctx, const Tensor& src, Tensor& dst, F&& f) {
  OCTET_CHECK(src.dtype() == dst.dtype(), "copier between different dtypes");
  if (src.dtype() == DType::String) {
    f(StringCopy{src.data<std::string>(), dst.data<std::string>()});
    return;
  }
  const uint8_t* s = static_cast<const uint8_t*>(src.raw());
  uint8_t* d = static_cast<uint8_t*>(dst.raw());
  switch (dtype_size(src.dtype())) {
    case 1: f(ByteCopy<1>{s, d}); return;
    case 2: f(ByteCopy<2>{s, d}); return;
    case 4: f(ByteCopy<4>{s, d}); return;
    case 8: f(ByteCopy<8>{s, d}); return;
    case 16: f(ByteCopy<16>{s, d}); return;
    default: ctx.fail(str_cat("element type ", dtype_name(src.dtype()), " is not supported"));
  }
}

// A tensor of dtype src.dtype() and `shape` whose element i is src element map[i].
Tensor gather_by_map(const OpContext& ctx, const Tensor& src, const Shape& shape,
                     const std::vector<int64_t>& map) {
  Tensor out(src.dtype(), shape);
  OCTET_CHECK(static_cast<int64_t>(map.size()) == out.numel(), "source map size");
  with_copier(ctx, src, out, [&](auto copy) {
    for (size_t i = 0; i < map.size(); ++i) copy(static_cast<int64_t>(i), map[i]);
  });
  return out;
}

// Index v into a dim of size n, negative counting from the end; fails outside [-n, n).
int64_t checked_index(const OpContext& ctx, int64_t v, int64_t n, const char* what) {
  if (v < -n || v >= n) ctx.fail(str_cat(what, " value ", v, " is out of range for a dim of size ", n));
  return v < 0 ? v + n : v;
}

int64_t prod(const Shape& s, size_t from, size_t to) {
  int64_t p = 1;
  for (size_t i = from; i < to; ++i) p *= s[i];
  return p;
}

void require_dtype(const InferContext& ctx, size_t i, std::initializer_list<DType> allowed, const char* what) {
  if (!ctx.has_input(i)) return;
  const DType t = ctx.input(i).dtype;
  if (t == DType::Undefined) return;
  for (DType a : allowed)
    if (t == a) return;
  ctx.fail(str_cat(what, " has unsupported element type ", dtype_name(t)));
}

void require_same_type(const InferContext& ctx, size_t i, size_t j, const char* a, const char* b) {
  if (!ctx.has_input(i) || !ctx.has_input(j)) return;
  const DType ti = ctx.input(i).dtype, tj = ctx.input(j).dtype;
  if (ti != DType::Undefined && tj != DType::Undefined && ti != tj)
    ctx.fail(str_cat(a, " has element type ", dtype_name(ti), " but ", b, " has ", dtype_name(tj)));
}

TensorType unknown_dims(DType t, size_t rank) {
  TensorType out;
  out.dtype = t;
  out.has_shape = true;
  out.dims.assign(rank, Dim{});
  return out;
}

// ---- DepthToSpace, SpaceToDepth ------------------------------------------------------------------

int64_t blocksize_of(const Node& node) {
  const int64_t b = node.attr_int("blocksize");
  if (b < 1 || b > (int64_t{1} << 20))
    throw Error(str_cat(node.describe(), ": blocksize must be in [1, 2^20], got ", b));
  return b;
}

bool depth_to_space_crd(const Node& node) {
  const std::string mode = node.attr_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD")
    throw Error(str_cat(node.describe(), ": mode must be \"DCR\" or \"CRD\", got \"", mode, "\""));
  return mode == "CRD";
}

// Output dims of DepthToSpace (to_space) or SpaceToDepth from a 4-D input; fails when the
// channel or spatial dims do not divide by the block.
Shape space_depth_shape(const Node& node, const Shape& s, int64_t b, bool to_space) {
  auto fail = [&](const std::string& m) { throw Error(str_cat(node.describe(), ": ", m)); };
  if (s.size() != 4) fail(str_cat("input must be 4-D [N, C, H, W], got ", shape_str(s)));
  const int64_t lim = std::numeric_limits<int64_t>::max() / (b * b);
  if (to_space) {
    if (s[1] % (b * b) != 0)
      fail(str_cat("channels ", s[1], " are not a multiple of blocksize^2 = ", b * b));
    if (s[2] > lim || s[3] > lim) fail(str_cat("spatial dims of ", shape_str(s), " are too large"));
    return {s[0], s[1] / (b * b), s[2] * b, s[3] * b};
  }
  if (s[2] % b != 0 || s[3] % b != 0)
    fail(str_cat("spatial dims of ", shape_str(s), " are not multiples of blocksize ", b));
  if (s[1] > lim) fail(str_cat("channels of ", shape_str(s), " are too large"));
  return {s[0], s[1] * b * b, s[2] / b, s[3] / b};
}

void run_space_depth(OpContext& ctx, bool to_space) {
  const Tensor& x = ctx.input(0);
  const int64_t b = blocksize_of(ctx.node);
  const bool crd = to_space && ctx.opset >= 11 && depth_to_space_crd(ctx.node);
  const Shape out_shape = space_depth_shape(ctx.node, x.shape(), b, to_space);
  // Walk the small (depth) side: channel c_d = block (i, j) and channel c_s of the space side.
  const Shape& small = to_space ? x.shape() : out_shape;
  const int64_t n = small[0], cs = small[1] / (b * b), h = small[2], w = small[3];
  const int64_t big_h = h * b, big_w = w * b;
  std::vector<int64_t> map(static_cast<size_t>(shape_numel(out_shape)));
  for (int64_t in = 0; in < n; ++in)
    for (int64_t c = 0; c < cs; ++c)
      for (int64_t i = 0; i < b; ++i)
        for (int64_t j = 0; j < b; ++j) {
          const int64_t cd = crd ? (c * b + i) * b + j : (i * b + j) * cs + c;
          for (int64_t y = 0; y < h; ++y)
            for (int64_t xx = 0; xx < w; ++xx) {
              const int64_t depth_off = ((in * cs * b * b + cd) * h + y) * w + xx;
              const int64_t space_off = ((in * cs + c) * big_h + y * b + i) * big_w + xx * b + j;
              if (to_space) map[space_off] = depth_off;
              else map[depth_off] = space_off;
            }
        }
  ctx.outputs[0] = gather_by_map(ctx, x, out_shape, map);
}

void infer_space_depth(InferContext& ctx, bool to_space) {
  const TensorType& x = ctx.input(0);
  const int64_t b = blocksize_of(ctx.node);
  if (to_space && ctx.opset >= 11) depth_to_space_crd(ctx.node);
  if (ctx.outputs.empty()) return;
  if (!x.has_shape) {
    ctx.outputs[0].dtype = x.dtype;
    return;
  }
  if (x.dims.size() != 4) ctx.fail(str_cat("input must be 4-D [N, C, H, W], got ", x.str()));
  if (x.fully_known()) {
    ctx.outputs[0] = TensorType::of(x.dtype, space_depth_shape(ctx.node, x.concrete_shape(), b, to_space));
    return;
  }
  TensorType out = unknown_dims(x.dtype, 4);
  out.dims[0] = x.dims[0];
  for (size_t d = 1; d < 4; ++d) {
    if (!x.dims[d].is_known()) continue;
    const int64_t v = x.dims[d].value;
    const bool shrink = (d == 1) == to_space;  // channels shrink to space, spatial dims to depth
    if (shrink) {
      const int64_t div = d == 1 ? b * b : b;
      if (v % div != 0) ctx.fail(str_cat("dim ", d, " of ", x.str(), " is not a multiple of ", div));
      out.dims[d] = Dim::known(v / div);
    } else if (v <= std::numeric_limits<int64_t>::max() / (b * b)) {
      out.dims[d] = Dim::known(v * (d == 1 ? b * b : b));
    }
  }
  ctx.outputs[0] = out;
}

// ---- TopK ----------------------------------------------------------------------------------------

int64_t topk_k(const OpContext& ctx) {
  if (ctx.opset < 10) return ctx.node.attr_int("k");
  const Tensor& k = ctx.input(1);
  if (k.numel() != 1) ctx.fail(str_cat("K must hold exactly one value, got shape ", shape_str(k.shape())));
  return to_int64s(k, ctx.node, "K")[0];
}

// Ordering for TopK and Unique: NaN is above every number and equal to itself.
template <class C>
bool greater_nan_top(C a, C b) {
  if constexpr (std::is_floating_point_v<C>) {
    if (std::isnan(a)) return !std::isnan(b);
    if (std::isnan(b)) return false;
  }
  return a > b;
}

void run_topk(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t rank = static_cast<int64_t>(x.rank());
  if (rank == 0) ctx.fail("input must have rank >= 1");
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", -1), rank, ctx.node);
  const int64_t k = topk_k(ctx);
  const int64_t n = x.dim(axis);
  if (k < 0 || k > n) ctx.fail(str_cat("K = ", k, " is out of range [0, ", n, "] for axis ", axis));
  const bool largest = ctx.node.attr_int("largest", 1) != 0;
  // `sorted` = 0 leaves the order unspecified; sorted order is one valid choice.
  Shape out_shape = x.shape();
  out_shape[axis] = k;
  const int64_t outer = prod(x.shape(), 0, axis), inner = prod(x.shape(), axis + 1, x.rank());
  Tensor values(x.dtype(), out_shape), indices(DType::Int64, out_shape);
  int64_t* pi = indices.data<int64_t>();
  dispatch_numeric(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    const T* px = x.data<T>();
    T* pv = values.data<T>();
    std::vector<std::pair<C, int64_t>> row(static_cast<size_t>(n));
    // Ties go to the lower index, so the order is total and the result deterministic.
    auto before = [largest](const std::pair<C, int64_t>& a, const std::pair<C, int64_t>& b) {
      const bool a_first = largest ? greater_nan_top(a.first, b.first) : greater_nan_top(b.first, a.first);
      const bool b_first = largest ? greater_nan_top(b.first, a.first) : greater_nan_top(a.first, b.first);
      return a_first || (!b_first && a.second < b.second);
    };
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t in = 0; in < inner; ++in) {
        for (int64_t i = 0; i < n; ++i) row[i] = {load(px[(o * n + i) * inner + in]), i};
        std::partial_sort(row.begin(), row.begin() + k, row.end(), before);
        for (int64_t i = 0; i < k; ++i) {
          const int64_t off = (o * k + i) * inner + in;
          pv[off] = px[(o * n + row[i].second) * inner + in];
          pi[off] = row[i].second;
        }
      }
  });
  ctx.outputs[0] = std::move(values);
  if (ctx.num_outputs() > 1) ctx.outputs[1] = std::move(indices);
}

void infer_topk(InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  if (x.dtype == DType::Bool || x.dtype == DType::String)
    ctx.fail(str_cat("element type ", dtype_name(x.dtype), " is not supported"));
  if (ctx.opset >= 10) require_dtype(ctx, 1, {DType::Int64, DType::Int32}, "K");
  std::vector<TensorType> outs(2);
  outs[0].dtype = x.dtype;
  outs[1].dtype = DType::Int64;
  if (x.has_shape) {
    const int64_t rank = static_cast<int64_t>(x.dims.size());
    if (rank == 0) ctx.fail("input must have rank >= 1");
    const int64_t axis = normalize_axis(ctx.node.attr_int("axis", -1), rank, ctx.node);
    std::optional<int64_t> k;
    if (ctx.opset < 10) k = ctx.node.attr_int("k");
    else if (const Tensor* kt = ctx.constant(1); kt && kt->numel() == 1)
      k = to_int64s(*kt, ctx.node, "K")[0];
    TensorType o = x;
    o.dims[axis] = Dim{};
    if (k) {
      const Dim& d = x.dims[axis];
      if (*k < 0 || (d.is_known() && *k > d.value))
        ctx.fail(str_cat("K = ", *k, " is out of range for axis ", axis, " of ", x.str()));
      o.dims[axis] = Dim::known(*k);
    }
    outs[0] = o;
    outs[1] = o;
    outs[1].dtype = DType::Int64;
  }
  for (size_t i = 0; i < ctx.outputs.size() && i < 2; ++i) ctx.outputs[i] = outs[i];
}

// ---- GatherND ------------------------------------------------------------------------------------

// Output = data.shape[:b] + indices.shape[b:-1] + data.shape[b + last:], with last =
// indices.shape[-1] and b = batch_dims.
void run_gathernd(OpContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& idx_t = ctx.input(1);
  const std::vector<int64_t> idx = to_int64s(idx_t, ctx.node, "indices");
  const Shape& ds = data.shape();
  const Shape& is = idx_t.shape();
  const int64_t r = static_cast<int64_t>(ds.size()), q = static_cast<int64_t>(is.size());
  const int64_t b = ctx.node.attr_int("batch_dims", 0);
  if (r < 1 || q < 1) ctx.fail(str_cat("data ", shape_str(ds), " and indices ", shape_str(is), " must have rank >= 1"));
  if (b < 0 || b >= std::min(r, q))
    ctx.fail(str_cat("batch_dims ", b, " must be in [0, min(rank(data), rank(indices))) = [0, ", std::min(r, q), ")"));
  for (int64_t d = 0; d < b; ++d)
    if (ds[d] != is[d])
      ctx.fail(str_cat("batch dim ", d, " differs: data ", shape_str(ds), ", indices ", shape_str(is)));
  const int64_t last = is[q - 1];
  if (last < 1 || last > r - b)
    ctx.fail(str_cat("indices.shape[-1] = ", last, " must be in [1, ", r - b, "] (rank(data) - batch_dims)"));
  Shape out_shape(ds.begin(), ds.begin() + b);
  out_shape.insert(out_shape.end(), is.begin() + b, is.end() - 1);
  out_shape.insert(out_shape.end(), ds.begin() + b + last, ds.end());
  const int64_t batches = prod(ds, 0, b);
  const int64_t per_batch = prod(is, b, q - 1);        // index tuples per batch
  const int64_t slice = prod(ds, b + last, r);         // elements per gathered slice
  const int64_t batch_block = prod(ds, b, r);          // data elements per batch
  std::vector<int64_t> strides(last);
  for (int64_t j = 0; j < last; ++j) strides[j] = prod(ds, b + j + 1, r);
  std::vector<int64_t> map(static_cast<size_t>(shape_numel(out_shape)));
  size_t o = 0;
  for (int64_t bi = 0; bi < batches; ++bi)
    for (int64_t t = 0; t < per_batch; ++t) {
      const int64_t* tuple = idx.data() + (bi * per_batch + t) * last;
      int64_t base = bi * batch_block;
      for (int64_t j = 0; j < last; ++j) base += checked_index(ctx, tuple[j], ds[b + j], "indices") * strides[j];
      for (int64_t s = 0; s < slice; ++s) map[o++] = base + s;
    }
  ctx.outputs[0] = gather_by_map(ctx, data, out_shape, map);
}

void infer_gathernd(InferContext& ctx) {
  require_dtype(ctx, 1, {DType::Int64, DType::Int32}, "indices");
  const TensorType& d = ctx.input(0);
  const TensorType& i = ctx.input(1);
  if (ctx.outputs.empty()) return;
  ctx.outputs[0].dtype = d.dtype;
  if (!d.has_shape || !i.has_shape) return;
  const int64_t r = static_cast<int64_t>(d.dims.size()), q = static_cast<int64_t>(i.dims.size());
  const int64_t b = ctx.node.attr_int("batch_dims", 0);
  if (r < 1 || q < 1 || b < 0 || b >= std::min(r, q))
    ctx.fail(str_cat("batch_dims ", b, " does not fit data ", d.str(), " and indices ", i.str()));
  const Dim& last_d = i.dims[q - 1];
  if (!last_d.is_known()) return;
  const int64_t last = last_d.value;
  if (last < 1 || last > r - b)
    ctx.fail(str_cat("indices.shape[-1] = ", last, " must be in [1, ", r - b, "]"));
  TensorType out;
  out.dtype = d.dtype;
  out.has_shape = true;
  out.dims.assign(d.dims.begin(), d.dims.begin() + b);
  out.dims.insert(out.dims.end(), i.dims.begin() + b, i.dims.end() - 1);
  out.dims.insert(out.dims.end(), d.dims.begin() + b + last, d.dims.end());
  ctx.outputs[0] = out;
}

// ---- ScatterND, ScatterElements, Scatter ---------------------------------------------------------

enum class Reduction { None, Add, Mul, Max, Min };

Reduction parse_reduction(const Node& node) {
  const std::string s = node.attr_string("reduction", "none");
  if (s == "none") return Reduction::None;
  if (s == "add") return Reduction::Add;
  if (s == "mul") return Reduction::Mul;
  if (s == "max") return Reduction::Max;
  if (s == "min") return Reduction::Min;
  throw Error(str_cat(node.describe(), ": reduction must be none, add, mul, max or min, got \"", s, "\""));
}

// out[dst[i]] = f(out[dst[i]], updates[i]) in order i = 0, 1, ...; `out` starts as a copy of data.
// Integer add/mul wrap; max/min propagate NaN (as numpy's maximum/minimum).
void apply_scatter(const OpContext& ctx, Tensor& out, const Tensor& updates, const std::vector<int64_t>& dst,
                   Reduction red) {
  if (red == Reduction::None) {
    with_copier(ctx, updates, out, [&](auto copy) {
      for (size_t i = 0; i < dst.size(); ++i) copy(dst[i], static_cast<int64_t>(i));
    });
    return;
  }
  if (out.dtype() == DType::Bool || out.dtype() == DType::String)
    ctx.fail(str_cat("reduction is not supported for element type ", dtype_name(out.dtype())));
  dispatch_numeric(ctx.node, out.dtype(), [&](auto tag) {
    using T = decltype(tag);
    using C = compute_t<T>;
    T* po = out.data<T>();
    const T* pu = updates.data<T>();
    for (size_t i = 0; i < dst.size(); ++i) {
      const C a = load(po[dst[i]]), u = load(pu[i]);
      C v;
      switch (red) {
        case Reduction::Add:
          if constexpr (std::is_integral_v<C>) v = elementwise::wrap_add(a, u);
          else v = a + u;
          break;
        case Reduction::Mul:
          if constexpr (std::is_integral_v<C>) v = elementwise::wrap_mul(a, u);
          else v = a * u;
          break;
        case Reduction::Max:
        case Reduction::Min: {
          bool nan = false;
          if constexpr (std::is_floating_point_v<C>) nan = std::isnan(a) || std::isnan(u);
          if (nan) v = std::numeric_limits<C>::quiet_NaN();
          else v = (red == Reduction::Max) == (u > a) ? u : a;
          break;
        }
        default: v = u;
      }
      po[dst[i]] = elementwise::store<T>(v);
    }
  });
}

void run_scatternd(OpContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& idx_t = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  elementwise::require_same_dtype(ctx, 0, 2);  // data and updates
  const Reduction red = parse_reduction(ctx.node);
  const std::vector<int64_t> idx = to_int64s(idx_t, ctx.node, "indices");
  const Shape& ds = data.shape();
  const Shape& is = idx_t.shape();
  const int64_t r = static_cast<int64_t>(ds.size()), q = static_cast<int64_t>(is.size());
  if (r < 1 || q < 1) ctx.fail(str_cat("data ", shape_str(ds), " and indices ", shape_str(is), " must have rank >= 1"));
  const int64_t k = is[q - 1];
  if (k < 1 || k > r) ctx.fail(str_cat("indices.shape[-1] = ", k, " must be in [1, rank(data) = ", r, "]"));
  Shape want(is.begin(), is.end() - 1);
  want.insert(want.end(), ds.begin() + k, ds.end());
  if (updates.shape() != want)
    ctx.fail(str_cat("updates has shape ", shape_str(updates.shape()), " but indices ", shape_str(is),
                     " and data ", shape_str(ds), " require ", shape_str(want)));
  const int64_t tuples = prod(is, 0, q - 1), slice = prod(ds, k, r);
  std::vector<int64_t> strides(k);
  for (int64_t j = 0; j < k; ++j) strides[j] = prod(ds, j + 1, r);
  std::vector<int64_t> dst(static_cast<size_t>(tuples * slice));
  for (int64_t t = 0; t < tuples; ++t) {
    int64_t base = 0;
    for (int64_t j = 0; j < k; ++j) base += checked_index(ctx, idx[t * k + j], ds[j], "indices") * strides[j];
    for (int64_t s = 0; s < slice; ++s) dst[t * slice + s] = base + s;
  }
  Tensor out = data.clone();
  apply_scatter(ctx, out, updates, dst, red);
  ctx.outputs[0] = std::move(out);
}

void run_scatter_elements(OpContext& ctx) {
  const Tensor& data = ctx.input(0);
  const Tensor& idx_t = ctx.input(1);
  const Tensor& updates = ctx.input(2);
  elementwise::require_same_dtype(ctx, 0, 2);  // data and updates
  const Reduction red = parse_reduction(ctx.node);
  const Shape& ds = data.shape();
  const Shape& is = idx_t.shape();
  const int64_t r = static_cast<int64_t>(ds.size());
  if (r < 1) ctx.fail("data must have rank >= 1");
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis", 0), r, ctx.node);
  if (is.size() != ds.size() || updates.shape() != is)
    ctx.fail(str_cat("data ", shape_str(ds), ", indices ", shape_str(is), " and updates ",
                     shape_str(updates.shape()), " must have the same rank, indices and updates the same shape"));
  for (int64_t d = 0; d < r; ++d)
    if (d != axis && is[d] > ds[d])
      ctx.fail(str_cat("indices ", shape_str(is), " exceed data ", shape_str(ds), " on axis ", d));
  const std::vector<int64_t> idx = to_int64s(idx_t, ctx.node, "indices");
  const std::vector<int64_t> dstr = contiguous_strides(ds);
  std::vector<int64_t> dst(idx.size());
  std::vector<int64_t> pos(static_cast<size_t>(r), 0);
  for (size_t i = 0; i < idx.size(); ++i) {
    int64_t off = 0;
    for (int64_t d = 0; d < r; ++d)
      off += (d == axis ? checked_index(ctx, idx[i], ds[axis], "indices") : pos[d]) * dstr[d];
    dst[i] = off;
    for (int64_t d = r; d-- > 0;) {
      if (++pos[d] < is[d]) break;
      pos[d] = 0;
    }
  }
  Tensor out = data.clone();
  apply_scatter(ctx, out, updates, dst, red);
  ctx.outputs[0] = std::move(out);
}

void infer_scatter(InferContext& ctx) {
  require_dtype(ctx, 1, {DType::Int64, DType::Int32}, "indices");
  require_same_type(ctx, 0, 2, "data", "updates");
  parse_reduction(ctx.node);
  infer_same_as_input(ctx);
}

// ---- OneHot --------------------------------------------------------------------------------------

// Reads every element of a numeric tensor as int64, truncating floats; NaN and out-of-int64
// values become `bad`.
std::vector<int64_t> read_as_int64(const OpContext& ctx, const Tensor& t, int64_t bad) {
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  dispatch_numeric(ctx.node, t.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if constexpr (std::is_integral_v<T>) {
        if constexpr (std::is_unsigned_v<T> && sizeof(T) == 8)
          v[i] = p[i] > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? bad : static_cast<int64_t>(p[i]);
        else v[i] = static_cast<int64_t>(p[i]);
      } else {
        const double d = std::trunc(static_cast<double>(load(p[i])));
        v[i] = (std::isnan(d) || d < -9.2e18 || d > 9.2e18) ? bad : static_cast<int64_t>(d);
      }
    }
  });
  return v;
}

void run_onehot(OpContext& ctx) {
  const Tensor& ind = ctx.input(0);
  const Tensor& depth_t = ctx.input(1);
  const Tensor& values = ctx.input(2);
  if (depth_t.numel() != 1) ctx.fail(str_cat("depth must hold one value, got shape ", shape_str(depth_t.shape())));
  const int64_t depth = read_as_int64(ctx, depth_t, -1)[0];
  if (depth < 1) ctx.fail(str_cat("depth must be >= 1, got ", depth_t.get_as_double(0)));
  if (values.rank() != 1 || values.numel() != 2)
    ctx.fail(str_cat("values must be [off_value, on_value], got shape ", shape_str(values.shape())));
  const int64_t r = static_cast<int64_t>(ind.rank());
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (axis < -(r + 1) || axis > r) ctx.fail(str_cat("axis ", axis, " is out of range for output rank ", r + 1));
  if (axis < 0) axis += r + 1;
  const int64_t n = ind.numel();
  if (n > 0 && depth > std::numeric_limits<int64_t>::max() / n)
    ctx.fail(str_cat("depth ", depth, " times ", n, " indices is too large"));
  Shape out_shape = ind.shape();
  out_shape.insert(out_shape.begin() + axis, depth);
  const std::vector<int64_t> idx = read_as_int64(ctx, ind, std::numeric_limits<int64_t>::min());
  const int64_t outer = prod(ind.shape(), 0, axis), inner = prod(ind.shape(), axis, ind.rank());
  std::vector<int64_t> map(static_cast<size_t>(n * depth), 0);  // 0: off_value, 1: on_value
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t in = 0; in < inner; ++in) {
      int64_t v = idx[o * inner + in];
      if (v < -depth || v >= depth) continue;  // out of range: all off
      if (v < 0) v += depth;
      map[(o * depth + v) * inner + in] = 1;
    }
  ctx.outputs[0] = gather_by_map(ctx, values, out_shape, map);
}

void infer_onehot(InferContext& ctx) {
  const TensorType& ind = ctx.input(0);
  if (ind.dtype == DType::Bool || ind.dtype == DType::String)
    ctx.fail(str_cat("indices element type ", dtype_name(ind.dtype), " is not supported"));
  if (ctx.outputs.empty()) return;
  ctx.outputs[0].dtype = ctx.input(2).dtype;
  if (!ind.has_shape) return;
  const int64_t r = static_cast<int64_t>(ind.dims.size());
  int64_t axis = ctx.node.attr_int("axis", -1);
  if (axis < -(r + 1) || axis > r) ctx.fail(str_cat("axis ", axis, " is out of range for output rank ", r + 1));
  if (axis < 0) axis += r + 1;
  TensorType out = ind;
  out.dtype = ctx.input(2).dtype;
  Dim depth;
  if (const Tensor* d = ctx.constant(1); d && d->numel() == 1 && d->dtype() != DType::Bool &&
                                         d->dtype() != DType::String) {
    const double v = std::trunc(d->get_as_double(0));
    if (!(v >= 1)) ctx.fail(str_cat("depth must be >= 1, got ", d->get_as_double(0)));
    if (v < 9.2e18) depth = Dim::known(static_cast<int64_t>(v));
  }
  out.dims.insert(out.dims.begin() + axis, depth);
  ctx.outputs[0] = out;
}

// ---- NonZero, Compress ---------------------------------------------------------------------------

// Flags of the elements that are not zero (false for bool, 0 or -0 for numbers).
std::vector<bool> nonzero_flags(const OpContext& ctx, const Tensor& x) {
  std::vector<bool> f(static_cast<size_t>(x.numel()));
  if (x.dtype() == DType::Bool) {
    const bool* p = x.data<bool>();
    for (int64_t i = 0; i < x.numel(); ++i) f[i] = p[i];
    return f;
  }
  dispatch_numeric(ctx.node, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) f[i] = load(p[i]) != compute_t<T>(0);
  });
  return f;
}

// Output [rank, nnz] of int64 coordinates in row-major order. A scalar is taken as shape [1]
// (as numpy's atleast_1d and ONNX Runtime do).
void run_nonzero(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const std::vector<bool> f = nonzero_flags(ctx, x);
  const Shape s = x.rank() == 0 ? Shape{1} : x.shape();
  const int64_t nnz = std::count(f.begin(), f.end(), true);
  const int64_t r = static_cast<int64_t>(s.size());
  Tensor out(DType::Int64, {r, nnz});
  int64_t* po = out.data<int64_t>();
  std::vector<int64_t> pos(static_cast<size_t>(r), 0);
  int64_t col = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i]) {
      for (int64_t d = 0; d < r; ++d) po[d * nnz + col] = pos[d];
      ++col;
    }
    for (int64_t d = r; d-- > 0;) {
      if (++pos[d] < s[d]) break;
      pos[d] = 0;
    }
  }
  ctx.outputs[0] = std::move(out);
}

void infer_nonzero(InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  if (x.dtype == DType::String) ctx.fail("element type STRING is not supported");
  if (ctx.outputs.empty()) return;
  TensorType out = unknown_dims(DType::Int64, 2);
  if (x.has_shape && !x.dims.empty()) out.dims[0] = Dim::known(static_cast<int64_t>(x.dims.size()));
  ctx.outputs[0] = out;
}

void run_compress(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& cond = ctx.input(1);
  if (cond.dtype() != DType::Bool || cond.rank() != 1)
    ctx.fail(str_cat("condition must be a 1-D BOOL tensor, got ", dtype_name(cond.dtype()), shape_str(cond.shape())));
  const bool flat = !ctx.node.has_attr("axis");
  const Shape s = flat ? Shape{x.numel()} : x.shape();
  const int64_t r = static_cast<int64_t>(s.size());
  const int64_t axis = flat ? 0 : normalize_axis(ctx.node.attr_int("axis"), r, ctx.node);
  if (!flat && r == 0) ctx.fail("input must have rank >= 1 when axis is given");
  const int64_t n = s[axis];
  const bool* pc = cond.data<bool>();
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < cond.numel(); ++i) {
    if (!pc[i]) continue;
    if (i >= n) ctx.fail(str_cat("condition selects entry ", i, " but the axis has only ", n));
    kept.push_back(i);
  }
  Shape out_shape = s;
  out_shape[axis] = static_cast<int64_t>(kept.size());
  const int64_t outer = prod(s, 0, axis), inner = prod(s, axis + 1, s.size());
  std::vector<int64_t> map;
  map.reserve(static_cast<size_t>(shape_numel(out_shape)));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t k : kept)
      for (int64_t in = 0; in < inner; ++in) map.push_back((o * n + k) * inner + in);
  ctx.outputs[0] = gather_by_map(ctx, x, out_shape, map);
}

void infer_compress(InferContext& ctx) {
  require_dtype(ctx, 1, {DType::Bool}, "condition");
  const TensorType& x = ctx.input(0);
  if (ctx.outputs.empty()) return;
  if (!ctx.node.has_attr("axis")) {
    ctx.outputs[0] = unknown_dims(x.dtype, 1);
    return;
  }
  ctx.outputs[0].dtype = x.dtype;
  if (!x.has_shape) return;
  const int64_t r = static_cast<int64_t>(x.dims.size());
  if (r == 0) ctx.fail("input must have rank >= 1 when axis is given");
  const int64_t axis = normalize_axis(ctx.node.attr_int("axis"), r, ctx.node);
  TensorType out = x;
  out.dims[axis] = Dim{};
  ctx.outputs[0] = out;
}

// ---- ReverseSequence -----------------------------------------------------------------------------

void reverse_sequence_axes(const Node& node, int64_t rank, int64_t* batch, int64_t* time) {
  *batch = node.attr_int("batch_axis", 1);
  *time = node.attr_int("time_axis", 0);
  if (rank < 2 || !((*batch == 0 && *time == 1) || (*batch == 1 && *time == 0)))
    throw Error(str_cat(node.describe(), ": batch_axis ", *batch, " and time_axis ", *time,
                        " must be 0 and 1 in some order, on an input of rank >= 2 (rank ", rank, ")"));
}

void run_reverse_sequence(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const Tensor& lens_t = ctx.input(1);
  int64_t ba, ta;
  reverse_sequence_axes(ctx.node, static_cast<int64_t>(x.rank()), &ba, &ta);
  const int64_t batch = x.dim(ba), time = x.dim(ta);
  if (lens_t.rank() != 1 || lens_t.dim(0) != batch)
    ctx.fail(str_cat("sequence_lens must have shape [", batch, "], got ", shape_str(lens_t.shape())));
  const std::vector<int64_t> lens = to_int64s(lens_t, ctx.node, "sequence_lens");
  for (int64_t b = 0; b < batch; ++b)
    if (lens[b] < 0 || lens[b] > time)
      ctx.fail(str_cat("sequence_lens[", b, "] = ", lens[b], " is out of range [0, ", time, "]"));
  const int64_t inner = prod(x.shape(), 2, x.rank());
  std::vector<int64_t> map(static_cast<size_t>(x.numel()));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t t = 0; t < time; ++t) {
      const int64_t src_t = t < lens[b] ? lens[b] - 1 - t : t;
      const int64_t dst = ba == 0 ? b * time + t : t * batch + b;
      const int64_t src = ba == 0 ? b * time + src_t : src_t * batch + b;
      for (int64_t in = 0; in < inner; ++in) map[dst * inner + in] = src * inner + in;
    }
  ctx.outputs[0] = gather_by_map(ctx, x, x.shape(), map);
}

void infer_reverse_sequence(InferContext& ctx) {
  require_dtype(ctx, 1, {DType::Int64}, "sequence_lens");
  const TensorType& x = ctx.input(0);
  if (x.has_shape) {
    int64_t ba, ta;
    reverse_sequence_axes(ctx.node, static_cast<int64_t>(x.dims.size()), &ba, &ta);
  }
  infer_same_as_input(ctx);
}

// ---- Unique --------------------------------------------------------------------------------------

// Three-way comparison of elements: NaN equals NaN and is above every number.
template <class T>
int compare_elems(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, bool>) {
    return a < b ? -1 : (b < a ? 1 : 0);
  } else {
    const auto x = load(a), y = load(b);
    if (greater_nan_top(x, y)) return 1;
    if (greater_nan_top(y, x)) return -1;
    return 0;
  }
}

// Slices are X viewed as [outer, n, inner]: slice k is elements (o, k, i) in (o, i) order.
template <class T>
int compare_slices(const T* p, int64_t outer, int64_t n, int64_t inner, int64_t a, int64_t b) {
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      const int c = compare_elems(p[(o * n + a) * inner + i], p[(o * n + b) * inner + i]);
      if (c != 0) return c;
    }
  return 0;
}

template <class F>
void dispatch_with_string(const OpContext& ctx, DType t, F&& f) {
  if (t == DType::String) f(std::string{});
  else if (t == DType::Bool) f(bool{});
  else dispatch_numeric(ctx.node, t, f);
}

void run_unique(OpContext& ctx) {
  const Tensor& x = ctx.input(0);
  const bool flat = !ctx.node.has_attr("axis");
  const bool sorted = ctx.node.attr_int("sorted", 1) != 0;
  const Shape s = flat ? Shape{x.numel()} : x.shape();
  const int64_t r = static_cast<int64_t>(s.size());
  if (!flat && r == 0) ctx.fail("input must have rank >= 1 when axis is given");
  const int64_t axis = flat ? 0 : normalize_axis(ctx.node.attr_int("axis"), r, ctx.node);
  const int64_t n = s[axis], outer = prod(s, 0, axis), inner = prod(s, axis + 1, s.size());
  // order: slice numbers sorted by value (stable, so each run of equal slices starts with its
  // first occurrence). groups: [start, end) runs in `order`.
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  std::vector<std::pair<int64_t, int64_t>> groups;
  dispatch_with_string(ctx, x.dtype(), [&](auto tag) {
    using T = decltype(tag);
    const T* p = x.data<T>();
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
      return compare_slices(p, outer, n, inner, a, b) < 0;
    });
    for (int64_t i = 0; i < n;) {
      int64_t j = i + 1;
      while (j < n && compare_slices(p, outer, n, inner, order[i], order[j]) == 0) ++j;
      groups.emplace_back(i, j);
      i = j;
    }
  });
  if (!sorted)  // order of first occurrence
    std::sort(groups.begin(), groups.end(), [&](const auto& a, const auto& b) {
      return order[a.first] < order[b.first];
    });
  const int64_t u = static_cast<int64_t>(groups.size());
  Tensor first(DType::Int64, {u}), inverse(DType::Int64, {n}), counts(DType::Int64, {u});
  for (int64_t g = 0; g < u; ++g) {
    first.data<int64_t>()[g] = order[groups[g].first];
    counts.data<int64_t>()[g] = groups[g].second - groups[g].first;
    for (int64_t i = groups[g].first; i < groups[g].second; ++i) inverse.data<int64_t>()[order[i]] = g;
  }
  Shape y_shape = s;
  y_shape[axis] = u;
  std::vector<int64_t> map;
  map.reserve(static_cast<size_t>(shape_numel(y_shape)));
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t g = 0; g < u; ++g)
      for (int64_t i = 0; i < inner; ++i) map.push_back((o * n + first.data<int64_t>()[g]) * inner + i);
  ctx.outputs[0] = gather_by_map(ctx, x, y_shape, map);
  if (ctx.num_outputs() > 1) ctx.outputs[1] = std::move(first);
  if (ctx.num_outputs() > 2) ctx.outputs[2] = std::move(inverse);
  if (ctx.num_outputs() > 3) ctx.outputs[3] = std::move(counts);
}

void infer_unique(InferContext& ctx) {
  const TensorType& x = ctx.input(0);
  const bool flat = !ctx.node.has_attr("axis");
  std::vector<TensorType> outs(4, unknown_dims(DType::Int64, 1));
  outs[0] = unknown_dims(x.dtype, 1);
  if (!flat) {
    outs[0] = TensorType{};
    outs[0].dtype = x.dtype;
    if (x.has_shape) {
      const int64_t r = static_cast<int64_t>(x.dims.size());
      if (r == 0) ctx.fail("input must have rank >= 1 when axis is given");
      const int64_t axis = normalize_axis(ctx.node.attr_int("axis"), r, ctx.node);
      outs[0] = x;
      outs[0].dims[axis] = Dim{};
      outs[2].dims[0] = x.dims[axis];
    }
  } else if (x.fully_known()) {
    outs[2].dims[0] = Dim::known(shape_numel(x.concrete_shape()));
  }
  for (size_t i = 0; i < ctx.outputs.size() && i < 4; ++i) ctx.outputs[i] = outs[i];
}

}  // namespace

void register_extra_data_ops(OpRegistry& r) {
  r.add("DepthToSpace", {[](OpContext& c) { run_space_depth(c, true); },
                         [](InferContext& c) { infer_space_depth(c, true); }});
  r.add("SpaceToDepth", {[](OpContext& c) { run_space_depth(c, false); },
                         [](InferContext& c) { infer_space_depth(c, false); }});
  r.add("TopK", {run_topk, infer_topk});
  r.add("GatherND", {run_gathernd, infer_gathernd});
  r.add("ScatterND", {run_scatternd, infer_scatter});
  r.add("ScatterElements", {run_scatter_elements, infer_scatter});
  r.add("Scatter", {run_scatter_elements, infer_scatter});  // opset 9-10 name of ScatterElements
  r.add("OneHot", {run_onehot, infer_onehot});
  r.add("NonZero", {run_nonzero, infer_nonzero});
  r.add("Compress", {run_compress, infer_compress});
  r.add("ReverseSequence", {run_reverse_sequence, infer_reverse_sequence});
  r.add("Unique", {run_unique, infer_unique});
}

}  // namespace octet
