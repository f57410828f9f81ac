// Histogram of |x| and the threshold searches. Checks against hand-worked values (bin placement,
// TensorRT's KL method on a 16-bin example, percentiles of 1..1000, the expected-error integral
// on single bins) and independent computations (a direct long-double binning, a straightforward
// P/Q re-implementation of the KL search, measured error of actually fake-quantized samples).
#include "quant/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "ir/error.h"
#include "kernels/ref/round.h"
#include "runtime/thread_pool.h"

namespace octet::quant {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

Histogram hist_of(const std::vector<float>& x, int bins = Histogram::kDefaultBins) {
  Histogram h(bins);
  h.add(x.data(), static_cast<int64_t>(x.size()), "t");
  return h;
}

// A histogram whose bin j holds counts[j] values at the bin centre j + 0.5 (width 1: the last
// non-empty bin must lie in the upper half of `bins`), alternating signs.
Histogram hist_from_counts(const std::vector<int>& counts, int bins) {
  std::vector<float> x;
  for (size_t j = 0; j < counts.size(); ++j)
    for (int c = 0; c < counts[j]; ++c) x.push_back((x.size() % 2 ? -1.f : 1.f) * (j + 0.5f));
  Histogram h = hist_of(x, bins);
  EXPECT_EQ(h.width_exponent(), 0);
  for (size_t j = 0; j < counts.size(); ++j) EXPECT_EQ(h.counts()[j], uint64_t(counts[j]));
  return h;
}

// ---------------------------------------------------------------------------------------------
// Binning

TEST(Histogram, WidthIsSmallestPowerOfTwoCoveringMax) {
  // 2048 bins, max 3: 2048 * 2^-10 = 2 <= 3 < 4 = 2048 * 2^-9, so w = 2^-9; 3 / 2^-9 = bin 1536.
  Histogram h = hist_of({3.f, -1.f, 0.25f});
  ASSERT_TRUE(h.has_width());
  EXPECT_EQ(h.width_exponent(), -9);
  EXPECT_EQ(h.bin_width(), 1.0 / 512);
  EXPECT_EQ(h.counts()[1536], 1u);
  EXPECT_EQ(h.counts()[512], 1u);  // |-1|
  EXPECT_EQ(h.counts()[128], 1u);  // 0.25
  EXPECT_EQ(h.min(), -1.f);
  EXPECT_EQ(h.max(), 3.f);
  EXPECT_EQ(h.used_bins(), 1537);
  // max exactly on the covered range's top edge: 4 is not < 2048 * 2^-9 = 4, so w = 2^-8.
  Histogram e = hist_of({4.f});
  EXPECT_EQ(e.width_exponent(), -8);
  EXPECT_EQ(e.counts()[1024], 1u);
  // Extremes of float: the smallest subnormal and the largest finite value.
  Histogram tiny = hist_of({std::numeric_limits<float>::denorm_min()}, 16);
  EXPECT_EQ(tiny.width_exponent(), -149 - 3);  // 16 * 2^-153 = 2^-149 is not > 2^-149
  EXPECT_EQ(tiny.counts()[8], 1u);
  Histogram huge = hist_of({std::numeric_limits<float>::max(), 1.f}, 16);
  EXPECT_EQ(huge.width_exponent(), 128 - 4);  // max < 2^128 = 16 * 2^124
  EXPECT_EQ(huge.counts()[15], 1u);
  EXPECT_EQ(huge.counts()[0], 1u);
}

TEST(Histogram, WideningSumsAdjacentBins) {
  Histogram h(8);
  const std::vector<float> a = {0.5f, 1.5f, 2.5f, 3.5f, 3.9f};  // w = 0.5: bins 1, 3, 5, 7, 7
  h.add(a.data(), 5, "t");
  EXPECT_EQ(h.width_exponent(), -1);
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{0, 1, 0, 1, 0, 1, 0, 2}));
  const std::vector<float> b = {13.f};  // needs w = 2 (8 * 2 = 16 > 13): two doublings
  h.add(b.data(), 1, "t");
  EXPECT_EQ(h.width_exponent(), 1);
  // Old bins of 0.5 regrouped by 4: {0..3} -> 0 (2 values), {4..7} -> 1 (3 values); 13 -> bin 6.
  EXPECT_EQ(h.counts(), (std::vector<uint64_t>{2, 3, 0, 0, 0, 0, 1, 0}));
  EXPECT_EQ(h.total_count(), 6u);
}

// Independent binning: k by scanning exponents, bins by long-double division and floor.
struct DirectBins {
  int k = 0;
  std::vector<uint64_t> counts;
};
DirectBins direct_bins(const std::vector<float>& x, int bins) {
  long double m = 0;
  for (float v : x) m = std::max(m, std::fabs(static_cast<long double>(v)));
  DirectBins d;
  d.counts.assign(bins, 0);
  d.k = -400;
  while (!(m < bins * std::pow(2.0L, d.k))) ++d.k;
  for (float v : x) {
    const long double q = std::floor(std::fabs(static_cast<long double>(v)) / std::pow(2.0L, d.k));
    d.counts[static_cast<size_t>(q)]++;
  }
  return d;
}

TEST(Histogram, MergeOfPartsIsExact) {
  const uint32_t seed = 20240611;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  // Batches of very different magnitudes: later ones force the width to double many times, and
  // parts built from different batches start with different widths.
  const std::vector<float> scales = {1e-3f, 0.5f, 1.f, 1000.f, 3.f, 1e-6f, 250.f};
  std::vector<std::vector<float>> batches;
  std::vector<float> all;
  for (size_t b = 0; b < scales.size(); ++b) {
    std::vector<float> batch(500 + 37 * b);
    for (float& v : batch) v = normal(rng) * scales[b];
    batch[3] = 0.f;  // exact zeros, both signs
    batch[7] = -0.f;
    batches.push_back(batch);
    all.insert(all.end(), batch.begin(), batch.end());
  }
  const int bins = 2048;
  const Histogram whole = hist_of(all, bins);
  const DirectBins direct = direct_bins(all, bins);
  EXPECT_EQ(whole.width_exponent(), direct.k);
  EXPECT_EQ(whole.counts(), direct.counts);
  EXPECT_EQ(whole.zero_count(), 2u * scales.size());

  Histogram streamed(bins);
  for (const auto& batch : batches) streamed.add(batch.data(), batch.size(), "t");

  // Parts: {0,1,2} (small width), {3} (large), {4,5,6}; merged in two different orders.
  auto part = [&](std::vector<int> ids) {
    Histogram h(bins);
    for (int i : ids) h.add(batches[i].data(), batches[i].size(), "t");
    return h;
  };
  Histogram p0 = part({0, 1, 2}), p1 = part({3}), p2 = part({4, 5, 6});
  EXPECT_LT(p0.width_exponent(), p1.width_exponent());
  Histogram forward = p0;
  forward.merge(p1);
  forward.merge(p2);
  Histogram backward = p2;
  backward.merge(p1);
  backward.merge(p0);
  Histogram small_into_empty(bins);
  small_into_empty.merge(p0);
  small_into_empty.merge(p2);
  small_into_empty.merge(p1);

  for (const Histogram* h : {&streamed, &forward, &backward, &small_into_empty}) {
    EXPECT_EQ(h->width_exponent(), whole.width_exponent());
    EXPECT_EQ(h->counts(), whole.counts());
    EXPECT_EQ(h->total_count(), all.size());
    EXPECT_EQ(h->zero_count(), whole.zero_count());
    EXPECT_EQ(h->min(), whole.min());
    EXPECT_EQ(h->max(), whole.max());
  }
}

TEST(Histogram, MergeRejectsOtherBinCount) {
  Histogram a(16), b(32);
  EXPECT_THROW(a.merge(b), Error);
  EXPECT_THROW(Histogram(0), Error);
  EXPECT_THROW(Histogram(Histogram::kMaxBins + 1), Error);
}

TEST(Histogram, NanOrInfNamesTensorAndIndexAndLeavesStateUnchanged) {
  Histogram h(64);
  std::vector<float> x(20, 1.f);
  h.add(x.data(), x.size(), "conv1_out");
  x[17] = std::numeric_limits<float>::quiet_NaN();
  x[18] = std::numeric_limits<float>::infinity();
  try {
    h.add(x.data(), x.size(), "conv1_out");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'conv1_out' has NaN at element 17 of this batch"),
              std::string::npos)
        << e.what();
  }
  x[17] = -std::numeric_limits<float>::infinity();
  try {
    h.add(x.data(), x.size(), "relu_3");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'relu_3' has -Inf at element 17"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(h.total_count(), 20u);
  EXPECT_EQ(h.max(), 1.f);
}

// Batches split over a pool's threads (finite_batch, then add) give the same histogram as one
// serial pass, and every count equals floor(|x| / w) recomputed here value by value: sizes below,
// at and well above the split threshold, odd lengths, runs of zeros and of one repeated value (the
// interleaved sub-histograms), a widening second batch, and the plain-counter path for more than
// 2048 bins.
TEST(Histogram, ThreadedBatchesEqualTheSerialPassAndDirectBinning) {
  std::mt19937 rng(5);
  std::normal_distribution<float> nd(0.f, 3.f);
  for (int bins : {16, 2048, 4096}) {
    for (int64_t n : {int64_t{1}, int64_t{1000}, int64_t{65535}, int64_t{65536}, int64_t{200003}}) {
      std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        const int64_t phase = (i / 97) % 4;  // runs: zeros, normal values, one repeated value, normal
        a[i] = phase == 0 ? 0.f : phase == 2 ? 1.25f : nd(rng);
        b[i] = 4.f * nd(rng);  // wider: the second batch widens the bins
      }
      Histogram serial(bins);
      serial.add(a.data(), n, "a");
      serial.add(b.data(), n, "b");
      for (int threads : {1, 2, 3}) {
        ThreadPool pool(threads);
        Histogram h(bins);
        h.add(finite_batch(a.data(), n, "a", &pool));
        h.add(finite_batch(b.data(), n, "b", &pool));
        EXPECT_EQ(h.counts(), serial.counts()) << bins << " bins, n " << n << ", " << threads << " threads";
        EXPECT_EQ(h.zero_count(), serial.zero_count());
        EXPECT_EQ(h.total_count(), serial.total_count());
        EXPECT_EQ(h.min(), serial.min());
        EXPECT_EQ(h.max(), serial.max());
        EXPECT_EQ(h.width_exponent(), serial.width_exponent());
      }
      // Direct binning of both batches at the final width.
      std::vector<uint64_t> expect(static_cast<size_t>(bins), 0);
      uint64_t zeros = 0;
      for (const auto* v : {&a, &b})
        for (float x : *v) {
          ++expect[static_cast<size_t>(std::floor(std::fabs(double(x)) / serial.bin_width()))];
          zeros += x == 0.f;
        }
      EXPECT_EQ(serial.counts(), expect) << bins << " bins, n " << n;
      EXPECT_EQ(serial.zero_count(), zeros);
    }
  }
}

// The threaded range pass names the first bad element of the whole batch, whichever piece it is
// in, and leaves the histogram unchanged.
TEST(Histogram, ThreadedRangePassNamesTheFirstBadElement) {
  ThreadPool pool(2);
  std::vector<float> x(300000, 0.5f);
  x[250000] = std::numeric_limits<float>::infinity();  // in the second piece
  x[170001] = -std::numeric_limits<float>::quiet_NaN();
  x[299999] = std::numeric_limits<float>::quiet_NaN();
  try {
    finite_batch(x.data(), static_cast<int64_t>(x.size()), "blocks.3.out", &pool);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'blocks.3.out' has NaN at element 170001 of this batch"),
              std::string::npos)
        << e.what();
  }
  x[170001] = 0.5f;
  x[10] = -std::numeric_limits<float>::infinity();  // in the first piece
  try {
    finite_batch(x.data(), static_cast<int64_t>(x.size()), "t", &pool);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has -Inf at element 10 of"), std::string::npos) << e.what();
  }
  x[10] = -2.f;
  x[250000] = 3.f;
  x[299999] = 0.f;
  const FiniteBatch b = finite_batch(x.data(), static_cast<int64_t>(x.size()), "t", &pool);
  EXPECT_EQ(b.min, -2.f);
  EXPECT_EQ(b.max, 3.f);
}

TEST(Histogram, AllZeroHasNoWidthAndZeroThresholds) {
  Histogram h(32);
  const std::vector<float> z = {0.f, -0.f, 0.f};
  h.add(z.data(), 3, "t");
  EXPECT_FALSE(h.has_width());
  EXPECT_EQ(h.bin_width(), 0.0);
  EXPECT_EQ(h.counts()[0], 3u);
  EXPECT_EQ(h.zero_count(), 3u);
  EXPECT_EQ(h.max_abs(), 0.0);
  EXPECT_EQ(percentile_threshold(h, 99.99), 0.0);
  EXPECT_EQ(entropy_threshold(h, 4, 4), 0.0);
  EXPECT_EQ(mse_threshold(h, 127), 0.0);
  EXPECT_EQ(mse_expected_error(h, 1.0, 127), 0.0);
  Histogram empty(32);
  EXPECT_EQ(percentile_threshold(empty, 50), 0.0);
  EXPECT_EQ(entropy_threshold(empty), 0.0);

  // A non-zero value defines the width; the zeros stay in bin 0, also after merging.
  const std::vector<float> v = {24.f};  // 32 * 2^0 = 32 > 24 >= 16: w = 1
  h.add(v.data(), 1, "t");
  EXPECT_EQ(h.width_exponent(), 0);
  EXPECT_EQ(h.counts()[0], 3u);
  EXPECT_EQ(h.counts()[24], 1u);
  Histogram zeros_only(32);
  zeros_only.add(z.data(), 3, "t");
  h.merge(zeros_only);
  EXPECT_EQ(h.counts()[0], 6u);
  EXPECT_EQ(h.zero_count(), 6u);
  zeros_only.merge(h);  // into a histogram without width
  EXPECT_EQ(zeros_only.width_exponent(), 0);
  EXPECT_EQ(zeros_only.counts()[0], 9u);
  EXPECT_EQ(zeros_only.counts()[24], 1u);
}

// ---------------------------------------------------------------------------------------------
// Percentile

TEST(PercentileThreshold, OneToThousand) {
  std::vector<float> x;
  for (int v = 1; v <= 1000; ++v) x.push_back(static_cast<float>(v));
  const Histogram h = hist_of(x);  // w = 0.5 (2048 * 0.5 = 1024 > 1000 >= 512); v in bin 2v
  ASSERT_EQ(h.bin_width(), 0.5);
  // 99%: 990 values <= 990, all in bins <= 1980, whose upper edge is 990.5.
  EXPECT_EQ(percentile_threshold(h, 99), 990.5);
  EXPECT_EQ(percentile_threshold(h, 50), 500.5);
  EXPECT_EQ(percentile_threshold(h, 100), 1000.5);
  EXPECT_EQ(percentile_threshold(h, 99.95), 1000.5);  // needs 999.5 values: all 1000
  EXPECT_EQ(percentile_threshold(h, 0.1), 1.5);        // needs 1 value
  EXPECT_THROW(percentile_threshold(h, 0), Error);
  EXPECT_THROW(percentile_threshold(h, 100.5), Error);
  EXPECT_THROW(percentile_threshold(h, std::nan("")), Error);
}

// ---------------------------------------------------------------------------------------------
// Entropy (TensorRT KL)

// Hand-worked: 16 bins of width 1, counts c = [4, 6, 2, 0, 3, 1, 0, 2, 0, 1] (bins 10..15 empty,
// so used_bins u = 10), T = 19, num_quant_bins L = 4, start_bin 4. Candidates i = 4 .. 10 (kept
// bins); level of bin j is floor(4 j / i); Q spreads a level's sum over its non-empty bins.
//  i=4:  levels {0}{1}{2}{3}. P = [4,6,2,0+7] (outliers 3+1+0+2+0+1 = 7), Q = [4,6,2,0]:
//        Q[3] = 0 < P[3] -> KL = inf.
//  i=5:  levels {0,1}{2}{3}{4}. P = [4,6,2,0,3+4] /19, Q = [5,5,2,0,3] /15.
//        KL = 4/19 ln((4/19)/(5/15)) + 6/19 ln((6/19)/(5/15)) + 2/19 ln((2/19)/(2/15))
//           + 7/19 ln((7/19)/(3/15)) = -0.096744 - 0.017074 - 0.024883 + 0.225072 = 0.086371
//  i=6:  levels {0,1}{2}{3,4}{5}. P = [4,6,2,0,3,1+3] /19, Q = [5,5,2,0,3,1] /16 (level {3,4}:
//        3 over its one non-empty bin). KL = -0.083157 + 0.003307 - 0.018090 - 0.027134
//        + 0.255672 = 0.130599
//  i=7:  levels {0,1}{2,3}{4,5}{6}. P[6] = 0 + 3 outliers, Q[6] = 0 (bin 6 empty) -> inf.
//  i=8:  levels {0,1}{2,3}{4,5}{6,7}. P = [4,6,2,0,3,1,0,2+1] /19, Q = [5,5,2,0,2,2,0,2] /18.
//        KL = -0.058360 + 0.040501 - 0.005691 + 0.055484 - 0.039327 + 0.055484 = 0.048091
//  i=9:  levels {0,1,2}{3,4}{5,6}{7,8}. P[8] = 0 + 1, Q[8] = 0 -> inf.
//  i=10: levels {0,1,2}{3,4}{5,6,7}{8,9}. P = c /19, Q = [4,4,4,0,3,1.5,0,1.5,0,1] /19.
//        KL = 0 + 0.128042 - 0.072963 + 0 - 0.021340 + 0.030282 + 0 = 0.064021
// Minimum at i = 8: threshold (8 + 0.5) * 1 = 8.5 (below max|x| = 9.5, so not capped).
TEST(EntropyThreshold, HandWorkedTensorRtExample) {
  const Histogram h = hist_from_counts({4, 6, 2, 0, 3, 1, 0, 2, 0, 1}, 16);
  ASSERT_EQ(h.used_bins(), 10);
  const std::vector<double> kl = entropy_divergences(h, 4, 4);
  const std::vector<double> want = {kInf, 0.086371230, 0.130598826, kInf,
                                    0.048090600, kInf, 0.064020807};
  ASSERT_EQ(kl.size(), want.size());
  for (size_t k = 0; k < want.size(); ++k) {
    if (std::isinf(want[k])) EXPECT_TRUE(std::isinf(kl[k])) << "i = " << k + 4;
    else EXPECT_NEAR(kl[k], want[k], 1e-8) << "i = " << k + 4;
  }
  EXPECT_EQ(entropy_threshold(h, 4, 4), 8.5);
  // Starting at i = 9 leaves {inf, 0.064}: i = 10 = u, no clipping, so t = max|x| = 9.5.
  EXPECT_EQ(entropy_threshold(h, 4, 9), 9.5);
  // u <= start_bin: nothing to search.
  EXPECT_TRUE(entropy_divergences(h, 4, 10).empty());
  EXPECT_EQ(entropy_threshold(h, 4, 10), 9.5);
  EXPECT_EQ(entropy_threshold(h, 4, 128), 9.5);
  EXPECT_THROW(entropy_threshold(h, 0, 4), Error);
  EXPECT_THROW(entropy_threshold(h, 4, 0), Error);
}

// Straightforward re-implementation for the cross-check: explicit P and Q arrays per candidate,
// long double, levels found by scanning bins with the level boundary test l * i <= j * L.
std::vector<long double> naive_kl(const std::vector<uint64_t>& c, int L, int start) {
  int u = static_cast<int>(c.size());
  while (u > 0 && c[u - 1] == 0) --u;
  std::vector<long double> out;
  for (int i = start; i <= u; ++i) {
    std::vector<long double> p(c.begin(), c.begin() + i), q(i, 0.0L);
    for (int j = i; j < u; ++j) p[i - 1] += c[j];
    int j = 0;
    for (int l = 0; l < L; ++l) {
      int first = j;
      long double sum = 0;
      int nonempty = 0;
      while (j < i && static_cast<int64_t>(j) * L < static_cast<int64_t>(l + 1) * i) {
        sum += c[j];
        nonempty += c[j] > 0;
        ++j;
      }
      for (int b = first; b < j; ++b) q[b] = c[b] > 0 ? sum / nonempty : 0.0L;
    }
    long double ps = 0, qs = 0;
    for (int b = 0; b < i; ++b) ps += p[b], qs += q[b];
    long double kl = 0;
    for (int b = 0; b < i; ++b) {
      if (p[b] == 0) continue;
      if (q[b] == 0) { kl = INFINITY; break; }
      kl += p[b] / ps * std::log((p[b] / ps) / (q[b] / qs));
    }
    out.push_back(kl);
  }
  return out;
}

TEST(EntropyThreshold, MatchesStraightforwardImplementation) {
  struct Case { int bins, L, start; uint32_t seed; };
  for (const Case& cs : {Case{256, 16, 16, 1}, Case{256, 7, 20, 2}, Case{300, 16, 100, 3},
                         Case{2048, 128, 128, 4}}) {
    SCOPED_TRACE(::testing::Message() << "seed " << cs.seed << " bins " << cs.bins);
    std::mt19937 rng(cs.seed);
    std::normal_distribution<float> normal(0.f, 1.f);
    std::uniform_real_distribution<float> uni(0.f, 1.f);
    std::vector<float> x;
    for (int n = 0; n < 20000; ++n) {
      float v = normal(rng);
      if (uni(rng) < 0.3f) v = std::round(v * 8.f) / 8.f;  // spikes, leaving bins empty
      x.push_back(v);
    }
    for (int n = 0; n < 5; ++n) x.push_back(6.f + 3.f * uni(rng));  // a sparse tail
    x.push_back(0.f);
    const Histogram h = hist_of(x, cs.bins);
    const std::vector<double> kl = entropy_divergences(h, cs.L, cs.start);
    const std::vector<long double> want = naive_kl(h.counts(), cs.L, cs.start);
    ASSERT_EQ(kl.size(), want.size());
    size_t finite = 0, best = 0;
    for (size_t k = 0; k < kl.size(); ++k) {
      if (std::isinf(want[k])) {
        EXPECT_TRUE(std::isinf(kl[k])) << "i = " << k + cs.start;
        continue;
      }
      ++finite;
      EXPECT_NEAR(kl[k], static_cast<double>(want[k]), 1e-9 + 1e-9 * std::fabs(kl[k]))
          << "i = " << k + cs.start;
      if (want[k] <= want[best]) best = k;
    }
    EXPECT_GT(finite, 10u);
    // The threshold belongs to a candidate whose KL is minimal (up to rounding).
    const double t = entropy_threshold(h, cs.L, cs.start);
    const double m = t / h.bin_width() - 0.5;
    const double chosen = std::round(m);
    if (std::fabs(m - chosen) < 1e-9) {
      EXPECT_LE(static_cast<long double>(kl[static_cast<size_t>(chosen) - cs.start]),
                want[best] + 1e-12L);
    } else {
      EXPECT_EQ(t, h.max_abs());  // capped: the best candidate keeps everything
    }
  }
}

TEST(EntropyThreshold, ClipsGaussianOutliersKeepsUniformRange) {
  const uint32_t seed = 7;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> g(100000);
  for (float& v : g) v = normal(rng);
  for (int k = 0; k < 5; ++k) g.push_back(k % 2 ? -50.f : 50.f);
  const Histogram hg = hist_of(g);
  const double tg = entropy_threshold(hg);
  std::printf("entropy threshold, 1e5 N(0,1) + 5 at |50|: %.4f (max %.1f)\n", tg, hg.max_abs());
  EXPECT_GT(tg, 2.0);
  EXPECT_LT(tg, 10.0);

  std::uniform_real_distribution<float> uni(-1.f, 1.f);
  std::vector<float> u(100000);
  for (float& v : u) v = uni(rng);
  const Histogram hu = hist_of(u);
  const double tu = entropy_threshold(hu);
  std::printf("entropy threshold, 1e5 U(-1,1): %.4f (max %.4f)\n", tu, hu.max_abs());
  EXPECT_GT(tu, 0.95 * hu.max_abs());
  EXPECT_LE(tu, hu.max_abs());
}

// ---------------------------------------------------------------------------------------------
// MSE

TEST(MseExpectedError, HandIntegralsOnOneBin) {
  // One value 3.5 in 4 bins: w = 1 (4 > 3.5 >= 2), bin [3, 4), modelled as uniform there.
  Histogram h = hist_of({3.5f}, 4);
  ASSERT_EQ(h.bin_width(), 1.0);
  // t = 4, 1 level: step 4, |x| >= 4 - 2 rounds to 4; error = integral_3^4 (x-4)^2 = 1/3.
  EXPECT_NEAR(mse_expected_error(h, 4.0, 1), 1.0 / 3, 1e-12);
  // t = 2, 2 levels: step 1, all of [3,4) clips to 2: integral (x-2)^2 = (8 - 1) / 3.
  EXPECT_NEAR(mse_expected_error(h, 2.0, 2), 7.0 / 3, 1e-12);
  // t = 4, 4 levels: step 1, [3, 3.5) rounds to 3, [3.5, 4) to 4: 1/24 + 1/24 = 1/12.
  EXPECT_NEAR(mse_expected_error(h, 4.0, 4), 1.0 / 12, 1e-12);
  // t = 8, 4 levels: step 2, [3, 4) rounds to 4: integral (x-4)^2 = 1/3.
  EXPECT_NEAR(mse_expected_error(h, 8.0, 4), 1.0 / 3, 1e-12);
  // Three exact zeros add no error but count: the mean over 4 values is a quarter.
  const std::vector<float> z = {0.f, 0.f, -0.f};
  h.add(z.data(), 3, "t");
  EXPECT_NEAR(mse_expected_error(h, 4.0, 4), 1.0 / 48, 1e-12);
  EXPECT_THROW(mse_expected_error(h, 0.0, 4), Error);
  EXPECT_THROW(mse_expected_error(h, 1.0, 0), Error);
  EXPECT_THROW(mse_threshold(h, 0), Error);
}

// Mean squared error of symmetric fake quantization with threshold t, measured on the samples.
double measured_mse(const std::vector<float>& x, double t, int32_t levels) {
  const float scale = static_cast<float>(t / levels);
  double err = 0;
  for (float v : x) {
    const int32_t q = kernels::quantize_value(v, scale, 0, -levels, levels);
    const double d = static_cast<double>(q) * scale - v;
    err += d * d;
  }
  return err / x.size();
}

TEST(MseThreshold, UniformKeepsMaxHeavyTailsClip) {
  const uint32_t seed = 11;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.f, 1.f);
  std::vector<float> u(100000);
  for (float& v : u) v = uni(rng);
  const Histogram hu = hist_of(u);
  const double tu = mse_threshold(hu, 127);
  std::printf("mse threshold, 1e5 U(-1,1), 127 levels: %.5f (max %.5f)\n", tu, hu.max_abs());
  EXPECT_GT(tu, 0.98 * hu.max_abs());
  EXPECT_LE(tu, hu.max_abs());

  std::normal_distribution<float> normal(0.f, 1.f);
  std::exponential_distribution<float> expo(1.f);
  std::vector<float> gauss(100000), laplace(100000);
  for (float& v : gauss) v = normal(rng);
  std::vector<float> gauss_outliers = gauss;
  for (int k = 0; k < 10; ++k) gauss_outliers.push_back(k % 2 ? 12.f : -12.f);
  for (size_t k = 0; k < laplace.size(); ++k) laplace[k] = (k % 2 ? 1.f : -1.f) * expo(rng);
  // MSE weighs outliers by their squared distance: a few far ones (here 10 at |12|) are kept
  // nearly whole, unlike with the KL method; the threshold still lies below max.
  for (const auto* data : {&gauss, &gauss_outliers, &laplace}) {
    const Histogram h = hist_of(*data);
    const double t = mse_threshold(h, 127);
    const double e_t = measured_mse(*data, t, 127);
    const double e_max = measured_mse(*data, h.max_abs(), 127);
    const double e_lo = measured_mse(*data, 0.8 * t, 127);
    const double e_hi = measured_mse(*data, 1.25 * t, 127);
    std::printf("mse threshold %.4f (max %.4f): measured mse %.3g, at max %.3g, 0.8t %.3g, "
                "1.25t %.3g\n", t, h.max_abs(), e_t, e_max, e_lo, e_hi);
    EXPECT_LT(t, h.max_abs());
    EXPECT_LT(e_t, e_max);
    EXPECT_LT(e_t, e_lo);
    EXPECT_LT(e_t, e_hi);
    // The model's prediction is close to what quantizing the samples gives.
    EXPECT_NEAR(mse_expected_error(h, t, 127), e_t, 0.1 * e_t);
  }
}

}  // namespace
}  // namespace octet::quant
