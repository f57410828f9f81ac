// A folder of .npy samples: one file per sample with labels.txt, or inputs.npy + labels.npy.
// The formats and rules are documented at open_npy_folder in data/dataset.h.
#include <dirent.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <sstream>

#include "data/dataset.h"
#include "io/npy.h"
#include "ir/file_util.h"

namespace octet::data {

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// Strict non-negative decimal integer (no sign, no trailing junk, no overflow).
bool parse_label(const std::string& s, int64_t& out) {
  if (s.empty() || s.size() > 18) return false;
  out = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    out = out * 10 + (c - '0');
  }
  return true;
}

void check_sample_dtype(const Tensor& t, const std::string& path) {
  if (t.dtype() != DType::Float32 && t.dtype() != DType::UInt8)
    throw Error(str_cat(path, ": samples must be float32 or uint8 (uint8 is scaled by 1/255), got ",
                        dtype_short_name(t.dtype()), " (save with .astype(np.float32))"));
}

void check_finite(const float* p, int64_t n, const std::string& path) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i]))
      throw Error(str_cat(path, ": sample value ", p[i], " at element ", i, " is not finite"));
}

// classes.txt: one name per non-blank line; empty when the file is absent.
std::vector<std::string> read_classes(const std::string& dir) {
  std::vector<std::string> names;
  const std::string path = join_path(dir, "classes.txt");
  if (!file_exists(path)) return names;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (!line.empty()) names.push_back(line);
  }
  if (names.empty()) throw Error(str_cat(path, ": lists no classes"));
  return names;
}

// The class names for `labels`: classes.txt if given (labels checked against it), else "0".."max".
std::vector<std::string> class_names_for(const std::string& dir, const std::vector<int64_t>& labels,
                                         const std::string& label_source) {
  std::vector<std::string> names = read_classes(dir);
  if (!names.empty()) {
    for (size_t i = 0; i < labels.size(); ++i)
      if (labels[i] >= static_cast<int64_t>(names.size()))
        throw Error(str_cat(label_source, ": label ", labels[i], " of sample ", i, " is out of range 0..",
                            names.size() - 1, " (", join_path(dir, "classes.txt"), " lists ",
                            names.size(), " classes)"));
    return names;
  }
  // Without classes.txt the class count is inferred; a huge label is a broken file, not a
  // request for a million-entry name list.
  constexpr int64_t kMaxInferredClasses = 1000000;
  int64_t max_label = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] >= kMaxInferredClasses)
      throw Error(str_cat(label_source, ": label ", labels[i], " of sample ", i, " is out of range 0..",
                          kMaxInferredClasses - 1, " (list the classes in classes.txt for more)"));
    max_label = std::max(max_label, labels[i]);
  }
  for (int64_t c = 0; c <= max_label; ++c) names.push_back(std::to_string(c));
  return names;
}

std::unique_ptr<Dataset> open_pair(const std::string& dir) {
  const std::string in_path = join_path(dir, "inputs.npy");
  const std::string lab_path = join_path(dir, "labels.npy");
  if (!file_exists(in_path))
    throw Error(str_cat(in_path, ": missing (", lab_path, " needs inputs.npy beside it)"));
  if (!file_exists(lab_path))
    throw Error(str_cat(lab_path, ": missing (", in_path, " needs labels.npy beside it)"));
  Tensor inputs = load_npy(in_path);
  Tensor labels = load_npy(lab_path);
  check_sample_dtype(inputs, in_path);
  if (inputs.rank() < 1)
    throw Error(str_cat(in_path, ": must be [N, ...] with one row per sample, got a scalar"));
  if (inputs.dim(0) == 0) throw Error(str_cat(in_path, ": holds no samples"));
  if (!dtype_is_integer(labels.dtype()))
    throw Error(str_cat(lab_path, ": labels must be integers (int64), got ", dtype_short_name(labels.dtype())));
  if (labels.rank() != 1)
    throw Error(str_cat(lab_path, ": labels must be one-dimensional [N], got shape ", shape_str(labels.shape())));
  if (labels.dim(0) != inputs.dim(0))
    throw Error(str_cat(in_path, " has ", inputs.dim(0), " samples but ", lab_path, " has ",
                        labels.dim(0), " labels (the counts must agree)"));
  if (inputs.dtype() == DType::Float32) check_finite(inputs.data<float>(), inputs.numel(), in_path);
  std::vector<int64_t> lab(static_cast<size_t>(labels.numel()));
  for (int64_t i = 0; i < labels.numel(); ++i) {
    const double v = labels.get_as_double(i);
    if (v < 0)
      throw Error(str_cat(lab_path, ": label ", static_cast<int64_t>(v), " of sample ", i,
                          " is negative (labels are class indices from 0)"));
    if (v > 1e15) throw Error(str_cat(lab_path, ": label ", v, " of sample ", i, " is out of range (too large)"));
    lab[static_cast<size_t>(i)] = static_cast<int64_t>(v);
  }
  auto classes = class_names_for(dir, lab, lab_path);
  return std::make_unique<InMemoryDataset>("npy:" + dir, std::move(inputs), std::move(lab), std::move(classes));
}

std::unique_ptr<Dataset> open_listed(const std::string& dir, const std::vector<std::string>& entries) {
  const std::string list_path = join_path(dir, "labels.txt");
  std::istringstream in(read_file(list_path));
  std::vector<std::string> files;
  std::vector<int64_t> labels;
  std::map<std::string, int> line_of;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = str_cat(list_path, ":", line_no);
    std::istringstream fields(line);
    std::string name, label_text, extra;
    fields >> name >> label_text;
    if (label_text.empty() || (fields >> extra))
      throw Error(str_cat(where, ": expected '<file name> <label>', got '", line, "'"));
    int64_t label = 0;
    if (!parse_label(label_text, label))
      throw Error(str_cat(where, ": label '", label_text, "' is not a non-negative integer"));
    if (name[0] == '/')
      throw Error(str_cat(where, ": file name '", name, "' must be relative to the folder"));
    auto [it, fresh] = line_of.emplace(name, line_no);
    if (!fresh)
      throw Error(str_cat(where, ": '", name, "' is listed twice (also on line ", it->second, ")"));
    files.push_back(name);
    labels.push_back(label);
  }
  if (files.empty()) throw Error(str_cat(list_path, ": lists no samples"));
  for (const auto& e : entries)
    if (ends_with(e, ".npy") && !line_of.count(e))
      throw Error(str_cat(join_path(dir, e), ": sample file has no line in ", list_path));

  // Load every sample, checking that all share the first one's shape and dtype.
  Tensor all;
  Shape sample_shape;
  DType dtype = DType::Undefined;
  std::string first_path;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string path = join_path(dir, files[i]);
    if (!file_exists(path))
      throw Error(str_cat(path, ": missing (listed on line ", line_of[files[i]], " of ", list_path, ")"));
    Tensor t = load_npy(path);
    check_sample_dtype(t, path);
    if (i == 0) {
      sample_shape = t.shape();
      dtype = t.dtype();
      first_path = path;
      Shape full = {static_cast<int64_t>(files.size())};
      full.insert(full.end(), sample_shape.begin(), sample_shape.end());
      shape_numel(full);  // throws on overflow
      all = Tensor(dtype, full);
    } else if (t.shape() != sample_shape || t.dtype() != dtype) {
      throw Error(str_cat(path, ": sample is ", dtype_short_name(t.dtype()), shape_str(t.shape()), " but ",
                          first_path, " is ", dtype_short_name(dtype), shape_str(sample_shape),
                          " (all samples must have one shape and dtype)"));
    }
    if (dtype == DType::Float32) check_finite(t.data<float>(), t.numel(), path);
    std::memcpy(static_cast<uint8_t*>(all.raw()) + i * t.nbytes(), t.raw(), t.nbytes());
  }
  auto classes = class_names_for(dir, labels, list_path);
  return std::make_unique<InMemoryDataset>("npy:" + dir, std::move(all), std::move(labels), std::move(classes));
}

}  // namespace

std::unique_ptr<Dataset> open_npy_folder(const std::string& dir) {
  if (dir.empty()) throw Error("npy data set: empty folder name (use npy:DIR)");
  if (!is_directory(dir)) {
    if (file_exists(dir)) throw Error(str_cat(dir, ": is a file; an npy data set is a folder"));
    throw Error(str_cat(dir, ": data set folder does not exist"));
  }
  const std::vector<std::string> entries = list_directory(dir);
  if (entries.empty()) throw Error(str_cat(dir, ": data set folder is empty"));
  auto has = [&](const char* n) { return std::find(entries.begin(), entries.end(), n) != entries.end(); };
  const bool listed = has("labels.txt");
  const bool pair = has("inputs.npy") || has("labels.npy");
  if (listed && pair)
    throw Error(str_cat(dir, ": holds both labels.txt and inputs.npy/labels.npy; keep one form"));
  if (pair) return open_pair(dir);
  if (listed) return open_listed(dir, entries);
  throw Error(str_cat(dir, ": no labels.txt (\"<file name> <label>\" per sample) and no ",
                      "inputs.npy + labels.npy pair"));
}

}  // namespace octet::data
