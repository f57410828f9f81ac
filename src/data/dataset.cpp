#include "data/dataset.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <unordered_set>

#include "data/image_folder.h"
#include "ir/file_util.h"

namespace octet::data {

std::vector<std::string> Dataset::class_names() const {
  std::vector<std::string> names;
  for (int64_t c = 0; c < num_classes(); ++c) names.push_back(std::to_string(c));
  return names;
}

InMemoryDataset::InMemoryDataset(std::string name, Tensor samples, std::vector<int64_t> labels,
                                 std::vector<std::string> class_names)
    : name_(std::move(name)), samples_(std::move(samples)), labels_(std::move(labels)),
      class_names_(std::move(class_names)) {
  if (samples_.dtype() != DType::Float32 && samples_.dtype() != DType::UInt8)
    throw Error(str_cat(name_, ": samples are ", dtype_short_name(samples_.dtype()),
                        ", expected float32 or uint8"));
  if (samples_.rank() < 1)
    throw Error(str_cat(name_, ": samples must have a leading sample dimension, got shape ",
                        shape_str(samples_.shape())));
  if (samples_.dim(0) != static_cast<int64_t>(labels_.size()))
    throw Error(str_cat(name_, ": ", samples_.dim(0), " samples but ", labels_.size(),
                        " labels (the counts must agree)"));
  if (class_names_.empty()) throw Error(str_cat(name_, ": no classes"));
  for (size_t i = 0; i < labels_.size(); ++i)
    if (labels_[i] < 0 || labels_[i] >= static_cast<int64_t>(class_names_.size()))
      throw Error(str_cat(name_, ": label ", labels_[i], " of sample ", i, " is out of range 0..",
                          class_names_.size() - 1));
}

InMemoryDataset::InMemoryDataset(std::string name, Tensor samples)
    : name_(std::move(name)), samples_(std::move(samples)) {
  if (samples_.dtype() != DType::Float32 && samples_.dtype() != DType::UInt8)
    throw Error(str_cat(name_, ": samples are ", dtype_short_name(samples_.dtype()),
                        ", expected float32 or uint8"));
  if (samples_.rank() < 1)
    throw Error(str_cat(name_, ": samples must have a leading sample dimension, got shape ",
                        shape_str(samples_.shape())));
  labels_.assign(static_cast<size_t>(samples_.dim(0)), kNoLabel);
}

Shape InMemoryDataset::sample_shape() const {
  return Shape(samples_.shape().begin() + 1, samples_.shape().end());
}

Batch InMemoryDataset::get(const std::vector<int64_t>& indices) const {
  Shape shape = samples_.shape();
  const int64_t n = size();
  const int64_t per_sample = shape_numel(sample_shape());
  shape[0] = static_cast<int64_t>(indices.size());
  Batch b{Tensor(DType::Float32, shape), Tensor(DType::Int64, {shape[0]})};
  float* dst = b.inputs.data<float>();
  int64_t* lab = b.labels.data<int64_t>();
  for (size_t k = 0; k < indices.size(); ++k) {
    const int64_t i = indices[k];
    if (i < 0 || i >= n)
      throw Error(str_cat(name_, ": sample index ", i, " is out of range 0..", n - 1));
    float* out = dst + static_cast<int64_t>(k) * per_sample;
    if (samples_.dtype() == DType::UInt8) {
      const uint8_t* src = samples_.data<uint8_t>() + i * per_sample;
      for (int64_t j = 0; j < per_sample; ++j) out[j] = static_cast<float>(src[j]) / 255.f;
    } else {
      std::memcpy(out, samples_.data<float>() + i * per_sample,
                  static_cast<size_t>(per_sample) * sizeof(float));
    }
    lab[k] = labels_[static_cast<size_t>(i)];
  }
  return b;
}

std::string fashion_mnist_dir() {
  const char* env = std::getenv("OCTET_FASHION_MNIST_DIR");
  if (env && *env) return env;
  return "/usr/share/datasets/fashion-mnist";
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool is_default(const ImageOptions& o) {
  const ImageOptions d;
  return o.height == d.height && o.width == d.width && o.resize == d.resize && o.channels == d.channels &&
         o.mean == d.mean && o.std == d.std && o.layout == d.layout;
}

// Options are only meaningful for image folders; silently dropping them would evaluate a
// different preprocessing than the one asked for.
void check_no_image_options(const std::string& spec, const ImageOptions& o) {
  if (!is_default(o))
    throw Error(str_cat("data set '", spec, "': image options (size, channels, mean, std, layout, resize) ",
                        "were given, but it is not an image folder"));
}

}  // namespace

std::unique_ptr<Dataset> open_dataset(const std::string& spec) { return open_dataset(spec, ImageOptions{}); }

std::unique_ptr<Dataset> open_dataset(const std::string& spec, const ImageOptions& image_options) {
  const std::string fm = "fashion-mnist";
  const std::string images = "images:";
  if (spec.rfind(images, 0) == 0) {
    // "images:DIR?OPTIONS": the options follow the last '?', unless DIR itself names a folder.
    std::string dir = spec.substr(images.size());
    ImageOptions options = image_options;
    const size_t q = dir.rfind('?');
    if (q != std::string::npos && !is_directory(dir)) {
      try {
        options = parse_image_options(dir.substr(q + 1), image_options);
      } catch (const Error& e) {
        throw Error(str_cat("data set '", spec, "': ", e.what()));
      }
      dir = dir.substr(0, q);
    }
    if (dir.empty()) throw Error(str_cat("data set '", spec, "': empty folder name (use images:DIR)"));
    return open_image_folder(dir, options);
  }
  if (spec == fm || spec.rfind(fm + ":", 0) == 0 || spec.rfind("npy:", 0) == 0 || spec.rfind("npz:", 0) == 0)
    check_no_image_options(spec, image_options);
  if (spec == fm) return open_fashion_mnist(fashion_mnist_dir(), "test");
  if (spec.rfind(fm + ":", 0) == 0) {
    std::string split = spec.substr(fm.size() + 1);
    if (split != "train" && split != "test")
      throw Error(str_cat("data set '", spec, "': unknown split '", split,
                          "' (use fashion-mnist:train or fashion-mnist:test)"));
    return open_fashion_mnist(fashion_mnist_dir(), split);
  }
  if (spec.rfind("npy:", 0) == 0) return open_npy_folder(spec.substr(4));
  if (spec.rfind("npz:", 0) == 0) return open_npz(spec.substr(4));
  if (is_directory(spec)) {
    if (looks_like_image_folder(spec)) return open_image_folder(spec, image_options);
    check_no_image_options(spec, image_options);
    return open_npy_folder(spec);
  }
  check_no_image_options(spec, image_options);
  if (ends_with(spec, ".npz")) return open_npz(spec);
  if (file_exists(spec))
    throw Error(str_cat("data set '", spec, "' is a file; give a folder of .npy samples (npy:DIR or DIR), ",
                        "a folder of images (images:DIR) or an .npz file (npz:FILE)"));
  throw Error(str_cat("data set '", spec, "': no such folder, and not a known data set (use ",
                      "fashion-mnist, fashion-mnist:train, fashion-mnist:test, npy:DIR, npz:FILE, ",
                      "images:DIR or a folder)"));
}

std::vector<int64_t> random_subset(int64_t size, int64_t n, uint32_t seed) {
  if (size < 0 || n < 0)
    throw Error(str_cat("random subset: size ", size, " and count ", n, " must not be negative"));
  std::vector<int64_t> out;
  if (n >= size) {
    out.reserve(static_cast<size_t>(size));
    for (int64_t i = 0; i < size; ++i) out.push_back(i);
    return out;
  }
  std::mt19937_64 rng(seed);
  // Uniform in [0, bound] by rejection: accept only draws below `limit`, a multiple of
  // (bound + 1), so every residue is equally likely.
  auto uniform_to = [&rng](uint64_t bound) -> uint64_t {
    const uint64_t range = bound + 1;  // bound < 2^63, no overflow
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t r;
    do r = rng();
    while (r >= limit);
    return r % range;
  };
  // Membership: a bitmap while it is small (8 MiB at most), else a hash set of the n picks.
  // Either gives the same picks; only speed and memory differ.
  constexpr int64_t kBitmapMax = int64_t{1} << 26;
  std::vector<bool> bitmap(size <= kBitmapMax ? static_cast<size_t>(size) : 0);
  std::unordered_set<int64_t> hashed;
  if (size > kBitmapMax) hashed.reserve(static_cast<size_t>(n));
  auto take = [&](int64_t i) {  // false if already taken
    if (size <= kBitmapMax) {
      if (bitmap[static_cast<size_t>(i)]) return false;
      bitmap[static_cast<size_t>(i)] = true;
      return true;
    }
    return hashed.insert(i).second;
  };
  out.reserve(static_cast<size_t>(n));
  for (int64_t j = size - n; j < size; ++j) {
    const int64_t t = static_cast<int64_t>(uniform_to(static_cast<uint64_t>(j)));
    if (take(t)) {
      out.push_back(t);
    } else {
      take(j);  // j is new: every earlier pick is below j
      out.push_back(j);
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace octet::data
