// Calibrators: method parsing, MinMax and EMA by hand, exact merges, ranges inside the observed
// extremes, degenerate (all-zero) tensors, errors, and state that does not grow with batches.
#include "quant/calibrators.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "ir/error.h"

namespace octet::quant {
namespace {

Tensor vec(const std::vector<float>& v) {
  return Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

CalibrationMethod method_of(CalibrationMethod::Kind kind) {
  CalibrationMethod m;
  m.kind = kind;
  return m;
}

// ---------------------------------------------------------------------------------------------

TEST(ParseMethod, NamesAndParameters) {
  EXPECT_EQ(parse_method("minmax").kind, CalibrationMethod::MinMax);
  EXPECT_EQ(parse_method("entropy").kind, CalibrationMethod::Entropy);
  EXPECT_EQ(parse_method("mse").kind, CalibrationMethod::Mse);
  const CalibrationMethod ema = parse_method("ema");
  EXPECT_EQ(ema.kind, CalibrationMethod::EmaMinMax);
  EXPECT_EQ(ema.ema_decay, 0.9);
  EXPECT_EQ(parse_method("ema:0.99").ema_decay, 0.99);
  const CalibrationMethod p = parse_method("percentile");
  EXPECT_EQ(p.kind, CalibrationMethod::Percentile);
  EXPECT_EQ(p.percentile, 99.99);
  EXPECT_EQ(parse_method("percentile:99.9").percentile, 99.9);
  EXPECT_EQ(parse_method("percentile:100").percentile, 100.0);

  for (const char* name : {"minmax", "ema:0.9", "ema:0.25", "percentile:99.99",
                           "percentile:99.9", "entropy", "mse"})
    EXPECT_EQ(method_name(parse_method(name)), name);

  const std::string bad = error_of([] { parse_method("kl"); });
  for (const char* valid : {"'kl'", "minmax", "ema", "percentile", "entropy", "mse"})
    EXPECT_NE(bad.find(valid), std::string::npos) << bad;
  EXPECT_NE(error_of([] { parse_method("percentile:abc"); }).find("'abc' is not a number"),
            std::string::npos);
  EXPECT_NE(error_of([] { parse_method("percentile:101"); }).find("101"), std::string::npos);
  EXPECT_THROW(parse_method("percentile:0"), Error);
  EXPECT_THROW(parse_method("percentile:"), Error);
  EXPECT_THROW(parse_method("percentile:99.9x"), Error);
  EXPECT_THROW(parse_method("ema:1"), Error);
  EXPECT_THROW(parse_method("minmax:3"), Error);
  EXPECT_THROW(parse_method("MinMax"), Error);
  EXPECT_THROW(parse_method(""), Error);
}

TEST(MakeCalibrator, RejectsBadSettings) {
  CalibrationMethod m = method_of(CalibrationMethod::Entropy);
  m.bins = 0;
  EXPECT_THROW(make_calibrator(m), Error);
  m = method_of(CalibrationMethod::Entropy);
  m.start_bin = 0;
  EXPECT_THROW(make_calibrator(m), Error);
  m = method_of(CalibrationMethod::Mse);
  m.levels_positive = 0;
  EXPECT_THROW(make_calibrator(m), Error);
  m = method_of(CalibrationMethod::Percentile);
  m.percentile = -1;
  EXPECT_THROW(make_calibrator(m), Error);
  m = method_of(CalibrationMethod::EmaMinMax);
  m.ema_decay = 1.5;
  EXPECT_THROW(make_calibrator(m), Error);
  EXPECT_THROW(HistogramCalibrator(method_of(CalibrationMethod::MinMax)), Error);
  EXPECT_EQ(make_calibrator(parse_method("percentile:99.9"))->method(), "percentile:99.9");
  EXPECT_EQ(make_calibrator(parse_method("ema:0.5"))->method(), "ema:0.5");
}

// ---------------------------------------------------------------------------------------------

TEST(MinMaxCalibrator, RunningExtremesByHand) {
  auto c = make_calibrator(parse_method("minmax"));
  const Range none = c->range();
  EXPECT_TRUE(none.degenerate);
  c->observe(vec({1.f, -2.f, 3.f}), "x");
  c->observe(vec({}), "x");  // empty batch: ignored
  c->observe(vec({0.5f, 4.f}), "x");
  c->observe(vec({-5.f}), "x");
  const Range r = c->range();
  EXPECT_EQ(r.min, -5.f);
  EXPECT_EQ(r.max, 4.f);
  EXPECT_FALSE(r.degenerate);

  auto a = make_calibrator(parse_method("minmax"));
  auto b = make_calibrator(parse_method("minmax"));
  a->observe(vec({1.f, -2.f, 3.f}), "x");
  b->observe(vec({0.5f, 4.f}), "x");
  b->observe(vec({-5.f}), "x");
  a->merge(*b);
  EXPECT_EQ(a->range().min, -5.f);
  EXPECT_EQ(a->range().max, 4.f);
  auto empty = make_calibrator(parse_method("minmax"));
  empty->merge(*a);
  EXPECT_EQ(empty->range().min, -5.f);
  EXPECT_EQ(empty->range().max, 4.f);
}

TEST(EmaMinMaxCalibrator, MovingAverageByHand) {
  auto c = make_calibrator(parse_method("ema"));  // decay 0.9
  c->observe(vec({-1.f, 2.f, 0.f}), "x");          // first batch initialises: [-1, 2]
  EXPECT_EQ(c->range().min, -1.f);
  EXPECT_EQ(c->range().max, 2.f);
  c->observe(vec({-3.f, 4.f}), "x");  // 0.9 * -1 + 0.1 * -3 = -1.2;  0.9 * 2 + 0.1 * 4 = 2.2
  EXPECT_NEAR(c->range().min, -1.2f, 1e-6);
  EXPECT_NEAR(c->range().max, 2.2f, 1e-6);
  c->observe(vec({0.f, 1.f}), "x");  // 0.9 * -1.2 + 0 = -1.08;  0.9 * 2.2 + 0.1 * 1 = 2.08
  EXPECT_NEAR(c->range().min, -1.08f, 1e-6);
  EXPECT_NEAR(c->range().max, 2.08f, 1e-6);

  // decay 0: only the last batch counts.
  EmaMinMaxCalibrator last(0.0);
  last.observe(vec({-7.f, 7.f}), "x");
  last.observe(vec({0.25f, 0.5f}), "x");
  EXPECT_EQ(last.range().min, 0.25f);
  EXPECT_EQ(last.range().max, 0.5f);

  // merge: batch-count weighted average of the states: (2 * -1.2 + 1 * -4) / 3, (2*2.2 + 1*6)/3.
  EmaMinMaxCalibrator a(0.9), b(0.9);
  a.observe(vec({-1.f, 2.f}), "x");
  a.observe(vec({-3.f, 4.f}), "x");
  b.observe(vec({-4.f, 6.f}), "x");
  a.merge(b);
  EXPECT_EQ(a.batches(), 3);
  EXPECT_NEAR(a.range().min, (2 * -1.2 - 4) / 3, 1e-6);
  EXPECT_NEAR(a.range().max, (2 * 2.2 + 6) / 3, 1e-6);
  EmaMinMaxCalibrator other_decay(0.5);
  EXPECT_THROW(a.merge(other_decay), Error);
}

// ---------------------------------------------------------------------------------------------

TEST(Calibrators, RejectNonFloatAndNonFinite) {
  for (const char* name : {"minmax", "ema", "percentile", "entropy", "mse"}) {
    auto c = make_calibrator(parse_method(name));
    const std::string wrong_type =
        error_of([&] { c->observe(Tensor::from_vector<int8_t>({2}, {1, 2}), "q_in"); });
    EXPECT_NE(wrong_type.find("tensor 'q_in' has element type INT8"), std::string::npos)
        << name << ": " << wrong_type;
    std::vector<float> x(30, 0.5f);
    x[17] = std::numeric_limits<float>::quiet_NaN();
    const std::string nan = error_of([&] { c->observe(vec(x), "conv1_out"); });
    EXPECT_NE(nan.find("tensor 'conv1_out' has NaN at element 17 of this batch"),
              std::string::npos)
        << name << ": " << nan;
    x[17] = std::numeric_limits<float>::infinity();
    EXPECT_THROW(c->observe(vec(x), "conv1_out"), Error) << name;
    EXPECT_TRUE(c->range().degenerate) << name << ": state changed by a rejected batch";
  }
}

TEST(Calibrators, AllZeroIsDegenerate) {
  for (const char* name : {"minmax", "ema", "percentile", "entropy", "mse"}) {
    auto c = make_calibrator(parse_method(name));
    EXPECT_TRUE(c->range().degenerate) << name << " before any batch";
    c->observe(vec({0.f, -0.f, 0.f}), "zeros");
    c->observe(vec({0.f}), "zeros");
    const Range r = c->range();
    EXPECT_TRUE(r.degenerate) << name;
    EXPECT_EQ(r.min, 0.f) << name;
    EXPECT_EQ(r.max, 0.f) << name;
    EXPECT_FALSE(std::signbit(r.min)) << name;
  }
}

// Batches of a tensor: Gaussian with a few outliers, one batch ten times wider (width doubling).
std::vector<std::vector<float>> make_batches(uint32_t seed, float shift, bool relu) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(shift, 1.f);
  std::vector<std::vector<float>> batches;
  for (int b = 0; b < 8; ++b) {
    std::vector<float> x(4000);
    for (float& v : x) {
      v = normal(rng) * (b == 5 ? 10.f : 1.f);
      if (relu) v = std::max(v, 0.f);
    }
    x[b] = 30.f + b;  // a few outliers
    batches.push_back(x);
  }
  return batches;
}

TEST(Calibrators, MergeEqualsObservingEverything) {
  const uint32_t seed = 99;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const auto batches = make_batches(seed, -0.3f, false);
  for (const char* name : {"minmax", "percentile", "percentile:99.9", "entropy", "mse"}) {
    const CalibrationMethod m = parse_method(name);
    auto all = make_calibrator(m);
    for (const auto& b : batches) all->observe(vec(b), "act");
    // Parts over alternating batches, so they see different maxima and widths.
    auto even = make_calibrator(m), odd = make_calibrator(m);
    for (size_t k = 0; k < batches.size(); ++k)
      (k % 2 ? odd : even)->observe(vec(batches[k]), "act");
    odd->merge(*even);
    const Range want = all->range(), got = odd->range();
    EXPECT_EQ(got.min, want.min) << name;
    EXPECT_EQ(got.max, want.max) << name;
    EXPECT_EQ(got.degenerate, want.degenerate) << name;
    if (auto* h = dynamic_cast<HistogramCalibrator*>(odd.get())) {
      const auto& ha = dynamic_cast<HistogramCalibrator&>(*all).histogram();
      EXPECT_EQ(h->histogram().counts(), ha.counts()) << name;
      EXPECT_EQ(h->histogram().width_exponent(), ha.width_exponent()) << name;
      EXPECT_EQ(h->histogram().total_count(), ha.total_count()) << name;
    }
  }
}

TEST(Calibrators, MergeRejectsOtherKindsAndSettings) {
  auto mm = make_calibrator(parse_method("minmax"));
  auto ent = make_calibrator(parse_method("entropy"));
  auto p1 = make_calibrator(parse_method("percentile:99.9"));
  auto p2 = make_calibrator(parse_method("percentile:99.99"));
  EXPECT_THROW(mm->merge(*ent), Error);
  EXPECT_THROW(ent->merge(*mm), Error);
  EXPECT_THROW(p1->merge(*p2), Error);
  CalibrationMethod small = parse_method("entropy");
  small.bins = 1024;
  auto ent_small = make_calibrator(small);
  const std::string msg = error_of([&] { ent->merge(*ent_small); });
  EXPECT_NE(msg.find("1024 bins"), std::string::npos) << msg;
}

TEST(Calibrators, RangeStaysInsideObservedExtremes) {
  const uint32_t seed = 5;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  struct Data { const char* what; float shift; bool relu; float scale; };
  for (const Data& d : {Data{"signed", -0.3f, false, 1.f}, Data{"relu", 0.5f, true, 1.f},
                        Data{"negative", -0.f, true, -1.f}, Data{"shifted", 40.f, false, 1.f}}) {
    auto batches = make_batches(seed, d.shift, d.relu);
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (auto& b : batches)
      for (float& v : b) {
        v *= d.scale;
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    for (const char* name : {"minmax", "ema", "percentile", "percentile:99", "entropy", "mse"}) {
      auto c = make_calibrator(parse_method(name));
      for (const auto& b : batches) c->observe(vec(b), "act");
      const Range r = c->range();
      EXPECT_LE(lo, r.min) << d.what << " " << name;
      EXPECT_LE(r.min, r.max) << d.what << " " << name;
      EXPECT_LE(r.max, hi) << d.what << " " << name;
      EXPECT_FALSE(r.degenerate) << d.what << " " << name;
      if (std::string(d.what) == "relu") {
        EXPECT_EQ(r.min, 0.f) << name;  // non-negative activations get [0, t]
        if (auto* h = dynamic_cast<HistogramCalibrator*>(c.get())) {
          EXPECT_EQ(r.max, std::min<double>(hi, h->threshold())) << name;
        }
      }
    }
  }
}

TEST(HistogramCalibrator, ClipsOutliersSymmetrically) {
  const uint32_t seed = 3;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<float> x(100000);
  for (float& v : x) v = normal(rng);
  x[0] = 50.f;
  x[1] = -60.f;
  auto c = make_calibrator(parse_method("entropy"));
  c->observe(vec(x), "act");
  const Range r = c->range();
  const double t = dynamic_cast<HistogramCalibrator&>(*c).threshold();
  EXPECT_LT(t, 10.0);
  EXPECT_EQ(r.min, static_cast<float>(-t));
  EXPECT_EQ(r.max, static_cast<float>(t));
}

// A copied histogram gives the range of a calibrator that observed the batches itself; the bin
// counts must match.
TEST(HistogramCalibrator, CopiedHistogramEqualsObserving) {
  std::mt19937 rng(8);
  std::normal_distribution<float> normal(1.f, 2.f);
  auto p = make_calibrator(parse_method("percentile:99.9"));
  auto e = make_calibrator(parse_method("entropy"));
  auto copy = make_calibrator(parse_method("entropy"));
  for (int batch = 0; batch < 3; ++batch) {
    std::vector<float> x(5000);
    for (float& v : x) v = normal(rng) * static_cast<float>(batch + 1);
    p->observe(vec(x), "t");
    e->observe(vec(x), "t");
    dynamic_cast<HistogramCalibrator&>(*copy).copy_histogram_from(dynamic_cast<HistogramCalibrator&>(*p));
  }
  EXPECT_EQ(copy->range().min, e->range().min);
  EXPECT_EQ(copy->range().max, e->range().max);
  EXPECT_NE(p->range().max, e->range().max) << "the two methods differ: the copy took only the histogram";
  CalibrationMethod fine = parse_method("entropy");
  fine.bins = 4096;
  HistogramCalibrator other(fine);
  EXPECT_NE(error_of([&] { other.copy_histogram_from(dynamic_cast<HistogramCalibrator&>(*p)); }).find("4096 bins"),
            std::string::npos);
}

TEST(HistogramCalibrator, StateDoesNotGrowWithBatches) {
  for (const char* name : {"percentile", "entropy", "mse"}) {
    auto c = make_calibrator(parse_method(name));
    auto& hc = dynamic_cast<HistogramCalibrator&>(*c);
    std::mt19937 rng(1);
    std::normal_distribution<float> normal(0.f, 1.f);
    std::vector<float> x(256);
    for (float& v : x) v = normal(rng);
    c->observe(vec(x), "act");
    const size_t size = hc.histogram().counts().size();
    const size_t capacity = hc.histogram().counts().capacity();
    EXPECT_EQ(size, size_t(Histogram::kDefaultBins));
    for (int b = 0; b < 2000; ++b) {
      for (float& v : x) v = normal(rng) * (1.f + b % 7);
      c->observe(vec(x), "act");
    }
    EXPECT_EQ(hc.histogram().counts().size(), size) << name;
    EXPECT_EQ(hc.histogram().counts().capacity(), capacity) << name;
    EXPECT_EQ(hc.histogram().total_count(), 2001u * 256u) << name;
  }
}

}  // namespace
}  // namespace octet::quant
