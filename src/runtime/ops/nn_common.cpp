#include "runtime/ops/nn_common.h"

#include <algorithm>

namespace octet::nn_detail {

void fail(const Node& node, const std::string& msg) {
  throw Error(str_cat(node.describe(), ": ", msg));
}

bool is_float_type(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
}

void require_float(const Node& node, DType t, const std::string& what) {
  if (!is_float_type(t))
    fail(node, str_cat(what, " has element type ", dtype_name(t),
                       "; expected FLOAT, DOUBLE, FLOAT16 or BFLOAT16"));
}

void require_same_dtype(const Node& node, DType a, const std::string& what_a, DType b,
                        const std::string& what_b) {
  if (a != b)
    fail(node, str_cat(what_a, " is ", dtype_name(a), " but ", what_b, " is ", dtype_name(b),
                       "; they must match"));
}

Tensor to_dtype(const Tensor& t, DType want) { return t.dtype() == want ? t : t.cast(want); }

Tensor to_compute(const Tensor& t) { return to_dtype(t, compute_dtype(t.dtype())); }

AutoPad read_auto_pad(const Node& node) {
  const std::string s = node.attr_string("auto_pad", "NOTSET");
  if (s == "NOTSET" || s.empty()) return AutoPad::NotSet;
  if (s == "SAME_UPPER") return AutoPad::SameUpper;
  if (s == "SAME_LOWER") return AutoPad::SameLower;
  if (s == "VALID") return AutoPad::Valid;
  fail(node, str_cat("auto_pad '", s, "' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID"));
}

static std::vector<int64_t> read_per_dim(const Node& node, const char* key, size_t n, int64_t def,
                                         int64_t min) {
  std::vector<int64_t> v = node.attr_ints(key, std::vector<int64_t>(n, def));
  if (v.size() != n)
    fail(node, str_cat("attribute ", key, " has ", v.size(), " values; expected ", n,
                       " (one per spatial dim)"));
  for (int64_t x : v)
    if (x < min || x > kMaxWindowAttr)
      fail(node, str_cat("attribute ", key, " has value ", x, "; must be in [", min, ", ",
                         kMaxWindowAttr, "]"));
  return v;
}

WindowSpec read_window(const Node& node, size_t spatial, std::vector<int64_t> kernel,
                       bool allow_ceil) {
  WindowSpec w;
  w.kernel = std::move(kernel);
  w.strides = read_per_dim(node, "strides", spatial, 1, 1);
  w.dilations = read_per_dim(node, "dilations", spatial, 1, 1);
  w.pads = read_per_dim(node, "pads", 2 * spatial, 0, 0);
  w.auto_pad = read_auto_pad(node);
  if (w.auto_pad != AutoPad::NotSet) std::fill(w.pads.begin(), w.pads.end(), 0);
  w.ceil_mode = allow_ceil && node.attr_int("ceil_mode", 0) != 0;
  for (int64_t k : w.kernel)
    if (k == 0 || k < -1 || k > kMaxWindowAttr)
      fail(node, str_cat("kernel size ", k, " must be in [1, ", kMaxWindowAttr, "]"));
  return w;
}

static int64_t ceil_div(int64_t a, int64_t b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }

WindowDim resolve_window_dim(const Node& node, const WindowSpec& w, size_t i, int64_t in) {
  WindowDim r;
  const size_t n = w.strides.size();
  r.pad_begin = w.pads[i];
  r.pad_end = w.pads[n + i];
  const int64_t k = w.kernel[i];
  if (in < 0 || k < 0) return r;
  const int64_t s = w.strides[i];
  const int64_t ek = (k - 1) * w.dilations[i] + 1;  // dilated extent of the kernel
  switch (w.auto_pad) {
    case AutoPad::SameUpper:
    case AutoPad::SameLower: {
      r.out = ceil_div(in, s);
      const int64_t total = std::max<int64_t>(0, (r.out - 1) * s + ek - in);
      const int64_t small = total / 2, big = total - total / 2;
      r.pad_begin = w.auto_pad == AutoPad::SameUpper ? small : big;
      r.pad_end = w.auto_pad == AutoPad::SameUpper ? big : small;
      return r;
    }
    case AutoPad::Valid:
    case AutoPad::NotSet:
      break;
  }
  const int64_t padded = in + r.pad_begin + r.pad_end;
  if (padded < ek)
    fail(node, str_cat("spatial dim ", i, ": the kernel (size ", k, ", dilation ", w.dilations[i],
                       ", extent ", ek, ") is larger than the padded input (", in, " + pads ",
                       r.pad_begin, " + ", r.pad_end, " = ", padded, ")"));
  if (w.ceil_mode) {
    r.out = ceil_div(padded - ek, s) + 1;
    // The last window must start inside the input or its begin padding (PyTorch, onnxruntime).
    if ((r.out - 1) * s >= in + r.pad_begin) --r.out;
  } else {
    r.out = (padded - ek) / s + 1;
  }
  return r;
}

std::vector<int64_t> known_dims(const TensorType& t) {
  std::vector<int64_t> v;
  if (!t.has_shape) return v;
  for (const Dim& d : t.dims) v.push_back(d.is_known() ? d.value : -1);
  return v;
}

TensorType make_type(DType dtype, const std::vector<int64_t>& dims, const std::vector<Dim>& pass) {
  TensorType t;
  t.dtype = dtype;
  t.has_shape = true;
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] >= 0)
      t.dims.push_back(Dim::known(dims[i]));
    else if (i < pass.size())
      t.dims.push_back(pass[i]);
    else
      t.dims.push_back(Dim{});
  }
  return t;
}

}  // namespace octet::nn_detail
