#include "io/npy.h"

#include <gtest/gtest.h>

#include "ir/file_util.h"

namespace octet {
namespace {

TEST(Npy, RoundTripsEveryNumpyType) {
  for (DType t : {DType::Float32, DType::Float64, DType::Float16, DType::Int8, DType::UInt8,
                  DType::Int16, DType::UInt16, DType::Int32, DType::UInt32, DType::Int64,
                  DType::UInt64, DType::Bool}) {
    Tensor a(t, {2, 3});
    for (int64_t i = 0; i < a.numel(); ++i) static_cast<uint8_t*>(a.raw())[i * dtype_size(t)] = static_cast<uint8_t>(i % 2);
    Tensor b = parse_npy(serialize_npy(a), "mem");
    ASSERT_EQ(b.dtype(), t);
    ASSERT_EQ(b.shape(), a.shape());
    EXPECT_EQ(0, std::memcmp(a.raw(), b.raw(), a.nbytes())) << dtype_name(t);
  }
}

TEST(Npy, ScalarAndOneDimensionalShapes) {
  Tensor s = Tensor::scalar<float>(2.5f);
  Tensor b = parse_npy(serialize_npy(s), "mem");
  EXPECT_EQ(b.rank(), 0u);
  EXPECT_EQ(b.data<float>()[0], 2.5f);
  Tensor v = Tensor::from_vector<int64_t>({3}, {1, 2, 3});
  EXPECT_EQ(parse_npy(serialize_npy(v), "mem").shape(), Shape({3}));
}

TEST(Npy, HeaderIsPaddedTo64Bytes) {
  std::string bytes = serialize_npy(Tensor(DType::Float32, {1, 3, 224, 224}));
  size_t header_len = static_cast<uint8_t>(bytes[8]) | (static_cast<uint8_t>(bytes[9]) << 8);
  EXPECT_EQ((10 + header_len) % 64, 0u);
}

TEST(Npy, RejectsBadFilesWithTheirName) {
  auto expect_error = [](const std::string& bytes, const std::string& fragment) {
    try {
      parse_npy(bytes, "in.npy");
      FAIL() << "no error for " << fragment;
    } catch (const Error& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find("in.npy"), std::string::npos) << msg;
      EXPECT_NE(msg.find(fragment), std::string::npos) << msg;
    }
  };
  expect_error("hello world", "bad magic");
  std::string good = serialize_npy(Tensor(DType::Float32, {4}));
  expect_error(good.substr(0, good.size() - 3), "needs 16");
  std::string big = good;
  big.replace(big.find("<f4"), 3, ">f4");
  expect_error(big, "big-endian");
  std::string fortran = good;
  fortran.replace(fortran.find("False"), 5, "True ");
  expect_error(fortran, "Fortran");
  std::string obj = good;
  obj.replace(obj.find("<f4"), 3, "|O8");
  expect_error(obj, "unsupported numpy dtype");
}

}  // namespace
}  // namespace octet
