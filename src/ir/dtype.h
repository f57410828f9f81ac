// Element types. The numeric values are ONNX's TensorProto.DataType codes, so a type read from a
// file passes through unchanged (INT4, FP8 included) even where octet cannot compute on it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "ir/error.h"
#include "ir/half.h"

namespace octet {

enum class DType : int32_t {
  Undefined = 0,
  Float32 = 1,
  UInt8 = 2,
  Int8 = 3,
  UInt16 = 4,
  Int16 = 5,
  Int32 = 6,
  Int64 = 7,
  String = 8,
  Bool = 9,
  Float16 = 10,
  Float64 = 11,
  UInt32 = 12,
  UInt64 = 13,
  Complex64 = 14,
  Complex128 = 15,
  BFloat16 = 16,
  Float8E4M3FN = 17,
  Float8E4M3FNUZ = 18,
  Float8E5M2 = 19,
  Float8E5M2FNUZ = 20,
  UInt4 = 21,
  Int4 = 22,
};

// Bytes one element takes in memory. INT4/UINT4 are unpacked to one byte per element in memory
// (sign-extended for INT4) and packed two to a byte only in files. String elements are held as
// std::string, so their size here is 0. Unknown codes return 0.
size_t dtype_size(DType t);
// ONNX's upper-case name ("FLOAT", "INT8", ...) or "DTYPE(<code>)" for codes octet does not know.
std::string dtype_name(DType t);
// Lower-case short name used in reports and numpy descriptors ("float32", "int8", ...).
std::string dtype_short_name(DType t);
// True for codes in the enum above.
bool dtype_is_known(int32_t code);
bool dtype_is_float(DType t);    // f16, bf16, f32, f64 (not FP8)
bool dtype_is_integer(DType t);  // signed or unsigned integers incl. 4-bit, not bool
bool dtype_is_signed(DType t);
// Computable: octet's executor has a C++ type for it (everything but complex, FP8 and undefined).
bool dtype_is_computable(DType t);

template <class T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int8_t> { static constexpr DType value = DType::Int8; };
template <> struct dtype_of<uint8_t> { static constexpr DType value = DType::UInt8; };
template <> struct dtype_of<int16_t> { static constexpr DType value = DType::Int16; };
template <> struct dtype_of<uint16_t> { static constexpr DType value = DType::UInt16; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<uint32_t> { static constexpr DType value = DType::UInt32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<uint64_t> { static constexpr DType value = DType::UInt64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <> struct dtype_of<Half> { static constexpr DType value = DType::Float16; };
template <> struct dtype_of<BFloat16> { static constexpr DType value = DType::BFloat16; };
template <> struct dtype_of<std::string> { static constexpr DType value = DType::String; };

// The C++ type used for element storage of a dtype. INT4/UINT4 live in int8_t/uint8_t.
// Calls f(T{}) with a value of that type; throws Error for types octet cannot compute on.
// Usage: dispatch_dtype(t, [&](auto tag) { using T = decltype(tag); ... });
template <class F>
decltype(auto) dispatch_dtype(DType t, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Float16: return f(Half{});
    case DType::BFloat16: return f(BFloat16{});
    case DType::Int8: case DType::Int4: return f(int8_t{});
    case DType::UInt8: case DType::UInt4: return f(uint8_t{});
    case DType::Int16: return f(int16_t{});
    case DType::UInt16: return f(uint16_t{});
    case DType::Int32: return f(int32_t{});
    case DType::UInt32: return f(uint32_t{});
    case DType::Int64: return f(int64_t{});
    case DType::UInt64: return f(uint64_t{});
    case DType::Bool: return f(bool{});
    default:
      throw Error(str_cat("element type ", dtype_name(t), " is not supported for computation"));
  }
}

// Like dispatch_dtype, restricted to the types arithmetic ops compute in natively
// (float, double, the 8/16/32/64-bit integers). Half and BFloat16 are computed by the caller in
// float; bool and strings are rejected with a message naming `what`.
template <class F>
decltype(auto) dispatch_arith(DType t, const std::string& what, F&& f) {
  switch (t) {
    case DType::Float32: return f(float{});
    case DType::Float64: return f(double{});
    case DType::Int8: return f(int8_t{});
    case DType::UInt8: return f(uint8_t{});
    case DType::Int16: return f(int16_t{});
    case DType::UInt16: return f(uint16_t{});
    case DType::Int32: return f(int32_t{});
    case DType::UInt32: return f(uint32_t{});
    case DType::Int64: return f(int64_t{});
    case DType::UInt64: return f(uint64_t{});
    default:
      throw Error(str_cat(what, ": element type ", dtype_name(t), " is not supported"));
  }
}

}  // namespace octet
