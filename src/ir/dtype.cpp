#include "ir/dtype.h"

namespace octet {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: case DType::Int32: case DType::UInt32: return 4;
    case DType::Float64: case DType::Int64: case DType::UInt64: case DType::Complex64: return 8;
    case DType::Complex128: return 16;
    case DType::Float16: case DType::BFloat16: case DType::Int16: case DType::UInt16: return 2;
    case DType::Int8: case DType::UInt8: case DType::Bool: case DType::Int4: case DType::UInt4:
    case DType::Float8E4M3FN: case DType::Float8E4M3FNUZ: case DType::Float8E5M2:
    case DType::Float8E5M2FNUZ:
      return 1;
    default: return 0;
  }
}

bool dtype_is_known(int32_t code) { return code >= 0 && code <= 22; }

std::string dtype_name(DType t) {
  switch (t) {
    case DType::Undefined: return "UNDEFINED";
    case DType::Float32: return "FLOAT";
    case DType::UInt8: return "UINT8";
    case DType::Int8: return "INT8";
    case DType::UInt16: return "UINT16";
    case DType::Int16: return "INT16";
    case DType::Int32: return "INT32";
    case DType::Int64: return "INT64";
    case DType::String: return "STRING";
    case DType::Bool: return "BOOL";
    case DType::Float16: return "FLOAT16";
    case DType::Float64: return "DOUBLE";
    case DType::UInt32: return "UINT32";
    case DType::UInt64: return "UINT64";
    case DType::Complex64: return "COMPLEX64";
    case DType::Complex128: return "COMPLEX128";
    case DType::BFloat16: return "BFLOAT16";
    case DType::Float8E4M3FN: return "FLOAT8E4M3FN";
    case DType::Float8E4M3FNUZ: return "FLOAT8E4M3FNUZ";
    case DType::Float8E5M2: return "FLOAT8E5M2";
    case DType::Float8E5M2FNUZ: return "FLOAT8E5M2FNUZ";
    case DType::UInt4: return "UINT4";
    case DType::Int4: return "INT4";
  }
  return str_cat("DTYPE(", static_cast<int32_t>(t), ")");
}

std::string dtype_short_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Float16: return "float16";
    case DType::BFloat16: return "bfloat16";
    case DType::Int8: return "int8";
    case DType::UInt8: return "uint8";
    case DType::Int16: return "int16";
    case DType::UInt16: return "uint16";
    case DType::Int32: return "int32";
    case DType::UInt32: return "uint32";
    case DType::Int64: return "int64";
    case DType::UInt64: return "uint64";
    case DType::Bool: return "bool";
    case DType::String: return "string";
    case DType::Int4: return "int4";
    case DType::UInt4: return "uint4";
    default: return dtype_name(t);
  }
}

bool dtype_is_float(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Float16 || t == DType::BFloat16;
}

bool dtype_is_integer(DType t) {
  switch (t) {
    case DType::Int8: case DType::UInt8: case DType::Int16: case DType::UInt16: case DType::Int32:
    case DType::UInt32: case DType::Int64: case DType::UInt64: case DType::Int4: case DType::UInt4:
      return true;
    default: return false;
  }
}

bool dtype_is_signed(DType t) {
  switch (t) {
    case DType::Int8: case DType::Int16: case DType::Int32: case DType::Int64: case DType::Int4:
      return true;
    default: return dtype_is_float(t);
  }
}

bool dtype_is_computable(DType t) {
  return dtype_is_float(t) || dtype_is_integer(t) || t == DType::Bool || t == DType::String;
}

}  // namespace octet
