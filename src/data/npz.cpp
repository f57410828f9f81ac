// numpy .npz archives as data sets. The format and the rules are documented at open_npz in
// data/dataset.h.
#include <zip.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <map>
#include <memory>

#include "data/dataset.h"
#include "io/npy.h"
#include "ir/file_util.h"
#include "kernels/avx2/eltwise_avx2.h"

namespace octet::data {

namespace {

// Without a class list the class count is inferred from the labels; a huge label is a broken
// file, not a request for a million-entry name list (the same bound as npy folders).
constexpr int64_t kMaxInferredClasses = 1000000;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string zip_error_text(int code) {
  zip_error_t e;
  zip_error_init_with_code(&e, code);
  std::string text = zip_error_strerror(&e);
  zip_error_fini(&e);
  return text;
}

struct ZipArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }  // opened read-only: nothing to write back
};
struct ZipMemberCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};
using ZipArchive = std::unique_ptr<zip_t, ZipArchiveCloser>;
using ZipMember = std::unique_ptr<zip_file_t, ZipMemberCloser>;

// An open archive and its members: array name (member name without ".npy") -> entry index.
struct Npz {
  std::string path;
  ZipArchive zip;
  std::map<std::string, zip_uint64_t> members;

  std::string member_label(const std::string& array) const { return str_cat(path, ":", array, ".npy"); }

  // Reads and parses one member, its data straight into the tensor. The declared size is not
  // trusted (the archive is untrusted input): the member is read until libzip reports its end,
  // and libzip checks the CRC there, so a corrupt member is an Error rather than a wrong tensor.
  Tensor read(const std::string& array) const {
    const std::string where = member_label(array);
    const zip_uint64_t index = members.at(array);
    ZipMember f(zip_fopen_index(zip.get(), index, 0));
    if (!f) throw Error(str_cat(where, ": cannot open the member: ", zip_strerror(zip.get())));
    return read_npy(
        [&](void* dst, size_t n) {
          const zip_int64_t got = zip_fread(f.get(), dst, n);
          if (got < 0) throw Error(str_cat(where, ": cannot read the member: ", zip_file_strerror(f.get())));
          return static_cast<size_t>(got);
        },
        where);
  }
};

Npz open_archive(const std::string& path) {
  if (path.empty()) throw Error("npz data set: empty file name (use npz:FILE.npz)");
  if (is_directory(path)) throw Error(str_cat(path, ": is a folder; an npz data set is one .npz file"));
  if (!file_exists(path)) throw Error(str_cat(path, ": npz file does not exist"));
  int code = 0;
  ZipArchive zip(zip_open(path.c_str(), ZIP_RDONLY, &code));
  if (!zip) {
    if (code == ZIP_ER_NOZIP)
      throw Error(str_cat(path, ": not a zip archive (an .npz file is a zip of .npy files, as numpy.savez writes)"));
    throw Error(str_cat(path, ": cannot open as a zip archive: ", zip_error_text(code)));
  }
  Npz npz{path, std::move(zip), {}};
  const zip_int64_t count = zip_get_num_entries(npz.zip.get(), 0);
  for (zip_int64_t i = 0; i < count; ++i) {
    const char* raw_name = zip_get_name(npz.zip.get(), static_cast<zip_uint64_t>(i), 0);
    if (!raw_name) throw Error(str_cat(path, ": cannot read the name of zip entry ", i, ": ", zip_strerror(npz.zip.get())));
    const std::string name = raw_name;
    if (!ends_with(name, ".npy") || name.size() == 4)
      throw Error(str_cat(path, ": member '", name, "' is not a .npy file (an .npz holds only .npy members)"));
    const std::string array = name.substr(0, name.size() - 4);
    if (!npz.members.emplace(array, static_cast<zip_uint64_t>(i)).second)
      throw Error(str_cat(path, ": member '", name, "' appears twice"));
  }
  return npz;
}

std::string array_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

// Float32 samples: float32 checked finite, uint8 kept (InMemoryDataset scales it), float64
// converted after checking every value is finite and within float32's range.
Tensor checked_samples(Tensor t, const std::string& where) {
  if (t.rank() < 1) throw Error(str_cat(where, ": samples must be [N, ...] with one row per sample, got a scalar"));
  if (t.dim(0) == 0) throw Error(str_cat(where, ": holds no samples"));
  if (t.dtype() == DType::UInt8) return t;
  if (t.dtype() == DType::Float32) {
    const float* p = t.data<float>();
    float lo, hi;
    const int64_t bad = kernels::minmax_finite_f32_best(p, t.numel(), &lo, &hi);
    if (bad >= 0) throw Error(str_cat(where, ": sample value ", p[bad], " at element ", bad, " is not finite"));
    return t;
  }
  if (t.dtype() == DType::Float64) {
    Tensor out(DType::Float32, t.shape());
    const double* src = t.data<double>();
    float* dst = out.data<float>();
    for (int64_t i = 0; i < t.numel(); ++i) {
      if (!std::isfinite(src[i]))
        throw Error(str_cat(where, ": sample value ", src[i], " at element ", i, " is not finite"));
      if (std::fabs(src[i]) > static_cast<double>(FLT_MAX))
        throw Error(str_cat(where, ": float64 sample value ", src[i], " at element ", i,
                            " is outside float32's range (samples are converted to float32)"));
      dst[i] = static_cast<float>(src[i]);
    }
    return out;
  }
  throw Error(str_cat(where, ": samples must be float32, uint8 (scaled by 1/255) or float64, got ",
                      dtype_short_name(t.dtype())));
}

std::vector<int64_t> checked_labels(const Tensor& t, int64_t num_samples, const std::string& where,
                                    const std::string& samples_where) {
  if (!dtype_is_integer(t.dtype()))
    throw Error(str_cat(where, ": labels must be integers (int64), got ", dtype_short_name(t.dtype())));
  if (t.rank() != 1)
    throw Error(str_cat(where, ": labels must be one-dimensional [N], got shape ", shape_str(t.shape())));
  if (t.dim(0) != num_samples)
    throw Error(str_cat(samples_where, " has ", num_samples, " samples but ", where, " has ", t.dim(0),
                        " labels (the counts must agree)"));
  std::vector<int64_t> labels(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = t.get_as_double(i);  // exact for every integer below 2^53, which covers the bound
    if (v < 0)
      throw Error(str_cat(where, ": label ", static_cast<int64_t>(v), " of sample ", i,
                          " is negative (labels are class indices from 0)"));
    if (v >= static_cast<double>(kMaxInferredClasses))
      throw Error(str_cat(where, ": label ", static_cast<uint64_t>(v), " of sample ", i, " is out of range 0..",
                          kMaxInferredClasses - 1));
    labels[static_cast<size_t>(i)] = static_cast<int64_t>(v);
  }
  return labels;
}

}  // namespace

std::unique_ptr<Dataset> open_npz(const std::string& path) {
  Npz npz = open_archive(path);
  auto has = [&](const char* n) { return npz.members.count(n) != 0; };
  const std::string labels_name = has("labels") ? "labels" : has("y") ? "y" : "";
  std::string samples_name;
  if (has("inputs")) {
    samples_name = "inputs";
  } else if (has("x")) {
    samples_name = "x";
  } else {
    std::vector<std::string> candidates;
    for (const auto& [array, index] : npz.members)
      if (array != labels_name) candidates.push_back(array);
    if (candidates.empty())
      throw Error(str_cat(path, ": no sample array (expected 'inputs', 'x' or one array besides the labels",
                          labels_name.empty() ? "" : str_cat(" array '", labels_name, "'"), ")"));
    if (candidates.size() > 1)
      throw Error(str_cat(path, ": several candidate sample arrays (", array_list(candidates),
                          "); name the samples 'inputs' or 'x'"));
    samples_name = candidates.front();
  }
  const std::string samples_where = npz.member_label(samples_name);
  Tensor samples = checked_samples(npz.read(samples_name), samples_where);
  const std::string name = "npz:" + path;
  if (labels_name.empty()) return std::make_unique<InMemoryDataset>(name, std::move(samples));

  const std::string labels_where = npz.member_label(labels_name);
  std::vector<int64_t> labels = checked_labels(npz.read(labels_name), samples.dim(0), labels_where, samples_where);
  const int64_t max_label = *std::max_element(labels.begin(), labels.end());
  std::vector<std::string> classes;
  for (int64_t c = 0; c <= max_label; ++c) classes.push_back(std::to_string(c));
  return std::make_unique<InMemoryDataset>(name, std::move(samples), std::move(labels), std::move(classes));
}

}  // namespace octet::data
