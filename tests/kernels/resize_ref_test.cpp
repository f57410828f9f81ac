// Tests for the Resize reference kernel's tap tables (src/kernels/ref/resize_ref.h). Values are
// hand-computed from the ONNX Resize formulas.
#include "kernels/ref/resize_ref.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace octet::kernels {
namespace {

ResizeAxis axis(int64_t in, int64_t out, double scale) {
  ResizeAxis a;
  a.in_size = in;
  a.out_size = out;
  a.scale = scale;
  return a;
}

TEST(ResizeRefTaps, LinearHalfPixelUpsample) {
  ResizeParams p;
  p.mode = ResizeMode::Linear;
  ResizeTaps t = resize_axis_taps(axis(2, 4, 2.0), p);
  // x_ori = (x + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25; indices clamped into [0, 1]
  ASSERT_EQ(t.begin, (std::vector<int64_t>{0, 2, 4, 6, 8}));
  EXPECT_EQ(t.idx, (std::vector<int64_t>{0, 0, 0, 1, 0, 1, 1, 1}));
  const std::vector<double> w = {0.25, 0.75, 0.75, 0.25, 0.25, 0.75, 0.75, 0.25};
  for (size_t i = 0; i < w.size(); ++i) EXPECT_DOUBLE_EQ(t.weight[i], w[i]) << i;
}

TEST(ResizeRefTaps, CubicWeightsSumToOneAndIdentityIsDetected) {
  ResizeParams p;
  p.mode = ResizeMode::Cubic;
  ResizeTaps t = resize_axis_taps(axis(7, 5, 5.0 / 7.0), p);
  for (size_t x = 0; x + 1 < t.begin.size(); ++x) {
    double sum = 0;
    for (int64_t k = t.begin[x]; k < t.begin[x + 1]; ++k) sum += t.weight[static_cast<size_t>(k)];
    EXPECT_NEAR(sum, 1.0, 1e-12) << "output " << x;
  }
  EXPECT_FALSE(resize_taps_identity(t, 7));
  EXPECT_TRUE(resize_taps_identity(resize_axis_taps(axis(6, 6, 1.0), p), 6));
  p.mode = ResizeMode::Linear;
  p.coord = ResizeCoord::AlignCorners;
  EXPECT_TRUE(resize_taps_identity(resize_axis_taps(axis(6, 6, 1.0), p), 6));
}

TEST(ResizeRefTaps, AntialiasWidensTheFilter) {
  ResizeParams p;
  p.mode = ResizeMode::Linear;
  p.antialias = true;
  ResizeTaps t = resize_axis_taps(axis(8, 2, 0.25), p);
  // support 1/scale = 4 on each side: 2 - 2 * (floor(-4) + 1) = 8 taps
  EXPECT_EQ(t.begin[1] - t.begin[0], 8);
  // x = 0: x_ori = 1.5, base 1, ratio 0.5; tent weights 1 - |j - 0.5| / 4 for j = -3..4
  double sum = 0;
  std::vector<double> raw;
  for (int j = -3; j <= 4; ++j) raw.push_back(std::fmax(0.0, 1 - std::fabs((j - 0.5) * 0.25)));
  for (double v : raw) sum += v;
  for (size_t k = 0; k < raw.size(); ++k) EXPECT_NEAR(t.weight[k], raw[k] / sum, 1e-12);
}

TEST(ResizeRefTaps, CropBoxMarksOutside) {
  ResizeParams p;
  p.mode = ResizeMode::Nearest;
  p.coord = ResizeCoord::TfCropAndResize;
  ResizeAxis a = axis(4, 3, 0.75);
  a.roi_start = 0.5;
  a.roi_end = 1.5;
  ResizeTaps t = resize_axis_taps(a, p);
  // out_f = 0.75 * 4 = 3; x_ori = 0.5 * 3 + x * 1 * 3 / (3 - 1) = 1.5, 3, 4.5: the last is
  // past in - 1 = 3
  EXPECT_EQ(t.outside, (std::vector<uint8_t>{0, 0, 1}));
  EXPECT_EQ(t.idx, (std::vector<int64_t>{1, 3}));  // round_prefer_floor of 1.5, then exactly 3
}

TEST(ResizeRefSeparable, BilinearMatchesHandValues) {
  ResizeParams p;
  p.mode = ResizeMode::Linear;
  std::vector<ResizeTaps> taps = {resize_axis_taps(axis(2, 4, 2.0), p), resize_axis_taps(axis(2, 4, 2.0), p)};
  const std::vector<double> in = {1, 2, 3, 4};
  std::vector<double> out(16);
  resize_separable_ref(in.data(), {2, 2}, taps, 0.0, out.data());
  const std::vector<double> want = {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_DOUBLE_EQ(out[i], want[i]) << i;
}

}  // namespace
}  // namespace octet::kernels
