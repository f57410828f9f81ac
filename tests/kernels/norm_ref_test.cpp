// Normalisation kernels called directly against the formulas: batch norm (given and batch
// statistics), instance norm, layer norm with its Mean / InvStdDev outputs.
#include "kernels/ref/norm_ref.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace octet::kernels {
namespace {

TEST(NormRef, BatchNormAndMoments) {
  // N=2, C=2, S=1
  std::vector<double> x = {1, 10, 3, 20}, scale = {2, 1}, bias = {0, 1}, mean = {2, 15},
                      var = {1, 25}, y(4);
  batchnorm_nchw_ref(2, 2, 1, x.data(), scale.data(), bias.data(), mean.data(), var.data(), 0.0,
                     y.data());
  EXPECT_EQ(y, (std::vector<double>{-2, 0, 2, 2}));
  std::vector<double> m(2), v(2);
  channel_moments_nchw_ref(2, 2, 1, x.data(), m.data(), v.data());
  EXPECT_EQ(m, (std::vector<double>{2, 15}));
  EXPECT_EQ(v, (std::vector<double>{1, 25}));  // population variance
}

TEST(NormRef, InstanceNorm) {
  std::vector<float> x = {0, 2, 4, 6}, scale = {3, 1}, bias = {1, -1}, y(4);
  instancenorm_nchw_ref(1, 2, 2, x.data(), scale.data(), bias.data(), 0.0, y.data());
  EXPECT_EQ(y, (std::vector<float>{-2, 4, -2, 0}));
}

TEST(NormRef, LayerNorm) {
  std::vector<float> x = {1, 3, 10, 10}, scale = {1, 2}, bias = {0, 0.5f}, y(4), m(2), inv(2);
  layernorm_ref(2, 2, x.data(), scale.data(), bias.data(), 1.0, y.data(), m.data(), inv.data());
  const float i0 = float(1 / std::sqrt(2.0)), i1 = 1.f;
  EXPECT_FLOAT_EQ(y[0], -i0);
  EXPECT_FLOAT_EQ(y[1], 2 * i0 + 0.5f);
  EXPECT_FLOAT_EQ(y[2], 0);
  EXPECT_FLOAT_EQ(y[3], 0.5f);
  EXPECT_EQ(m, (std::vector<float>{2, 10}));
  EXPECT_FLOAT_EQ(inv[0], i0);
  EXPECT_FLOAT_EQ(inv[1], i1);
  layernorm_ref(2, 2, x.data(), scale.data(), nullptr, 1.0, y.data(), nullptr, nullptr);
  EXPECT_FLOAT_EQ(y[3], 0);
}

// Float rows are normalised in float (ONNX's default stash_type): against the same formula in
// double on the same inputs, rows of 7 to 1,000 values with a mean up to 200 times their spread
// stay within 2e-4 of the (unit-variance) result; double rows match it to 1e-12.
TEST(NormRef, LayerNormInFloatIsAccurate) {
  std::mt19937 rng(3);
  for (int64_t cols : {7, 64, 1000}) {
    for (float offset : {0.f, 100.f}) {
      std::normal_distribution<float> nd(offset, 0.5f);
      const int64_t rows = 5;
      std::vector<float> x(static_cast<size_t>(rows * cols)), s(static_cast<size_t>(cols), 1.f),
          b(static_cast<size_t>(cols), 0.f), y(x.size());
      for (auto& v : x) v = nd(rng);
      layernorm_ref(rows, cols, x.data(), s.data(), b.data(), 1e-5, y.data(), nullptr, nullptr);
      std::vector<double> xd(x.begin(), x.end()), sd(s.begin(), s.end()), bd(b.begin(), b.end()), yd(x.size());
      layernorm_ref(rows, cols, xd.data(), sd.data(), bd.data(), 1e-5, yd.data(), nullptr, nullptr);
      for (int64_t r = 0; r < rows; ++r) {
        double m = 0, v = 0;
        for (int64_t j = 0; j < cols; ++j) m += xd[static_cast<size_t>(r * cols + j)];
        m /= static_cast<double>(cols);
        for (int64_t j = 0; j < cols; ++j) v += (xd[static_cast<size_t>(r * cols + j)] - m) * (xd[static_cast<size_t>(r * cols + j)] - m);
        const double inv = 1 / std::sqrt(v / static_cast<double>(cols) + 1e-5);
        for (int64_t j = 0; j < cols; ++j) {
          const size_t i = static_cast<size_t>(r * cols + j);
          const double want = (xd[i] - m) * inv;
          ASSERT_NEAR(yd[i], want, 1e-12) << "double, cols " << cols;
          ASSERT_NEAR(y[i], want, 2e-4) << "float, cols " << cols << " offset " << offset;
        }
      }
    }
  }
}

}  // namespace
}  // namespace octet::kernels
