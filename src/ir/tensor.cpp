#include "ir/tensor.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>

namespace octet {

int64_t shape_numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw Error(str_cat("shape ", shape_str(shape), " has a negative dimension"));
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d)
      throw Error(str_cat("shape ", shape_str(shape), " has more elements than fit in int64"));
    n *= d;
  }
  return n;
}

std::string shape_str(const Shape& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
  return s + "]";
}

Tensor::Tensor(DType dtype, Shape shape) : dtype_(dtype), shape_(std::move(shape)) { allocate(true); }

Tensor::Tensor(DType dtype, Shape shape, Uninitialized) : dtype_(dtype), shape_(std::move(shape)) {
  allocate(false);
}

void Tensor::allocate(bool zero) {
  numel_ = shape_numel(shape_);
  if (dtype_ == DType::String) {
    strings_ = std::make_shared<std::vector<std::string>>(static_cast<size_t>(numel_));
    return;
  }
  const size_t esize = dtype_size(dtype_);
  if (esize == 0) throw Error(str_cat("cannot hold a tensor of element type ", dtype_name(dtype_)));
  if (static_cast<uint64_t>(numel_) > (uint64_t{1} << 40) / esize)
    throw Error(str_cat("tensor of shape ", shape_str(shape_), " and type ", dtype_name(dtype_),
                        " is larger than 1 TiB"));
  size_t bytes = static_cast<size_t>(numel_) * esize;
  size_t alloc = ((bytes + 63) / 64) * 64;
  if (alloc == 0) alloc = 64;
  void* p = std::aligned_alloc(64, alloc);
  if (!p) throw Error(str_cat("out of memory allocating ", bytes, " bytes for a tensor"));
  if (zero) std::memset(p, 0, alloc);
  bytes_ = std::shared_ptr<uint8_t>(static_cast<uint8_t*>(p), [](uint8_t* q) { std::free(q); });
}

void* Tensor::raw() {
  OCTET_CHECK(dtype_ != DType::String, "raw() on a string tensor");
  return bytes_.get();
}
const void* Tensor::raw() const {
  OCTET_CHECK(dtype_ != DType::String, "raw() on a string tensor");
  return bytes_.get();
}

void Tensor::check_type(bool ok, const char* what) const {
  if (!ok) throw InternalError(str_cat(what, " does not match tensor type ", dtype_name(dtype_)));
}

Tensor Tensor::reshaped(Shape shape) const {
  if (shape_numel(shape) != numel_)
    throw Error(str_cat("cannot reshape ", shape_str(shape_), " to ", shape_str(shape)));
  Tensor t = *this;
  t.shape_ = std::move(shape);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t(dtype_, shape_);
  if (dtype_ == DType::String) *t.strings_ = *strings_;
  else std::memcpy(t.raw(), raw(), nbytes());
  return t;
}

namespace {

template <class T>
double to_double(T v) {
  if constexpr (std::is_same_v<T, Half> || std::is_same_v<T, BFloat16>) return static_cast<float>(v);
  else return static_cast<double>(v);
}

// Converts one value to the storage type D. Float to integer truncates toward zero and
// saturates (out-of-range float-to-int is undefined in ONNX; saturating avoids C++ UB); NaN -> 0.
template <class D, class S>
D convert(S v) {
  if constexpr (std::is_same_v<D, S>) {
    return v;
  } else if constexpr (std::is_same_v<D, Half> || std::is_same_v<D, BFloat16>) {
    return D(static_cast<float>(to_double(v)));
  } else if constexpr (std::is_same_v<D, bool>) {
    return to_double(v) != 0.0;
  } else if constexpr (std::is_floating_point_v<D>) {
    if constexpr (std::is_integral_v<S>) return static_cast<D>(v);
    else return static_cast<D>(to_double(v));
  } else {  // integer destination
    if constexpr (std::is_integral_v<S>) {
      return static_cast<D>(v);  // two's complement wrap, as numpy and ORT do
    } else {
      double d = std::trunc(to_double(v));
      if (std::isnan(d)) return 0;
      if (d <= static_cast<double>(std::numeric_limits<D>::lowest())) return std::numeric_limits<D>::lowest();
      if (d >= static_cast<double>(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
      return static_cast<D>(d);
    }
  }
}

std::string format_number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "INF" : "-INF";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

Tensor Tensor::cast(DType to) const {
  Tensor out(to, shape_);
  const int64_t n = numel_;
  if (dtype_ == DType::String && to == DType::String) return clone();
  if (dtype_ == DType::String) {
    const std::string* s = data<std::string>();
    dispatch_dtype(to, [&](auto dtag) {
      using D = decltype(dtag);
      D* d = out.data<D>();
      for (int64_t i = 0; i < n; ++i) {
        char* end = nullptr;
        double v = std::strtod(s[i].c_str(), &end);
        if (end == s[i].c_str())
          throw Error(str_cat("cannot cast string '", s[i], "' to ", dtype_name(to)));
        d[i] = convert<D>(v);
      }
    });
    return out;
  }
  if (to == DType::String) {
    std::string* d = out.data<std::string>();
    for (int64_t i = 0; i < n; ++i) d[i] = format_number(get_as_double(i));
    return out;
  }
  dispatch_dtype(dtype_, [&](auto stag) {
    using S = decltype(stag);
    const S* s = data<S>();
    dispatch_dtype(to, [&](auto dtag) {
      using D = decltype(dtag);
      D* d = out.data<D>();
      for (int64_t i = 0; i < n; ++i) d[i] = convert<D>(s[i]);
    });
  });
  if (to == DType::Int4 || to == DType::UInt4) {  // wrap into the 4-bit range
    uint8_t* d = static_cast<uint8_t*>(out.raw());
    for (int64_t i = 0; i < n; ++i) {
      uint8_t v = d[i] & 0x0F;
      d[i] = (to == DType::Int4 && (v & 0x08)) ? static_cast<uint8_t>(v | 0xF0) : v;
    }
  }
  return out;
}

double Tensor::get_as_double(int64_t i) const {
  OCTET_CHECK(i >= 0 && i < numel_, "index out of range");
  return dispatch_dtype(dtype_, [&](auto tag) -> double {
    using T = decltype(tag);
    return to_double(data<T>()[i]);
  });
}

}  // namespace octet
