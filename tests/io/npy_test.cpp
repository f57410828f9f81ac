#include "io/npy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>

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

// A stream that hands out at most `step` bytes a call, as a zip member or a pipe may.
NpyReader chunked(const std::string& bytes, size_t step, size_t& at) {
  return [&bytes, step, &at](void* dst, size_t n) {
    const size_t k = std::min({n, step, bytes.size() - at});
    std::memcpy(dst, bytes.data() + at, k);
    at += k;
    return k;
  };
}

TEST(Npy, ReadsFromAStreamInSmallPieces) {
  Tensor a(DType::Float32, {3, 5});
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = 0.5f * static_cast<float>(i) - 3.f;
  const std::string bytes = serialize_npy(a);
  for (size_t step : {1, 3, 7, 64, 1000}) {
    size_t at = 0;
    Tensor b = read_npy(chunked(bytes, step, at), "stream");
    ASSERT_EQ(b.shape(), a.shape()) << step;
    EXPECT_EQ(0, std::memcmp(a.raw(), b.raw(), a.nbytes())) << step;
    EXPECT_EQ(at, bytes.size()) << "the stream is read to its end";
  }
}

TEST(Npy, StreamErrorsCountTheBytesAndDoNotTrustTheHeaderLength) {
  auto message = [](const std::string& bytes) -> std::string {
    size_t at = 0;
    try {
      read_npy(chunked(bytes, 5, at), "s.npy");
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string good = serialize_npy(Tensor(DType::Float32, {4}));
  // Trailing bytes, all counted; a short body.
  EXPECT_NE(message(good + std::string(5000, 'x')).find("holds 5016 bytes of data but shape [4] of float32 needs 16"),
            std::string::npos)
      << message(good + std::string(5000, 'x'));
  EXPECT_NE(message(good.substr(0, good.size() - 3)).find("holds 13 bytes"), std::string::npos);
  // Version 2 with a header length of 4 GiB - 1 in a file of 20 bytes: truncated, not a huge
  // allocation.
  std::string v2 = std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12) + "{'descr': '<f4'}";
  EXPECT_NE(message(v2).find("s.npy: truncated .npy header"), std::string::npos) << message(v2);
  EXPECT_NE(message(std::string("\x93NUMPY\x02\x00\x01", 9)).find("bad magic"), std::string::npos);
}

}  // namespace
}  // namespace octet
