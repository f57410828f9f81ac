#include "runtime/ops/op_util.h"

#include <algorithm>

namespace octet {

int64_t normalize_axis(int64_t axis, int64_t rank, const Node& node) {
  if (axis < -rank || axis >= rank)  // a rank-0 tensor has no axis at all
    throw Error(str_cat(node.describe(), ": axis ", axis, " is out of range for rank ", rank));
  return axis < 0 ? axis + rank : axis;
}

std::vector<int64_t> to_int64s(const Tensor& t, const Node& node, const std::string& what) {
  std::vector<int64_t> v(static_cast<size_t>(t.numel()));
  if (t.dtype() == DType::Int64) {
    const int64_t* p = t.data<int64_t>();
    std::copy(p, p + t.numel(), v.begin());
  } else if (t.dtype() == DType::Int32) {
    const int32_t* p = t.data<int32_t>();
    std::copy(p, p + t.numel(), v.begin());
  } else {
    throw Error(str_cat(node.describe(), ": ", what, " must be INT64 or INT32, got ",
                        dtype_name(t.dtype())));
  }
  return v;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const Node& node) {
  const size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db || db == 1) out[i] = da;
    else if (da == 1) out[i] = db;
    else
      throw Error(str_cat(node.describe(), ": shapes ", shape_str(a), " and ", shape_str(b),
                          " cannot be broadcast together"));
  }
  return out;
}

TensorType broadcast_types(const TensorType& a, const TensorType& b, const Node& node) {
  TensorType out;
  out.dtype = a.dtype;
  if (!a.has_shape || !b.has_shape) return out;
  out.has_shape = true;
  const size_t r = std::max(a.dims.size(), b.dims.size());
  out.dims.resize(r);
  for (size_t i = 0; i < r; ++i) {
    Dim da = i < r - a.dims.size() ? Dim::known(1) : a.dims[i - (r - a.dims.size())];
    Dim db = i < r - b.dims.size() ? Dim::known(1) : b.dims[i - (r - b.dims.size())];
    if (da.is_known() && db.is_known()) {
      if (da.value == db.value || db.value == 1) out.dims[i] = da;
      else if (da.value == 1) out.dims[i] = db;
      else
        throw Error(str_cat(node.describe(), ": shapes ", a.str(), " and ", b.str(),
                            " cannot be broadcast together"));
    } else if (da.is_known() && da.value == 1) {
      out.dims[i] = db;
    } else if (db.is_known() && db.value == 1) {
      out.dims[i] = da;
    } else if (!da.is_known() && !db.is_known() && da.param == db.param) {
      out.dims[i] = da;
    } else {
      out.dims[i] = da.is_known() ? da : (db.is_known() ? db : Dim{});
    }
  }
  return out;
}

std::vector<int64_t> contiguous_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (size_t i = s.size(); i-- > 1;) st[i - 1] = st[i] * s[i];
  return st;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  OCTET_CHECK(in.size() <= out.size(), "broadcast_strides: rank ", in.size(), " > ", out.size());
  std::vector<int64_t> full(out.size(), 0);
  std::vector<int64_t> cs = contiguous_strides(in);
  const size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) full[off + i] = in[i] == 1 ? 0 : cs[i];
  return full;
}

void infer_same_as_input(InferContext& ctx, size_t in_index, size_t out_index) {
  if (!ctx.has_input(in_index) || out_index >= ctx.outputs.size()) return;
  ctx.outputs[out_index] = ctx.input(in_index);
}

void infer_broadcast(InferContext& ctx, DType dtype) {
  if (ctx.outputs.empty()) return;
  TensorType acc;
  bool first = true;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    if (!ctx.has_input(i)) continue;
    acc = first ? ctx.input(i) : broadcast_types(acc, ctx.input(i), ctx.node);
    first = false;
  }
  if (dtype != DType::Undefined) acc.dtype = dtype;
  else if (ctx.has_input(0)) acc.dtype = ctx.input(0).dtype;
  ctx.outputs[0] = acc;
}

}  // namespace octet
