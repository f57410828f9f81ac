// Tests for .npz data sets (open_npz, and open_dataset's npz: and *.npz specs). The archives are
// written here with libzip from serialize_npy bytes, stored and deflated; two archives written by
// numpy 2.3.5 (savez and savez_compressed) are embedded as bytes to check against numpy itself.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <zip.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <random>
#include <utility>

#include "data/dataset.h"
#include "../temp_dir.h"
#include "io/npy.h"
#include "ir/file_util.h"

namespace octet::data {
namespace {

std::string make_temp_dir() { return testing::make_temp_dir("octet_npz_test"); }

void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> fragments) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one mentioning '" << *fragments.begin() << "'";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "'" << f << "' not in: " << msg;
  }
}

// A zip member: name and bytes.
using Member = std::pair<std::string, std::string>;

// Writes a zip archive with libzip; every member stored (ZIP_CM_STORE) or deflated.
void write_zip(const std::string& path, const std::vector<Member>& members, bool deflate) {
  int code = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
  ASSERT_NE(z, nullptr) << path << " code " << code;
  for (const auto& [name, bytes] : members) {
    zip_source_t* src = zip_source_buffer(z, bytes.data(), bytes.size(), 0);  // bytes outlive zip_close
    ASSERT_NE(src, nullptr);
    const zip_int64_t index = zip_file_add(z, name.c_str(), src, ZIP_FL_ENC_UTF_8);
    ASSERT_GE(index, 0) << zip_strerror(z);
    ASSERT_EQ(zip_set_file_compression(z, static_cast<zip_uint64_t>(index), deflate ? ZIP_CM_DEFLATE : ZIP_CM_STORE, 9), 0);
  }
  ASSERT_EQ(zip_close(z), 0) << zip_strerror(z);
}

std::string write_npz(const std::vector<std::pair<std::string, Tensor>>& arrays, bool deflate = false) {
  std::vector<Member> members;
  for (const auto& [name, t] : arrays) members.push_back({name + ".npy", serialize_npy(t)});
  const std::string path = join_path(make_temp_dir(), "data.npz");
  write_zip(path, members, deflate);
  return path;
}

// 3 samples of [2,2]: sample i element j is 10 i + j - 0.5.
Tensor three_samples() {
  Tensor t(DType::Float32, {3, 2, 2});
  for (int64_t i = 0; i < 12; ++i) t.data<float>()[i] = static_cast<float>(10 * (i / 4) + i % 4) - 0.5f;
  return t;
}

const char kNumpyStored[] =
    "\x50\x4b\x03\x04\x2d\x00\x00\x00\x00\x00\x00\x00\x21\x00\x39\x40\xb0\x93\xff\xff\xff\xff\xff\xff"
    "\xff\xff\x0a\x00\x14\x00\x69\x6e\x70\x75\x74\x73\x2e\x6e\x70\x79\x01\x00\x10\x00\x98\x00\x00\x00"
    "\x00\x00\x00\x00\x98\x00\x00\x00\x00\x00\x00\x00\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00\x7b\x27"
    "\x64\x65\x73\x63\x72\x27\x3a\x20\x27\x3c\x66\x34\x27\x2c\x20\x27\x66\x6f\x72\x74\x72\x61\x6e\x5f"
    "\x6f\x72\x64\x65\x72\x27\x3a\x20\x46\x61\x6c\x73\x65\x2c\x20\x27\x73\x68\x61\x70\x65\x27\x3a\x20"
    "\x28\x32\x2c\x20\x33\x29\x2c\x20\x7d\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x00\x00\x00\x3f"
    "\x00\x00\xa0\xbf\x00\x00\x40\x40\x00\x00\x00\x40\x00\x00\x00\x00\x00\x00\xf0\xc0\x50\x4b\x03\x04"
    "\x2d\x00\x00\x00\x00\x00\x00\x00\x21\x00\x8b\xf5\x73\x2f\xff\xff\xff\xff\xff\xff\xff\xff\x0a\x00"
    "\x14\x00\x6c\x61\x62\x65\x6c\x73\x2e\x6e\x70\x79\x01\x00\x10\x00\x90\x00\x00\x00\x00\x00\x00\x00"
    "\x90\x00\x00\x00\x00\x00\x00\x00\x93\x4e\x55\x4d\x50\x59\x01\x00\x76\x00\x7b\x27\x64\x65\x73\x63"
    "\x72\x27\x3a\x20\x27\x3c\x69\x38\x27\x2c\x20\x27\x66\x6f\x72\x74\x72\x61\x6e\x5f\x6f\x72\x64\x65"
    "\x72\x27\x3a\x20\x46\x61\x6c\x73\x65\x2c\x20\x27\x73\x68\x61\x70\x65\x27\x3a\x20\x28\x32\x2c\x29"
    "\x2c\x20\x7d\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20"
    "\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x20\x0a\x01\x00\x00\x00\x00\x00\x00\x00"
    "\x04\x00\x00\x00\x00\x00\x00\x00\x50\x4b\x01\x02\x2d\x03\x2d\x00\x00\x00\x00\x00\x00\x00\x21\x00"
    "\x39\x40\xb0\x93\x98\x00\x00\x00\x98\x00\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
    "\x80\x01\x00\x00\x00\x00\x69\x6e\x70\x75\x74\x73\x2e\x6e\x70\x79\x50\x4b\x01\x02\x2d\x03\x2d\x00"
    "\x00\x00\x00\x00\x00\x00\x21\x00\x8b\xf5\x73\x2f\x90\x00\x00\x00\x90\x00\x00\x00\x0a\x00\x00\x00"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\xd4\x00\x00\x00\x6c\x61\x62\x65\x6c\x73\x2e\x6e\x70\x79"
    "\x50\x4b\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00\x70\x00\x00\x00\xa0\x01\x00\x00\x00\x00";
const char kNumpyCompressed[] =
    "\x50\x4b\x03\x04\x2d\x00\x00\x00\x08\x00\x00\x00\x21\x00\x39\x40\xb0\x93\xff\xff\xff\xff\xff\xff"
    "\xff\xff\x0a\x00\x14\x00\x69\x6e\x70\x75\x74\x73\x2e\x6e\x70\x79\x01\x00\x10\x00\x98\x00\x00\x00"
    "\x00\x00\x00\x00\x59\x00\x00\x00\x00\x00\x00\x00\x9b\xec\x17\xea\x1b\x10\xc9\xc8\x50\xc6\x50\xad"
    "\x9e\x92\x5a\x9c\x5c\xa4\x6e\xa5\xa0\x6e\x93\x66\xa2\xae\xa3\xa0\x9e\x96\x5f\x54\x52\x94\x98\x17"
    "\x9f\x5f\x94\x92\x0a\x12\x77\x4b\xcc\x29\x4e\x05\x8a\x17\x67\x24\x16\xa4\x02\xf9\x1a\x46\x3a\x0a"
    "\xc6\x9a\x3a\x0a\xb5\x0a\x64\x03\x2e\x06\x06\x06\x7b\x06\x86\x05\xfb\x19\x18\x1c\x1c\x80\x6c\x10"
    "\x06\x82\x0f\x07\x00\x50\x4b\x03\x04\x2d\x00\x00\x00\x08\x00\x00\x00\x21\x00\x8b\xf5\x73\x2f\xff"
    "\xff\xff\xff\xff\xff\xff\xff\x0a\x00\x14\x00\x6c\x61\x62\x65\x6c\x73\x2e\x6e\x70\x79\x01\x00\x10"
    "\x00\x90\x00\x00\x00\x00\x00\x00\x00\x4a\x00\x00\x00\x00\x00\x00\x00\x9b\xec\x17\xea\x1b\x10\xc9"
    "\xc8\x50\xc6\x50\xad\x9e\x92\x5a\x9c\x5c\xa4\x6e\xa5\xa0\x6e\x93\x69\xa1\xae\xa3\xa0\x9e\x96\x5f"
    "\x54\x52\x94\x98\x17\x9f\x5f\x94\x92\x0a\x12\x77\x4b\xcc\x29\x4e\x05\x8a\x17\x67\x24\x16\xa4\x02"
    "\xf9\x1a\x46\x3a\x9a\x3a\x0a\xb5\x0a\x14\x00\x2e\x46\x06\x08\x60\x81\xd2\x00\x50\x4b\x01\x02\x2d"
    "\x03\x2d\x00\x00\x00\x08\x00\x00\x00\x21\x00\x39\x40\xb0\x93\x59\x00\x00\x00\x98\x00\x00\x00\x0a"
    "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x00\x00\x00\x00\x69\x6e\x70\x75\x74\x73\x2e"
    "\x6e\x70\x79\x50\x4b\x01\x02\x2d\x03\x2d\x00\x00\x00\x08\x00\x00\x00\x21\x00\x8b\xf5\x73\x2f\x4a"
    "\x00\x00\x00\x90\x00\x00\x00\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80\x01\x95\x00\x00"
    "\x00\x6c\x61\x62\x65\x6c\x73\x2e\x6e\x70\x79\x50\x4b\x05\x06\x00\x00\x00\x00\x02\x00\x02\x00\x70"
    "\x00\x00\x00\x1b\x01\x00\x00\x00\x00";

TEST(Npz, ReadsStoredAndDeflatedArchives) {
  for (bool deflate : {false, true}) {
    SCOPED_TRACE(deflate ? "deflated" : "stored");
    const std::string path =
        write_npz({{"labels", Tensor::from_vector<int64_t>({3}, {2, 0, 2})}, {"inputs", three_samples()}}, deflate);
    for (const std::string& spec : {"npz:" + path, path}) {
      auto ds = open_dataset(spec);
      EXPECT_EQ(ds->name(), "npz:" + path);
      ASSERT_EQ(ds->size(), 3);
      EXPECT_EQ(ds->sample_shape(), Shape({2, 2}));
      EXPECT_TRUE(ds->labelled());
      EXPECT_EQ(ds->num_classes(), 3);  // largest label + 1
      EXPECT_EQ(ds->class_names(), std::vector<std::string>({"0", "1", "2"}));
      Batch b = ds->get({2, 1});
      ASSERT_EQ(b.inputs.shape(), Shape({2, 2, 2}));
      const float want[] = {19.5f, 20.5f, 21.5f, 22.5f, 9.5f, 10.5f, 11.5f, 12.5f};
      for (int i = 0; i < 8; ++i) EXPECT_EQ(b.inputs.data<float>()[i], want[i]) << i;
      EXPECT_EQ(b.labels.data<int64_t>()[0], 2);
      EXPECT_EQ(b.labels.data<int64_t>()[1], 0);
    }
  }
}

TEST(Npz, ReadsArchivesWrittenByNumpy) {
  // numpy.savez / savez_compressed(inputs=float32 [[0.5,-1.25,3],[2,0,-7.5]], labels=int64 [1,4]).
  const std::pair<const char*, std::string> files[] = {
      {"savez", std::string(kNumpyStored, sizeof kNumpyStored - 1)},
      {"savez_compressed", std::string(kNumpyCompressed, sizeof kNumpyCompressed - 1)}};
  for (const auto& [how, bytes] : files) {
    SCOPED_TRACE(how);
    const std::string path = join_path(make_temp_dir(), "numpy.npz");
    write_file_atomic(path, bytes);
    auto ds = open_npz(path);
    ASSERT_EQ(ds->size(), 2);
    EXPECT_EQ(ds->sample_shape(), Shape({3}));
    EXPECT_EQ(ds->num_classes(), 5);
    Batch b = ds->get({0, 1});
    const float want[] = {0.5f, -1.25f, 3.f, 2.f, 0.f, -7.5f};
    for (int i = 0; i < 6; ++i) EXPECT_EQ(b.inputs.data<float>()[i], want[i]) << i;
    EXPECT_EQ(b.labels.data<int64_t>()[0], 1);
    EXPECT_EQ(b.labels.data<int64_t>()[1], 4);
  }
}

TEST(Npz, AcceptsXYNamesUint8Float64AndAnyIntegerLabels) {
  // "x" / "y" names, uint8 samples scaled by 1/255, uint16 labels; other arrays are ignored.
  auto ds = open_npz(write_npz({{"x", Tensor::from_vector<uint8_t>({2, 2}, {0, 51, 255, 128})},
                                {"y", Tensor::from_vector<uint16_t>({2}, {1, 0})},
                                {"extra", Tensor(DType::Int16, {7})}},
                               true));
  Batch b = ds->get({0, 1});
  EXPECT_FLOAT_EQ(b.inputs.data<float>()[1], 0.2f);
  EXPECT_FLOAT_EQ(b.inputs.data<float>()[2], 1.f);
  EXPECT_FLOAT_EQ(b.inputs.data<float>()[3], 128.f / 255.f);
  EXPECT_EQ(b.labels.data<int64_t>()[0], 1);
  EXPECT_EQ(ds->num_classes(), 2);

  // "inputs" wins over "x", "labels" over "y".
  auto ds2 = open_npz(write_npz({{"x", Tensor(DType::Float32, {5, 1})},
                                 {"inputs", Tensor::from_vector<float>({1, 2}, {1, 2})},
                                 {"y", Tensor::from_vector<int64_t>({5}, {0, 0, 0, 0, 0})},
                                 {"labels", Tensor::from_vector<int8_t>({1}, {3})}}));
  EXPECT_EQ(ds2->size(), 1);
  EXPECT_EQ(ds2->get({0}).labels.data<int64_t>()[0], 3);

  // float64 samples become float32.
  auto ds3 = open_npz(write_npz({{"inputs", Tensor::from_vector<double>({2, 1}, {0.1, -3e38})},
                                 {"labels", Tensor::from_vector<int64_t>({2}, {0, 0})}}));
  Batch b3 = ds3->get({0, 1});
  EXPECT_EQ(b3.inputs.data<float>()[0], 0.1f);
  EXPECT_EQ(b3.inputs.data<float>()[1], -3e38f);
}

TEST(Npz, WithoutLabelsIsUnlabelled) {
  // numpy.savez(array) names it arr_0: the only array, so the samples.
  for (const char* name : {"arr_0", "inputs"}) {
    auto ds = open_npz(write_npz({{name, three_samples()}}, true));
    EXPECT_EQ(ds->size(), 3);
    EXPECT_FALSE(ds->labelled());
    EXPECT_EQ(ds->num_classes(), 0);
    EXPECT_TRUE(ds->class_names().empty());
    Batch b = ds->get({1, 0, 2});
    ASSERT_EQ(b.labels.shape(), Shape({3}));
    for (int k = 0; k < 3; ++k) EXPECT_EQ(b.labels.data<int64_t>()[k], kNoLabel);
    EXPECT_EQ(b.inputs.data<float>()[0], 9.5f);
  }
}

TEST(Npz, UnlabelledInMemoryDataset) {
  InMemoryDataset ds("mem", Tensor::from_vector<uint8_t>({2, 1}, {255, 0}));
  EXPECT_EQ(ds.size(), 2);
  EXPECT_EQ(ds.num_classes(), 0);
  EXPECT_FALSE(ds.labelled());
  Batch b = ds.get({0, 1});
  EXPECT_EQ(b.inputs.data<float>()[0], 1.f);
  EXPECT_EQ(b.labels.data<int64_t>()[1], kNoLabel);
  expect_error([] { InMemoryDataset("mem", Tensor(DType::Int32, {2})); }, {"mem", "int32"});
  expect_error([] { InMemoryDataset("mem", Tensor::scalar<float>(1)); }, {"mem", "leading sample dimension"});
  expect_error([&] { ds.get({2}); }, {"mem", "sample index 2"});
}

TEST(Npz, RejectsBadArchivesNamingFileAndMember) {
  const Tensor in3 = three_samples();
  const Tensor lab3 = Tensor::from_vector<int64_t>({3}, {0, 1, 2});
  expect_error([] { open_dataset("npz:/nonexistent/octet.npz"); }, {"/nonexistent/octet.npz", "does not exist"});
  expect_error([] { open_dataset("/nonexistent/octet.npz"); }, {"/nonexistent/octet.npz", "does not exist"});
  expect_error([] { open_dataset("npz:"); }, {"empty file name"});
  const std::string dir = make_temp_dir();
  expect_error([&] { open_npz(dir); }, {dir, "is a folder"});
  const std::string text = join_path(dir, "text.npz");
  write_file_atomic(text, "this is not a zip archive at all");
  expect_error([&] { open_dataset(text); }, {text, "not a zip archive"});

  // Member rules.
  {
    const std::string path = join_path(make_temp_dir(), "readme.npz");
    write_zip(path, {{"inputs.npy", serialize_npy(in3)}, {"README.txt", "hello"}}, false);
    expect_error([&] { open_npz(path); }, {path, "'README.txt'", "not a .npy file"});
    write_zip(path, {{"inputs.npy", "garbage, not npy"}}, true);
    expect_error([&] { open_npz(path); }, {path + ":inputs.npy", "not a .npy file"});
  }
  expect_error([&] { open_npz(write_npz({{"labels", lab3}})); }, {"data.npz", "no sample array", "'labels'"});
  {
    // An empty zip (libzip writes none): just the end-of-central-directory record.
    const std::string path = join_path(make_temp_dir(), "empty.npz");
    write_file_atomic(path, std::string("PK\x05\x06", 4) + std::string(18, '\0'));
    expect_error([&] { open_npz(path); }, {"empty.npz", "no sample array"});
  }
  expect_error([&] { open_npz(write_npz({{"images", in3}, {"extra", in3}, {"labels", lab3}})); },
               {"data.npz", "several candidate sample arrays", "'extra', 'images'"});

  // Counts and labels.
  expect_error([&] { open_npz(write_npz({{"inputs", in3}, {"labels", Tensor::from_vector<int64_t>({2}, {0, 1})}})); },
               {"data.npz:inputs.npy", "3 samples", "data.npz:labels.npy", "2 labels", "must agree"});
  expect_error([&] { open_npz(write_npz({{"x", in3}, {"y", Tensor::from_vector<int32_t>({3}, {0, -4, 1})}})); },
               {"data.npz:y.npy", "label -4 of sample 1", "negative"});
  expect_error([&] { open_npz(write_npz({{"inputs", in3}, {"labels", Tensor::from_vector<float>({3}, {0, 1, 2})}})); },
               {"data.npz:labels.npy", "must be integers", "float32"});
  expect_error([&] { open_npz(write_npz({{"inputs", in3}, {"labels", Tensor(DType::Int64, {3, 1})}})); },
               {"labels.npy", "one-dimensional", "[3,1]"});
  expect_error([&] { open_npz(write_npz({{"inputs", in3}, {"labels", Tensor::from_vector<int64_t>({3}, {0, 1000000, 1})}})); },
               {"labels.npy", "label 1000000 of sample 1", "out of range"});

  // Samples.
  expect_error([&] { open_npz(write_npz({{"inputs", Tensor(DType::Int16, {3, 2})}})); },
               {"data.npz:inputs.npy", "float32, uint8", "int16"});
  expect_error([&] { open_npz(write_npz({{"inputs", Tensor(DType::Float32, {0, 2})}})); }, {"inputs.npy", "no samples"});
  expect_error([&] { open_npz(write_npz({{"inputs", Tensor::scalar<float>(1)}})); }, {"inputs.npy", "scalar"});
  Tensor nan = in3.clone();
  nan.data<float>()[5] = std::nanf("");
  expect_error([&] { open_npz(write_npz({{"inputs", nan}})); }, {"inputs.npy", "element 5", "not finite"});
  // Past the first blocks of the vectorized test, and the first of two: +Inf at 9000, NaN at 9001.
  Tensor big(DType::Float32, {3, 4000});
  big.data<float>()[9000] = INFINITY;
  big.data<float>()[9001] = std::nanf("");
  expect_error([&] { open_npz(write_npz({{"inputs", big}})); }, {"inputs.npy", "value inf at element 9000", "not finite"});
  big.data<float>()[9000] = -INFINITY;
  expect_error([&] { open_npz(write_npz({{"inputs", big}})); }, {"inputs.npy", "element 9000", "not finite"});
  expect_error([&] { open_npz(write_npz({{"inputs", Tensor::from_vector<double>({2}, {1.0, 1e39})}})); },
               {"inputs.npy", "element 1", "float32's range"});
  expect_error([&] { open_npz(write_npz({{"inputs", Tensor::from_vector<double>({2}, {INFINITY, 1.0})}})); },
               {"inputs.npy", "element 0", "not finite"});
}

TEST(Npz, CorruptMemberDataIsAnErrorNamingTheMember) {
  // Flip one byte of a stored member's payload: libzip's CRC check must catch it.
  Tensor t(DType::Float32, {4});
  for (int i = 0; i < 4; ++i) t.data<float>()[i] = 1234.5f + static_cast<float>(i);
  const std::string path = write_npz({{"inputs", t}});
  std::string bytes = read_file(path);
  const std::string payload = serialize_npy(t).substr(serialize_npy(t).size() - 16);
  const size_t at = bytes.find(payload);
  ASSERT_NE(at, std::string::npos);
  bytes[at + 3] = static_cast<char>(bytes[at + 3] ^ 0x40);
  write_file_atomic(path, bytes);
  expect_error([&] { open_npz(path); }, {path + ":inputs.npy", "CRC"});
}

TEST(Npz, MutatedArchivesGiveADataSetOrAnError) {
  // Random byte flips and cuts of stored and deflated archives: open_npz either works or throws
  // octet::Error; never a crash or another exception (run under ASan to see memory errors).
  const uint32_t seed = 917;
  std::printf("mutation seed %u\n", seed);
  std::mt19937 rng(seed);
  const std::string originals[] = {
      read_file(write_npz({{"inputs", three_samples()}, {"labels", Tensor::from_vector<int64_t>({3}, {0, 1, 0})}})),
      read_file(write_npz({{"inputs", three_samples()}, {"labels", Tensor::from_vector<int64_t>({3}, {0, 1, 0})}}, true))};
  const std::string path = join_path(make_temp_dir(), "m.npz");
  int errors = 0;
  for (int round = 0; round < 400; ++round) {
    std::string bytes = originals[round % 2];
    const int flips = 1 + static_cast<int>(rng() % 3);
    for (int f = 0; f < flips; ++f) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    write_file_atomic(path, bytes);
    try {
      auto ds = open_npz(path);
      ds->get({0});
    } catch (const Error&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
}

}  // namespace
}  // namespace octet::data
