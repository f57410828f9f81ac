// CalibrationSession: observing each tensor as the engine computes it, with one range pass shared by
// every method and the per-value work on the engine's threads, gives exactly the ranges of the
// calibrators fed serially, tensor by tensor, from a run that kept every intermediate (vit-tiny's
// head-split Transpose outputs are observed as the values they reorder, so that the engine folds
// those Transposes into their MatMuls: the same ranges, histograms included); batches
// observed on concurrent shards give the ranges of observation in order, and its first error.
#include "quant/calibrate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "ir/error.h"
#include "passes/fold_batchnorm.h"
#include "passes/fold_constants.h"
#include "passes/quantize_static.h"
#include "runtime/fast/fast_op.h"
#include "runtime/shape_inference.h"
#include "zoo/zoo.h"

namespace octet::quant {
namespace {

Model prepared(const std::string& name) {
  Model m = zoo::make_model(name, 9);
  FoldConstants().run(m);
  FoldBatchNorm().run(m);
  m.graph.topo_sort();
  infer_shapes(m);
  return m;
}

std::vector<CalibrationMethod> every_method() {
  std::vector<CalibrationMethod> methods;
  // Three histogram methods: the second and third copy the first one's binning.
  for (const char* n : {"minmax", "percentile:99.99", "ema", "entropy", "percentile:99.9"})
    methods.push_back(parse_method(n));
  return methods;
}

// Batches of 8 and 5 images: mobilenetv2-tiny's 28x28 layers then hold 100,000 values and more,
// above the size at which the range pass and the binning are split over threads.
TEST(CalibrationSession, RangesEqualSerialCalibratorsOnKeptValues) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  for (const char* name : {"mobilenetv2-tiny", "vit-tiny"}) {
    const Model m = prepared(name);
    const StaticQuantPlan plan = plan_static(m, StaticQuantOptions{});
    ASSERT_FALSE(plan.activations.empty());
    const std::vector<CalibrationMethod> methods = every_method();
    CalibrationSession session(m, plan.activations, methods);
    const std::string in = m.graph.inputs[0];
    const std::vector<Tensor> batches = {zoo::sample_input(8, 21), zoo::sample_input(5, 22)};
    for (const Tensor& x : batches) session.observe({{in, x}});
    EXPECT_EQ(session.batches(), 2);

    EngineOptions eo;
    eo.observe.insert(plan.activations.begin(), plan.activations.end());
    eo.threads = 1;
    Engine engine(m, eo);
    std::map<std::string, std::vector<std::unique_ptr<Calibrator>>> serial;
    for (const std::string& t : plan.activations)
      for (const CalibrationMethod& cm : methods) serial[t].push_back(make_calibrator(cm));
    RunOptions keep;
    keep.keep_intermediates = true;
    for (const Tensor& x : batches) {
      std::map<std::string, Tensor> values = engine.run({{in, x}}, keep);
      values[in] = x;
      for (const std::string& t : plan.activations)
        for (auto& cal : serial[t]) cal->observe(values.at(t), t);
    }
    for (size_t k = 0; k < methods.size(); ++k) {
      const std::map<std::string, Range> got = session.ranges(k);
      for (const std::string& t : plan.activations) {
        const Range want = serial[t][k]->range();
        EXPECT_EQ(got.at(t).min, want.min) << name << " " << method_name(methods[k]) << " " << t;
        EXPECT_EQ(got.at(t).max, want.max) << name << " " << method_name(methods[k]) << " " << t;
        EXPECT_EQ(got.at(t).degenerate, want.degenerate);
      }
    }
  }
}

// A NaN reaching a calibrated tensor is an Error naming that tensor; an unknown or repeated tensor
// name is an Error at construction.
TEST(CalibrationSession, NanInputAndBadTensorListsAreErrors) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const Model m = prepared("resnet8");
  const StaticQuantPlan plan = plan_static(m, StaticQuantOptions{});
  const std::string in = m.graph.inputs[0];
  CalibrationSession session(m, plan.activations, {parse_method("minmax")});
  Tensor x = zoo::sample_input(2, 3);
  x.data<float>()[100] = std::numeric_limits<float>::quiet_NaN();
  try {
    session.observe({{in, x}});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("has NaN at element"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("tensor '"), std::string::npos) << e.what();
  }
  EXPECT_THROW(CalibrationSession(m, {"no_such_tensor"}, {parse_method("minmax")}), Error);
  EXPECT_THROW(CalibrationSession(m, {in, in}, {parse_method("minmax")}), Error);
}

// observe_batches on shards (one single-threaded engine and calibrator set per thread, merged at
// the end) gives the very ranges of observe() over the same batches in order, for MinMax and the
// histogram methods, whatever shard took which batch; done() reports each batch once. With EMA
// among the methods the batches run in order on the session's engine.
TEST(CalibrationSession, ShardedBatchesGiveTheRangesOfObservationInOrder) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  for (const char* name : {"resnet8", "vit-tiny"}) {
    const Model m = prepared(name);
    const StaticQuantPlan plan = plan_static(m, StaticQuantOptions{});
    std::vector<CalibrationMethod> methods;
    for (const char* n : {"minmax", "percentile:99.99", "entropy", "mse", "percentile:99.9"})
      methods.push_back(parse_method(n));
    const std::string in = m.graph.inputs[0];
    // Enough batches for shards on this machine (the session's engine takes every core).
    const int count = std::max(9, static_cast<int>(2 * std::thread::hardware_concurrency() + 1));
    std::vector<Tensor> batches;
    for (int i = 0; i < count; ++i) batches.push_back(zoo::sample_input(2 + i % 4, 40 + i));
    CalibrationSession ordered(m, plan.activations, methods), shards(m, plan.activations, methods);
    for (const Tensor& x : batches) ordered.observe({{in, x}});
    std::vector<int> reported(batches.size(), 0);
    shards.observe_batches(
        static_cast<int64_t>(batches.size()),
        [&](int64_t i) { return CalibrationSession::Feeds{{in, batches[static_cast<size_t>(i)]}}; },
        [&](int64_t i) { ++reported[static_cast<size_t>(i)]; });
    if (std::thread::hardware_concurrency() >= 2) {
      EXPECT_TRUE(shards.sharded(count)) << name;
    }
    EXPECT_EQ(shards.batches(), count);
    for (int r : reported) EXPECT_EQ(r, 1);
    for (size_t k = 0; k < methods.size(); ++k) {
      const std::map<std::string, Range> got = shards.ranges(k), want = ordered.ranges(k);
      for (const std::string& t : plan.activations) {
        EXPECT_EQ(got.at(t).min, want.at(t).min) << name << " " << method_name(methods[k]) << " " << t;
        EXPECT_EQ(got.at(t).max, want.at(t).max) << name << " " << method_name(methods[k]) << " " << t;
        EXPECT_EQ(got.at(t).degenerate, want.at(t).degenerate);
      }
    }
    CalibrationSession with_ema(m, plan.activations, {parse_method("minmax"), parse_method("ema")});
    EXPECT_FALSE(with_ema.sharded(count));
  }
}

// An Error in any batch stops observe_batches, which throws the error of the lowest batch index
// (the one observation in order would have met first), be it the engine's or batch()'s own.
TEST(CalibrationSession, ShardedBatchesThrowTheFirstBatchsError) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const Model m = prepared("resnet8");
  const StaticQuantPlan plan = plan_static(m, StaticQuantOptions{});
  const std::string in = m.graph.inputs[0];
  const int count = std::max(10, static_cast<int>(2 * std::thread::hardware_concurrency() + 2));
  for (int first_bad : {1, 4, count - 3}) {
    CalibrationSession session(m, plan.activations, {parse_method("minmax"), parse_method("entropy")});
    if (std::thread::hardware_concurrency() >= 2) {
      EXPECT_TRUE(session.sharded(count));
    }
    auto batch = [&](int64_t i) {
      if (i == first_bad + 2) throw Error("batch unreadable");
      Tensor x = zoo::sample_input(3, static_cast<uint32_t>(i));
      if (i == first_bad) x.data<float>()[100] = std::numeric_limits<float>::quiet_NaN();
      if (i == first_bad + 1) x.data<float>()[7] = std::numeric_limits<float>::infinity();
      return CalibrationSession::Feeds{{in, x}};
    };
    try {
      session.observe_batches(count, batch);
      FAIL() << "no error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("has NaN at element 100"), std::string::npos) << first_bad << ": " << e.what();
    }
  }
  // done() throwing for a batch before the first bad one: that is the error.
  CalibrationSession session(m, plan.activations, {parse_method("minmax")});
  auto batch = [&](int64_t i) {
    Tensor x = zoo::sample_input(3, static_cast<uint32_t>(i));
    if (i == 5) x.data<float>()[100] = std::numeric_limits<float>::quiet_NaN();
    return CalibrationSession::Feeds{{in, x}};
  };
  try {
    session.observe_batches(count, batch, [](int64_t i) {
      if (i == 2) throw Error("progress failed");
    });
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("progress failed"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace octet::quant
