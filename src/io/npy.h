// NumPy .npy files (format versions 1.0, 2.0 and 3.0), the way octet exchanges tensors with
// Python tools. Little-endian numeric and bool types; C order only.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "ir/tensor.h"

namespace octet {

// Throws Error naming the file for a bad magic, malformed header, unsupported dtype
// (big-endian, object, structured), Fortran order, or data shorter/longer than the shape needs.
Tensor load_npy(const std::string& path);
Tensor parse_npy(const std::string& bytes, const std::string& display_name);
// The same from a stream: read(dst, n) copies up to n bytes into dst and returns how many, 0 only
// at the end. The data goes straight into the tensor's memory (no copy of the whole file first);
// a tensor is returned only after the stream has been read to its end (so trailing bytes are an
// error, as in parse_npy, and a zip member's CRC has been checked), an error may stop earlier.
using NpyReader = std::function<size_t(void* dst, size_t n)>;
Tensor read_npy(const NpyReader& read, const std::string& display_name);
// Writes atomically (no partial file on failure). FLOAT16 is written as '<f2'; BFLOAT16, INT4 and
// UINT4 have no numpy type and are rejected.
void save_npy(const Tensor& t, const std::string& path);
std::string serialize_npy(const Tensor& t);

}  // namespace octet
