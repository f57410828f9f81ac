#include "io/npy.h"

#include <algorithm>
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

namespace {

// Reads up to n bytes, fewer only at the end of the stream; returns the count.
size_t read_full(const NpyReader& read, void* dst, size_t n) {
  size_t got = 0;
  while (got < n) {
    const size_t r = read(static_cast<char*>(dst) + got, n - got);
    if (r == 0) break;
    got += r;
  }
  return got;
}

// The header dictionary; grows only as the stream delivers bytes, so a header length field of
// gigabytes in a short file costs nothing.
std::string read_header(const NpyReader& read, size_t header_len, const std::string& file) {
  std::string header;
  while (header.size() < header_len) {
    const size_t want = std::min<size_t>(header_len - header.size(), size_t{1} << 16);
    const size_t at = header.size();
    header.resize(at + want);
    const size_t got = read_full(read, header.data() + at, want);
    header.resize(at + got);
    if (got < want) throw Error(str_cat(file, ": truncated .npy header"));
  }
  return header;
}

}  // namespace

Tensor read_npy(const NpyReader& read, const std::string& file) {
  unsigned char prefix[12];
  const size_t got = read_full(read, prefix, 10);
  if (got < 10 || std::memcmp(prefix, "\x93NUMPY", 6) != 0) throw Error(str_cat(file, ": not a .npy file (bad magic)"));
  const uint8_t major = prefix[6];
  size_t header_len;
  if (major == 1) {
    header_len = prefix[8] | (prefix[9] << 8);
  } else if (major == 2 || major == 3) {
    if (read_full(read, prefix + 10, 2) < 2) throw Error(str_cat(file, ": truncated .npy header"));
    header_len = 0;
    for (int i = 0; i < 4; ++i) header_len |= static_cast<size_t>(prefix[8 + i]) << (8 * i);
  } else {
    throw Error(str_cat(file, ": unsupported .npy format version ", int(major)));
  }
  const std::string header = read_header(read, header_len, file);

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
  // Checks negative dimensions and overflow. Every byte is overwritten by the data below or the
  // tensor is dropped with an error, so no zero fill first.
  Tensor t(dt, shape, Tensor::Uninitialized{});
  // The data straight into the tensor, then one probe for bytes past what the shape needs (all
  // counted, for the message).
  size_t have = read_full(read, t.raw(), t.nbytes());
  if (have == t.nbytes()) {
    char rest[4096];
    for (size_t r; (r = read_full(read, rest, sizeof rest)) > 0;) have += r;
  }
  if (have != t.nbytes())
    throw Error(str_cat(file, ": holds ", have, " bytes of data but shape ", shape_str(shape), " of ",
                        dtype_short_name(dt), " needs ", t.nbytes()));
  if (dt == DType::Bool) {
    const uint8_t* p = static_cast<const uint8_t*>(t.raw());
    for (int64_t i = 0; i < t.numel(); ++i)
      if (p[i] > 1) throw Error(str_cat(file, ": bool element ", i, " has value ", int(p[i])));
  }
  return t;
}

Tensor parse_npy(const std::string& bytes, const std::string& file) {
  size_t at = 0;
  return read_npy(
      [&](void* dst, size_t n) {
        const size_t k = std::min(n, bytes.size() - at);
        std::memcpy(dst, bytes.data() + at, k);
        at += k;
        return k;
      },
      file);
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
