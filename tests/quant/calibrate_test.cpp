// CalibrationSession: observing each tensor as the engine computes it, with one range pass shared by
// every method and the per-value work on the engine's threads, gives exactly the ranges of the
// calibrators fed serially, tensor by tensor, from a run that kept every intermediate.
#include "quant/calibrate.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
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

}  // namespace
}  // namespace octet::quant
