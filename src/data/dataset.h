// Data sets behind one interface, named by a spec string shared by `octet eval`, `octet train`
// and calibration:
//   fashion-mnist[:train|:test]   Debian's dataset-fashion-mnist IDX files (default split: test)
//   npy:DIR  or  DIR              a folder of .npy samples with a labels file (see open_npy_folder)
//   npz:FILE  or  FILE.npz        one numpy .npz archive (see open_npz)
//   images:DIR[?OPTIONS]  or DIR  a folder of PNG/JPEG images (see open_image_folder and
//                                 ImageOptions; a plain DIR is an image folder when it holds
//                                 images and no labels.txt or .npy files)
// Samples are float32 tensors; for the zoo's contract, [1,28,28] with pixels scaled to [0,1].
//
// Labelled and unlabelled data sets: calibration needs no labels, so a data set may have none.
// An unlabelled data set has num_classes() == 0, an empty class_names(), and get() fills every
// label with kNoLabel (-1). Code that needs labels (evaluation, training) must check labelled().
// Unlabelled: .npz files without a labels array, and flat image folders (DIR/*.png).
//
// The IDX, .npy and .npz data sets are read whole into memory when they are opened (Fashion-MNIST's
// training split is 47 MB of uint8 pixels), so every file is validated before the first batch and a
// bad file is reported up front, not halfway through an evaluation. Image folders are the
// exception (a folder of ImageNet JPEGs does not fit in memory): every header is checked when the
// folder is opened, pixels are decoded in get().
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace octet::data {

// The label of every sample of an unlabelled data set.
constexpr int64_t kNoLabel = -1;

struct Batch {
  Tensor inputs;  // float32 [B, ...sample_shape]
  Tensor labels;  // int64 [B]; in [0, num_classes()), or all kNoLabel for an unlabelled data set
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::string name() const = 0;
  virtual int64_t size() const = 0;
  virtual Shape sample_shape() const = 0;  // without the batch dim
  // 0 for an unlabelled data set.
  virtual int64_t num_classes() const = 0;
  // Gathers the samples at `indices` (each in [0, size())) into one batch.
  virtual Batch get(const std::vector<int64_t>& indices) const = 0;
  // One name per class, num_classes() of them; "0", "1", ... where the data set has none.
  virtual std::vector<std::string> class_names() const;
  // False for an unlabelled data set (num_classes() == 0, every label kNoLabel).
  bool labelled() const { return num_classes() > 0; }
};

// Opens a data set by spec; throws Error naming the spec/path and what is wrong (missing files,
// image and label counts that disagree, labels out of range, samples of mixed shapes).
std::unique_ptr<Dataset> open_dataset(const std::string& spec);

// Preprocessing of an image folder (open_image_folder). Pixels are first scaled to [0,1]
// (8-bit value / 255), then converted to `channels`, resized, normalised, and laid out.
struct ImageOptions {
  // Output size. 0 and 0: keep the stored size, and every image must then have the size of the
  // first (Error naming the first file that differs). Both or neither must be set.
  int64_t height = 0, width = 0;
  // "bilinear": separable linear interpolation with half-pixel centres, antialiased when
  // shrinking (the triangle filter is widened by 1/scale and cut off at the image edges), which
  // is what PIL's Image.resize(BILINEAR) and torchvision's Resize(antialias=True) compute; here
  // in double, so it matches PIL on float ("F") images to float precision and PIL's 8-bit
  // output within 1 level (its rounding). "nearest": the pixel at floor((x + 0.5) * in / out),
  // like PIL's NEAREST. Both run on the reference Resize kernel (kernels/ref). There is no crop:
  // the image is stretched to height x width whatever its aspect ratio.
  std::string resize = "bilinear";
  // 1: gray, 3: RGB, 0: as stored (every image must then have the first one's channel count;
  // the error names the first file that differs). Alpha channels are dropped (not composited),
  // like PIL's convert("RGB"). Gray to RGB copies the gray value to all three channels; RGB to
  // gray is ITU-R BT.601 luma, 0.299 R + 0.587 G + 0.114 B, on the [0,1] values (PIL's
  // convert("L") uses the same weights but rounds to 8 bits).
  int64_t channels = 0;
  // Per channel, applied after scaling to [0,1]: (x - mean[c]) / std[c]. Empty: mean 0 / std 1.
  // Each must have one entry per output channel; std entries must be positive.
  std::vector<float> mean, std;
  // "nchw": samples are [C, H, W]; "nhwc": samples are [H, W, C].
  std::string layout = "nchw";
};

// Parses the OPTIONS of "images:DIR?OPTIONS" onto `base` (keys given override base's fields).
// Grammar: OPTIONS is KEY=VALUE pairs joined by '&', each key at most once:
//   size=HxW      output height and width, positive integers (size=N means NxN)
//   channels=C    1 or 3
//   mean=A,B,...  comma-separated floats, one per output channel
//   std=A,B,...   comma-separated positive floats, one per output channel
//   layout=L      nchw or nhwc
//   resize=R      bilinear or nearest
// e.g. images:DIR?size=224x224&channels=3&mean=0.485,0.456,0.406&std=0.229,0.224,0.225
// Throws Error naming the key for an unknown key, a repeated key, a missing '=' or a bad value.
// In a spec, OPTIONS start after the last '?', unless the whole "DIR?..." names a folder.
ImageOptions parse_image_options(const std::string& options, ImageOptions base = {});

// As open_dataset(spec), with preprocessing options for image folders ("images:DIR" or a plain
// folder of images). Options in the spec's "?OPTIONS" suffix override `image_options`. Options
// other than the defaults given for a data set that is not an image folder are an Error (they
// could not be honoured).
std::unique_ptr<Dataset> open_dataset(const std::string& spec, const ImageOptions& image_options);

// `n` distinct indices drawn from [0, size), sorted ascending, the same for the same (size, n,
// seed) on every platform. n >= size gives every index 0..size-1 in order; n == 0 gives none.
// Algorithm: Robert Floyd's sampling (Bentley & Floyd, "A sample of brilliance", CACM 1987):
// for j = size-n .. size-1, draw t uniform in [0, j]; take t unless already taken, else take j.
// Draws come from std::mt19937_64 seeded with `seed`, reduced to [0, j] by rejection sampling
// (not std::uniform_int_distribution, whose output differs between standard libraries): with
// m = j + 1, outputs r >= (2^64-1) - (2^64-1) mod m are discarded, and t = r mod m. O(n log n)
// time; memory O(n) plus a bitmap of `size` bits when size <= 2^26. Throws Error for a negative
// size or n.
std::vector<int64_t> random_subset(int64_t size, int64_t n, uint32_t seed);

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
  // An unlabelled data set: num_classes() == 0 and every label kNoLabel. Throws Error (prefixed
  // with `name`) for a dtype other than float32/uint8 or a scalar `samples`.
  InMemoryDataset(std::string name, Tensor samples);

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

// A numpy .npz archive (numpy.savez or numpy.savez_compressed: a zip of .npy members, stored or
// deflated). Array names are the member names without ".npy".
//   samples: the array "inputs"; else "x"; else the only array that is not the labels array.
//            float32, uint8 (scaled by 1/255) or float64 (converted to float32; every value must
//            be finite and within float32's range); [N, ...] with N >= 1; float values finite.
//   labels:  the array "labels"; else "y"; else none, and the data set is unlabelled. Any
//            integer dtype, [N] (one per sample), non-negative, below 1,000,000; the number of
//            classes is the largest label + 1.
// Other arrays are ignored (not parsed). Errors name the file and member: missing file, not a
// zip, a member that is not a .npy file (by name or content), no sample array, several candidate
// sample arrays (listed), counts that disagree, non-integer or negative labels, bad samples.
// Read whole into memory.
std::unique_ptr<Dataset> open_npz(const std::string& path);

// A folder of PNG and JPEG images (files named *.png, *.jpg, *.jpeg in any letter case; the
// decoder is chosen by the file's content, so a PNG named .jpg is read; other files and names
// starting with '.' are ignored). Two layouts:
//   DIR/<class>/<image>   labelled: every subfolder is a class (even one holding no images, so
//                         class indices stay aligned with a model's outputs), classes sorted by
//                         name, class_names() are the folder names. Deeper folders are ignored.
//   DIR/<image>           flat: unlabelled (num_classes() == 0).
// Images at the top level beside class folders holding images is an Error, as is finding no
// image at all (naming the folder). Files are sorted by name (byte order), class by class.
//
// Every file's header is read when the folder is opened and checked against `options` (size and
// channel agreement, supported formats), so an unreadable, corrupt-headed or mismatched file is
// reported then, naming it. Pixels are decoded in get(); a file whose image data is corrupt or
// truncated is an Error naming the file at that point. JPEGs are decoded with libjpeg-turbo's
// accurate integer IDCT; a libjpeg warning (truncated data, corrupt entropy data) is an Error, as
// are CMYK JPEGs. PNGs are decoded with libpng's simplified API: palette and gray+alpha images are
// expanded, 16-bit PNGs are an Error (libpng's simplified reader would treat them as linear light
// and gamma-encode them on conversion to 8 bits; save them as 8-bit), and an 8-bit PNG whose gAMA
// chunk is far from sRGB is converted to sRGB by libpng (readers such as PIL ignore gAMA).
std::unique_ptr<Dataset> open_image_folder(const std::string& dir, const ImageOptions& options = {});

}  // namespace octet::data
