#include "io/npy.h"

#include <cstring>
#include <regex>

#include "ir/file_util.h"

namespace octet {

namespace {

struct DescrEntry {
  const char* code;  // numpy type code without the byte-order character
  DType dtype;
};
constexpr DescrEntry kDescrs[] = {
    {"f4", DType::Float32}, {"f8", DType::Float64}, {"f2", DType::Float16}, {"i1", DType::Int8},
    {"u1", DType::UInt8},   {"i2", DType::Int16},   {"u2", DType::UInt16},  {"i4", DType::Int32},
    {"u4", DType::UInt32},  {"i8", DType::Int64},   {"u8", DType::UInt64},  {"b1", DType::Bool},
};

DType dtype_from_descr(const std::string& descr, const std::string& file) {
  if (descr.size() < 2) throw Error(str_cat(file, ": unsupported numpy dtype '", descr, "'"));
  const char order = descr[0];
  if (order == '>')
    throw Error(str_cat(file, ": big-endian numpy dtype '", descr, "' is not supported; save it little-endian"));
  std::string code = (order == '<' || order == '|' || order == '=') ? descr.substr(1) : descr;
  for (const auto& e : kDescrs)
    if (code == e.code) return e.dtype;
  throw Error(str_cat(file, ": unsupported numpy dtype '", descr, "'"));
}

std::string descr_for(DType t) {
  for (const auto& e : kDescrs)
    if (e.dtype == t) return std::string(dtype_size(t) == 1 ? "|" : "<") + e.code;
  throw Error(str_cat("element type ", dtype_name(t), " has no numpy equivalent"));
}

}  // namespace

Tensor parse_npy(const std::string& bytes, const std::string& file) {
  if (bytes.size() < 10 || std::memcmp(bytes.data(), "\x93NUMPY", 6) != 0)
    throw Error(str_cat(file, ": not a .npy file (bad magic)"));
  const uint8_t major = static_cast<uint8_t>(bytes[6]);
  size_t header_len, header_start;
  if (major == 1) {
    header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) throw Error(str_cat(file, ": truncated .npy header"));
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(static_cast<uint8_t>(bytes[8 + i])) << (8 * i);
    header_start = 12;
  } else {
    throw Error(str_cat(file, ": unsupported .npy format version ", int(major)));
  }
  if (header_len > bytes.size() - header_start) throw Error(str_cat(file, ": truncated .npy header"));
  const std::string header = bytes.substr(header_start, header_len);

  std::smatch m;
  static const std::regex descr_re(R"('descr'\s*:\s*'([^']*)')");
  static const std::regex fortran_re(R"('fortran_order'\s*:\s*(True|False))");
  static const std::regex shape_re(R"('shape'\s*:\s*\(([^)]*)\))");
  if (!std::regex_search(header, m, descr_re)) throw Error(str_cat(file, ": .npy header has no 'descr'"));
  const DType dt = dtype_from_descr(m[1].str(), file);
  if (!std::regex_search(header, m, fortran_re))
    throw Error(str_cat(file, ": .npy header has no 'fortran_order'"));
  if (m[1].str() == "True")
    throw Error(str_cat(file, ": Fortran-ordered arrays are not supported; save with np.ascontiguousarray"));
  if (!std::regex_search(header, m, shape_re)) throw Error(str_cat(file, ": .npy header has no 'shape'"));
  Shape shape;
  const std::string dims = m[1].str();
  static const std::regex num_re(R"(\s*(-?\d+)\s*(,|$))");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num_re); it != std::sregex_iterator(); ++it) {
    const std::string num = (*it)[1].str();
    if (num.size() > 18) throw Error(str_cat(file, ": .npy dimension ", num, " is too large"));
    shape.push_back(std::stoll(num));
  }
  Tensor t(dt, shape);  // checks negative dims and overflow
  const size_t data_start = header_start + header_len;
  const size_t have = bytes.size() - data_start;
  if (have != t.nbytes())
    throw Error(str_cat(file, ": holds ", have, " bytes of data but shape ", shape_str(shape), " of ",
                        dtype_short_name(dt), " needs ", t.nbytes()));
  if (t.nbytes()) std::memcpy(t.raw(), bytes.data() + data_start, t.nbytes());
  if (dt == DType::Bool) {
    const uint8_t* p = static_cast<const uint8_t*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i)
      if (p[i] > 1) throw Error(str_cat(file, ": bool element ", i, " has value ", int(p[i])));
  }
  return t;
}

Tensor load_npy(const std::string& path) { return parse_npy(read_file(path), path); }

std::string serialize_npy(const Tensor& t) {
  std::string header = "{'descr': '" + descr_for(t.dtype()) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < t.rank(); ++i) header += std::to_string(t.dim(i)) + ", ";
  if (t.rank() > 1) header.resize(header.size() - 2);
  else if (t.rank() == 1) header.resize(header.size() - 1);
  header += "), }";
  // Pad with spaces so that the data starts on a 64-byte boundary; end with a newline.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>((header.size() >> 8) & 0xFF);
  out += header;
  out.append(static_cast<const char*>(t.raw()), t.nbytes());
  return out;
}

void save_npy(const Tensor& t, const std::string& path) { write_file_atomic(path, serialize_npy(t)); }

}  // namespace octet
