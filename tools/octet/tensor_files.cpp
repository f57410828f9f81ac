#include <cctype>

#include "io/npy.h"
#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "tools/octet/commands.h"

namespace octet::cli {

Tensor load_tensor_file(const std::string& path) {
  auto ends_with = [&](const char* ext) {
    std::string e(ext);
    return path.size() >= e.size() && path.compare(path.size() - e.size(), e.size(), e) == 0;
  };
  if (ends_with(".npy")) return load_npy(path);
  if (ends_with(".pb")) return load_tensor_pb(path);
  const std::string bytes = read_file(path);
  if (bytes.compare(0, 6, "\x93NUMPY") == 0) return parse_npy(bytes, path);
  throw Error(str_cat(path, ": unknown tensor file type; use .npy or an ONNX TensorProto .pb"));
}

std::string safe_file_name(const std::string& name) {
  std::string out;
  for (char c : name)
    out += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  if (out.empty() || out[0] == '.') out = "_" + out;
  return out;
}

}  // namespace octet::cli
