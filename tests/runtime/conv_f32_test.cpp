// The engine's float convolution (fast/conv_f32.cpp) against the reference Conv op on random
// geometries: strides, dilations and asymmetric pads that exercise the shifted-B kernel's phase
// planes, groups, non-square kernels, 1x1 with and without padding or stride, a K too large for
// the shifted kernel (im2col), depthwise, with and without bias and a fused Relu, on 1 and 2
// threads (which must give the same bits).
//
// Tolerance: the fast path and the reference sum the same K products in different orders and
// with FMA; each is within about (K + 2) 2^-24 sum |w x| of the exact value, so they are compared
// with 2 (K + 4) 2^-24 (sum |w x| + |b|), the magnitude computed by the reference executor on the
// absolute values of input, weights and bias. A missing or misplaced tap is far larger.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "../test_util.h"
#include "ir/builder.h"
#include "runtime/engine.h"
#include "runtime/executor.h"
#include "runtime/fast/conv_f32_onednn.h"
#include "runtime/fast/fast_op.h"
#include "runtime/shape_inference.h"

namespace octet {
namespace {

using B = GraphBuilder;

struct ConvCase {
  int64_t n, c, h, w, m, group, kh, kw, sh, sw, dh, dw;
  int64_t pads[4];  // top, left, bottom, right
  bool bias, relu;
};

// dynamic_plane: the input's height and width are symbols (unknown at load), so the engine
// learns the plane's size only when it runs.
Model conv_model(const ConvCase& t, const Tensor& w, const Tensor& b, bool dynamic_plane = false) {
  B g("conv", 17);
  const std::string x = g.input("x", DType::Float32, {t.n, t.c, t.h, t.w});
  g.initializer("w", w);
  std::vector<std::string> ins = {x, "w"};
  if (t.bias) {
    g.initializer("b", b);
    ins.push_back("b");
  }
  std::string y = g.op("Conv", ins,
                       {{"group", B::i(t.group)},
                        {"kernel_shape", B::ints({t.kh, t.kw})},
                        {"strides", B::ints({t.sh, t.sw})},
                        {"dilations", B::ints({t.dh, t.dw})},
                        {"pads", B::ints({t.pads[0], t.pads[1], t.pads[2], t.pads[3]})}},
                       "conv");
  if (t.relu) y = g.op("Relu", {y}, {}, "relu");
  g.output(y);
  Model m = g.build();
  if (dynamic_plane) {
    m.graph.get_or_add_value(x).type.dims[2] = Dim::symbol("H");
    m.graph.get_or_add_value(x).type.dims[3] = Dim::symbol("W");
  }
  infer_shapes(m);
  return m;
}

Tensor abs_of(const Tensor& t) {
  Tensor a = t.clone();  // Tensor copies share their buffer
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = std::fabs(a.data<float>()[i]);
  return a;
}

// A random convolution: group in [1, group_hi], c / group in [c_lo, c_hi], m / group in
// [1, m_hi], batch in [1, n_hi], kernel rows 1-4 and columns kw_lo-4, row strides 1-3 and column
// strides 1-sw_hi, dilations 1-2, pads 0-2, input sides up to size_hi, bias and Relu or not.
struct CaseRanges {
  int64_t group_hi, c_lo, c_hi, m_hi, n_hi, kw_lo, sw_hi, size_hi;
};
ConvCase random_case(std::mt19937& rng, const CaseRanges& r) {
  auto u = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  ConvCase t{};
  t.group = u(1, r.group_hi);
  t.c = t.group * u(r.c_lo, r.c_hi);
  t.m = t.group * u(1, r.m_hi);
  t.n = u(1, r.n_hi);
  t.kh = u(1, 4);
  t.kw = u(r.kw_lo, 4);
  t.sh = u(1, 3);
  t.sw = u(1, r.sw_hi);
  t.dh = u(1, 2);
  t.dw = u(1, 2);
  for (auto& p : t.pads) p = u(0, 2);
  t.h = u((t.kh - 1) * t.dh + 1, r.size_hi);
  t.w = u((t.kw - 1) * t.dw + 1, r.size_hi);
  t.bias = rng() % 2;
  t.relu = rng() % 2;
  return t;
}

// Runs each case on the engine with 1, 2 and 3 threads (oneDNN's kernels or octet's own) and
// compares with the reference executor within the tolerance above. With oneDNN, every other case
// leaves the input plane's size unknown at load.
void expect_matches_reference(const std::vector<ConvCase>& cases, bool onednn) {
  for (size_t i = 0; i < cases.size(); ++i) {
    const ConvCase& t = cases[i];
    SCOPED_TRACE(::testing::Message() << "case " << i << ": x " << t.n << "x" << t.c << "x" << t.h << "x" << t.w << " -> "
                                      << t.m << ", group " << t.group << ", kernel " << t.kh << "x" << t.kw << ", strides "
                                      << t.sh << "," << t.sw << ", dilations " << t.dh << "," << t.dw << ", pads "
                                      << t.pads[0] << "," << t.pads[1] << "," << t.pads[2] << "," << t.pads[3]);
    const uint32_t seed = 500 + static_cast<uint32_t>(i);
    const Tensor w = testing::random_float({t.m, t.c / t.group, t.kh, t.kw}, seed);
    const Tensor b = testing::random_float({t.m}, seed + 1);
    const Tensor x = testing::random_float({t.n, t.c, t.h, t.w}, seed + 2);
    const bool dynamic_plane = onednn && i % 2 == 1;
    const Model m = conv_model(t, w, b, dynamic_plane);
    const std::string out = m.graph.outputs[0];
    const Tensor want = Executor(m).run({{"x", x}}).at(out);
    ConvCase ta = t;
    ta.relu = false;
    const Model abs_model = conv_model(ta, abs_of(w), abs_of(b));
    const Tensor mag = Executor(abs_model).run({{"x", abs_of(x)}}).at(abs_model.graph.outputs[0]);
    const int64_t K = t.c / t.group * t.kh * t.kw;
    EngineOptions one, two, three;
    one.threads = 1;
    two.threads = 2;
    three.threads = 3;
    one.onednn = two.onednn = three.onednn = onednn;
    one.profile = two.profile = three.profile = true;  // the profile names the kernel that ran
    Engine e1(m, one), e2(m, two), e3(m, three);
    ASSERT_EQ(e1.layers().size(), 1u) << "the Relu is fused into the convolution";
    EXPECT_EQ(e1.layers()[0].precision, "fp32");
    const bool depthwise = t.group == t.c && t.group == t.m && t.group > 1;
    const bool plain_1x1 = t.kh == 1 && t.kw == 1 && t.sh == 1 && t.sw == 1 && t.pads[0] + t.pads[1] + t.pads[2] + t.pads[3] == 0;
    // Output planes under 14x14 go to the direct kernel where it applies: decided at load when
    // the plane's size is known then, else per run.
    const bool small = want.dim(2) * want.dim(3) < 196 && t.m >= 16 && K <= 576;
    if (onednn) {
      EXPECT_EQ(e1.layers()[0].kernel, small && !dynamic_plane ? "conv_f32_direct_6x16_avx2" : "conv_f32_onednn");
    } else if (!depthwise && !plain_1x1) {
      const char* small_k = t.m / t.group >= 16 ? "conv_f32_direct_6x16_avx2" : "conv_f32_shift_6x16_avx2";
      EXPECT_EQ(e1.layers()[0].kernel, K <= 2304 ? small_k : "conv_f32_im2col_sgemm_6x16_avx2");
    } else if (!depthwise) {
      // Group 1: pixels in the lanes on the input as it is, unless the direct kernel applies
      // (small plane or K <= 16, 16-channel blocks) and 6-row panels would waste over 1/16.
      const int64_t mg = t.m / t.group, panel_rows = (mg + 5) / 6 * 6;
      const bool direct = mg % 16 == 0 && (t.h * t.w < 256 || K <= 16) && K <= 2304;
      const bool shift = t.group == 1 && K <= 2304 && !(direct && 16 * panel_rows > 17 * mg);
      EXPECT_EQ(e1.layers()[0].kernel, shift    ? "conv_f32_1x1_shift_6x16_avx2"
                                       : direct ? "conv_f32_direct_6x16_avx2"
                                                : "conv_f32_1x1_sgemm_6x16_avx2");
    }
    if (depthwise) {
      EXPECT_EQ(e1.layers()[0].kernel,
                t.kh == 3 && t.kw == 3 && t.m >= 8 ? "dwconv3x3_f32_cb8_avx2" : "dwconv_f32_avx2");
    }
    const Tensor y1 = e1.run({{"x", x}}).at(out), y2 = e2.run({{"x", x}}).at(out), y3 = e3.run({{"x", x}}).at(out);
    if (onednn) {
      for (const Engine* e : {&e1, &e2, &e3})
        EXPECT_EQ(e->layers()[0].kernel, small ? "conv_f32_direct_6x16_avx2" : "conv_f32_onednn")
            << "oneDNN ran it, not the fallback";
    }
    for (const Tensor* y : {&y1, &y2, &y3}) {
      ASSERT_EQ(y->shape(), want.shape());
      for (int64_t j = 0; j < want.numel(); ++j) {
        const double tol = 2.0 * (K + 4) * std::ldexp(1.0, -24) * mag.data<float>()[j] + 1e-30;
        ASSERT_LE(std::fabs(y->data<float>()[j] - want.data<float>()[j]), tol)
            << "element " << j << " of " << (y == &y1 ? 1 : y == &y2 ? 2 : 3) << " threads, kernel "
            << e1.layers()[0].kernel << " got " << y->data<float>()[j] << " want " << want.data<float>()[j];
      }
    }
    if (!onednn) {
      EXPECT_EQ(std::memcmp(y1.raw(), y2.raw(), y1.nbytes()), 0) << "1 and 2 threads give the same bits";
      EXPECT_EQ(std::memcmp(y1.raw(), y3.raw(), y1.nbytes()), 0) << "1 and 3 threads give the same bits";
    }
    const Tensor again = e2.run({{"x", x}}).at(out);  // the second run reuses the plan
    EXPECT_EQ(std::memcmp(again.raw(), y2.raw(), y2.nbytes()), 0) << "a second run gives the same bits";
  }
}

// Plain 1x1 convolutions on small planes with several images (where the INT8 ones run several
// images per GEMM; the float ones were measured slower that way, 1.07x on mobilenetv2-tiny, and
// run per image): within the tolerance of the reference, and each image's result the same bits
// as that image run alone.
TEST(EngineConvF32, PointwiseOnSmallPlanesMatchesTheReferenceAndSingleImages) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const std::vector<ConvCase> cases = {
      {13, 32, 7, 7, 48, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, true},
      {40, 24, 7, 7, 20, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false},
      {2, 16, 14, 14, 24, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, false, true},
      {5, 7, 3, 5, 9, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false},
      {40, 64, 1, 1, 10, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, true},
  };
  expect_matches_reference(cases, false);
  for (size_t i = 0; i < cases.size(); ++i) {
    const ConvCase& t = cases[i];
    SCOPED_TRACE(::testing::Message() << "case " << i);
    const Tensor w = testing::random_float({t.m, t.c, 1, 1}, 70 + static_cast<uint32_t>(i));
    const Tensor b = testing::random_float({t.m}, 80 + static_cast<uint32_t>(i));
    const Tensor x = testing::random_float({t.n, t.c, t.h, t.w}, 90 + static_cast<uint32_t>(i));
    ConvCase one = t;
    one.n = 1;
    const Model batch_model = conv_model(t, w, b), one_model = conv_model(one, w, b);
    const std::string out = batch_model.graph.outputs[0];
    EngineOptions eo;
    eo.threads = 2;
    const Tensor y = Engine(batch_model, eo).run({{"x", x}}).at(out);
    Engine single(one_model, eo);
    const size_t image = static_cast<size_t>(t.c * t.h * t.w), image_out = static_cast<size_t>(t.m * t.h * t.w);
    for (int64_t n = 0; n < t.n; ++n) {
      Tensor xn(DType::Float32, {1, t.c, t.h, t.w});
      std::memcpy(xn.raw(), x.data<float>() + n * image, image * sizeof(float));
      const Tensor yn = single.run({{"x", xn}}).at(out);
      EXPECT_EQ(std::memcmp(yn.raw(), y.data<float>() + n * image_out, image_out * sizeof(float)), 0) << "image " << n;
    }
  }
}

TEST(EngineConvF32, OwnKernelsOnRandomGeometriesMatchTheReference) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  std::vector<ConvCase> cases = {
      {2, 16, 28, 28, 16, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, true},    // resnet8 stage 1
      {2, 16, 28, 28, 32, 1, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, true, true},    // stride 2
      {2, 16, 28, 28, 32, 1, 1, 1, 2, 2, 1, 1, {0, 0, 0, 0}, true, false},   // 1x1 stride 2
      {1, 64, 7, 7, 64, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, false, false},    // late layer, 1 image
      {1, 3, 17, 19, 8, 1, 7, 7, 2, 2, 1, 1, {3, 3, 3, 3}, true, true},      // stem-like 7x7 s2
      {3, 6, 11, 13, 9, 3, 3, 2, 1, 1, 2, 1, {2, 0, 1, 3}, true, false},     // groups, dilation, asym pads
      {1, 4, 10, 9, 5, 1, 2, 3, 3, 2, 1, 2, {0, 1, 2, 0}, false, true},      // strides 3 x 2, dilation
      {2, 5, 6, 6, 7, 1, 1, 1, 1, 1, 1, 1, {1, 0, 0, 1}, true, false},       // 1x1 with padding
      {1, 2, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, true},        // 1x1 plain on a 1x1 plane: all tail
      {1, 1, 5, 40, 20, 1, 5, 5, 1, 3, 1, 1, {2, 2, 2, 2}, true, false},     // wide row, 20 channels
      {2, 8, 9, 9, 8, 8, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, true},        // depthwise
      {3, 13, 14, 14, 13, 13, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, true, true},   // depthwise s2, 8 + 5 channels
      {1, 24, 7, 5, 24, 24, 3, 3, 1, 1, 2, 2, {2, 0, 1, 2}, false, false},  // depthwise dilated, asym pads
      {1, 6, 9, 9, 6, 6, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, false},       // depthwise, fewer than 8
      {1, 8, 4, 4, 12, 2, 3, 3, 1, 1, 1, 1, {0, 0, 0, 0}, true, false},      // valid, groups
      {1, 260, 5, 5, 8, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, false},     // K = 2340: im2col
      // The direct kernel (>= 16 channels per group): a partial 16-channel block, a pixel count
      // that leaves a partial 6-pixel tile, reading the input in place (no padding), groups.
      {2, 3, 9, 7, 17, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, true},       // 17 = 16 + 1 channels
      {1, 5, 13, 11, 33, 1, 3, 3, 2, 1, 1, 1, {0, 0, 0, 0}, true, false},    // no padding: in place
      {2, 7, 12, 12, 40, 1, 2, 2, 2, 2, 2, 1, {0, 0, 0, 0}, false, true},    // in place, dilated, stride 2
      {1, 8, 10, 10, 32, 2, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, false},    // 2 groups of 16
      {1, 6, 5, 5, 48, 3, 1, 1, 1, 1, 1, 1, {1, 1, 1, 1}, true, true},       // 1x1 with padding, 3 groups
      {1, 4, 1, 1, 16, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false},      // 1x1 on a 1x1 plane
      // Plain 1x1 of group 1: 16-pixel tiles on the input, the last P % 16 pixels on the direct
      // kernel; one image on 2-3 threads splits the channels, and one task does the tail.
      {2, 24, 7, 7, 32, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, true},      // 32 channels: direct
      {2, 24, 7, 7, 48, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, true},      // 7x7: 48 + 1 pixels
      {2, 24, 7, 7, 24, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false},     // 24 channels
      {1, 16, 16, 16, 32, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, false, true},   // 256 pixels, K = 16: direct
      {1, 17, 16, 16, 32, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, false, true},   // 256 pixels, K = 17
      {1, 64, 7, 7, 64, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, true},      // 48 + 1 pixels, split channels
      {1, 64, 3, 3, 96, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false},     // all tail, split channels
      {1, 40, 5, 9, 70, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false},     // 32 + 13 pixels, 70 channels
      {2, 6, 4, 4, 7, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, false, false},      // 16 pixels, no tail
      // Grouped plain 1x1: the direct kernel on a small plane when each group's channels fill
      // 16-lane blocks, the packed SGEMM otherwise.
      {2, 8, 7, 7, 32, 2, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, false},      // 2 groups of 16: direct
      {1, 6, 16, 16, 12, 3, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true, true},     // 3 groups of 4: SGEMM
      {1, 2, 3, 3, 16, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, false, false},     // 9 pixels: 6 + 3
      {1, 64, 9, 9, 16, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, true},      // 64 channels, K = 576
      {1, 4, 5, 6, 16, 1, 2, 2, 1, 1, 1, 1, {6, 6, 6, 6}, true, false},      // bands wholly in the padding: no taps
      {2, 3, 3, 4, 20, 1, 2, 3, 2, 1, 1, 1, {5, 4, 6, 7}, false, true},      // the same, strided, asym pads
      // Large enough to split into row bands and channel blocks (m0 > 0) over the threads.
      {1, 34, 24, 24, 48, 1, 3, 3, 2, 2, 1, 1, {0, 0, 0, 0}, true, false},   // in place, stride 2, K = 306
      {2, 30, 20, 20, 40, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, false, true},   // padded, K = 270
  };
  std::mt19937 rng(7);
  for (int i = 0; i < 30; ++i) {  // random ones
    cases.push_back(random_case(rng, {3, 1, 5, 9, 3, 1, 3, 20}));
  }
  for (int i = 0; i < 20; ++i) {  // random ones with >= 16 channels per group (the direct kernel)
    ConvCase t = random_case(rng, {2, 1, 6, 1, 2, 1, 3, 14});
    t.m = t.group * std::uniform_int_distribution<int64_t>(16, 40)(rng);
    cases.push_back(t);
  }
  expect_matches_reference(cases, false);
}

// The convolutions the engine gives oneDNN (group 1, spatial kernel, at least 64 input channels):
// batch slices (N >= threads) and bands of output rows (N < threads, including bands whose input
// rows reach into the padding on one side only), strides, dilations, asymmetric and SAME-like
// pads, Relu and no activation. oneDNN's split may change the summation order, so 1, 2 and 3
// threads are each held to the tolerance rather than to each other's bits. Output planes under
// 14x14 with >= 16 channels and K <= 576 run on the direct kernel instead (the profile must say
// which ran).
TEST(EngineConvF32, OnednnOnRandomGeometriesMatchesTheReference) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  if (!fast::onednn_built()) GTEST_SKIP() << "this build has no oneDNN";
  std::vector<ConvCase> cases = {
      {2, 64, 28, 28, 16, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true, true},   // batch slices
      {1, 64, 28, 28, 32, 1, 3, 3, 2, 2, 1, 1, {1, 1, 1, 1}, true, true},   // stride 2, row bands
      {1, 64, 7, 7, 64, 1, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, false, false},   // 7 rows in 2 or 3 bands
      {3, 70, 9, 11, 24, 1, 5, 3, 2, 1, 1, 2, {2, 0, 1, 3}, true, false},   // 70 channels, asym pads, dilation
      {1, 64, 13, 6, 17, 1, 3, 3, 1, 1, 2, 2, {0, 2, 2, 0}, true, true},    // dilated, pads on one side each
      {2, 64, 10, 10, 8, 1, 3, 3, 3, 3, 1, 1, {0, 0, 0, 0}, false, true},   // stride 3, unused last rows
      {1, 64, 3, 30, 16, 1, 3, 1, 1, 1, 1, 1, {1, 0, 1, 0}, true, false},   // 3 rows, 3x1 kernel
  };
  std::mt19937 rng(11);
  for (int i = 0; i < 12; ++i) {
    cases.push_back(random_case(rng, {1, 64, 80, 40, 4, 2, 2, 16}));
  }
  expect_matches_reference(cases, true);
}

// A convolution oneDNN declines (its only output row reads padding rows only, which oneDNN
// cannot be given as an input of zero rows) runs on octet's own kernels, packed then from the
// oneDNN op's copy of the weights, with the reference's result; the profile names that kernel.
// With the plane's size unknown at load every case is given to oneDNN first; with it known, the
// small plane with K <= 576 goes to the direct kernel at load (and the op is then
// batch-invariant).
TEST(EngineConvF32, WhatOnednnDeclinesRunsOnTheOwnKernels) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  if (!fast::onednn_built()) GTEST_SKIP() << "this build has no oneDNN";
  // 8 channels: declined, then the shifted kernel. 16 channels with K = 128: a plane this small
  // goes to the direct kernel without asking oneDNN. 16 channels with K = 600 (no direct weights
  // kept at load): declined, then packed for the direct kernel from oneDNN's copy.
  for (const auto& [m_out, c_in] : std::vector<std::pair<int64_t, int64_t>>{{8, 64}, {16, 64}, {16, 300}}) {
    for (bool dynamic_plane : {true, false}) {
      SCOPED_TRACE(::testing::Message() << m_out << " output channels, " << c_in << " input channels, plane "
                                        << (dynamic_plane ? "unknown" : "known") << " at load");
      const ConvCase t{1, c_in, 2, 6, m_out, 1, 1, 2, 10, 1, 1, 1, {5, 0, 0, 1}, true, true};
      const Tensor w = testing::random_float({t.m, t.c, t.kh, t.kw}, 31), b = testing::random_float({t.m}, 32);
      const Tensor x = testing::random_float({t.n, t.c, t.h, t.w}, 33);
      const Model m = conv_model(t, w, b, dynamic_plane);
      const std::string out = m.graph.outputs[0];
      const Tensor want = Executor(m).run({{"x", x}}).at(out);
      EngineOptions eo;
      eo.threads = 2;
      eo.profile = true;
      Engine e(m, eo);
      const bool direct_at_load = !dynamic_plane && m_out >= 16 && c_in * t.kh * t.kw <= 576;
      EXPECT_EQ(e.layers()[0].kernel, direct_at_load ? "conv_f32_direct_6x16_avx2" : "conv_f32_onednn");
      for (int run = 0; run < 2; ++run) {
        const Tensor y = e.run({{"x", x}}).at(out);
        ASSERT_EQ(y.shape(), want.shape());
        EXPECT_EQ(std::memcmp(y.raw(), want.raw(), y.nbytes()), 0) << "bias and Relu only: exact";
        EXPECT_EQ(e.layers()[0].kernel, m_out >= 16 ? "conv_f32_direct_6x16_avx2" : "conv_f32_shift_6x16_avx2");
      }
    }
  }
}

}  // namespace
}  // namespace octet
