// Normalisation kernels called directly against the formulas: batch norm (given and batch
// statistics), instance norm, layer norm with its Mean / InvStdDev outputs.
#include "kernels/ref/norm_ref.h"

#include <gtest/gtest.h>

#include <cmath>
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

}  // namespace
}  // namespace octet::kernels
