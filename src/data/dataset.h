// Labelled data sets behind one interface, named by a spec string shared by `octet eval`,
// `octet train` and (later) calibration:
//   fashion-mnist[:train|:test]   Debian's dataset-fashion-mnist IDX files (default split: test)
//   npy:DIR  or  DIR              a folder of .npy samples with a labels file (see NpyFolderDataset)
// Samples are float32 tensors; for the zoo's contract, [1,28,28] with pixels scaled to [0,1].
//
// Every data set here is read whole into memory when it is opened (Fashion-MNIST's training split
// is 47 MB of uint8 pixels), so every file is validated before the first batch and a bad file is
// reported up front, not halfway through an evaluation.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace octet::data {

struct Batch {
  Tensor inputs;  // float32 [B, ...sample_shape]
  Tensor labels;  // int64 [B]
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::string name() const = 0;
  virtual int64_t size() const = 0;
  virtual Shape sample_shape() const = 0;  // without the batch dim
  virtual int64_t num_classes() const = 0;
  // Gathers the samples at `indices` (each in [0, size())) into one batch.
  virtual Batch get(const std::vector<int64_t>& indices) const = 0;
  // One name per class, num_classes() of them; "0", "1", ... where the data set has none.
  virtual std::vector<std::string> class_names() const;
};

// Opens a data set by spec; throws Error naming the spec/path and what is wrong (missing files,
// image and label counts that disagree, labels out of range, samples of mixed shapes).
std::unique_ptr<Dataset> open_dataset(const std::string& spec);

// Folder where Debian's dataset-fashion-mnist installs its files; OCTET_FASHION_MNIST_DIR
// overrides it (tests point it at small generated files).
std::string fashion_mnist_dir();

// Samples held in memory as one [N, ...sample_shape] tensor of float32 or uint8; uint8 samples are
// scaled by 1/255 when a batch is gathered (so pixels land in [0,1]). Both file formats below
// load into this, and tests and `octet train` can build one directly.
class InMemoryDataset : public Dataset {
 public:
  // `samples`: float32 or uint8 [N, ...]; `labels`: N values in [0, class_names.size()).
  // Throws Error (prefixed with `name`) if the counts disagree or a label is out of range.
  InMemoryDataset(std::string name, Tensor samples, std::vector<int64_t> labels,
                  std::vector<std::string> class_names);

  std::string name() const override { return name_; }
  int64_t size() const override { return static_cast<int64_t>(labels_.size()); }
  Shape sample_shape() const override;
  int64_t num_classes() const override { return static_cast<int64_t>(class_names_.size()); }
  Batch get(const std::vector<int64_t>& indices) const override;
  std::vector<std::string> class_names() const override { return class_names_; }
  const std::vector<int64_t>& labels() const { return labels_; }

 private:
  std::string name_;
  Tensor samples_;
  std::vector<int64_t> labels_;
  std::vector<std::string> class_names_;
};

// Fashion-MNIST from `dir`: for split "train", train-images-idx3-ubyte.gz and
// train-labels-idx1-ubyte.gz; for "test", t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.
// Each file may also be present uncompressed (the same name without ".gz"). IDX format: big-endian
// magic 0x00000803 (images) / 0x00000801 (labels), then the dims as big-endian uint32, then one
// unsigned byte per pixel / label. Checks: magic numbers, dims (rows and columns in 1..4096),
// exact file lengths (truncated or trailing data), equal image and label counts, labels in 0..9.
// Samples are [1, rows, cols] (the zoo's [1,28,28]) with pixels / 255 in [0,1].
std::unique_ptr<Dataset> open_fashion_mnist(const std::string& dir, const std::string& split);

// A folder of .npy samples, in one of two forms:
//
// 1. One file per sample plus `labels.txt`, one line per sample:
//        <file name> <label>
//    e.g. "shirt_0001.npy 6". File names are relative to the folder and may not contain spaces;
//    the label is a non-negative integer. Blank lines and lines starting with '#' are ignored.
//    Samples keep the order of the lines. Every .npy file at the top of the folder must be listed,
//    each file at most once.
// 2. `inputs.npy` [N, ...] and `labels.npy` [N] (any integer dtype, usually int64).
//
// Samples are float32, or uint8 scaled by 1/255; all of one shape and one dtype; float samples
// must be finite. If the folder holds `classes.txt` (one class name per line, blank lines
// ignored), its line count is the number of classes and labels must be below it; otherwise the
// number of classes is the largest label + 1 (so give classes.txt when a small set may miss the
// last classes). Errors name the file and the rule: missing folder, empty folder, no labels file,
// both forms at once, unlisted or missing sample files, mixed shapes or dtypes, NaN/Inf samples,
// labels out of range, counts that disagree.
std::unique_ptr<Dataset> open_npy_folder(const std::string& dir);

}  // namespace octet::data
