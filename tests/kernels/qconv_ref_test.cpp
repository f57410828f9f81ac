// qconv_ref: hand-computed convolutions (ONNX's ConvInteger examples, 1-D and 3-D, bias,
// per-channel zero points), the overflow report, and a random 2-D sweep (groups, depthwise,
// strides, dilations, asymmetric pads, extreme zero points) against an independent computation
// that pads the input explicitly with the zero point and runs a plain valid convolution.
#include "kernels/ref/qconv_ref.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace octet::kernels {
namespace {

QConvParams params2d(int64_t n, int64_t c, int64_t m, int64_t group, int64_t h, int64_t w,
                     int64_t kh, int64_t kw, int64_t sh = 1, int64_t sw = 1, int64_t dh = 1,
                     int64_t dw = 1, int64_t pt = 0, int64_t pl = 0, int64_t pb = 0,
                     int64_t pr = 0) {
  QConvParams p;
  p.batch = n;
  p.in_channels = c;
  p.out_channels = m;
  p.group = group;
  p.in_spatial = {h, w};
  p.kernel = {kh, kw};
  p.strides = {sh, sw};
  p.dilations = {dh, dw};
  p.pads_begin = {pt, pl};
  p.out_spatial = {(h + pt + pb - ((kh - 1) * dh + 1)) / sh + 1,
                   (w + pl + pr - ((kw - 1) * dw + 1)) / sw + 1};
  return p;
}

TEST(QConvRef, OnnxConvIntegerExamples) {
  const std::vector<uint8_t> x = {2, 3, 4, 5, 6, 7, 8, 9, 10};
  const std::vector<uint8_t> w = {1, 1, 1, 1};
  const int32_t w_zp = 0;
  std::vector<int32_t> y(4);
  ASSERT_TRUE(qconv_s32_ref(params2d(1, 1, 1, 1, 3, 3, 2, 2), x.data(), 1, w.data(), &w_zp, 0,
                            nullptr, y.data()));
  EXPECT_EQ(y, (std::vector<int32_t>{12, 16, 24, 28}));
  // pads 1 on every side: the padding behaves as x_zp (contributes 0).
  std::vector<int32_t> yp(16);
  ASSERT_TRUE(qconv_s32_ref(params2d(1, 1, 1, 1, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1), x.data(), 1,
                            w.data(), nullptr, 0, nullptr, yp.data()));
  EXPECT_EQ(yp, (std::vector<int32_t>{1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9}));
}

TEST(QConvRef, OneDimensionalWithBiasAndPerChannelZeroPoints) {
  // x [1, 1, 5] s8, w [2, 1, 3] s8 with w_zp {0, 1}, bias {100, -100}, stride 2, pad 1/1.
  const std::vector<int8_t> x = {1, 2, 3, 4, 5};
  const std::vector<int8_t> w = {1, 0, -1, 2, 2, 2};
  const std::vector<int32_t> w_zp = {0, 1};
  const std::vector<int32_t> bias = {100, -100};
  QConvParams p;
  p.batch = 1;
  p.in_channels = 1;
  p.out_channels = 2;
  p.in_spatial = {5};
  p.kernel = {3};
  p.strides = {2};
  p.dilations = {1};
  p.pads_begin = {1};
  p.out_spatial = {3};
  std::vector<int32_t> y(6);
  ASSERT_TRUE(qconv_s32_ref(p, x.data(), 0, w.data(), w_zp.data(), 1, bias.data(), y.data()));
  // channel 0 taps [1,0,-1] at centres 0, 2, 4: (0 - 2), (2 - 4), (4 - 0)
  // channel 1 taps [1,1,1]:  (0+1+2), (2+3+4), (4+5+0)
  EXPECT_EQ(y, (std::vector<int32_t>{98, 98, 104, -97, -91, -91}));
}

TEST(QConvRef, ThreeDimensional) {
  // x [1, 1, 2, 2, 2] = 1..8, w [1, 1, 2, 2, 2] all 1, zp 0: one output, the sum 36.
  std::vector<uint8_t> x = {1, 2, 3, 4, 5, 6, 7, 8}, w(8, 1);
  QConvParams p;
  p.batch = 1;
  p.in_channels = 1;
  p.out_channels = 1;
  p.in_spatial = {2, 2, 2};
  p.kernel = {2, 2, 2};
  p.strides = {1, 1, 1};
  p.dilations = {1, 1, 1};
  p.pads_begin = {0, 0, 0};
  p.out_spatial = {1, 1, 1};
  int32_t y = 0;
  ASSERT_TRUE(qconv_s32_ref(p, x.data(), 0, w.data(), nullptr, 0, nullptr, &y));
  EXPECT_EQ(y, 36);
}

TEST(QConvRef, OverflowIsReportedNotWrapped) {
  // K = C * kh * kw = 33026 > 33025 with every term 255 * 255.
  const int64_t c = 33026;
  std::vector<uint8_t> x(static_cast<size_t>(c), 255), w(static_cast<size_t>(c), 255);
  int32_t y = 0;
  EXPECT_FALSE(qconv_s32_ref(params2d(1, c, 1, 1, 1, 1, 1, 1), x.data(), 0, w.data(), nullptr, 0,
                             nullptr, &y));
  EXPECT_EQ(y, 2147483647);
  // A bias that tips a fitting sum over is reported too.
  const int32_t bias = 2147483647;
  std::vector<uint8_t> one = {1};
  EXPECT_FALSE(qconv_s32_ref(params2d(1, 1, 1, 1, 1, 1, 1, 1), one.data(), 0, one.data(), nullptr,
                             0, &bias, &y));
}

// Independent 2-D computation: explicit padding with x_zp, then a valid, strided, dilated conv.
template <class TX, class TW>
std::vector<int32_t> naive_conv2d(const QConvParams& p, const std::vector<TX>& x, int32_t x_zp,
                                  const std::vector<TW>& w, const std::vector<int32_t>& w_zp,
                                  const std::vector<int32_t>& bias, int64_t pb, int64_t pr) {
  const int64_t H = p.in_spatial[0], W = p.in_spatial[1];
  const int64_t Hp = H + p.pads_begin[0] + pb, Wp = W + p.pads_begin[1] + pr;
  const int64_t C = p.in_channels, M = p.out_channels, G = p.group;
  const int64_t cg = C / G, mg = M / G, KH = p.kernel[0], KW = p.kernel[1];
  const int64_t OH = p.out_spatial[0], OW = p.out_spatial[1];
  std::vector<int64_t> padded(static_cast<size_t>(p.batch * C * Hp * Wp), x_zp);
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t ww = 0; ww < W; ++ww)
          padded[static_cast<size_t>(((n * C + c) * Hp + h + p.pads_begin[0]) * Wp + ww +
                                     p.pads_begin[1])] =
              x[static_cast<size_t>(((n * C + c) * H + h) * W + ww)];
  std::vector<int32_t> y(static_cast<size_t>(p.batch * M * OH * OW));
  for (int64_t n = 0; n < p.batch; ++n)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          int64_t acc = bias.empty() ? 0 : bias[static_cast<size_t>(m)];
          const int64_t g = m / mg;
          for (int64_t c = 0; c < cg; ++c)
            for (int64_t kh = 0; kh < KH; ++kh)
              for (int64_t kw = 0; kw < KW; ++kw) {
                const int64_t ih = oh * p.strides[0] + kh * p.dilations[0];
                const int64_t iw = ow * p.strides[1] + kw * p.dilations[1];
                const int64_t xv =
                    padded[static_cast<size_t>(((n * C + g * cg + c) * Hp + ih) * Wp + iw)];
                const int64_t wv = w[static_cast<size_t>(((m * cg + c) * KH + kh) * KW + kw)];
                acc += (xv - x_zp) * (wv - w_zp[static_cast<size_t>(m)]);
              }
          y[static_cast<size_t>(((n * M + m) * OH + oh) * OW + ow)] = static_cast<int32_t>(acc);
        }
  return y;
}

template <class TX, class TW>
void random_conv_sweep(uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  const int xlo = std::is_signed<TX>::value ? -128 : 0, wlo = std::is_signed<TW>::value ? -128 : 0;
  for (int iter = 0; iter < 60; ++iter) {
    const int64_t group = pick(0, 2) == 0 ? 1 : pick(1, 3);
    const bool depthwise = iter % 5 == 0;
    const int64_t cg = depthwise ? 1 : pick(1, 3), mg = pick(1, 2);
    const int64_t C = cg * group, M = mg * group;
    const int64_t kh = pick(1, 3), kw = pick(1, 3), sh = pick(1, 2), sw = pick(1, 3);
    const int64_t dh = pick(1, 2), dw = pick(1, 2);
    const int64_t pt = pick(0, 2), pl = pick(0, 1), pb = pick(0, 2), pr = pick(0, 1);
    const int64_t H = pick(1, 6) + (kh - 1) * dh, W = pick(1, 6) + (kw - 1) * dw;
    QConvParams p = params2d(pick(1, 2), C, M, group, H, W, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr);
    std::vector<TX> x(static_cast<size_t>(p.batch * C * H * W));
    std::vector<TW> w(static_cast<size_t>(M * cg * kh * kw));
    for (auto& v : x) v = static_cast<TX>(pick(xlo, xlo + 255));
    for (auto& v : w) v = static_cast<TW>(pick(wlo, wlo + 255));
    const int32_t x_zp = iter % 3 == 0 ? xlo + 255 : pick(xlo, xlo + 255);
    std::vector<int32_t> w_zp(static_cast<size_t>(M)), bias;
    for (auto& z : w_zp) z = iter % 4 == 0 ? wlo : pick(wlo, wlo + 255);
    if (iter % 2) {
      bias.resize(static_cast<size_t>(M));
      for (auto& b : bias) b = pick(-100000, 100000);
    }
    std::vector<int32_t> got(
        static_cast<size_t>(p.batch * M * p.out_spatial[0] * p.out_spatial[1]));
    ASSERT_TRUE(qconv_s32_ref(p, x.data(), x_zp, w.data(), w_zp.data(), 1,
                              bias.empty() ? nullptr : bias.data(), got.data()));
    ASSERT_EQ(got, naive_conv2d(p, x, x_zp, w, w_zp, bias, pb, pr))
        << "iter " << iter << " group " << group << " C " << C << " M " << M << " k " << kh << "x"
        << kw << " s " << sh << "," << sw << " d " << dh << "," << dw;
  }
}

TEST(QConvRef, RandomSweepAgainstExplicitPadding) {
  random_conv_sweep<uint8_t, uint8_t>(101);
  random_conv_sweep<uint8_t, int8_t>(102);
  random_conv_sweep<int8_t, uint8_t>(103);
  random_conv_sweep<int8_t, int8_t>(104);
}

}  // namespace
}  // namespace octet::kernels
