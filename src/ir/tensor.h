// A dense tensor: element type, shape and a shared, 64-byte aligned buffer. Copies share the
// buffer (like a handle); clone() makes a deep copy. Strings are held as std::string elements.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/dtype.h"

namespace octet {

using Shape = std::vector<int64_t>;

// Product of the dims; throws Error if a dim is negative or the product overflows int64.
int64_t shape_numel(const Shape& shape);
// "[1,3,224,224]"
std::string shape_str(const Shape& shape);

class Tensor {
 public:
  Tensor() = default;
  // Zero-initialised tensor (empty strings for String).
  Tensor(DType dtype, Shape shape);
  // Tensor whose numeric elements are left unset, for kernels that write every element (the
  // engine's fast ops): saves the zero fill of a buffer about to be overwritten. String tensors
  // are still default-constructed.
  struct Uninitialized {};
  Tensor(DType dtype, Shape shape, Uninitialized);

  template <class T>
  static Tensor from_vector(Shape shape, const std::vector<T>& values) {
    Tensor t(dtype_of<T>::value, std::move(shape));
    OCTET_CHECK(static_cast<int64_t>(values.size()) == t.numel(), "from_vector size mismatch");
    T* d = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) d[i] = values[i];
    return t;
  }
  template <class T>
  static Tensor scalar(T v) { return from_vector<T>({}, {v}); }

  DType dtype() const { return dtype_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  size_t rank() const { return shape_.size(); }
  int64_t numel() const { return numel_; }
  size_t nbytes() const { return static_cast<size_t>(numel_) * dtype_size(dtype_); }
  bool defined() const { return dtype_ != DType::Undefined; }

  // Typed access. T must be the storage type of dtype() (see dispatch_dtype), checked always.
  template <class T>
  T* data() {
    check_type(storage_matches<T>(), "data<T>()");
    return static_cast<T*>(raw());
  }
  template <class T>
  const T* data() const {
    check_type(storage_matches<T>(), "data<T>()");
    return static_cast<const T*>(raw());
  }
  void* raw();
  const void* raw() const;

  // Same buffer, new shape with the same element count.
  Tensor reshaped(Shape shape) const;
  Tensor clone() const;
  // Element-wise conversion following ONNX Cast semantics (saturating only where ONNX says so;
  // float to integer truncates toward zero; to bool is x != 0; strings parse/format numbers).
  Tensor cast(DType to) const;
  // Element i as double (for reports and comparisons); not for String.
  double get_as_double(int64_t i) const;

 private:
  void allocate(bool zero);  // numel_ and the buffer (or strings) for dtype_ and shape_
  template <class T>
  bool storage_matches() const {
    if constexpr (std::is_same_v<T, int8_t>) return dtype_ == DType::Int8 || dtype_ == DType::Int4;
    else if constexpr (std::is_same_v<T, uint8_t>)
      return dtype_ == DType::UInt8 || dtype_ == DType::UInt4 || dtype_size(dtype_) == 1;
    else return dtype_of<T>::value == dtype_;
  }
  void check_type(bool ok, const char* what) const;

  DType dtype_ = DType::Undefined;
  Shape shape_;
  int64_t numel_ = 0;
  std::shared_ptr<uint8_t> bytes_;                   // numeric types
  std::shared_ptr<std::vector<std::string>> strings_;  // DType::String
};

template <>
inline std::string* Tensor::data<std::string>() {
  check_type(dtype_ == DType::String, "data<std::string>()");
  return strings_->data();
}
template <>
inline const std::string* Tensor::data<std::string>() const {
  check_type(dtype_ == DType::String, "data<std::string>()");
  return strings_->data();
}

}  // namespace octet
