// maxpool/avgpool/global pool kernels called directly: padding never read, ties, divisors with
// and without count_include_pad, indices in both storage orders.
#include "kernels/ref/pool_ref.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace octet::kernels {
namespace {

PoolParams params_1d(int64_t in, int64_t k, int64_t s, int64_t pb, int64_t pe, int64_t out) {
  PoolParams p;
  p.in[2] = in;
  p.kernel[2] = k;
  p.stride[2] = s;
  p.pad_begin[2] = pb;
  p.pad_end[2] = pe;
  p.out[2] = out;
  return p;
}

TEST(PoolRef, MaxNegativeValuesIgnorePadding) {
  // All-negative input: padding must not act as 0.
  PoolParams p = params_1d(3, 3, 1, 1, 1, 3);
  std::vector<float> x = {-3, -1, -2}, y(3);
  std::vector<int64_t> idx(3);
  maxpool_nchw_ref(p, x.data(), y.data(), idx.data(), false);
  EXPECT_EQ(y, (std::vector<float>{-1, -1, -1}));
  EXPECT_EQ(idx, (std::vector<int64_t>{1, 1, 1}));
  // Ties: the first maximum wins.
  std::vector<uint8_t> xu = {5, 5, 5}, yu(3);
  maxpool_nchw_ref(p, xu.data(), yu.data(), idx.data(), false);
  EXPECT_EQ(idx, (std::vector<int64_t>{0, 0, 1}));
}

TEST(PoolRef, MaxIndicesStorageOrder) {
  // One 2x3 channel after one other channel (offset 6); kernel covers everything.
  PoolParams p;
  p.channels = 2;
  p.in[1] = 2;
  p.in[2] = 3;
  p.kernel[1] = 2;
  p.kernel[2] = 3;
  std::vector<double> x = {0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 9, 5}, y(2);
  std::vector<int64_t> idx(2);
  maxpool_nchw_ref(p, x.data(), y.data(), idx.data(), false);
  EXPECT_EQ(idx[1], 6 + 4);  // row 1, col 1 row-major
  maxpool_nchw_ref(p, x.data(), y.data(), idx.data(), true);
  EXPECT_EQ(idx[1], 6 + 1 + 1 * 2);  // column-major: row + col * rows
  EXPECT_EQ(y[1], 9);
}

TEST(PoolRef, AverageDivisors) {
  PoolParams p = params_1d(4, 3, 2, 1, 1, 2);  // windows {-1,0,1}, {1,2,3}
  std::vector<float> x = {3, 6, 9, 12}, y(2);
  avgpool_nchw_ref(p, false, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{4.5f, 9}));
  avgpool_nchw_ref(p, true, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{3, 9}));
  // A ceil-mode window past the end padding: divisor counts only taps inside the padded input.
  PoolParams c = params_1d(4, 3, 2, 0, 0, 2);  // windows {0,1,2}, {2,3,4}
  avgpool_nchw_ref(c, true, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{6, 10.5f}));
}

TEST(PoolRef, Global) {
  std::vector<float> x = {1, 2, 3, -4, -5, -6}, y(2);
  global_avgpool_ref(2, 3, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{2, -5}));
  global_maxpool_ref(2, 3, x.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{3, -4}));
  std::vector<double> e(1);
  global_avgpool_ref(1, 0, static_cast<const double*>(nullptr), e.data());
  EXPECT_TRUE(std::isnan(e[0]));
}

}  // namespace
}  // namespace octet::kernels
