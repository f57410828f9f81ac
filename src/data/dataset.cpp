#include "data/dataset.h"

#include <cstdlib>
#include <cstring>

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

std::unique_ptr<Dataset> open_dataset(const std::string& spec) {
  const std::string fm = "fashion-mnist";
  if (spec == fm) return open_fashion_mnist(fashion_mnist_dir(), "test");
  if (spec.rfind(fm + ":", 0) == 0) {
    std::string split = spec.substr(fm.size() + 1);
    if (split != "train" && split != "test")
      throw Error(str_cat("data set '", spec, "': unknown split '", split,
                          "' (use fashion-mnist:train or fashion-mnist:test)"));
    return open_fashion_mnist(fashion_mnist_dir(), split);
  }
  if (spec.rfind("npy:", 0) == 0) return open_npy_folder(spec.substr(4));
  if (is_directory(spec)) return open_npy_folder(spec);
  if (file_exists(spec))
    throw Error(str_cat("data set '", spec, "' is a file; give a folder of .npy samples (npy:DIR or DIR)"));
  throw Error(str_cat("data set '", spec, "': no such folder, and not a known data set (use ",
                      "fashion-mnist, fashion-mnist:train, fashion-mnist:test, npy:DIR or a folder)"));
}

}  // namespace octet::data
