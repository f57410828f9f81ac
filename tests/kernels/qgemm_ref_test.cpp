// qgemm_ref: hand-computed products with per-tensor, per-row and per-column zero points, strided
// layouts, the int32 overflow bound, and a random sweep of awkward shapes against an independent
// computation (the operands dequantized to exact doubles and multiplied k-outermost).
#include "kernels/ref/qgemm_ref.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace octet::kernels {
namespace {

TEST(QGemmRef, HandComputedWithZeroPoints) {
  // ONNX's MatMulInteger example: A [4,3] u8, a_zp 12; B [3,2] u8, b_zp 0.
  const std::vector<uint8_t> a = {11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0};
  const std::vector<uint8_t> b = {1, 4, 2, 5, 3, 6};
  const int32_t a_zp = 12, b_zp = 0;
  QGemmParams p{4, 2, 3, 3, 2, 2};
  std::vector<int32_t> c(8);
  ASSERT_TRUE(qgemm_s32_ref(p, a.data(), &a_zp, 0, b.data(), &b_zp, 0, c.data()));
  EXPECT_EQ(c, (std::vector<int32_t>{-38, -83, -44, -98, -50, -113, -56, -128}));
}

TEST(QGemmRef, PerRowAndPerColumnZeroPointsAndStrides) {
  // A [2,2] (in a buffer with row stride 3), B [2,2]; a_zp per row {1, -1}, b_zp per column {0, 2}.
  const std::vector<int8_t> a = {3, 5, 99, -2, 4, 99};
  const std::vector<int8_t> b = {1, 2, 3, 4};
  const std::vector<int32_t> a_zp = {1, -1}, b_zp = {0, 2};
  QGemmParams p{2, 2, 2, 3, 2, 5};
  std::vector<int32_t> c(10, -7);
  ASSERT_TRUE(qgemm_s32_ref(p, a.data(), a_zp.data(), 1, b.data(), b_zp.data(), 1, c.data()));
  // A - zp = [[2, 4], [-1, 5]], B - zp = [[1, 0], [3, 2]]
  EXPECT_EQ(c[0], 2 * 1 + 4 * 3);
  EXPECT_EQ(c[1], 2 * 0 + 4 * 2);
  EXPECT_EQ(c[5], -1 * 1 + 5 * 3);
  EXPECT_EQ(c[6], -1 * 0 + 5 * 2);
  EXPECT_EQ(c[2], -7);  // untouched outside ldc
  // nullptr zero points mean 0
  ASSERT_TRUE(qgemm_s32_ref(p, a.data(), nullptr, 0, b.data(), nullptr, 0, c.data()));
  EXPECT_EQ(c[0], 3 * 1 + 5 * 3);
}

TEST(QGemmRef, Int32BoundIsExactAndOverflowIsReported) {
  const int64_t k = kQGemmMaxSafeK;
  EXPECT_EQ(k, 33025);
  std::vector<uint8_t> a(static_cast<size_t>(k + 1), 255), b(static_cast<size_t>(k + 1), 255);
  const int32_t zero = 0;
  int32_t c = 0;
  QGemmParams p{1, 1, k, k, 1, 1};
  ASSERT_TRUE(qgemm_s32_ref(p, a.data(), &zero, 0, b.data(), &zero, 0, &c));
  EXPECT_EQ(c, 33025 * 65025);
  p.K = k + 1;
  p.lda = k + 1;
  EXPECT_FALSE(qgemm_s32_ref(p, a.data(), &zero, 0, b.data(), &zero, 0, &c));
  EXPECT_EQ(c, 2147483647);  // saturated, not wrapped

  // Most negative: (-128 - 127) * (127 - (-128)) = -65025 per term.
  std::vector<int8_t> sa(static_cast<size_t>(k + 1), -128), sb(static_cast<size_t>(k + 1), 127);
  const int32_t za = 127, zb = -128;
  EXPECT_FALSE(qgemm_s32_ref(p, sa.data(), &za, 0, sb.data(), &zb, 0, &c));
  EXPECT_EQ(c, -2147483647 - 1);
  p.K = k;
  p.lda = k;
  ASSERT_TRUE(qgemm_s32_ref(p, sa.data(), &za, 0, sb.data(), &zb, 0, &c));
  EXPECT_EQ(c, -33025 * 65025);
}

template <class TA, class TB>
void random_sweep(uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> av(std::is_signed<TA>::value ? -128 : 0,
                                        std::is_signed<TA>::value ? 127 : 255);
  std::uniform_int_distribution<int> bv(std::is_signed<TB>::value ? -128 : 0,
                                        std::is_signed<TB>::value ? 127 : 255);
  const int64_t dims[] = {1, 2, 3, 7, 16, 17};
  for (int64_t M : dims)
    for (int64_t N : dims)
      for (int64_t K : {1, 5, 33}) {
        std::vector<TA> a(static_cast<size_t>(M * K));
        std::vector<TB> b(static_cast<size_t>(K * N));
        std::vector<int32_t> za(static_cast<size_t>(M)), zb(static_cast<size_t>(N));
        for (auto& v : a) v = static_cast<TA>(av(rng));
        for (auto& v : b) v = static_cast<TB>(bv(rng));
        // Extreme zero points on the first row/column, random elsewhere.
        for (size_t i = 0; i < za.size(); ++i)
          za[i] = i == 0 ? (std::is_signed<TA>::value ? 127 : 255) : av(rng);
        for (size_t i = 0; i < zb.size(); ++i)
          zb[i] = i == 0 ? (std::is_signed<TB>::value ? -128 : 0) : bv(rng);
        std::vector<int32_t> c(static_cast<size_t>(M * N));
        QGemmParams p{M, N, K, K, N, N};
        ASSERT_TRUE(qgemm_s32_ref(p, a.data(), za.data(), 1, b.data(), zb.data(), 1, c.data()));
        std::vector<double> want(static_cast<size_t>(M * N), 0.0);
        for (int64_t k = 0; k < K; ++k)
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n)
              want[static_cast<size_t>(m * N + n)] +=
                  (double(a[static_cast<size_t>(m * K + k)]) - za[static_cast<size_t>(m)]) *
                  (double(b[static_cast<size_t>(k * N + n)]) - zb[static_cast<size_t>(n)]);
        for (size_t i = 0; i < c.size(); ++i)
          ASSERT_EQ(c[i], static_cast<int32_t>(want[i])) << "M " << M << " N " << N << " K " << K;
      }
}

TEST(QGemmRef, RandomSweepAllSignCombinations) {
  random_sweep<uint8_t, uint8_t>(11);
  random_sweep<uint8_t, int8_t>(12);
  random_sweep<int8_t, uint8_t>(13);
  random_sweep<int8_t, int8_t>(14);
}

}  // namespace
}  // namespace octet::kernels
