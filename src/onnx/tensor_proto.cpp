#include "onnx/tensor_proto.h"

#include <cstring>

#include "ir/file_util.h"

namespace octet::onnx_io {

uint64_t file_bytes(DType t, int64_t numel) {
  if (t == DType::Int4 || t == DType::UInt4) return (static_cast<uint64_t>(numel) + 1) / 2;
  return static_cast<uint64_t>(numel) * dtype_size(t);
}

namespace {

// Unpacks INT4/UINT4 (low nibble first) into one element per byte.
void unpack_int4(const uint8_t* src, int64_t numel, bool is_signed, uint8_t* dst) {
  for (int64_t i = 0; i < numel; ++i) {
    uint8_t v = (src[i / 2] >> ((i % 2) * 4)) & 0x0F;
    dst[i] = (is_signed && (v & 0x08)) ? static_cast<uint8_t>(v | 0xF0) : v;
  }
}

void fill_from_bytes(Tensor& t, const std::string& bytes, const std::string& context) {
  const uint64_t want = file_bytes(t.dtype(), t.numel());
  if (bytes.size() != want)
    throw Error(str_cat(context, ": holds ", bytes.size(), " bytes of data but shape ",
                        shape_str(t.shape()), " of ", dtype_name(t.dtype()), " needs ", want));
  if (t.dtype() == DType::Int4 || t.dtype() == DType::UInt4)
    unpack_int4(reinterpret_cast<const uint8_t*>(bytes.data()), t.numel(), t.dtype() == DType::Int4,
                static_cast<uint8_t*>(t.raw()));
  else if (t.dtype() == DType::Bool)  // any byte but 0 is true; other values in a bool are UB
    for (uint64_t i = 0; i < want; ++i) static_cast<uint8_t*>(t.raw())[i] = bytes[i] != 0;
  else if (want > 0)
    std::memcpy(t.raw(), bytes.data(), want);  // little-endian host, as ONNX's raw_data
}

template <class Src, class Field>
void check_count(const Field& f, int64_t expected, const std::string& context, const char* field) {
  if (static_cast<int64_t>(f.size()) != expected)
    throw Error(str_cat(context, ": ", field, " has ", f.size(), " values but the shape needs ", expected));
}

std::string external_bytes(const onnx::TensorProto& p, const std::string& context,
                           const std::string& base_dir, uint64_t expected) {
  std::string location;
  uint64_t offset = 0, length = expected;
  bool has_length = false;
  for (const auto& kv : p.external_data()) {
    try {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = std::stoull(kv.value());
      else if (kv.key() == "length") { length = std::stoull(kv.value()); has_length = true; }
    } catch (const std::exception&) {
      throw Error(str_cat(context, ": external data field '", kv.key(), "' is not a number: '",
                          kv.value(), "'"));
    }
  }
  if (location.empty()) throw Error(str_cat(context, ": external data has no location"));
  if (base_dir.empty())
    throw Error(str_cat(context, ": uses external data but the model was not loaded from a file"));
  if (location[0] == '/' || location.find("..") != std::string::npos)
    throw Error(str_cat(context, ": external data location '", location,
                        "' must be a relative path inside the model's folder"));
  if (has_length && length != expected)
    throw Error(str_cat(context, ": external data length ", length, " but the shape needs ", expected,
                        " bytes"));
  return read_file_range(join_path(base_dir, location), offset, expected);
}

}  // namespace

Tensor tensor_from_proto(const onnx::TensorProto& p, const std::string& context,
                         const std::string& base_dir) {
  if (!dtype_is_known(p.data_type()) || p.data_type() == 0)
    throw Error(str_cat(context, ": unknown data_type ", p.data_type()));
  const DType dt = static_cast<DType>(p.data_type());
  if (dt == DType::Complex64 || dt == DType::Complex128)
    throw Error(str_cat(context, ": complex tensors are not supported"));
  Shape shape(p.dims().begin(), p.dims().end());
  for (int64_t d : shape)
    if (d < 0) throw Error(str_cat(context, ": negative dimension in shape ", shape_str(shape)));
  if (p.has_segment()) throw Error(str_cat(context, ": segmented tensors are not supported"));
  Tensor t;
  try {
    t = Tensor(dt, shape);
  } catch (const Error& e) {
    throw Error(str_cat(context, ": ", e.what()));
  }
  const int64_t n = t.numel();
  const uint64_t expected = file_bytes(dt, n);

  if (p.data_location() == onnx::TensorProto::EXTERNAL) {
    fill_from_bytes(t, external_bytes(p, context, base_dir, expected), context);
    return t;
  }
  if (dt == DType::String) {
    check_count<std::string>(p.string_data(), n, context, "string_data");
    for (int64_t i = 0; i < n; ++i) t.data<std::string>()[i] = p.string_data(static_cast<int>(i));
    return t;
  }
  if (p.has_raw_data()) {
    fill_from_bytes(t, p.raw_data(), context);
    return t;
  }
  // Typed fields, as the ONNX schema assigns them.
  switch (dt) {
    case DType::Float32: {
      check_count<float>(p.float_data(), n, context, "float_data");
      if (n > 0) std::memcpy(t.raw(), p.float_data().data(), n * sizeof(float));  // data() is null when empty
      break;
    }
    case DType::Float64: {
      check_count<double>(p.double_data(), n, context, "double_data");
      if (n > 0) std::memcpy(t.raw(), p.double_data().data(), n * sizeof(double));  // data() is null when empty
      break;
    }
    case DType::Int64: {
      check_count<int64_t>(p.int64_data(), n, context, "int64_data");
      if (n > 0) std::memcpy(t.raw(), p.int64_data().data(), n * sizeof(int64_t));  // data() is null when empty
      break;
    }
    case DType::UInt32: case DType::UInt64: {
      check_count<uint64_t>(p.uint64_data(), n, context, "uint64_data");
      for (int64_t i = 0; i < n; ++i) {
        uint64_t v = p.uint64_data(static_cast<int>(i));
        if (dt == DType::UInt32) t.data<uint32_t>()[i] = static_cast<uint32_t>(v);
        else t.data<uint64_t>()[i] = v;
      }
      break;
    }
    case DType::Int4: case DType::UInt4: {
      const int64_t packed = (n + 1) / 2;
      check_count<int32_t>(p.int32_data(), packed, context, "int32_data");
      std::string bytes(static_cast<size_t>(packed), '\0');
      for (int64_t i = 0; i < packed; ++i) bytes[i] = static_cast<char>(p.int32_data(static_cast<int>(i)) & 0xFF);
      fill_from_bytes(t, bytes, context);
      break;
    }
    default: {  // int32_data carries INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16, FP8
      check_count<int32_t>(p.int32_data(), n, context, "int32_data");
      const size_t es = dtype_size(dt);
      uint8_t* dst = static_cast<uint8_t*>(t.raw());
      for (int64_t i = 0; i < n; ++i) {
        int32_t v = p.int32_data(static_cast<int>(i));
        if (dt == DType::Bool) v = v != 0;    // as 0/1: other values in a bool are UB
        std::memcpy(dst + i * es, &v, es);  // low bytes, little-endian
      }
      break;
    }
  }
  return t;
}

void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto* p) {
  p->Clear();
  p->set_name(name);
  p->set_data_type(static_cast<int32_t>(t.dtype()));
  for (int64_t d : t.shape()) p->add_dims(d);
  if (t.dtype() == DType::String) {
    for (int64_t i = 0; i < t.numel(); ++i) p->add_string_data(t.data<std::string>()[i]);
    return;
  }
  const int64_t n = t.numel();
  if (t.dtype() == DType::Int4 || t.dtype() == DType::UInt4) {
    std::string packed(static_cast<size_t>((n + 1) / 2), '\0');
    const uint8_t* src = static_cast<const uint8_t*>(t.raw());
    for (int64_t i = 0; i < n; ++i)
      packed[i / 2] = static_cast<char>(packed[i / 2] | ((src[i] & 0x0F) << ((i % 2) * 4)));
    p->set_raw_data(packed);
    return;
  }
  p->set_raw_data(std::string(static_cast<const char*>(t.raw()), t.nbytes()));
}

}  // namespace octet::onnx_io
