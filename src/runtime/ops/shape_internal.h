// Private to the shape/data-movement op family (src/runtime/ops/shape*.cpp): element movers that
// copy elements by size whatever their dtype (strings included), a strided-copy loop, and small
// helpers for shape inference over Dims. Not for use outside the family.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "runtime/ops/op_util.h"

namespace octet {

// Sub-families, each in its own file; register_shape_ops (shape.cpp) calls them all.
void register_shape_index_ops(OpRegistry& r);   // shape_index.cpp: Gather, GatherElements, Transpose, Tile, Expand
void register_shape_concat_ops(OpRegistry& r);  // shape_concat.cpp: Concat, Split, Slice
void register_shape_pad_ops(OpRegistry& r);     // shape_pad.cpp: Pad
void register_shape_resize_ops(OpRegistry& r);  // shape_resize.cpp: Resize, Upsample

namespace shape_detail {

// Moves elements of one fixed byte size from src to dst (element offsets). Works for every dtype
// octet can hold in memory, including FP8 and complex, because data-movement ops never look at
// the values.
template <size_t N>
struct BytesMover {
  const uint8_t* src;
  uint8_t* dst;
  void one(int64_t d, int64_t s) const { std::memcpy(dst + d * N, src + s * N, N); }
  void run(int64_t d, int64_t s, int64_t n) const {
    if (n > 0) std::memcpy(dst + d * N, src + s * N, static_cast<size_t>(n) * N);
  }
};

struct StringMover {
  const std::string* src;
  std::string* dst;
  void one(int64_t d, int64_t s) const { dst[d] = src[s]; }
  void run(int64_t d, int64_t s, int64_t n) const {
    for (int64_t i = 0; i < n; ++i) dst[d + i] = src[s + i];
  }
};

// Calls f(mover) with a mover from src to dst; both must have the same dtype.
template <class F>
void with_mover(const Tensor& src, Tensor& dst, F&& f) {
  OCTET_CHECK(src.dtype() == dst.dtype(), "mover between ", dtype_name(src.dtype()), " and ",
              dtype_name(dst.dtype()));
  if (src.dtype() == DType::String) {
    f(StringMover{src.data<std::string>(), dst.data<std::string>()});
    return;
  }
  const uint8_t* s = static_cast<const uint8_t*>(src.raw());
  uint8_t* d = static_cast<uint8_t*>(dst.raw());
  switch (dtype_size(src.dtype())) {
    case 1: f(BytesMover<1>{s, d}); return;
    case 2: f(BytesMover<2>{s, d}); return;
    case 4: f(BytesMover<4>{s, d}); return;
    case 8: f(BytesMover<8>{s, d}); return;
    case 16: f(BytesMover<16>{s, d}); return;
    default:
      throw Error(str_cat("cannot move elements of type ", dtype_name(src.dtype())));
  }
}

// Fills dst (numel elements) from a strided view of the mover's source: element (i0, i1, ...)
// of the view is source element base + sum(i_k * strides[k]); strides may be 0 (broadcast) or
// negative (reversed slices). dst is written contiguously in row-major order.
template <class M>
void strided_copy(const M& mv, const Shape& shape, int64_t base, const std::vector<int64_t>& strides) {
  const size_t r = shape.size();
  const int64_t n = shape_numel(shape);
  if (n == 0) return;
  if (r == 0) {
    mv.one(0, base);
    return;
  }
  const int64_t inner = shape[r - 1];
  const int64_t inner_stride = strides[r - 1];
  std::vector<int64_t> idx(r, 0);
  int64_t off = base;
  for (int64_t o = 0; o < n; o += inner) {
    if (inner_stride == 1) {
      mv.run(o, off, inner);
    } else {
      int64_t s = off;
      for (int64_t i = 0; i < inner; ++i, s += inner_stride) mv.one(o + i, s);
    }
    for (size_t d = r - 1; d-- > 0;) {  // odometer over the outer dims
      ++idx[d];
      off += strides[d];
      if (idx[d] < shape[d]) break;
      off -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

// Allocates an output tensor; a size error from the allocator is reported against the node.
inline Tensor alloc_output(const OpContext& ctx, DType t, const Shape& s) {
  try {
    return Tensor(t, s);
  } catch (const Error& e) {
    ctx.fail(e.what());
  }
}

inline bool input_nonempty(const OpContext& ctx, size_t i) {
  return ctx.has_input(i) && ctx.inputs[i]->numel() > 0;
}

// Integers of attribute `name` when present, else of input `index` when present, else nullopt.
// Ops that moved an attribute to an input (axes, pads, split, starts...) accept either form, so a
// model of any opset from 6 to 21 works.
inline std::optional<std::vector<int64_t>> ints_from_input_or_attr(const OpContext& ctx, size_t index,
                                                                   const std::string& name) {
  if (ctx.has_input(index)) return to_int64s(ctx.input(index), ctx.node, name);
  if (ctx.node.has_attr(name)) return ctx.node.attr_ints(name);
  return std::nullopt;
}

// Shape inference counterpart. `known` is set false when the input exists but is not a constant.
inline std::optional<std::vector<int64_t>> infer_ints_from_input_or_attr(const InferContext& ctx,
                                                                         size_t index,
                                                                         const std::string& name,
                                                                         bool* known) {
  *known = true;
  if (ctx.has_input(index)) {
    const Tensor* c = ctx.constant(index);
    if (!c) {
      *known = false;
      return std::nullopt;
    }
    return to_int64s(*c, ctx.node, name);
  }
  if (ctx.node.has_attr(name)) return ctx.node.attr_ints(name);
  return std::nullopt;
}

inline void ensure_outputs(InferContext& ctx) {
  if (ctx.outputs.size() < ctx.node.outputs.size()) ctx.outputs.resize(ctx.node.outputs.size());
}

inline TensorType make_type(DType t, std::vector<Dim> dims) {
  TensorType tt;
  tt.dtype = t;
  tt.has_shape = true;
  tt.dims = std::move(dims);
  return tt;
}

inline TensorType dtype_only(DType t) {
  TensorType tt;
  tt.dtype = t;
  return tt;
}

inline std::vector<Dim> known_dims(const Shape& s) {
  std::vector<Dim> d;
  d.reserve(s.size());
  for (int64_t v : s) d.push_back(Dim::known(v));
  return d;
}

// Product of dims: known when all are known (or one is a known 0), the dim itself when there is
// exactly one symbolic dim and every other is 1, else unknown.
inline Dim dims_product(const std::vector<Dim>& dims, size_t begin, size_t end) {
  int64_t prod = 1;
  int unknown = 0;
  Dim sym;
  for (size_t i = begin; i < end; ++i) {
    if (dims[i].is_known()) {
      if (dims[i].value == 0) return Dim::known(0);
      if (prod > INT64_MAX / dims[i].value) return Dim{};  // nonsense sizes: leave unknown
      prod *= dims[i].value;
    } else {
      ++unknown;
      sym = dims[i];
    }
  }
  if (unknown == 0) return Dim::known(prod);
  if (unknown == 1 && prod == 1) return sym;
  return Dim{};
}

}  // namespace shape_detail
}  // namespace octet
