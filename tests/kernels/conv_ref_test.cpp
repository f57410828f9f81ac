// conv_nchw_ref / conv_transpose_nchw_ref called directly on hand-computed cases: padding, stride,
// dilation, groups, bias, and the leading-unused-dims convention for 1-D problems.
#include "kernels/ref/conv_ref.h"

#include <gtest/gtest.h>

#include <vector>

namespace octet::kernels {
namespace {

TEST(ConvRef, Conv1dPaddedStridedDilated) {
  // x = [1, 2, 3, 4, 5], w = [1, 10], dilation 2, stride 2, pad_begin 1 (pad_end 1 -> out 3):
  // taps at o*2 - 1 + {0, 2}: o0 {-1, 1}, o1 {1, 3}, o2 {3, 5}
  ConvParams p;
  p.in[2] = 5;
  p.kernel[2] = 2;
  p.dilation[2] = 2;
  p.stride[2] = 2;
  p.pad_begin[2] = 1;
  p.out[2] = 3;
  std::vector<float> x = {1, 2, 3, 4, 5}, w = {1, 10}, b = {0.5f}, y(3);
  conv_nchw_ref(p, x.data(), w.data(), b.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{20.5f, 42.5f, 4.5f}));
}

TEST(ConvRef, Conv2dGroups) {
  // 2 groups: channel 0 -> outputs 0, 1; channel 1 -> output 2. 1x1 kernels on a 1x2 image.
  ConvParams p;
  p.batch = 1;
  p.in_channels = 2;
  p.out_channels = 4;
  p.group = 2;
  p.in[2] = 2;
  p.out[2] = 2;
  std::vector<double> x = {1, 2, 3, 4}, w = {1, 2, 3, 4}, y(8);
  conv_nchw_ref(p, x.data(), w.data(), nullptr, y.data());
  EXPECT_EQ(y, (std::vector<double>{1, 2, 2, 4, 9, 12, 12, 16}));
}

TEST(ConvRef, Conv3dSum) {
  ConvParams p;
  for (int i = 0; i < 3; ++i) p.in[i] = 2, p.kernel[i] = 2;
  std::vector<float> x(8), w(8, 1.f), y(1);
  for (int i = 0; i < 8; ++i) x[i] = float(i);
  conv_nchw_ref(p, x.data(), w.data(), nullptr, y.data());
  EXPECT_EQ(y[0], 28.f);
}

TEST(ConvRef, TransposeScatter) {
  // x = [1, 2], w = [1, 2, 3], stride 2, pad_begin 1, out 4: full = [1, 2, 3+2, 4, 6] -> [2, 5, 4,
  // 6]
  ConvParams p;
  p.in[2] = 2;
  p.kernel[2] = 3;
  p.stride[2] = 2;
  p.pad_begin[2] = 1;
  p.out[2] = 4;
  std::vector<float> x = {1, 2}, w = {1, 2, 3}, b = {1}, y(4);
  conv_transpose_nchw_ref(p, x.data(), w.data(), b.data(), y.data());
  EXPECT_EQ(y, (std::vector<float>{3, 6, 5, 7}));
  // Grouped: W is [C, M/group, k]; 2 groups of 1 -> 1.
  ConvParams g;
  g.in_channels = 2;
  g.out_channels = 2;
  g.group = 2;
  g.in[2] = 1;
  g.out[2] = 1;
  std::vector<double> xg = {2, 3}, wg = {10, 100}, yg(2);
  conv_transpose_nchw_ref(g, xg.data(), wg.data(), nullptr, yg.data());
  EXPECT_EQ(yg, (std::vector<double>{20, 300}));
}

}  // namespace
}  // namespace octet::kernels
