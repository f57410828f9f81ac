// plan_conv_split and plan_shift: the tasks cover every (pixel, row) of each image exactly once,
// chunk and row block boundaries sit where the kernels need them, and there is work for every
// thread whenever the convolution is big enough to be worth splitting. plan_tap_bands: the bands
// tile the output plane, and each band's taps are exactly those of each of its pixels that lie
// inside the input, at the right offsets and weight columns.
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "runtime/fast/conv2d.h"

namespace octet::fast {
namespace {

TEST(ConvSplit, CoversEveryPixelAndRowOnceWithAlignedCuts) {
  int checked = 0;
  for (int64_t P : {1, 7, 16, 49, 196, 256, 257, 784, 3136, 12544})
    for (int64_t Mg : {1, 4, 6, 16, 64, 512})
      for (int64_t K : {1, 9, 576, 4608})
        for (int64_t images : {1, 2, 32})
          for (int threads : {1, 2, 16})
            for (int64_t mr : {4, 6}) {
              const int64_t cap = 512;
              const ConvSplit s = plan_conv_split(P, Mg, K, images, threads, mr, cap);
              SCOPED_TRACE(testing::Message() << "P " << P << " Mg " << Mg << " K " << K << " images " << images
                                              << " threads " << threads << " mr " << mr);
              ASSERT_GE(s.chunks, 1);
              ASSERT_GE(s.m_blocks, 1);
              // Pixel chunks tile [0, P): the last one is non-empty.
              EXPECT_GE(s.chunks * s.chunk, P);
              EXPECT_LT((s.chunks - 1) * s.chunk, P);
              if (s.chunks > 1) {
                EXPECT_EQ(s.chunk % 16, 0);  // whole B panels
              }
              EXPECT_LE(s.chunk, std::max<int64_t>(cap, P <= 256 ? P : cap));
              // Row blocks tile [0, Mg) and start on the kernel's row tile.
              EXPECT_GE(s.m_blocks * s.m_block, Mg);
              EXPECT_LT((s.m_blocks - 1) * s.m_block, Mg);
              if (s.m_blocks > 1) {
                EXPECT_EQ(s.m_block % mr, 0);
              }
              // Big enough (at least 2 x kMinTaskMacs multiply-adds per thread): every thread gets a task.
              if (P * Mg * K >= 2 * kMinTaskMacs * threads && P >= 16 * threads && Mg >= 2 * mr) {
                EXPECT_GE(s.tasks(images), std::min<int64_t>(threads, images * ((P + 15) / 16)));
              }
              ++checked;
            }
  EXPECT_GT(checked, 1000);
}

TEST(ConvSplit, SmallPlanesWithFewImagesSplitRows) {
  // ResNet-18's last stage at batch 1 on 2 threads: 7x7 pixels, 512 rows: rows are split so each
  // thread streams half of the weights.
  const ConvSplit s = plan_conv_split(49, 512, 4608, 1, 2, 6, 512);
  EXPECT_EQ(s.chunks, 1);
  EXPECT_EQ(s.m_blocks, 2);
  // At batch 32 the images alone feed the threads: no row split.
  EXPECT_EQ(plan_conv_split(49, 512, 4608, 32, 2, 6, 512).m_blocks, 1);
}

}  // namespace
}  // namespace octet::fast

namespace octet::fast {
namespace {

// The shifted convolutions' plan: its tasks cover every (image, group, output row, channel) once,
// channel blocks start on the row tile, and there are tasks for every thread when the work allows.
TEST(ShiftPlan, TasksCoverEveryRowAndChannelOnce) {
  int checked = 0;
  for (int64_t OH : {1, 2, 7, 14, 28})
    for (int64_t Mg : {1, 5, 16, 64})
      for (int64_t images : {1, 3, 32})
        for (int threads : {1, 2, 16})
          for (bool half : {false, true}) {
            Conv2d g;
            g.M = Mg;
            g.C = 16;
            g.kh = g.kw = 3;
            g.H = g.W = OH;
            g.OH = g.OW = OH;
            g.pt = g.pl = 1;
            const ShiftPlan s = plan_shift(g, images, threads, 6, 16, half);
            std::vector<int> seen(static_cast<size_t>(images * OH * Mg), 0);
            for (int64_t t = 0; t < s.tasks(images); ++t) {
              const ShiftPlan::Task k = s.task(g, t);
              EXPECT_EQ(k.m0 % 6, 0);
              EXPECT_LE(k.r1 - k.r0, s.rows);
              EXPECT_LE(s.rows * s.Wp, s.ldc);
              for (int64_t r = k.r0; r < k.r1; ++r)
                for (int64_t m = k.m0; m < k.m1; ++m) ++seen[static_cast<size_t>((k.n * OH + r) * Mg + m)];
            }
            for (int v : seen) ASSERT_EQ(v, 1) << "OH " << OH << " Mg " << Mg << " images " << images << " threads " << threads;
            // Enough work for every thread (16 x the task minimum each): a task for every thread.
            // Nearer the minimum the plan may take fewer, larger tasks where whole tiles make
            // more of them no faster (14 tasks for 16 threads).
            if (OH * Mg * 144 * s.Wp >= 16 * kMinTaskMacs * threads && OH * ((Mg + 5) / 6) >= threads) {
              EXPECT_GE(s.tasks(images), std::min<int64_t>(threads, images * OH));
            }
            ++checked;
          }
  EXPECT_EQ(checked, 5 * 4 * 3 * 3 * 2);
}

// One 7x7 image of a 512 -> 512 3x3 layer (ResNet-18's last stage at batch 1) on 2 threads: its
// 7 rows of Wp = 8 make 56 columns. Cut into row chunks, 32 + 24 columns cost two whole tiles each
// (64); cut into channel halves, each task keeps 56, which a kernel with half tiles (the AVX2 INT8
// one) runs as 3.5 tiles: the plan splits the channels then, the rows otherwise.
TEST(ShiftPlan, HalfTilesMakeChannelSplitsCheaperOnSmallPlanes) {
  Conv2d g;
  g.M = g.C = 512;
  g.kh = g.kw = 3;
  g.H = g.W = g.OH = g.OW = 7;
  g.pt = g.pl = 1;
  const ShiftPlan with_half = plan_shift(g, 1, 2, 4, 16, true);
  EXPECT_EQ(with_half.Wp, 8);
  EXPECT_EQ(with_half.chunks, 1);
  EXPECT_EQ(with_half.m_blocks, 2);
  const ShiftPlan whole = plan_shift(g, 1, 2, 4, 16, false);
  EXPECT_EQ(whole.chunks, 2);
  EXPECT_EQ(whole.m_blocks, 1);
}

// Every pixel of the plane in one band; the band's (offset, weight column) pairs are the
// pixel's in-bounds taps, computed here tap by tap from the definition.
void check_bands(const Conv2d& g) {
  SCOPED_TRACE(testing::Message() << g.H << "x" << g.W << " Cg " << g.Cg() << " kernel " << g.kh << "x" << g.kw
                                  << " strides " << g.sh << "," << g.sw << " dilations " << g.dh << "," << g.dw
                                  << " pads " << g.pt << "," << g.pl);
  const std::vector<TapBand> bands = plan_tap_bands(g, 16);
  ASSERT_FALSE(bands.empty());
  std::vector<int> covered(static_cast<size_t>(g.OH * g.OW), 0);
  for (const TapBand& b : bands) {
    ASSERT_LT(b.oh0, b.oh1);
    ASSERT_LT(b.ow0, b.ow1);
    ASSERT_LE(b.oh1, g.OH);
    ASSERT_LE(b.ow1, g.OW);
    ASSERT_TRUE(b.w_off.empty() || b.w_off.size() == b.off.size());
    for (int64_t oh = b.oh0; oh < b.oh1; ++oh)
      for (int64_t ow = b.ow0; ow < b.ow1; ++ow) {
        ++covered[static_cast<size_t>(oh * g.OW + ow)];
        std::set<std::pair<int64_t, int64_t>> want, got;  // (input offset, weight column)
        for (int64_t c = 0; c < g.Cg(); ++c)
          for (int64_t i = 0; i < g.kh; ++i)
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t ih = oh * g.sh - g.pt + i * g.dh, iw = ow * g.sw - g.pl + j * g.dw;
              if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W)
                want.insert({(c * g.H + ih) * g.W + iw, (c * g.kh + i) * g.kw + j});
            }
        const int64_t base = b.x0 + (oh - b.oh0) * g.sh * g.W + (ow - b.ow0) * g.sw;
        for (size_t t = 0; t < b.off.size(); ++t) {
          ASSERT_GE(b.off[t], 0);
          const int64_t k = b.w_off.empty() ? static_cast<int64_t>(t) : b.w_off[t] / 16;
          if (!b.w_off.empty()) {
            ASSERT_EQ(b.w_off[t] % 16, 0);
          }
          got.insert({base + b.off[t], k});
        }
        ASSERT_EQ(got.size(), b.off.size()) << "a tap listed twice";
        ASSERT_EQ(got, want) << "pixel " << oh << "," << ow;
        if (b.w_off.empty() && !b.off.empty()) {  // every tap, in k order
          ASSERT_EQ(static_cast<int64_t>(b.off.size()), g.K());
        }
      }
  }
  for (size_t q = 0; q < covered.size(); ++q) ASSERT_EQ(covered[q], 1) << "pixel " << q;
}

TEST(TapBands, TileThePlaneWithEachPixelsInBoundsTaps) {
  struct Geo {
    int64_t C, H, W, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr;
  };
  const std::vector<Geo> geos = {
      {16, 28, 28, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},  // resnet8: interior, 4 edges, 4 corners
      {16, 28, 28, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},  // stride 2: no bottom or right edge
      {64, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
      {3, 9, 8, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3},     // 7x7 stem-like: several edge bands per side
      {2, 6, 5, 3, 2, 1, 3, 2, 1, 2, 0, 1, 3},     // dilation, asymmetric pads
      {2, 3, 3, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2},     // 1x1 with padding 2: bands that read nothing
      {2, 2, 3, 3, 3, 1, 1, 1, 1, 2, 1, 2, 1},     // kernel larger than the input's rows
      {5, 11, 13, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},   // no padding: one band, every tap
  };
  for (const Geo& o : geos) {
    Conv2d g;
    g.C = o.C;
    g.M = 16;
    g.kh = o.kh, g.kw = o.kw, g.sh = o.sh, g.sw = o.sw, g.dh = o.dh, g.dw = o.dw;
    g.pads[0] = o.pt, g.pads[1] = o.pl, g.pads[2] = o.pb, g.pads[3] = o.pr;
    ASSERT_TRUE(resolve_conv2d(&g, o.H, o.W));
    check_bands(g);
  }
  std::mt19937 rng(22);  // and random ones: kernels 1-5, strides 1-3, dilations 1-3, pads 0-4
  auto u = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int i = 0; i < 150; ++i) {
    Conv2d r;
    r.C = u(1, 3);
    r.M = 16;
    r.kh = u(1, 5), r.kw = u(1, 5), r.sh = u(1, 3), r.sw = u(1, 3), r.dh = u(1, 3), r.dw = u(1, 3);
    for (auto& pad : r.pads) pad = u(0, 4);
    if (!resolve_conv2d(&r, u(1, 15), u(1, 15)) || r.OH <= 0 || r.OW <= 0) continue;
    check_bands(r);
    if (HasFatalFailure()) return;
  }
  Conv2d g;  // resnet8's layer: 9 bands, the interior reading all 144 taps in order
  g.C = g.M = 16;
  g.kh = g.kw = 3;
  g.pads[0] = g.pads[1] = g.pads[2] = g.pads[3] = 1;
  ASSERT_TRUE(resolve_conv2d(&g, 28, 28));
  const std::vector<TapBand> bands = plan_tap_bands(g, 16);
  ASSERT_EQ(bands.size(), 9u);
  EXPECT_EQ(bands[4].oh0, 1);
  EXPECT_EQ(bands[4].oh1, 27);
  EXPECT_TRUE(bands[4].w_off.empty());
  EXPECT_EQ(bands[4].off.size(), 144u);
  EXPECT_EQ(bands[0].off.size(), 64u);  // a corner: 2 x 2 taps per channel
}

}  // namespace
}  // namespace octet::fast
