// A residual block's Add (and the Relu/Clip after it) fused into the float Conv before it: the
// direct kernel adds the residual in its epilogue, the other paths (1x1 on the shifted kernel,
// the shifted kernel, depthwise, im2col + SGEMM, oneDNN) in one pass after the convolution. On
// every path the fused engine must give the unfused engine's bits, name the fused nodes in its
// profile, fuse only a residual that exists when the Conv runs (resnet's downsample branch,
// computed after the main branch's last Conv, takes the Add instead), and hand a run whose
// residual does not have the Conv's output shape to the nodes (the reference ops' bits).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

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

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

std::vector<std::string> fused_of(const Engine& e, const std::string& node) {
  for (const auto& l : e.layers())
    if (l.node == node) return l.fused;
  ADD_FAILURE() << node << " is not a step";
  return {};
}

std::string kernel_of(const Engine& e, const std::string& node) {
  for (const auto& l : e.layers())
    if (l.node == node) return l.kernel;
  return "";
}

struct ConvCase {
  const char* what;
  int64_t C, M, H, k, stride, group;
  const char* act;     // "Relu", "Clip" or "" (none)
  bool residual_first;  // Add(residual, conv) instead of Add(conv, residual), and a Conv without bias
  bool onednn;
  const char* kernel_prefix;  // the path the case is meant to take
};

TEST(EngineConvResidual, EveryConvPathGivesTheUnfusedBits) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const std::vector<ConvCase> cases = {
      {"direct 3x3, resnet8's stage 1", 16, 16, 28, 3, 1, 1, "Relu", false, true, "conv_f32_direct"},
      {"direct 3x3, odd plane, Clip", 32, 32, 9, 3, 1, 1, "Clip", true, true, "conv_f32_direct"},
      {"direct 1x1 stride 2 (a downsample)", 16, 32, 14, 1, 2, 1, "Relu", true, true, "conv_f32_direct"},
      {"1x1 on the shifted kernel, no activation", 16, 24, 14, 1, 1, 1, "", false, true, "conv_f32_1x1_shift"},
      {"shifted kernel (8 channels)", 8, 8, 12, 3, 1, 1, "Relu", false, true, "conv_f32_shift"},
      {"depthwise 3x3", 24, 24, 10, 3, 1, 24, "Relu", true, true, "dwconv"},
      {"im2col + SGEMM (K > 2304)", 272, 16, 5, 3, 1, 1, "Relu", false, false, "conv_f32_im2col"},
      {"oneDNN", 64, 64, 14, 3, 1, 1, "Relu", false, true, "conv_f32_onednn"},
  };
  for (const ConvCase& c : cases) {
    if (c.onednn && std::string(c.kernel_prefix) == "conv_f32_onednn" && !fast::onednn_built()) continue;
    SCOPED_TRACE(c.what);
    const int64_t pad = c.k / 2, OH = (c.H + 2 * pad - c.k) / c.stride + 1;
    B g("residual", 17);
    const std::string x = g.input("x", DType::Float32, {2, c.C, c.H, c.H});
    // The residual from a node before the Conv, as a residual block's identity branch would be.
    const std::string r0 = g.input("r", DType::Float32, {2, c.M, OH, OH});
    const std::string r = g.op("Relu", {r0}, {}, "branch");
    const std::string w = g.initializer("w", testing::random_float({c.M, c.C / c.group, c.k, c.k}, 1));
    std::vector<std::string> conv_in = {x, w};
    if (!c.residual_first) conv_in.push_back(g.initializer("b", testing::random_float({c.M}, 2)));
    const std::string y =
        g.op("Conv", conv_in,
             {{"pads", B::ints({pad, pad, pad, pad})}, {"strides", B::ints({c.stride, c.stride})}, {"group", B::i(c.group)}},
             "conv");
    std::string out = g.op("Add", {c.residual_first ? r : y, c.residual_first ? y : r}, {}, "add");
    std::vector<std::string> fused = {"add"};
    if (std::string(c.act) == "Relu") {
      out = g.op("Relu", {out}, {}, "act");
      fused.push_back("act");
    } else if (std::string(c.act) == "Clip") {
      out = g.op("Clip", {out, g.initializer("lo", testing::random_float({}, 3, -0.1f, 0.f)),
                          g.initializer("hi", testing::random_float({}, 4, 1.f, 1.5f))},
                 {}, "act");
      fused.push_back("act");
    }
    g.output(out);
    Model m = g.build();
    infer_shapes(m);
    const std::map<std::string, Tensor> feeds = {{"x", testing::random_float({2, c.C, c.H, c.H}, 5)},
                                                 {"r", testing::random_float({2, c.M, OH, OH}, 6, -2.f, 2.f)}};
    for (int threads : {1, 2}) {
      SCOPED_TRACE(threads);
      EngineOptions eo;
      eo.threads = threads;
      eo.onednn = c.onednn;
      eo.profile = true;  // the profile's kernel after a run is "reference" when the fast op declined it
      Engine e(m, eo);
      EXPECT_EQ(fused_of(e, "conv"), fused);
      const Tensor got = e.run(feeds).at(out);
      EXPECT_EQ(kernel_of(e, "conv").rfind(c.kernel_prefix, 0), 0u) << kernel_of(e, "conv");
      eo.fuse_activations = false;
      Engine unfused(m, eo);
      EXPECT_TRUE(fused_of(unfused, "conv").empty());
      EXPECT_TRUE(same_bits(got, unfused.run(feeds).at(out)));
      // Sanity against the reference executor (its sums round differently).
      const Tensor ref = Executor(m).run(feeds).at(out);
      ASSERT_EQ(ref.shape(), got.shape());
      for (int64_t i = 0; i < ref.numel(); ++i)
        ASSERT_NEAR(got.data<float>()[i], ref.data<float>()[i], 1e-3 * (1 + std::fabs(ref.data<float>()[i]))) << i;
    }
  }
}

// resnet's second and third stages: the main branch's last Conv comes before the downsample Conv
// in the node order, so the Add goes to the downsample Conv, whose residual (the main branch) is
// computed by then; the main branch's Conv keeps its output.
TEST(EngineConvResidual, TheAddGoesToTheConvWhoseResidualIsComputed) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  B g("downsample", 17);
  const std::string x = g.input("x", DType::Float32, {1, 16, 14, 14});
  const std::string main = g.op("Conv", {x, g.initializer("w1", testing::random_float({32, 16, 3, 3}, 7))},
                                {{"pads", B::ints({1, 1, 1, 1})}, {"strides", B::ints({2, 2})}}, "main");
  const std::string down = g.op("Conv", {x, g.initializer("w2", testing::random_float({32, 16, 1, 1}, 8))},
                                {{"strides", B::ints({2, 2})}}, "down");
  const std::string add = g.op("Add", {main, down}, {}, "add");
  g.output(g.op("Relu", {add}, {}, "relu"));
  Model m = g.build();
  infer_shapes(m);
  ASSERT_EQ(m.graph.nodes[0]->name, "main");
  const std::map<std::string, Tensor> feeds = {{"x", testing::random_float({1, 16, 14, 14}, 9)}};
  EngineOptions eo;
  eo.threads = 2;
  eo.profile = true;  // the profile's kernel after a run is "reference" when the fast op declined it
  Engine e(m, eo);
  EXPECT_TRUE(fused_of(e, "main").empty());
  EXPECT_EQ(fused_of(e, "down"), (std::vector<std::string>{"add", "relu"}));
  const Tensor got = e.run(feeds).at(m.graph.outputs[0]);
  eo.fuse_activations = false;
  EXPECT_TRUE(same_bits(got, Engine(m, eo).run(feeds).at(m.graph.outputs[0])));
  EXPECT_EQ(kernel_of(e, "down").rfind("conv_f32_direct", 0), 0u) << "ran on the fast op: " << kernel_of(e, "down");
}

// Not fused: a residual that is an initializer (a constant Add is a bias, not a residual), a Conv
// output read twice, a Relu before the Add (the clamp would come before the sum).
TEST(EngineConvResidual, OnlyARuntimeResidualRightAfterTheConvIsFused) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  auto conv = [](B& g, const std::string& x) {
    return g.op("Conv", {x, g.initializer("w", testing::random_float({16, 16, 3, 3}, 10))},
                {{"pads", B::ints({1, 1, 1, 1})}}, "conv");
  };
  {
    B g("constant", 17);
    const std::string y = conv(g, g.input("x", DType::Float32, {1, 16, 8, 8}));
    g.output(g.op("Add", {y, g.initializer("c", testing::random_float({1, 16, 8, 8}, 11))}, {}, "add"));
    Model m = g.build();
    infer_shapes(m);
    EXPECT_TRUE(fused_of(Engine(m, EngineOptions{}), "conv").empty());
  }
  {
    B g("twice", 17);
    const std::string x = g.input("x", DType::Float32, {1, 16, 8, 8});
    const std::string y = conv(g, x);
    const std::string s = g.op("Add", {y, x}, {}, "add");
    g.output(g.op("Add", {s, y}, {}, "add2"));
    Model m = g.build();
    infer_shapes(m);
    EXPECT_TRUE(fused_of(Engine(m, EngineOptions{}), "conv").empty());
  }
  {
    B g("relu_first", 17);
    const std::string x = g.input("x", DType::Float32, {1, 16, 8, 8});
    const std::string y = g.op("Relu", {conv(g, x)}, {}, "relu");
    g.output(g.op("Add", {y, x}, {}, "add"));
    Model m = g.build();
    infer_shapes(m);
    EXPECT_EQ(fused_of(Engine(m, EngineOptions{}), "conv"), std::vector<std::string>{"relu"});
  }
}

// A residual whose shape is not known at load is fused; a run whose residual broadcasts instead
// of matching the Conv's output is declined by the fast op, and the step's nodes then run on the
// reference ops, giving the reference executor's bits.
TEST(EngineConvResidual, AResidualOfAnotherShapeRunsOnTheNodes) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  B g("broadcast", 17);
  const std::string x = g.input("x", DType::Float32, {2, 16, 8, 8});
  const std::string r = g.input("r", DType::Float32, {2, 16, -1, -1}, "s");
  const std::string y = g.op("Conv", {x, g.initializer("w", testing::random_float({16, 16, 3, 3}, 12))},
                             {{"pads", B::ints({1, 1, 1, 1})}}, "conv");
  const std::string add = g.op("Add", {y, r}, {}, "add");
  g.output(g.op("Relu", {add}, {}, "relu"));
  Model m = g.build();
  infer_shapes(m);
  const std::string out = m.graph.outputs[0];
  EngineOptions eo;
  eo.threads = 2;
  eo.profile = true;
  Engine e(m, eo);
  EXPECT_EQ(fused_of(e, "conv"), (std::vector<std::string>{"add", "relu"}));
  const Tensor xv = testing::random_float({2, 16, 8, 8}, 13);
  {  // matching: fused
    const std::map<std::string, Tensor> feeds = {{"x", xv}, {"r", testing::random_float({2, 16, 8, 8}, 14)}};
    EngineOptions uo = eo;
    uo.fuse_activations = false;
    EXPECT_TRUE(same_bits(e.run(feeds).at(out), Engine(m, uo).run(feeds).at(out)));
    EXPECT_EQ(kernel_of(e, "conv"), "conv_f32_direct_6x16_avx2");
  }
  {  // broadcast [2, 16, 1, 1]: declined
    const std::map<std::string, Tensor> feeds = {{"x", xv}, {"r", testing::random_float({2, 16, 1, 1}, 15)}};
    const Tensor got = e.run(feeds).at(out);
    EXPECT_EQ(got.shape(), (Shape{2, 16, 8, 8}));
    EXPECT_TRUE(same_bits(got, Executor(m).run(feeds).at(out)));
    EXPECT_EQ(kernel_of(e, "conv"), "reference");
  }
}

}  // namespace
}  // namespace octet

namespace octet {
namespace {

// A batch split into parts (concurrent, one after another) with a fused residual, an observer on
// the residual, and keep_intermediates: the unfused engine's bits every time; the observed
// residual and the kept values are those of the unfused run.
TEST(EngineConvResidual, SplitBatchesObserversAndKeptValuesGiveTheUnfusedBits) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  B g("split", 17);
  const std::string x = g.input("x", DType::Float32, {-1, 16, 12, 12});
  const std::string branch = g.op("Relu", {x}, {}, "branch");
  const std::string y = g.op("Conv", {x, g.initializer("w", testing::random_float({16, 16, 3, 3}, 16))},
                             {{"pads", B::ints({1, 1, 1, 1})}}, "conv");
  const std::string add = g.op("Add", {y, branch}, {}, "add");
  g.output(g.op("Relu", {add}, {}, "relu"));
  Model m = g.build();
  infer_shapes(m);
  const std::string out = m.graph.outputs[0];
  const std::map<std::string, Tensor> feeds = {{"x", testing::random_float({6, 16, 12, 12}, 17)}};
  EngineOptions uo;
  uo.threads = 2;
  uo.fuse_activations = false;
  uo.micro_batch = -1;
  RunOptions keep;
  keep.keep_intermediates = true;
  const auto want = Engine(m, uo).run(feeds, keep);
  int concurrent_runs = 0;
  for (int64_t micro : {1, 2, 3, -1})
    for (bool concurrent : {true, false}) {
      SCOPED_TRACE(::testing::Message() << "micro_batch " << micro << " concurrent " << concurrent);
      EngineOptions eo;
      eo.threads = 2;
      eo.micro_batch = micro;
      eo.batch_parallel = concurrent;
      eo.profile = true;
      Engine e(m, eo);
      const Engine::BatchPlan plan = e.batch_plan(6);
      concurrent_runs += plan.concurrent;
      if (micro > 0) {
        EXPECT_GT(plan.parts, 1) << "split";
      } else {
        EXPECT_EQ(plan.parts, 1);
      }
      EXPECT_EQ(fused_of(e, "conv"), (std::vector<std::string>{"add", "relu"}));
      EXPECT_TRUE(same_bits(e.run(feeds).at(out), want.at(out)));
      EXPECT_EQ(kernel_of(e, "conv"), "conv_f32_direct_6x16_avx2");
      std::map<std::string, Tensor> seen;
      EngineOptions oo = eo;
      oo.observe = {branch};
      Engine observed(m, oo);
      EXPECT_EQ(fused_of(observed, "conv"), (std::vector<std::string>{"add", "relu"})) << "the residual may be observed";
      const auto got = observed.run(feeds, RunOptions{}, [&](const std::string& name, const Tensor& v) { seen[name] = v; });
      EXPECT_TRUE(same_bits(got.at(out), want.at(out)));
      ASSERT_TRUE(seen.count(branch));
      EXPECT_TRUE(same_bits(seen.at(branch), want.at(branch)));
      const auto kept = Engine(m, eo).run(feeds, keep);
      EXPECT_TRUE(same_bits(kept.at(out), want.at(out)));
      EXPECT_TRUE(same_bits(kept.at(branch), want.at(branch)));
    }
  EXPECT_GE(concurrent_runs, 2) << "concurrent parts ran";
}

}  // namespace
}  // namespace octet
