// Helpers shared by op implementations: axis handling, reading shape-like inputs, broadcasting
// for both run and shape inference.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/op_registry.h"

namespace octet {

// Maps a possibly negative axis into [0, rank); throws Error naming `node` when out of range.
int64_t normalize_axis(int64_t axis, int64_t rank, const Node& node);

// Reads an INT32 or INT64 tensor as int64 values (e.g. a Reshape shape, Slice starts).
std::vector<int64_t> to_int64s(const Tensor& t, const Node& node, const std::string& what);

// Numpy-style multidirectional broadcast; throws Error naming node and both shapes on mismatch.
Shape broadcast_shapes(const Shape& a, const Shape& b, const Node& node);
// Same for static types; unknown dims broadcast optimistically (1 vs ? -> ?).
TensorType broadcast_types(const TensorType& a, const TensorType& b, const Node& node);

// Strides (in elements) of `in` viewed as `out` after broadcasting: 0 on broadcast dims.
// `in` must be broadcastable to `out` (rank of in <= rank of out).
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
// Row-major strides of a shape.
std::vector<int64_t> contiguous_strides(const Shape& s);

// Calls f(out_index, offset_a, offset_b) for each element of the broadcast result of shapes a and
// b with output shape `out`. Tight loop over the innermost dimension.
template <class F>
void for_each_broadcast2(const Shape& a, const Shape& b, const Shape& out, F&& f) {
  const size_t r = out.size();
  const int64_t n = shape_numel(out);
  if (n == 0) return;
  if (a == out && b == out) {
    for (int64_t i = 0; i < n; ++i) f(i, i, i);
    return;
  }
  std::vector<int64_t> sa = broadcast_strides(a, out), sb = broadcast_strides(b, out);
  std::vector<int64_t> idx(r, 0);
  int64_t oa = 0, ob = 0;
  for (int64_t i = 0; i < n; ++i) {
    f(i, oa, ob);
    for (size_t d = r; d-- > 0;) {  // odometer increment
      ++idx[d];
      oa += sa[d];
      ob += sb[d];
      if (idx[d] < out[d]) break;
      oa -= sa[d] * out[d];
      ob -= sb[d] * out[d];
      idx[d] = 0;
    }
  }
}

// Shape inference: output `out_index` gets the type of input `in_index`.
void infer_same_as_input(InferContext& ctx, size_t in_index = 0, size_t out_index = 0);
// Shape inference for n-ary broadcasting ops with the dtype of input 0 (or `dtype` if given).
void infer_broadcast(InferContext& ctx, DType dtype = DType::Undefined);

}  // namespace octet
