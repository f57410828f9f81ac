// gemm_ref / matmul_ref called directly: transposes, alpha/beta, C broadcast strides, K = 1,
// integer wrap-around.
#include "kernels/ref/gemm_ref.h"

#include <gtest/gtest.h>

#include <vector>

namespace octet::kernels {
namespace {

TEST(GemmRef, TransposesAndBroadcastC) {
  // A^T stored [K=2, M=3], B stored [N=2, K=2] (trans_b), C a row vector.
  GemmParams p;
  p.M = 3;
  p.N = 2;
  p.K = 2;
  p.trans_a = p.trans_b = true;
  p.alpha = 2;
  p.beta = 0.5;
  p.c_stride_row = 0;
  p.c_stride_col = 1;
  std::vector<float> a = {1, 2, 3, 4, 5, 6};  // A = [[1,4],[2,5],[3,6]]
  std::vector<float> b = {1, 0, 1, 1};        // B = [[1,1],[0,1]]
  std::vector<float> c = {2, 4}, y(6);
  gemm_ref(p, a.data(), b.data(), c.data(), y.data());
  // AB = [[1,5],[2,7],[3,9]]
  EXPECT_EQ(y, (std::vector<float>{3, 12, 5, 16, 7, 20}));
  gemm_ref(p, a.data(), b.data(), nullptr, y.data());
  EXPECT_EQ(y, (std::vector<float>{2, 10, 4, 14, 6, 18}));
}

TEST(GemmRef, OuterProductK1) {
  std::vector<double> a = {1, 2, 3}, b = {4, 5}, y(6);
  matmul_ref(3, 2, 1, a.data(), b.data(), y.data());
  EXPECT_EQ(y, (std::vector<double>{4, 5, 8, 10, 12, 15}));
}

TEST(GemmRef, IntegerWrap) {
  std::vector<int64_t> a = {INT64_MAX, 1}, b = {1, 1}, y(1);
  matmul_ref(1, 1, 2, a.data(), b.data(), y.data());
  EXPECT_EQ(y[0], INT64_MIN);
  std::vector<int8_t> a8 = {-128, -1}, b8 = {1, 1}, y8(1);
  matmul_ref(1, 1, 2, a8.data(), b8.data(), y8.data());
  EXPECT_EQ(y8[0], 127);
  std::vector<uint32_t> au = {0xffffffffu, 2}, bu = {2, 1}, yu(1);
  matmul_ref(1, 1, 2, au.data(), bu.data(), yu.data());
  EXPECT_EQ(yu[0], 0u);
}

}  // namespace
}  // namespace octet::kernels
