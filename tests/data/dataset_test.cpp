#include "data/dataset.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <initializer_list>

#include "../temp_dir.h"
#include "io/npy.h"
#include "ir/file_util.h"

namespace octet::data {
namespace {

std::string make_temp_dir() { return testing::make_temp_dir("octet_dataset_test"); }

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), int(bytes.size()));
  }
  ASSERT_EQ(gzclose(f), Z_OK);
}

void put_be32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}

// Pixel (i, r, c) of the generated images: a pattern that differs per image and position.
uint8_t pixel(int64_t i, int64_t r, int64_t c) { return static_cast<uint8_t>((i * 37 + r * 5 + c * 3) % 256); }

std::string idx_images(uint32_t n, uint32_t rows, uint32_t cols, uint32_t magic = 0x803) {
  std::string s;
  put_be32(s, magic);
  put_be32(s, n);
  put_be32(s, rows);
  put_be32(s, cols);
  for (uint32_t i = 0; i < n; ++i)
    for (uint32_t r = 0; r < rows; ++r)
      for (uint32_t c = 0; c < cols; ++c) s.push_back(static_cast<char>(pixel(i, r, c)));
  return s;
}

std::string idx_labels(const std::vector<uint8_t>& labels, uint32_t magic = 0x801) {
  std::string s;
  put_be32(s, magic);
  put_be32(s, static_cast<uint32_t>(labels.size()));
  for (uint8_t l : labels) s.push_back(static_cast<char>(l));
  return s;
}

// Sets OCTET_FASHION_MNIST_DIR for the scope of a test.
class ScopedFashionDir {
 public:
  explicit ScopedFashionDir(const std::string& dir) {
    const char* old = std::getenv("OCTET_FASHION_MNIST_DIR");
    had_ = old != nullptr;
    if (had_) old_ = old;
    setenv("OCTET_FASHION_MNIST_DIR", dir.c_str(), 1);
  }
  ~ScopedFashionDir() {
    if (had_) setenv("OCTET_FASHION_MNIST_DIR", old_.c_str(), 1);
    else unsetenv("OCTET_FASHION_MNIST_DIR");
  }

 private:
  bool had_ = false;
  std::string old_;
};

// A generated Fashion-MNIST folder: `n` 28x28 train images and n + 1 test images.
std::string make_fashion_dir(uint32_t n) {
  std::string dir = make_temp_dir();
  std::vector<uint8_t> train_labels, test_labels;
  for (uint32_t i = 0; i < n; ++i) train_labels.push_back(static_cast<uint8_t>(i % 10));
  for (uint32_t i = 0; i < n + 1; ++i) test_labels.push_back(static_cast<uint8_t>(9 - i % 10));
  write_gz(join_path(dir, "train-images-idx3-ubyte.gz"), idx_images(n, 28, 28));
  write_gz(join_path(dir, "train-labels-idx1-ubyte.gz"), idx_labels(train_labels));
  write_gz(join_path(dir, "t10k-images-idx3-ubyte.gz"), idx_images(n + 1, 28, 28));
  write_gz(join_path(dir, "t10k-labels-idx1-ubyte.gz"), idx_labels(test_labels));
  return dir;
}

void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one mentioning '" << *fragments.begin() << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

TEST(FashionMnist, ReadsGeneratedGzippedIdxFiles) {
  std::string dir = make_fashion_dir(5);
  ScopedFashionDir env(dir);
  EXPECT_EQ(fashion_mnist_dir(), dir);
  auto train = open_dataset("fashion-mnist:train");
  EXPECT_EQ(train->name(), "fashion-mnist:train");
  EXPECT_EQ(train->size(), 5);
  EXPECT_EQ(train->sample_shape(), Shape({1, 28, 28}));
  EXPECT_EQ(train->num_classes(), 10);
  EXPECT_EQ(train->class_names().at(9), "Ankle boot");
  Batch b = train->get({3, 0, 3});
  ASSERT_EQ(b.inputs.dtype(), DType::Float32);
  ASSERT_EQ(b.inputs.shape(), Shape({3, 1, 28, 28}));
  ASSERT_EQ(b.labels.shape(), Shape({3}));
  EXPECT_EQ(b.labels.data<int64_t>()[0], 3);
  EXPECT_EQ(b.labels.data<int64_t>()[1], 0);
  const int64_t img[] = {3, 0, 3};
  for (int k = 0; k < 3; ++k)
    for (int r = 0; r < 28; ++r)
      for (int c = 0; c < 28; ++c)
        ASSERT_FLOAT_EQ(b.inputs.data<float>()[(k * 28 + r) * 28 + c], pixel(img[k], r, c) / 255.f)
            << "image " << img[k] << " at " << r << "," << c;

  auto test = open_dataset("fashion-mnist:test");
  EXPECT_EQ(test->size(), 6);
  EXPECT_EQ(test->get({5}).labels.data<int64_t>()[0], 4);
  EXPECT_EQ(open_dataset("fashion-mnist")->size(), 6);  // the default split is test
}

TEST(FashionMnist, ReadsUncompressedFilesToo) {
  std::string dir = make_temp_dir();
  write_file_atomic(join_path(dir, "t10k-images-idx3-ubyte"), idx_images(2, 4, 3));
  write_file_atomic(join_path(dir, "t10k-labels-idx1-ubyte"), idx_labels({7, 2}));
  auto ds = open_fashion_mnist(dir, "test");
  EXPECT_EQ(ds->sample_shape(), Shape({1, 4, 3}));
  Batch b = ds->get({1});
  EXPECT_EQ(b.labels.data<int64_t>()[0], 2);
  EXPECT_FLOAT_EQ(b.inputs.data<float>()[5], pixel(1, 1, 2) / 255.f);
}

TEST(FashionMnist, RejectsBrokenFilesNamingThePathAndRule) {
  const std::string missing = "/nonexistent/octet-fashion";
  {
    ScopedFashionDir env(missing);
    expect_error([] { open_dataset("fashion-mnist"); }, {missing, "does not exist", "OCTET_FASHION_MNIST_DIR"});
  }
  expect_error([] { open_dataset("fashion-mnist:validation"); }, {"fashion-mnist:validation", "unknown split"});

  // One scenario per case: write the test split's two files, expect an error naming `fragment`.
  auto check = [](const std::string& images, const std::string& labels, std::initializer_list<std::string> want,
                  bool gzip = true) {
    std::string dir = make_temp_dir();
    if (gzip) {
      write_gz(join_path(dir, "t10k-images-idx3-ubyte.gz"), images);
      write_gz(join_path(dir, "t10k-labels-idx1-ubyte.gz"), labels);
    } else {
      write_file_atomic(join_path(dir, "t10k-images-idx3-ubyte"), images);
      write_file_atomic(join_path(dir, "t10k-labels-idx1-ubyte"), labels);
    }
    expect_error([&] { open_fashion_mnist(dir, "test"); }, want);
  };
  const std::string good_images = idx_images(3, 28, 28);
  const std::string good_labels = idx_labels({1, 2, 3});
  check(idx_images(3, 28, 28, 0x801), good_labels, {"t10k-images-idx3-ubyte.gz", "bad IDX magic", "0x00000801"});
  check(good_images, idx_labels({1, 2, 3}, 0x803), {"t10k-labels-idx1-ubyte.gz", "bad IDX magic", "0x00000803"});
  check(good_images.substr(0, good_images.size() - 1), good_labels,
        {"t10k-images-idx3-ubyte.gz", "truncated IDX file", "3 images"});
  check(good_images.substr(0, 10), good_labels, {"t10k-images-idx3-ubyte.gz", "truncated IDX header"});
  check(good_images, good_labels.substr(0, good_labels.size() - 2), {"t10k-labels-idx1-ubyte.gz", "truncated"});
  check(good_images + "x", good_labels, {"t10k-images-idx3-ubyte.gz", "trailing data"});
  check(good_images, idx_labels({1, 2}), {"3 images", "2 labels", "must agree"});
  check(good_images, idx_labels({1, 10, 3}), {"t10k-labels-idx1-ubyte.gz", "label 10 of sample 1", "0..9"});
  check(idx_images(3, 0, 28), good_labels, {"rows = 0", "out of range"});
  check(idx_images(3, 28, 5000), good_labels, {"columns = 5000"});
  check(idx_images(0, 28, 28), idx_labels({}), {"holds no images"});
  check(good_images.substr(0, 100), good_labels, {"t10k-images-idx3-ubyte", "truncated IDX file"}, false);
  // A header claiming 2^32-1 images must not make octet allocate for them.
  std::string huge;
  put_be32(huge, 0x803);
  put_be32(huge, 0xffffffffu);
  put_be32(huge, 4096);
  put_be32(huge, 4096);
  check(huge + "abc", good_labels, {"truncated IDX file", "4294967295 images"});

  // A gzip stream cut short.
  std::string dir = make_temp_dir();
  write_gz(join_path(dir, "t10k-images-idx3-ubyte.gz"), good_images);
  write_gz(join_path(dir, "t10k-labels-idx1-ubyte.gz"), good_labels);
  std::string gz = read_file(join_path(dir, "t10k-images-idx3-ubyte.gz"));
  write_file_atomic(join_path(dir, "t10k-images-idx3-ubyte.gz"), gz.substr(0, gz.size() / 2));
  expect_error([&] { open_fashion_mnist(dir, "test"); }, {"t10k-images-idx3-ubyte.gz"});

  // A missing label file.
  std::string dir2 = make_temp_dir();
  write_gz(join_path(dir2, "t10k-images-idx3-ubyte.gz"), good_images);
  expect_error([&] { open_fashion_mnist(dir2, "test"); }, {"t10k-labels-idx1-ubyte.gz", "missing"});
  expect_error([&] { open_fashion_mnist(dir2, "train"); }, {"train-images-idx3-ubyte.gz", "missing"});
}

TEST(FashionMnist, InstalledDataSetHasTheKnownSizes) {
  const std::string dir = "/usr/share/datasets/fashion-mnist";
  if (!file_exists(join_path(dir, "t10k-images-idx3-ubyte.gz")))
    GTEST_SKIP() << "Debian's dataset-fashion-mnist is not installed";
  for (const auto& [split, size] : {std::pair<std::string, int64_t>{"test", 10000}, {"train", 60000}}) {
    auto ds = open_fashion_mnist(dir, split);
    ASSERT_EQ(ds->size(), size) << split;
    EXPECT_EQ(ds->sample_shape(), Shape({1, 28, 28}));
    EXPECT_EQ(ds->num_classes(), 10);
    std::vector<int64_t> per_class(10, 0);
    float lo = 1, hi = 0;
    for (int64_t start = 0; start < size; start += 10000) {
      std::vector<int64_t> chunk;
      for (int64_t i = start; i < std::min(size, start + 10000); ++i) chunk.push_back(i);
      Batch b = ds->get(chunk);
      for (int64_t i = 0; i < b.labels.numel(); ++i) ++per_class[static_cast<size_t>(b.labels.data<int64_t>()[i])];
      for (int64_t i = 0; i < b.inputs.numel(); ++i) {
        lo = std::min(lo, b.inputs.data<float>()[i]);
        hi = std::max(hi, b.inputs.data<float>()[i]);
      }
    }
    for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c], size / 10) << split << " class " << c;  // balanced
    EXPECT_EQ(lo, 0.f);
    EXPECT_EQ(hi, 1.f);
  }
}

// --- folders of .npy samples -------------------------------------------------------------------

Tensor sample_f32(float base, const Shape& shape = {2, 3}) {
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = base + 0.5f * static_cast<float>(i);
  return t;
}

TEST(NpyFolder, ReadsOneFilePerSampleInLabelsOrder) {
  std::string dir = make_temp_dir();
  save_npy(sample_f32(0), join_path(dir, "a.npy"));
  save_npy(sample_f32(10), join_path(dir, "b.npy"));
  save_npy(sample_f32(20), join_path(dir, "c.npy"));
  write_file_atomic(join_path(dir, "labels.txt"), "# file label\nb.npy 2\n\n  c.npy\t0\na.npy 4\n");
  write_file_atomic(join_path(dir, "notes.md"), "other files are ignored");
  for (const std::string& spec : {"npy:" + dir, dir}) {
    auto ds = open_dataset(spec);
    EXPECT_EQ(ds->name(), "npy:" + dir);
    ASSERT_EQ(ds->size(), 3);
    EXPECT_EQ(ds->sample_shape(), Shape({2, 3}));
    EXPECT_EQ(ds->num_classes(), 5);  // largest label + 1
    EXPECT_EQ(ds->class_names(), std::vector<std::string>({"0", "1", "2", "3", "4"}));
    Batch b = ds->get({2, 0});
    ASSERT_EQ(b.inputs.shape(), Shape({2, 2, 3}));
    EXPECT_EQ(b.labels.data<int64_t>()[0], 4);
    EXPECT_EQ(b.labels.data<int64_t>()[1], 2);
    EXPECT_EQ(b.inputs.data<float>()[0], 0.f);    // a.npy
    EXPECT_EQ(b.inputs.data<float>()[7], 10.5f);  // b.npy, element 1
  }
}

TEST(NpyFolder, ScalesUint8SamplesAndHonoursClassesTxt) {
  std::string dir = make_temp_dir();
  Tensor u = Tensor::from_vector<uint8_t>({1, 2, 2}, {0, 51, 255, 128});
  save_npy(u, join_path(dir, "x.npy"));
  write_file_atomic(join_path(dir, "labels.txt"), "x.npy 1\n");
  write_file_atomic(join_path(dir, "classes.txt"), "cat\ndog\n\nbird\n");
  auto ds = open_npy_folder(dir);
  EXPECT_EQ(ds->num_classes(), 3);
  EXPECT_EQ(ds->class_names().at(2), "bird");
  Batch b = ds->get({0});
  EXPECT_FLOAT_EQ(b.inputs.data<float>()[1], 0.2f);
  EXPECT_FLOAT_EQ(b.inputs.data<float>()[2], 1.f);
  EXPECT_FLOAT_EQ(b.inputs.data<float>()[3], 128.f / 255.f);
}

TEST(NpyFolder, ReadsAnInputsAndLabelsPair) {
  std::string dir = make_temp_dir();
  save_npy(sample_f32(1, {4, 1, 2, 2}), join_path(dir, "inputs.npy"));
  save_npy(Tensor::from_vector<int64_t>({4}, {3, 0, 1, 3}), join_path(dir, "labels.npy"));
  auto ds = open_dataset("npy:" + dir);
  ASSERT_EQ(ds->size(), 4);
  EXPECT_EQ(ds->sample_shape(), Shape({1, 2, 2}));
  EXPECT_EQ(ds->num_classes(), 4);
  Batch b = ds->get({1});
  EXPECT_EQ(b.inputs.shape(), Shape({1, 1, 2, 2}));
  EXPECT_EQ(b.inputs.data<float>()[0], 3.f);  // sample 1 starts at element 4: 1 + 0.5 * 4
  EXPECT_EQ(b.labels.data<int64_t>()[0], 0);

  // int32 labels and uint8 inputs are accepted too.
  std::string dir2 = make_temp_dir();
  save_npy(Tensor::from_vector<uint8_t>({2, 2}, {255, 0, 0, 255}), join_path(dir2, "inputs.npy"));
  save_npy(Tensor::from_vector<int32_t>({2}, {1, 0}), join_path(dir2, "labels.npy"));
  auto ds2 = open_npy_folder(dir2);
  EXPECT_EQ(ds2->sample_shape(), Shape({2}));
  Batch b2 = ds2->get({0, 1});
  EXPECT_EQ(b2.inputs.data<float>()[0], 1.f);
  EXPECT_EQ(b2.inputs.data<float>()[3], 1.f);
  EXPECT_EQ(b2.labels.data<int64_t>()[0], 1);
}

TEST(NpyFolder, RejectsBadFoldersNamingThePathAndRule) {
  expect_error([] { open_dataset("npy:/nonexistent/octet-data"); }, {"/nonexistent/octet-data", "does not exist"});
  expect_error([] { open_dataset("/nonexistent/octet-data"); }, {"/nonexistent/octet-data", "fashion-mnist"});
  expect_error([] { open_dataset("npy:"); }, {"empty folder name"});
  std::string empty = make_temp_dir();
  expect_error([&] { open_dataset(empty); }, {empty, "is empty"});
  std::string file_dir = make_temp_dir();
  write_file_atomic(join_path(file_dir, "f.txt"), "x");
  expect_error([&] { open_dataset(join_path(file_dir, "f.txt")); }, {"f.txt", "is a file"});
  expect_error([&] { open_dataset("npy:" + join_path(file_dir, "f.txt")); }, {"f.txt", "is a file"});
  expect_error([&] { open_dataset(file_dir); }, {file_dir, "no labels.txt"});

  // labels.txt form: each case is a folder with a.npy, b.npy and the given labels.txt.
  auto listed = [](const std::string& labels, std::initializer_list<std::string> want,
                   const Tensor& b = sample_f32(1)) {
    std::string dir = make_temp_dir();
    save_npy(sample_f32(0), join_path(dir, "a.npy"));
    save_npy(b, join_path(dir, "b.npy"));
    write_file_atomic(join_path(dir, "labels.txt"), labels);
    expect_error([&] { open_npy_folder(dir); }, want);
    return dir;
  };
  listed("a.npy 0\n", {"b.npy", "has no line in", "labels.txt"});
  listed("a.npy 0\nb.npy 1\nc.npy 2\n", {"c.npy", "missing", "line 3"});
  listed("a.npy 0\nb.npy\n", {"labels.txt:2", "expected '<file name> <label>'"});
  listed("a.npy 0\nb.npy 1 extra\n", {"labels.txt:2", "expected"});
  listed("a.npy -1\nb.npy 1\n", {"labels.txt:1", "'-1'", "non-negative integer"});
  listed("a.npy x\nb.npy 1\n", {"labels.txt:1", "'x'"});
  listed("a.npy 0\nb.npy 1\na.npy 2\n", {"labels.txt:3", "listed twice", "line 1"});
  listed("# nothing\n\n", {"labels.txt", "lists no samples"});
  listed("a.npy 0\nb.npy 1\n", {"b.npy", "float32[2,2]", "a.npy", "float32[2,3]", "one shape"}, sample_f32(0, {2, 2}));
  listed("a.npy 0\nb.npy 1\n", {"b.npy", "uint8[2,3]", "one shape and dtype"}, Tensor(DType::UInt8, {2, 3}));
  listed("a.npy 0\nb.npy 1\n", {"b.npy", "float32 or uint8", "float64"}, Tensor(DType::Float64, {2, 3}));
  Tensor nan = sample_f32(0);
  nan.data<float>()[4] = std::nanf("");
  listed("a.npy 0\nb.npy 1\n", {"b.npy", "element 4", "not finite"}, nan);
  listed("a.npy 0\nb.npy 2000000\n", {"labels.txt", "label 2000000 of sample 1", "out of range", "classes.txt"});
  {
    std::string dir = make_temp_dir();
    save_npy(sample_f32(0), join_path(dir, "a.npy"));
    write_file_atomic(join_path(dir, "labels.txt"), "a.npy 3\n");
    write_file_atomic(join_path(dir, "classes.txt"), "x\ny\nz\n");
    expect_error([&] { open_npy_folder(dir); }, {"label 3 of sample 0", "0..2", "classes.txt", "3 classes"});
    write_file_atomic(join_path(dir, "classes.txt"), "\n\n");
    expect_error([&] { open_npy_folder(dir); }, {"classes.txt", "lists no classes"});
  }

  // inputs.npy + labels.npy form.
  auto pair = [](const Tensor& inputs, const Tensor& labels, std::initializer_list<std::string> want) {
    std::string dir = make_temp_dir();
    if (inputs.defined()) save_npy(inputs, join_path(dir, "inputs.npy"));
    if (labels.defined()) save_npy(labels, join_path(dir, "labels.npy"));
    expect_error([&] { open_npy_folder(dir); }, want);
  };
  const Tensor in3 = sample_f32(0, {3, 2});
  pair(in3, Tensor::from_vector<int64_t>({2}, {0, 1}), {"inputs.npy", "3 samples", "labels.npy", "2 labels", "must agree"});
  pair(in3, Tensor::from_vector<int64_t>({3}, {0, -2, 1}), {"labels.npy", "label -2 of sample 1", "negative"});
  pair(in3, Tensor::from_vector<float>({3}, {0, 1, 2}), {"labels.npy", "must be integers", "float32"});
  pair(in3, Tensor(DType::Int64, {3, 1}), {"labels.npy", "one-dimensional", "[3,1]"});
  pair(Tensor(DType::Int16, {3, 2}), Tensor(DType::Int64, {3}), {"inputs.npy", "float32 or uint8", "int16"});
  pair(Tensor(DType::Float32, {0, 2}), Tensor(DType::Int64, {0}), {"inputs.npy", "holds no samples"});
  pair(Tensor(), Tensor(DType::Int64, {3}), {"inputs.npy", "missing"});
  pair(in3, Tensor(), {"labels.npy", "missing"});
  Tensor in_nan = in3.clone();
  in_nan.data<float>()[5] = INFINITY;
  pair(in_nan, Tensor(DType::Int64, {3}), {"inputs.npy", "element 5", "not finite"});
  {
    std::string dir = make_temp_dir();
    save_npy(in3, join_path(dir, "inputs.npy"));
    save_npy(Tensor(DType::Int64, {3}), join_path(dir, "labels.npy"));
    write_file_atomic(join_path(dir, "labels.txt"), "inputs.npy 0\n");
    expect_error([&] { open_npy_folder(dir); }, {dir, "both labels.txt and inputs.npy"});
  }
}

TEST(InMemoryDataset, ChecksCountsLabelsAndIndices) {
  expect_error([] { InMemoryDataset("mem", Tensor(DType::Float32, {2, 3}), {0}, {"a", "b"}); },
               {"mem", "2 samples but 1 labels"});
  expect_error([] { InMemoryDataset("mem", Tensor(DType::Float32, {2, 3}), {0, 2}, {"a", "b"}); },
               {"mem", "label 2 of sample 1", "0..1"});
  expect_error([] { InMemoryDataset("mem", Tensor(DType::Int32, {2, 3}), {0, 1}, {"a", "b"}); },
               {"mem", "int32", "float32 or uint8"});
  InMemoryDataset ds("mem", Tensor(DType::Float32, {2, 3}), {0, 1}, {"a", "b"});
  expect_error([&] { ds.get({0, 2}); }, {"mem", "sample index 2", "0..1"});
  expect_error([&] { ds.get({-1}); }, {"sample index -1"});
  EXPECT_EQ(ds.get({}).inputs.shape(), Shape({0, 3}));
}

}  // namespace
}  // namespace octet::data
