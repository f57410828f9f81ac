// The engine against the reference executor: float models within summation-order rounding,
// lowered INT8 models bit for bit (every fused integer layer on the fast kernels), any thread
// count giving the same bits, the profile naming kernels and fused nodes, and the fallback to the
// reference op where no fast op applies.
#include "runtime/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <random>

#include "../test_util.h"
#include "ir/builder.h"
#include "ir/file_util.h"
#include "kernels/avx2/qgemm_avx2.h"
#include "kernels/avx512/dwconv_vbmi.h"
#include "onnx/model_io.h"
#include "passes/fold_batchnorm.h"
#include "passes/fold_constants.h"
#include "passes/lower_qdq.h"
#include "passes/quantize_static.h"
#include "quant/calibrate.h"
#include "runtime/batch_split.h"
#include "runtime/fast/conv2d.h"
#include "runtime/fast/conv_f32_onednn.h"
#include "runtime/fast/fast_op.h"
#include "runtime/shape_inference.h"
#include "zoo/zoo.h"

namespace octet {
namespace {

using B = GraphBuilder;

// Bitwise equality of two tensors (same dtype and shape); reports the first difference.
::testing::AssertionResult same_bits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape())
    return ::testing::AssertionFailure() << "dtype/shape " << dtype_name(a.dtype()) << shape_str(a.shape()) << " vs "
                                         << dtype_name(b.dtype()) << shape_str(b.shape());
  if (a.nbytes() && std::memcmp(a.raw(), b.raw(), a.nbytes()) != 0) {
    for (int64_t i = 0; i < a.numel(); ++i)
      if (a.get_as_double(i) != b.get_as_double(i))
        return ::testing::AssertionFailure() << "element " << i << ": " << a.get_as_double(i) << " vs " << b.get_as_double(i);
  }
  return ::testing::AssertionSuccess();
}

// max |a - b| / (1 + max |b|)
double rel_diff(const Tensor& a, const Tensor& b) {
  double d = 0, m = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    d = std::max(d, std::fabs(a.get_as_double(i) - b.get_as_double(i)));
    m = std::max(m, std::fabs(b.get_as_double(i)));
  }
  return d / (1 + m);
}

// Static INT8 (onnxruntime preset, minmax on `calib`), then lowered.
Model quantize_and_lower(const Model& float_model, const Tensor& calib, LowerQdqStats* stats = nullptr,
                         DType activation_type = DType::UInt8) {
  Model m = clone_model(float_model);
  FoldConstants().run(m);
  FoldBatchNorm().run(m);
  m.graph.topo_sort();
  infer_shapes(m);
  StaticQuantOptions o;
  o.activation_type = activation_type;
  const StaticQuantPlan plan = plan_static(m, o);
  quant::CalibrationSession session(m, plan.activations, {quant::CalibrationMethod{}});
  session.observe({{m.graph.inputs[0], calib}});
  Model q = clone_model(m);
  apply_static(q, plan, session.ranges(0), o);
  LowerQdq lower;
  lower.run(q);
  infer_shapes(q);
  if (stats) *stats = lower.stats();
  return q;
}

class EngineZoo : public ::testing::TestWithParam<std::string> {};

TEST_P(EngineZoo, FloatMatchesReferenceAndThreadCountsAgree) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  Model m = zoo::make_model(GetParam(), 7);
  infer_shapes(m);
  const Tensor x = zoo::sample_input(5, 3);
  const std::string in = m.graph.inputs[0], out = m.graph.outputs[0];
  const Tensor ref = Executor(m).run({{in, x}}).at(out);
  EngineOptions one;
  one.threads = 1;
  EngineOptions two;
  two.threads = 2;
  const Tensor y1 = Engine(m, one).run({{in, x}}).at(out);
  const Tensor y2 = Engine(m, two).run({{in, x}}).at(out);
  EXPECT_LT(rel_diff(y1, ref), 1e-4) << GetParam();
  EXPECT_TRUE(same_bits(y1, y2)) << "1 and 2 threads must give the same bits";
}

// EngineOptions::adaptive_threads: runs that take one thread (a probe at least, after the warm-up
// runs) give the bits of an engine held to its pool; the engine counts them; fixed threads, a
// profile or one thread never take the choice.
TEST_P(EngineZoo, AdaptiveRunsGiveTheFixedThreadsBits) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  Model m = zoo::make_model(GetParam(), 7);
  infer_shapes(m);
  const Tensor x = zoo::sample_input(1, 3);
  const std::string in = m.graph.inputs[0], out = m.graph.outputs[0];
  EngineOptions fixed;
  fixed.threads = 2;
  fixed.adaptive_threads = false;
  Engine held(m, fixed);
  const Tensor want = held.run({{in, x}}).at(out);
  EngineOptions adaptive;
  adaptive.threads = 2;
  Engine e(m, adaptive);
  const int64_t runs = ThreadChoice::kWarmRuns + 2 * ThreadChoice::kProbeRare;
  for (int64_t i = 0; i < runs; ++i) ASSERT_TRUE(same_bits(e.run({{in, x}}).at(out), want)) << GetParam() << " run " << i;
  EXPECT_EQ(e.runs(), runs);
  EXPECT_GE(e.one_thread_runs(), 1) << GetParam() << ": the first probe of one thread follows the warm-up";
  for (int64_t i = 0; i < 8; ++i) held.run({{in, x}});
  EXPECT_EQ(held.one_thread_runs(), 0);
  EngineOptions profiled = adaptive;
  profiled.profile = true;
  Engine p(m, profiled);
  for (int64_t i = 0; i < 8; ++i) p.run({{in, x}});
  EXPECT_EQ(p.one_thread_runs(), 0);
}

TEST_P(EngineZoo, Int8EqualsReferenceBitForBitOnTrainedModel) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const std::string path = join_path(OCTET_SOURCE_DIR, "models/" + GetParam() + "/model.onnx");
  Model m = load_model(path);
  infer_shapes(m);
  LowerQdqStats stats;
  Model q = quantize_and_lower(m, zoo::sample_input(16, 11), &stats);
  EXPECT_GT(stats.fused_conv + stats.fused_matmul, 0);
  // Only activation x activation MatMuls (vit-tiny's attention) are not fused yet; they run in
  // float with their Q/DQ, as written.
  for (const auto& why : stats.left_in_float)
    EXPECT_NE(why.find("(MatMul): its weight is not a DequantizeLinear of a constant"), std::string::npos) << why;
  const std::string in = q.graph.inputs[0], out = q.graph.outputs[0];
  EngineOptions eo;
  eo.threads = 2;
  Engine engine(q, eo);
  // Every fused integer layer runs on an INT8 kernel, none on the reference (a residual add fused
  // into the convolution before it counts as its own layer here).
  int int8_layers = 0, fused_adds = 0;
  for (const auto& l : engine.layers()) {
    if (l.op_type.rfind("octet.", 0) == 0) {
      EXPECT_EQ(l.precision, "int8") << l.node << " runs " << l.kernel;
      int8_layers += 1 + static_cast<int>(l.fused.size());
      fused_adds += l.op_type == "octet.QLinearConv" ? static_cast<int>(l.fused.size()) : 0;
    }
  }
  // Every residual add of a ResNet or MobileNet block goes into the convolution before it.
  if (GetParam() == "resnet8") {
    EXPECT_EQ(fused_adds, 3);
  }
  if (GetParam() == "mobilenetv2-tiny") {
    EXPECT_EQ(fused_adds, 2);
  }
  EXPECT_EQ(int8_layers, stats.fused_conv + stats.fused_matmul + stats.fused_add + stats.fused_pool);
  // The ResNet and MobileNet residual adds and global pools (whose results feed quantized layers)
  // run as integer adds and pools: resnet8's last Add feeds the pool, so it is integer too.
  if (GetParam() == "resnet8") {
    EXPECT_EQ(stats.fused_add, 3);
  }
  if (GetParam() == "mobilenetv2-tiny") {
    EXPECT_EQ(stats.fused_add, 2);
  }
  if (GetParam() == "resnet8" || GetParam() == "mobilenetv2-tiny") {
    EXPECT_EQ(stats.fused_pool, 1);
  }
  Executor reference(q);
  for (uint32_t seed : {21u, 22u}) {
    const Tensor x = zoo::sample_input(seed == 21u ? 1 : 7, seed);
    RunOptions keep;
    keep.keep_intermediates = true;
    const auto want = reference.run({{in, x}}, keep);
    const auto got = engine.run({{in, x}}, keep);
    EXPECT_TRUE(same_bits(got.at(out), want.at(out))) << GetParam() << " seed " << seed;
    // Every fused layer's output, not only the logits.
    for (const auto& n : q.graph.nodes) {
      if (n->domain == "octet" && got.count(n->outputs[0])) {
        EXPECT_TRUE(same_bits(got.at(n->outputs[0]), want.at(n->outputs[0]))) << n->name;
      }
    }
  }
}

// A batch run as parts (runtime/batch_split.h) gives the whole batch's bits: every zoo model is
// batch separable, float and lowered INT8 (uint8 activations, and int8 ones, which the integer
// ops convert into a per-thread buffer), with parts of 3 for a batch of 10, run concurrently on
// two threads (3, 3, 2, 2) and one after another (3, 3, 2, 2 too); a split run is one profile
// call per step; a run with an observer is not split.
TEST_P(EngineZoo, BatchRunInPartsGivesTheWholeBatchBits) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const std::string path = join_path(OCTET_SOURCE_DIR, "models/" + GetParam() + "/model.onnx");
  Model m = load_model(path);
  infer_shapes(m);
  Model q = quantize_and_lower(m, zoo::sample_input(16, 11));
  Model q8 = quantize_and_lower(m, zoo::sample_input(16, 11), nullptr, DType::Int8);
  for (const Model* model : {&m, &q, &q8}) {
    SCOPED_TRACE(model == &m ? "float" : model == &q ? "uint8" : "int8");
    EXPECT_GT(batch_split_bytes(*model), 0);
    const std::string in = model->graph.inputs[0], out = model->graph.outputs[0];
    const Tensor x = zoo::sample_input(10, 31);
    EngineOptions whole;
    whole.threads = 2;
    whole.micro_batch = -1;
    whole.onednn = false;  // plans with oneDNN steps are not split (below)
    Engine e_whole(*model, whole);
    EXPECT_EQ(e_whole.part_size(10), 10);
    EngineOptions parts = whole;
    parts.micro_batch = 3;
    parts.profile = true;
    Engine e_parts(*model, parts);
    const Engine::BatchPlan plan = e_parts.batch_plan(10);
    EXPECT_EQ(plan.part, 3);
    EXPECT_EQ(plan.parts, 4);
    EXPECT_TRUE(plan.concurrent);
    const Tensor want = e_whole.run({{in, x}}).at(out);
    EXPECT_TRUE(same_bits(e_parts.run({{in, x}}).at(out), want));
    for (const auto& l : e_parts.layers()) {
      EXPECT_EQ(l.calls, 1) << l.node;
      // The integer layers ran on their fast ops in the parts (the int8 model's convert the input
      // into the per-thread buffer), not on the reference.
      if (l.op_type.rfind("octet.", 0) == 0) {
        EXPECT_NE(l.kernel, "reference") << l.node;
      }
    }
    // One sample per part: ten parts, so both threads surely run parts at the same time.
    EngineOptions singles = parts;
    singles.micro_batch = 1;
    Engine e_singles(*model, singles);
    EXPECT_EQ(e_singles.batch_plan(10).parts, 10);
    EXPECT_TRUE(same_bits(e_singles.run({{in, x}}).at(out), want));
    EngineOptions serial_parts = parts;
    serial_parts.batch_parallel = false;
    Engine e_serial(*model, serial_parts);
    EXPECT_FALSE(e_serial.batch_plan(10).concurrent);
    EXPECT_EQ(e_serial.batch_plan(10).parts, 4);
    EXPECT_TRUE(same_bits(e_serial.run({{in, x}}).at(out), want));
    for (const auto& l : e_serial.layers()) EXPECT_EQ(l.calls, 1) << l.node;
    int64_t observed_batch = 0;
    e_parts.run({{in, x}}, RunOptions{}, [&](const std::string&, const Tensor& v) { observed_batch = v.dim(0); });
    EXPECT_EQ(observed_batch, 0) << "nothing observed without EngineOptions::observe";
    EngineOptions watch = parts;
    watch.observe = {in};
    Engine e_watch(*model, watch);
    e_watch.run({{in, x}}, RunOptions{}, [&](const std::string&, const Tensor& v) { observed_batch = v.dim(0); });
    EXPECT_EQ(observed_batch, 10) << "an observed run sees the whole batch";
  }
}

// With a oneDNN convolution in the plan the batch is not split (oneDNN's bits may depend on the
// problem's shape), unless its plane is known at load to be small enough for the direct kernel:
// then it never holds oneDNN. 64 channels 3x3 on 16x16 goes to oneDNN, on 7x7 it does not.
TEST(EngineBatchSplit, OnlyPlansWithoutOnednnStepsAreSplit) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  if (!fast::onednn_built()) GTEST_SKIP() << "this build has no oneDNN";
  for (int64_t side : {16, 7}) {
    SCOPED_TRACE(str_cat(side, "x", side));
    B g("od", 17);
    const std::string x = g.input("x", DType::Float32, {-1, 64, side, side});
    g.initializer("w", testing::random_float({32, 64, 3, 3}, 3));
    g.output(g.op("Conv", {x, "w"}, {{"kernel_shape", B::ints({3, 3})}, {"pads", B::ints({1, 1, 1, 1})}}));
    Model m = g.build();
    infer_shapes(m);
    EngineOptions o;
    o.threads = 2;
    o.micro_batch = 3;
    Engine e(m, o);
    EXPECT_EQ(e.layers()[0].kernel, side == 16 ? "conv_f32_onednn" : "conv_f32_direct_6x16_avx2");
    EXPECT_EQ(e.part_size(10), side == 16 ? 10 : 3);
    // Split or whole, the same bits (the 7x7 layer's direct kernel is batch-invariant).
    const Tensor input = testing::random_float({10, 64, side, side}, 4);
    EngineOptions whole = o;
    whole.micro_batch = -1;
    const std::string out = m.graph.outputs[0];
    EXPECT_TRUE(same_bits(e.run({{x, input}}).at(out), Engine(m, whole).run({{x, input}}).at(out)));
    o.onednn = false;
    EXPECT_EQ(Engine(m, o).part_size(10), 3);
  }
}

// An error inside a concurrent part (here Dropout in training mode with a ratio octet refuses to
// fake) ends the run with that error, naming the node; the pool survives it: the next run on the
// same engine ends the same way instead of hanging, and so does a run of one sample (whole, each
// step on both threads).
TEST(EngineBatchSplit, AnErrorInAConcurrentPartEndsTheRun) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  B g("drop", 17);
  const std::string x = g.input("x", DType::Float32, {-1, 4});
  Tensor ratio(DType::Float32, {});
  ratio.data<float>()[0] = 0.5f;
  Tensor training(DType::Bool, {});
  training.data<bool>()[0] = true;
  const std::string y = g.op("Relu", {x});
  g.output(g.op("Dropout", {y, g.initializer("ratio", ratio), g.initializer("training", training)}, {}, "drop"));
  g.output(y);
  Model m = g.build();
  infer_shapes(m);
  ASSERT_GT(batch_split_bytes(m), 0);
  EngineOptions o;
  o.threads = 2;
  o.micro_batch = 1;
  Engine e(m, o);
  ASSERT_TRUE(e.batch_plan(8).concurrent);
  const Tensor in = testing::random_float({8, 4}, 5);
  for (int run = 0; run < 2; ++run) {
    try {
      e.run({{"x", in}});
      ADD_FAILURE() << "no error";
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.what()).find("drop"), std::string::npos) << err.what();
    }
  }
  EXPECT_THROW(e.run({{"x", testing::random_float({1, 4}, 6)}}), Error);
}

// The batch plan. Concurrent parts (batch_parallel, more than one thread, at least one sample
// per thread) hold at most kSplitBudgetBytes of the largest activation each, or one sample, or
// at most --micro-batch samples; they come in a multiple of the thread count unless one per
// sample, and the busiest thread's samples stay within kMaxImbalance of an even share; a batch
// that divides evenly among the threads always gets them. Otherwise consecutive parts hold the
// budget of all threads and are never single samples (automatic), and a batch that fits it (or of
// which not even two samples do) is not split; a batch of at most --micro-batch samples is never
// split.
TEST_P(EngineZoo, BatchPlanFollowsTheCacheBudgetAndEvensTheThreads) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  Model m = load_model(join_path(OCTET_SOURCE_DIR, "models/" + GetParam() + "/model.onnx"));
  infer_shapes(m);
  const int64_t bytes = batch_split_bytes(m);
  ASSERT_GT(bytes, 0);
  int concurrent_plans = 0, consecutive_splits = 0;
  for (int threads : {1, 2, 3}) {
    for (bool parallel : {true, false}) {
      for (int64_t micro : {0, 1, 4, 32}) {
        EngineOptions o;
        o.threads = threads;
        o.onednn = false;
        o.batch_parallel = parallel;
        o.micro_batch = micro;
        Engine e(m, o);
        for (int64_t n : {1, 2, 3, 5, 6, 7, 10, 32, 33, 100, 1000}) {
          SCOPED_TRACE(str_cat(threads, " threads, parallel ", parallel, ", micro-batch ", micro, ", batch ", n));
          const Engine::BatchPlan p = e.batch_plan(n);
          ASSERT_GE(p.parts, 1);
          ASSERT_LE(p.parts, n);
          EXPECT_EQ(p.part, (n + p.parts - 1) / p.parts);
          if (micro > 0 && micro >= n) {
            EXPECT_EQ(p.parts, 1);
          }
          const bool eligible = parallel && threads > 1 && n >= threads && !(micro > 0 && micro >= n);
          if (p.concurrent) {
            ++concurrent_plans;
            EXPECT_TRUE(eligible);
            EXPECT_TRUE(p.parts % threads == 0 || p.parts == n) << p.parts;
            const int64_t rounds = (p.parts + threads - 1) / threads;
            EXPECT_LE(static_cast<double>(rounds * p.part * threads), kMaxImbalance * static_cast<double>(n));
            if (micro > 0) {
              EXPECT_LE(p.part, micro);
            } else {
              EXPECT_TRUE(p.part == 1 || p.part * bytes <= kSplitBudgetBytes) << p.part;
            }
            continue;
          }
          EXPECT_FALSE(eligible && n % threads == 0) << "an evenly divisible batch runs concurrently";
          if (p.parts == 1) {
            EXPECT_TRUE(n == 1 || (micro > 0 && micro >= n) ||
                        (micro == 0 && n * bytes <= kSplitBudgetBytes * threads) ||
                        (micro == 0 && 2 * bytes > kSplitBudgetBytes * threads));
          } else {
            ++consecutive_splits;
            if (micro > 0) {
              EXPECT_LE(p.part, micro);
            } else {
              EXPECT_GE(p.part, 2);
              EXPECT_LE(p.part * bytes, kSplitBudgetBytes * threads);
            }
          }
        }
      }
    }
  }
  EXPECT_GT(concurrent_plans, 0);
  EXPECT_GT(consecutive_splits, 0);
}

// Graphs that mix samples along dim 0 are never split; their per-sample twins are, with the
// largest activation's bytes per sample.
TEST(BatchSplit, OnlyModelsThatKeepSamplesApartAreSplit) {
  struct Case {
    std::string what;
    std::function<std::string(B&, const std::string&)> body;
    bool separable;
  };
  auto attr = [](const char* k, Attribute a) { return std::map<std::string, Attribute>{{k, a}}; };
  const std::vector<Case> cases = {
      {"softmax last axis", [&](B& g, const std::string& x) { return g.op("Softmax", {x}, attr("axis", B::i(-1))); }, true},
      {"softmax axis 0", [&](B& g, const std::string& x) { return g.op("Softmax", {x}, attr("axis", B::i(0))); }, false},
      {"transpose keeping dim 0",
       [&](B& g, const std::string& x) { return g.op("Transpose", {x}, attr("perm", B::ints({0, 2, 1}))); }, true},
      {"transpose moving dim 0",
       [&](B& g, const std::string& x) { return g.op("Transpose", {x}, attr("perm", B::ints({1, 0, 2}))); }, false},
      {"reduce over axis 2", [&](B& g, const std::string& x) { return g.op("ReduceMean", {x}, attr("axes", B::ints({2}))); }, true},
      {"reduce over axis 0", [&](B& g, const std::string& x) { return g.op("ReduceMean", {x}, attr("axes", B::ints({0}))); }, false},
      {"reduce over all axes", [&](B& g, const std::string& x) { return g.op("ReduceMean", {x}); }, false},
      {"reshape keeping dim 0",
       [&](B& g, const std::string& x) {
         Tensor s(DType::Int64, {2});
         s.data<int64_t>()[0] = 0;
         s.data<int64_t>()[1] = -1;
         return g.op("Reshape", {x, g.initializer("shape", s)});
       },
       true},
      {"reshape flattening the batch",
       [&](B& g, const std::string& x) {
         Tensor s(DType::Int64, {1});
         s.data<int64_t>()[0] = -1;
         return g.op("Reshape", {x, g.initializer("shape", s)});
       },
       false},
      {"dynamic quantization (one scale for the batch)",
       [&](B& g, const std::string& x) { return g.node("DynamicQuantizeLinear", {x}, {}, 3)[0]; }, false},
      {"batched product of two activations",
       [&](B& g, const std::string& x) {
         return g.op("MatMul", {x, g.op("Transpose", {x}, attr("perm", B::ints({0, 2, 1})))});
       },
       true},
      {"concat along dim 0", [&](B& g, const std::string& x) { return g.op("Concat", {x, x}, attr("axis", B::i(0))); }, false},
      {"max pool", [&](B& g, const std::string& x) { return g.op("MaxPool", {x}, attr("kernel_shape", B::ints({2}))); }, true},
      {"max pool's indices (counted over the whole batch)",
       [&](B& g, const std::string& x) { return g.node("MaxPool", {x}, attr("kernel_shape", B::ints({2})), 2)[1]; },
       false},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    B g("split", 17);
    const std::string x = g.input("x", DType::Float32, {-1, 4, 6});
    g.output(c.body(g, x));
    Model m = g.build();
    infer_shapes(m);
    const int64_t bytes = batch_split_bytes(m);
    if (c.separable) EXPECT_GE(bytes, 4 * 6 * 4);
    else EXPECT_EQ(bytes, 0);
  }
  // An input whose batch is a fixed size is not split either.
  B g("fixed", 17);
  g.output(g.op("Relu", {g.input("x", DType::Float32, {8, 4, 6})}));
  Model m = g.build();
  infer_shapes(m);
  EXPECT_EQ(batch_split_bytes(m), 0);
}

INSTANTIATE_TEST_SUITE_P(Zoo, EngineZoo, ::testing::Values("lenet", "resnet8", "mobilenetv2-tiny", "vit-tiny"),
                         [](const auto& info) {
                           std::string s = info.param;
                           for (char& c : s) if (c == '-') c = '_';
                           return s;
                         });

// One octet.QLinearConv with random parameters, run by the engine and by the reference.
struct QConvCase {
  int64_t n, c, h, w, m, group, k, stride, pad, dilation;
  DType x_type, w_type, y_type;  // y_type Undefined: float output
  bool relu;
  bool symmetric = false;  // weight zero points 0 (int8) / 128 (uint8): the shifted-B path
};

Model qconv_model(const QConvCase& t, uint32_t seed) {
  std::mt19937 rng(seed);
  auto u8 = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  B b("qconv", 17);
  const std::string x = b.input("x", t.x_type, {t.n, t.c, t.h, t.w});
  const int64_t cg = t.c / t.group;
  Tensor w(t.w_type, {t.m, cg, t.k, t.k});
  for (int64_t i = 0; i < w.numel(); ++i) {
    if (t.w_type == DType::Int8) w.data<int8_t>()[i] = static_cast<int8_t>(u8(-128, 127));
    else w.data<uint8_t>()[i] = static_cast<uint8_t>(u8(0, 255));
  }
  b.initializer("w", w);
  b.initializer("xs", Tensor::scalar<float>(0.02f + 0.01f * u8(0, 9)));
  b.initializer("xz", t.x_type == DType::UInt8 ? Tensor::scalar<uint8_t>(static_cast<uint8_t>(u8(0, 255)))
                                               : Tensor::scalar<int8_t>(static_cast<int8_t>(u8(-128, 127))));
  std::vector<float> ws(static_cast<size_t>(t.m));
  for (auto& s : ws) s = 0.001f * static_cast<float>(u8(1, 50));
  b.initializer("ws", Tensor::from_vector<float>({t.m}, ws));
  Tensor wz(t.w_type, {t.m});
  for (int64_t i = 0; i < t.m; ++i) {
    if (t.w_type == DType::Int8) wz.data<int8_t>()[i] = static_cast<int8_t>(t.symmetric ? 0 : u8(-3, 3));
    else wz.data<uint8_t>()[i] = static_cast<uint8_t>(t.symmetric ? 128 : u8(120, 136));
  }
  b.initializer("wz", wz);
  std::vector<std::string> ins = {x, "xs", "xz", "w", "ws", "wz"};
  const bool quantized = t.y_type != DType::Undefined;
  if (quantized) {
    b.initializer("ys", Tensor::scalar<float>(0.05f));
    b.initializer("yz", t.y_type == DType::UInt8 ? Tensor::scalar<uint8_t>(static_cast<uint8_t>(u8(0, 40)))
                                                  : Tensor::scalar<int8_t>(static_cast<int8_t>(u8(-20, 20))));
    std::vector<int32_t> bias(static_cast<size_t>(t.m));
    for (auto& v : bias) v = u8(-5000, 5000);
    b.initializer("b", Tensor::from_vector<int32_t>({t.m}, bias));
    ins.insert(ins.end(), {"ys", "yz", "b"});
  } else {
    std::vector<float> bias(static_cast<size_t>(t.m));
    for (auto& v : bias) v = 0.01f * static_cast<float>(u8(-100, 100));
    b.initializer("b", Tensor::from_vector<float>({t.m}, bias));
    ins.insert(ins.end(), {"", "", "b"});
  }
  std::map<std::string, Attribute> attrs = {{"group", B::i(t.group)},
                                            {"strides", B::ints({t.stride, t.stride})},
                                            {"dilations", B::ints({t.dilation, t.dilation})},
                                            {"pads", B::ints({t.pad, t.pad, t.pad, t.pad})}};
  if (t.relu) attrs["act_min"] = B::f(0.f);
  Node n;
  n.name = "qconv";
  n.op_type = "QLinearConv";
  n.domain = "octet";
  n.inputs = ins;
  n.outputs = {"y"};
  n.attrs = attrs;
  Model m = b.build();
  m.graph.add_node(n);
  m.graph.get_or_add_value("y");
  m.graph.outputs.push_back("y");
  m.graph.topo_sort();
  m.opsets.push_back({"octet", 1});
  infer_shapes(m);
  return m;
}

// Runs each case's model on the engine (1, 2 and 3 threads) and the reference executor on the same
// random input: the layer must run on a kernel whose name starts with `kernel_prefix`, with the
// reference's bits. Case i's weights come from seed seed_base + i.
void expect_engine_matches_reference(const std::vector<QConvCase>& cases, uint32_t input_seed, uint32_t seed_base,
                                     const std::string& kernel_prefix) {
  std::mt19937 rng(input_seed);
  for (size_t i = 0; i < cases.size(); ++i) {
    const QConvCase& t = cases[i];
    const uint32_t seed = seed_base + static_cast<uint32_t>(i);
    Model m = qconv_model(t, seed);
    Tensor x(t.x_type, {t.n, t.c, t.h, t.w});
    for (int64_t j = 0; j < x.numel(); ++j) static_cast<uint8_t*>(x.raw())[j] = static_cast<uint8_t>(rng());
    const Tensor want = Executor(m).run({{"x", x}}).at("y");
    for (int threads : {1, 2, 3}) {
      EngineOptions eo;
      eo.threads = threads;
      Engine engine(m, eo);
      ASSERT_EQ(engine.layers().size(), 1u);
      EXPECT_EQ(engine.layers()[0].kernel.rfind(kernel_prefix, 0), 0u) << "case " << i << ": " << engine.layers()[0].kernel;
      EXPECT_TRUE(same_bits(engine.run({{"x", x}}).at("y"), want)) << "case " << i << " seed " << seed << " threads "
                                                                  << threads;
    }
  }
}

TEST(EngineQConv, RandomShapesEqualReferenceBitForBit) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const DType U = DType::UInt8, S = DType::Int8, F = DType::Undefined;
  const std::vector<QConvCase> cases = {
      {1, 3, 9, 9, 5, 1, 3, 1, 1, 1, U, S, U, true},    {2, 8, 7, 6, 17, 1, 1, 1, 0, 1, U, S, U, false},
      {1, 16, 14, 14, 16, 16, 3, 1, 1, 1, U, S, U, true}, {3, 12, 15, 15, 12, 12, 3, 2, 1, 1, S, S, S, false},
      {1, 4, 11, 13, 6, 2, 3, 2, 0, 2, S, U, F, true},  {2, 5, 8, 8, 7, 1, 5, 1, 2, 1, U, U, F, false},
      {1, 64, 4, 4, 33, 1, 3, 1, 1, 1, U, S, S, false}, {1, 1, 1, 1, 1, 1, 1, 1, 0, 1, U, S, U, false},
      {2, 24, 5, 5, 24, 24, 3, 1, 1, 1, U, S, F, true},  {1, 6, 10, 3, 4, 1, 3, 3, 2, 1, S, S, U, true},
      // 1x1 with padding or stride and asymmetric weights (im2col, channels reordered for the
      // vpmaddubsw pairs at load: the im2col rows must follow), grouped too.
      {1, 16, 6, 7, 9, 1, 1, 1, 2, 1, U, S, S, false},   {2, 12, 5, 5, 8, 2, 1, 1, 1, 1, U, S, F, true},
      {1, 16, 9, 9, 12, 1, 1, 2, 1, 1, S, U, U, false},
  };
  std::mt19937 rng(123);
  for (size_t i = 0; i < cases.size(); ++i) {
    const QConvCase& t = cases[i];
    const uint32_t seed = 1000 + static_cast<uint32_t>(i);
    Model m = qconv_model(t, seed);
    Tensor x(t.x_type, {t.n, t.c, t.h, t.w});
    for (int64_t j = 0; j < x.numel(); ++j) static_cast<uint8_t*>(x.raw())[j] = static_cast<uint8_t>(rng());
    const Tensor want = Executor(m).run({{"x", x}}).at("y");
    EngineOptions eo;
    eo.threads = 2;
    Engine engine(m, eo);
    ASSERT_EQ(engine.layers().size(), 1u);
    EXPECT_EQ(engine.layers()[0].precision, "int8") << "case " << i << " seed " << seed;
    EXPECT_TRUE(same_bits(engine.run({{"x", x}}).at("y"), want)) << "case " << i << " seed " << seed;
  }
}

// Symmetric weights: the shifted-B convolution (quad-interleaved phase planes, no im2col), with
// strides, dilations, padding, groups, padded channel quads and every output kind. (Output
// channels of 16 with a quantized output take the direct kernel on AVX-512 VNNI instead: 17 and
// 33 here.)
TEST(EngineQConv, ShiftedPathEqualsReferenceBitForBit) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const DType U = DType::UInt8, S = DType::Int8, F = DType::Undefined;
  const std::vector<QConvCase> cases = {
      {2, 16, 14, 14, 17, 1, 3, 1, 1, 1, U, S, U, true, true},   {2, 16, 14, 14, 33, 1, 3, 2, 1, 1, U, S, U, true, true},
      {2, 16, 14, 14, 32, 1, 3, 1, 1, 1, U, S, F, true, true},
      {1, 16, 14, 14, 33, 1, 1, 2, 1, 1, U, S, S, false, true},  {1, 8, 9, 11, 12, 2, 3, 1, 2, 2, S, S, F, true, true},
      {3, 12, 7, 7, 10, 1, 5, 1, 2, 1, U, U, U, false, true},    {1, 64, 4, 4, 33, 1, 3, 1, 1, 1, U, S, S, false, true},
      {1, 4, 10, 3, 7, 1, 3, 3, 2, 1, S, S, U, true, true},      {2, 8, 6, 6, 5, 1, 1, 1, 1, 1, U, S, F, false, true},
      // Channels per group not a multiple of 4, padded with zero weights: an RGB 7x7/2 stem, 3
      // channels per group, 7 channels.
      {2, 3, 23, 21, 16, 1, 7, 2, 3, 1, U, S, U, true, true},    {1, 6, 9, 9, 8, 2, 3, 1, 1, 1, S, S, S, false, true},
      {1, 7, 8, 8, 5, 1, 3, 1, 1, 1, U, U, F, false, true},
  };
  expect_engine_matches_reference(cases, 321, 2000, "conv_u8s8_shift_qgemm_");
}

// Whether the engine's INT8 convolutions take the direct kernel: the CPU has AVX-512 VNNI and
// OCTET_ISA does not force the AVX2 loop.
bool direct_path_available() {
  return kernels::qgemm_isa_supported(kernels::QgemmIsa::Avx512Vnni) &&
         kernels::qgemm_default_isa() == kernels::QgemmIsa::Avx512Vnni;
}

// Group-1 convolutions with more than one tap (or 1x1 on small planes), input channels a multiple of 4, output channels a
// multiple of 16, symmetric weights and a quantized output run on the direct kernel where the
// CPU has AVX-512 VNNI: ResNet-18's shapes (3x3 at strides 1 and 2, 7x7 planes of 64 channels and
// more, whose tasks split the channels in chunks of 64 and the rows), padding 0 to 3 (bands with
// no taps at all), dilation 2 (with stride 2 too), stride 3, 5x5 and 2x2 kernels, 1 to 3 images,
// input channels 4 to 128,
// output channels 16 to 160 (1 to 4 weight blocks per tile), every input and output type, a
// fused Relu, and input zero points that make the row terms differ between bands.
TEST(EngineQConv, DirectPathEqualsReferenceBitForBit) {
  if (!direct_path_available()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU (or OCTET_ISA set)";
  const DType U = DType::UInt8, S = DType::Int8;
  const std::vector<QConvCase> cases = {
      {1, 64, 7, 7, 64, 1, 3, 1, 1, 1, U, S, U, true, true},     {1, 128, 7, 7, 160, 1, 3, 1, 1, 1, S, S, S, false, true},
      {2, 32, 14, 14, 48, 1, 3, 2, 1, 1, U, S, U, true, true},   {1, 16, 20, 18, 16, 1, 3, 1, 1, 1, U, U, S, false, true},
      {3, 8, 9, 9, 32, 1, 5, 1, 2, 1, S, S, U, true, true},      {1, 12, 11, 13, 64, 1, 3, 1, 2, 2, U, S, S, false, true},
      {1, 4, 5, 5, 16, 1, 3, 1, 3, 1, U, S, U, false, true},     {2, 20, 8, 8, 80, 1, 2, 1, 0, 1, S, U, S, true, true},
      {1, 64, 28, 28, 128, 1, 3, 2, 1, 1, U, S, U, true, true},  {1, 16, 1, 1, 16, 1, 3, 1, 1, 1, U, S, U, false, true},
      {1, 16, 15, 15, 32, 1, 3, 2, 2, 2, U, S, U, true, true},   {2, 8, 10, 9, 16, 1, 3, 3, 1, 1, S, S, S, false, true},
      // 1x1 on output planes of at most 100 pixels: stride 1, stride 2, padding 1; strided ones
      // on up to 256 (14x14 here, the shape of resnet8's shortcut).
      {2, 32, 7, 7, 64, 1, 1, 1, 0, 1, U, S, U, true, true},     {1, 16, 14, 14, 32, 1, 1, 2, 0, 1, S, S, S, false, true},
      {1, 24, 8, 8, 48, 1, 1, 1, 1, 1, U, S, U, false, true},    {2, 16, 28, 28, 32, 1, 1, 2, 0, 1, U, S, U, false, true},
      // At most 64 output channels, each task builds the input rows it reads: a plane cut in
      // row chunks on 1 thread too (each with its halo rows), and a 2x2 kernel with padding 6,
      // whose first and last 5 output rows read no input row at all (on 3 threads, whole tasks).
      {1, 16, 64, 64, 64, 1, 3, 1, 1, 1, U, S, U, true, true},   {1, 64, 4, 4, 64, 1, 2, 1, 6, 1, U, S, U, false, true},
  };
  expect_engine_matches_reference(cases, 4242, 6000, "conv_u8s8_direct_");
}

// The direct path on an input plane unknown at load (symbolic H and W): the bands are planned at
// each run, for whichever plane comes, with the reference's bits on two sizes.
TEST(EngineQConv, DirectPathPlansAnUnknownPlaneAtRunTime) {
  if (!direct_path_available()) GTEST_SKIP() << "no AVX-512 VNNI on this CPU (or OCTET_ISA set)";
  const DType U = DType::UInt8, S = DType::Int8;
  Model m = qconv_model({1, 32, 9, 9, 32, 1, 3, 1, 1, 1, U, S, U, true, true}, 77);
  Value& in = m.graph.value("x");
  in.type.dims[2] = Dim::symbol("H");
  in.type.dims[3] = Dim::symbol("W");
  m.graph.value("y").type = TensorType{};
  infer_shapes(m);
  std::mt19937 rng(5);
  EngineOptions eo;
  eo.threads = 2;
  Engine engine(m, eo);
  ASSERT_EQ(engine.layers().size(), 1u);
  EXPECT_EQ(engine.layers()[0].kernel, "conv_u8s8_direct_avx512vnni");
  for (int64_t hw : {7, 12}) {
    Tensor x(U, {1, 32, hw, hw + 1});
    for (int64_t j = 0; j < x.numel(); ++j) x.data<uint8_t>()[j] = static_cast<uint8_t>(rng());
    const Tensor want = Executor(m).run({{"x", x}}).at("y");
    EXPECT_TRUE(same_bits(engine.run({{"x", x}}).at("y"), want)) << hw;
  }
}

// Plain 1x1 convolutions on planes under 16x16 with several images run several images per GEMM
// (gathered, packed, multiplied, copied out per image): image groups with a short last one
// (13 and 40 images on 7x7, 1 and 2 threads), one-pixel planes, every input and output type,
// symmetric and asymmetric weights (the load-time channel order, which pack-B applies), a fused
// Relu. Each case is checked to take that path (the kernel name does not tell).
TEST(EngineQConv, PointwiseImagesPerGemmEqualReferenceBitForBit) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const DType U = DType::UInt8, S = DType::Int8, F = DType::Undefined;
  const std::vector<QConvCase> cases = {
      {13, 32, 7, 7, 48, 1, 1, 1, 0, 1, U, S, U, true},        {40, 24, 7, 7, 20, 1, 1, 1, 0, 1, S, S, S, false, true},
      {4, 16, 14, 14, 24, 1, 1, 1, 0, 1, U, U, F, false},      {5, 7, 3, 5, 9, 1, 1, 1, 0, 1, U, S, U, false},
      {40, 64, 1, 1, 10, 1, 1, 1, 0, 1, U, S, F, true, true},  {3, 96, 15, 15, 33, 1, 1, 1, 0, 1, S, U, U, true},
  };
  for (const QConvCase& t : cases) {
    fast::Conv2d g;
    g.M = t.m;
    g.C = t.c;
    ASSERT_TRUE(fast::resolve_conv2d(&g, t.h, t.w));
    for (int threads : {1, 2}) EXPECT_GT(fast::pointwise_images_per_gemm(g, t.n, threads), 1) << t.n << " images";
  }
  expect_engine_matches_reference(cases, 987, 4000, "conv_u8s8_1x1_qgemm_");
}

// Group-1 convolutions whose channels are not a multiple of 4 on rows of 32 or more outputs (image
// stems) pack each output row's B straight from byte phase planes, in the load-time order of all
// of K: RGB 7x7/2 and grey 3x3 stems, dilation, stride 3, 5 channels, symmetric and asymmetric
// weights, every input and output type, one image split by rows over the threads and several.
TEST(EngineQConv, PhaseRowsPathEqualsReferenceBitForBit) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const DType U = DType::UInt8, S = DType::Int8, F = DType::Undefined;
  const std::vector<QConvCase> cases = {
      {1, 3, 64, 70, 16, 1, 7, 2, 3, 1, U, S, U, true, true},  {2, 1, 34, 40, 8, 1, 3, 1, 1, 1, U, S, S, false, true},
      {3, 3, 40, 80, 12, 1, 3, 1, 2, 2, S, S, U, true},         {1, 5, 21, 100, 9, 1, 3, 3, 1, 1, U, U, F, false},
      {2, 3, 36, 36, 10, 1, 3, 1, 1, 1, U, S, S, false},        {1, 2, 9, 33, 4, 1, 2, 1, 0, 1, S, U, U, true, true},
  };
  expect_engine_matches_reference(cases, 777, 5000, "conv_u8s8_phase_rows_qgemm_");
}

// Strided 1x1 convolutions without padding (ResNet's downsampling shortcuts) on small output
// planes run several images per GEMM too, their input subsampled as it is gathered: symmetric
// weights (packed for the shifted path, which one image still takes: its packed K equals Cg when
// Cg is a multiple of 4) and asymmetric ones (packed for pack-B), strides 2 and 3, odd sizes, a
// plane whose last row and column are not read, every output kind; and one image (the shifted
// kernel on its one phase plane for symmetric weights, im2col's gather otherwise). All are named
// conv_u8s8_1x1_qgemm_, which the symmetric ones are only where run_pointwise_images can multiply
// their packed weights.
TEST(EngineQConv, StridedPointwiseImagesPerGemmEqualReferenceBitForBit) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const DType U = DType::UInt8, S = DType::Int8, F = DType::Undefined;
  const std::vector<QConvCase> sym = {
      {13, 16, 14, 14, 40, 1, 1, 2, 0, 1, U, S, U, true, true},  {6, 32, 15, 13, 20, 1, 1, 2, 0, 1, S, S, S, false, true},
      {5, 8, 9, 10, 12, 1, 1, 3, 0, 1, U, S, F, false, true},
  };
  const std::vector<QConvCase> asym = {
      {7, 16, 14, 14, 24, 1, 1, 2, 0, 1, U, S, U, true},  {4, 12, 8, 8, 9, 1, 1, 2, 0, 1, U, U, S, false},
  };
  for (const auto* cases : {&sym, &asym})
    for (const QConvCase& t : *cases) {
      fast::Conv2d g;
      g.M = t.m;
      g.C = t.c;
      g.sh = g.sw = t.stride;
      ASSERT_TRUE(fast::resolve_conv2d(&g, t.h, t.w));
      ASSERT_TRUE(g.subsampled_1x1() && !g.pointwise());
      for (int threads : {1, 2}) EXPECT_GT(fast::pointwise_images_per_gemm(g, t.n, threads), 1) << t.n << " images";
    }
  expect_engine_matches_reference(sym, 654, 3000, "conv_u8s8_1x1_qgemm_");
  expect_engine_matches_reference(asym, 655, 3000, "conv_u8s8_1x1_qgemm_");
  const std::vector<QConvCase> one_image = {
      {1, 16, 14, 14, 40, 1, 1, 2, 0, 1, U, S, S, false, true},  {1, 12, 9, 9, 8, 1, 1, 2, 0, 1, U, S, U, true, true},
      {1, 16, 14, 14, 24, 1, 1, 2, 0, 1, U, S, U, true},
  };
  expect_engine_matches_reference(one_image, 656, 3100, "conv_u8s8_1x1_qgemm_");
}

// How images are grouped: groups in a multiple of the threads (each thread as many) of at most
// about kImageColumns columns, where the batch allows; one image per GEMM on large planes, for
// one image, for padded 1x1 and for other kernels.
TEST(EngineQConv, PointwiseImageGroupsEvenTheThreads) {
  auto plan = [](int64_t c, int64_t h, int64_t w, int64_t k, int64_t stride, int64_t pad, int64_t n, int threads) {
    fast::Conv2d g;
    g.M = 8;
    g.C = c;
    g.kh = g.kw = k;
    g.sh = g.sw = stride;
    for (auto& p : g.pads) p = pad;
    EXPECT_TRUE(fast::resolve_conv2d(&g, h, w));
    return fast::pointwise_images_per_gemm(g, n, threads);
  };
  EXPECT_EQ(plan(16, 7, 7, 1, 1, 0, 32, 2), 8);   // 4 groups of 8 (392 columns), 2 per thread
  EXPECT_EQ(plan(16, 7, 7, 1, 1, 0, 32, 1), 11);  // 3 groups of up to 11 (539 columns)
  EXPECT_EQ(plan(16, 7, 7, 1, 1, 0, 11, 1), 11);  // a batch part of 11 on one thread: one GEMM
  EXPECT_EQ(plan(16, 14, 14, 1, 1, 0, 32, 2), 3); // 12 groups of up to 3 (588 columns)
  EXPECT_EQ(plan(16, 7, 7, 1, 1, 0, 5, 4), 2);    // 5 images on 4 threads: at most 2 each
  EXPECT_EQ(plan(16, 14, 14, 1, 1, 0, 2, 2), 1);  // one image per thread
  EXPECT_EQ(plan(16, 16, 16, 1, 1, 0, 32, 1), 1); // 256 pixels: large enough alone
  EXPECT_EQ(plan(16, 7, 7, 1, 1, 0, 1, 1), 1);
  EXPECT_EQ(plan(16, 7, 7, 1, 1, 1, 32, 1), 1);   // padded 1x1
  EXPECT_EQ(plan(16, 14, 14, 1, 2, 0, 32, 2), 8); // strided 1x1 (7x7 out), as the plain 7x7 one
  EXPECT_EQ(plan(16, 7, 7, 3, 1, 1, 32, 1), 1);   // 3x3
}

// Depthwise 3x3 with a quantized output: whole blocks of 8 channels on the channel-lane kernel,
// the channels left over (M % 8) plane by plane; strides, dilation, padding, both output types,
// asymmetric weights, several images.
TEST(EngineQConv, DepthwiseChannelBlocksEqualReferenceBitForBit) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const DType U = DType::UInt8, S = DType::Int8;
  const std::vector<QConvCase> cases = {
      {2, 8, 7, 7, 8, 8, 3, 1, 1, 1, U, S, U, true},       {3, 13, 14, 14, 13, 13, 3, 2, 1, 1, U, S, S, false},
      {2, 24, 9, 11, 24, 24, 3, 1, 2, 2, S, S, U, false},  {1, 16, 28, 28, 16, 16, 3, 2, 0, 1, U, U, U, true},
      {1, 40, 5, 3, 40, 40, 3, 3, 1, 1, S, S, S, true},
  };
  expect_engine_matches_reference(cases, 654, 3000, "dwconv3x3_u8s8_cb8_");
}

// Depthwise 3x3 with symmetric weights where the CPU has AVX-512 VNNI and VBMI: every channel on
// the pixel-lane kernel (kernels/avx512/dwconv_vbmi.h), blocks of 8 and the channels left over;
// rows that share a vector (7x7), stride 2, dilation 2, no padding, both output types, a fused
// Relu, several images. Elsewhere the same cases run on the channel-lane kernel.
TEST(EngineQConv, DepthwiseSymmetricEqualsReferenceBitForBit) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const DType U = DType::UInt8, S = DType::Int8;
  const std::vector<QConvCase> cases = {
      {2, 16, 7, 7, 16, 16, 3, 1, 1, 1, U, S, U, true, true},    {3, 13, 14, 14, 13, 13, 3, 2, 1, 1, U, S, S, false, true},
      {2, 24, 9, 11, 24, 24, 3, 1, 2, 2, S, S, U, false, true},  {1, 16, 28, 28, 16, 16, 3, 2, 0, 1, U, S, U, true, true},
      {1, 40, 20, 37, 40, 40, 3, 1, 1, 1, S, S, S, true, true},
  };
  const bool vbmi = kernels::dwconv3x3_vbmi_supported() &&
                    kernels::qgemm_default_isa() == kernels::QgemmIsa::Avx512Vnni;
  expect_engine_matches_reference(cases, 655, 3000, vbmi ? "dwconv3x3_u8s8_vbmi_" : "dwconv3x3_u8s8_cb8_");
}

TEST(Engine, ProfileNamesKernelsAndFusedActivations) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  Model m = zoo::make_model("resnet8", 1);
  FoldConstants().run(m);
  FoldBatchNorm().run(m);
  m.graph.topo_sort();
  infer_shapes(m);
  EngineOptions eo;
  eo.profile = true;
  Engine engine(m, eo);
  engine.run({{m.graph.inputs[0], zoo::sample_input(2, 1)}});
  bool fused_relu = false, fp32_conv = false;
  for (const auto& l : engine.layers()) {
    if (l.op_type == "Conv") {
      fp32_conv |= l.kernel.find("conv_f32_") == 0 && l.precision == "fp32";
      fused_relu |= !l.fused.empty();
    }
    EXPECT_EQ(l.calls, 1) << l.node;
    EXPECT_GE(l.total_ms, 0.0);
  }
  EXPECT_TRUE(fp32_conv);
  EXPECT_TRUE(fused_relu);
}

// run()'s ValueObserver gets every value named in EngineOptions::observe exactly once per run,
// equal to what keep_intermediates returns: the fed input, a convolution output that would
// otherwise have been fused away (its Relu must then not be fused), a Relu output, a residual
// Add's output and the graph output. An exception from the observer ends the run.
TEST(Engine, ObserverSeesEveryObservedValueOnceAsComputed) {
  Model m = zoo::make_model("resnet8", 3);
  FoldConstants().run(m);
  FoldBatchNorm().run(m);
  m.graph.topo_sort();
  infer_shapes(m);
  const std::string in = m.graph.inputs[0], out = m.graph.outputs[0];
  const Node* conv_before_relu = nullptr;
  const Node* relu = nullptr;
  const Node* add = nullptr;
  for (const auto& n : m.graph.nodes) {
    if (!relu && n->op_type == "Relu") relu = n.get();
    if (!add && n->op_type == "Add") add = n.get();
  }
  ASSERT_TRUE(relu && add);
  for (const auto& n : m.graph.nodes)
    if (n->op_type == "Conv" && n->outputs[0] == relu->inputs[0]) conv_before_relu = n.get();
  ASSERT_TRUE(conv_before_relu) << "the first Relu reads a Conv";
  EngineOptions eo;
  eo.observe = {in, conv_before_relu->outputs[0], relu->outputs[0], add->outputs[0], out};
  Engine engine(m, eo);
  const Tensor x = zoo::sample_input(3, 4);
  RunOptions keep;
  keep.keep_intermediates = true;
  const std::map<std::string, Tensor> kept = engine.run({{in, x}}, keep);
  std::map<std::string, int> calls;
  std::map<std::string, Tensor> seen;
  const std::map<std::string, Tensor> result =
      engine.run({{in, x}}, RunOptions{}, [&](const std::string& name, const Tensor& v) {
        ++calls[name];
        seen[name] = v.clone();
      });
  EXPECT_EQ(result.size(), 1u) << "only the graph output is returned";
  EXPECT_EQ(calls.size(), eo.observe.size());
  for (const std::string& name : eo.observe) {
    EXPECT_EQ(calls[name], 1) << name;
    ASSERT_TRUE(seen.count(name) && kept.count(name)) << name;
    EXPECT_TRUE(same_bits(seen.at(name), kept.at(name))) << name;
  }
  const std::string stop = relu->outputs[0];
  EXPECT_THROW(engine.run({{in, x}}, RunOptions{},
                          [&](const std::string& name, const Tensor&) {
                            if (name == stop) throw Error("stop here");
                          }),
               Error);
}

TEST(Engine, FallsBackToReferenceWhereNoFastOpApplies) {
  // A Conv whose weight is a graph input (not a constant): the reference op runs it.
  B b("dyn", 17);
  const std::string x = b.input("x", DType::Float32, {1, 2, 5, 5});
  const std::string w = b.input("w", DType::Float32, {3, 2, 3, 3});
  b.output(b.op("Relu", {b.op("Conv", {x, w}, {}, "conv")}, {}, "relu"));
  Model m = b.build();
  infer_shapes(m);
  Engine engine(m);
  EXPECT_EQ(engine.layers()[0].kernel, "reference");
  EXPECT_EQ(engine.layers().size(), 2u) << "nothing fused into a reference step";
  const std::map<std::string, Tensor> feeds = {{"x", testing::random_float({1, 2, 5, 5}, 1)},
                                               {"w", testing::random_float({3, 2, 3, 3}, 2)}};
  EXPECT_TRUE(same_bits(engine.run(feeds).at(m.graph.outputs[0]), Executor(m).run(feeds).at(m.graph.outputs[0])));
  EXPECT_THROW(engine.run({{"x", feeds.at("x")}}), Error) << "missing input reported as for the executor";
}

// A MatMul / Gemm with an empty inner dimension (K = 0) is an empty sum: the fast op declines it
// and the reference writes the zeros (plus Gemm's bias), never uninitialised memory.
TEST(Engine, EmptyInnerDimensionGivesTheReferenceResult) {
  for (const char* op : {"MatMul", "Gemm"}) {
    B b("k0", 17);
    const std::string x = b.input("x", DType::Float32, {3, 0});
    b.initializer("w", Tensor(DType::Float32, {0, 4}));
    std::vector<std::string> ins = {x, "w"};
    if (std::string(op) == "Gemm") {
      b.initializer("c", Tensor::from_vector<float>({4}, {1.f, -2.f, 3.f, 0.5f}));
      ins.push_back("c");
    }
    b.output(b.op(op, ins, {}, "mm"));
    Model m = b.build();
    infer_shapes(m);
    const std::map<std::string, Tensor> feeds = {{"x", Tensor(DType::Float32, {3, 0})}};
    const Tensor got = Engine(m).run(feeds).at(m.graph.outputs[0]);
    EXPECT_TRUE(same_bits(got, Executor(m).run(feeds).at(m.graph.outputs[0]))) << op;
  }
}

// MaxPool on the engine: float and, after a QuantizeLinear, uint8; the fast op's results and the
// profile's precision column.
TEST(Engine, MaxPoolEqualsReferenceAndReportsItsPrecision) {
  B b("pool", 17);
  const std::string x = b.input("x", DType::Float32, {2, 3, 9, 11});
  const std::string p = b.op("MaxPool", {x}, {{"kernel_shape", B::ints({3, 3})}, {"strides", B::ints({2, 2})}, {"pads", B::ints({1, 1, 1, 1})}}, "pool_f");
  b.initializer("s", Tensor::scalar<float>(0.05f));
  b.initializer("z", Tensor::scalar<uint8_t>(uint8_t{128}));
  const std::string q = b.op("QuantizeLinear", {x, "s", "z"}, {}, "q");
  const std::string pq = b.op("MaxPool", {q}, {{"kernel_shape", B::ints({2, 2})}, {"strides", B::ints({2, 2})}, {"ceil_mode", B::i(1)}}, "pool_q");
  b.output(p);
  b.output(pq);
  Model m = b.build();
  infer_shapes(m);
  Engine engine(m);
  std::map<std::string, std::string> precision;
  for (const auto& l : engine.layers()) precision[l.node] = l.precision;
  EXPECT_EQ(precision["pool_f"], "fp32");
  EXPECT_EQ(precision["pool_q"], "int8");
  const std::map<std::string, Tensor> feeds = {{"x", testing::random_float({2, 3, 9, 11}, 5)}};
  const auto got = engine.run(feeds), want = Executor(m).run(feeds);
  for (const auto& name : m.graph.outputs) EXPECT_TRUE(same_bits(got.at(name), want.at(name))) << name;
}

}  // namespace
}  // namespace octet

namespace octet {
namespace {

// x, r -> QuantizeLinear -> DequantizeLinear each -> Add -> [Relu | Clip] -> QuantizeLinear ->
// DequantizeLinear (the graph output): the residual add of a quantized network. `r_shape` may broadcast.
// An 8-bit zero point initializer: `v` as UINT8, or v - 128 as INT8.
void zero_point(B& b, const std::string& name, DType t, int v) {
  b.initializer(name, t == DType::UInt8 ? Tensor::scalar<uint8_t>(static_cast<uint8_t>(v))
                                        : Tensor::scalar<int8_t>(static_cast<int8_t>(v - 128)));
}

// Ends a test graph: y -> QuantizeLinear(ys, yz) -> DequantizeLinear -> the graph output "out".
Model quantized_output(B& b, const std::string& y) {
  const std::string q = b.op("QuantizeLinear", {y, "ys", "yz"}, {}, "y.q");
  b.output(b.op("DequantizeLinear", {q, "ys", "yz"}, {}, "out"));
  Model m = b.build();
  infer_shapes(m);
  return m;
}

// The engine on `lowered`, 1 and 2 threads: the node of `op_type` runs `kernel` (int8 unless it is
// the reference op) and the output equals `want` bit for bit.
void expect_engine_runs(const Model& lowered, const std::map<std::string, Tensor>& feeds, const Tensor& want,
                        const std::string& op_type, const std::string& kernel, size_t case_index) {
  if (!fast_kernels_available()) return;
  for (int threads : {1, 2}) {
    EngineOptions eo;
    eo.threads = threads;
    Engine engine(lowered, eo);
    bool seen = false;
    for (const auto& l : engine.layers())
      if (l.op_type == op_type) {
        seen = true;
        EXPECT_EQ(l.kernel, kernel) << "case " << case_index;
        if (kernel != "reference") {
          EXPECT_EQ(l.precision, "int8");
        }
      }
    EXPECT_TRUE(seen) << "case " << case_index;
    EXPECT_TRUE(same_bits(engine.run(feeds).at(lowered.graph.outputs[0]), want))
        << "case " << case_index << " threads " << threads;
  }
}

Model qadd_graph(const Shape& x_shape, const Shape& r_shape, DType x_type, DType r_type, DType y_type,
                 const std::string& act, float y_scale = 0.041f) {
  B b("qadd", 17);
  const std::string x = b.input("x", DType::Float32, x_shape);
  const std::string r = b.input("r", DType::Float32, r_shape);
  b.initializer("xs", Tensor::scalar<float>(0.031f));
  zero_point(b, "xz", x_type, 120);
  b.initializer("rs", Tensor::scalar<float>(0.0173f));
  zero_point(b, "rz", r_type, 140);
  b.initializer("ys", Tensor::scalar<float>(y_scale));
  zero_point(b, "yz", y_type, act.empty() ? 128 : 0);
  auto qdq = [&](const std::string& v, const std::string& s, const std::string& z, const std::string& name) {
    return b.op("DequantizeLinear", {b.op("QuantizeLinear", {v, s, z}, {}, name + ".q"), s, z}, {}, name + ".dq");
  };
  std::string y = b.op("Add", {qdq(x, "xs", "xz", "x"), qdq(r, "rs", "rz", "r")}, {}, "add");
  if (act == "relu") y = b.op("Relu", {y}, {}, "relu");
  if (act == "clip") {
    b.initializer("lo", Tensor::scalar<float>(-0.5f));
    b.initializer("hi", Tensor::scalar<float>(2.f));
    y = b.op("Clip", {y, "lo", "hi"}, {}, "clip");
  }
  return quantized_output(b, y);
}

// The lowering turns the pattern into octet.QLinearAdd without changing a bit (its arithmetic is
// the graph's), and the engine's kernel equals the reference op bit for bit on 1 and 2 threads;
// a broadcast operand runs on the reference op with the same result. The output scale 0.041 fails
// qadd_recip_exact for these input scales (the plain kernel runs); 0.0625, whose reciprocal 16
// makes the product the quotient, passes (qadd_recip_avx2 runs).
TEST(EngineQAdd, LoweredResidualAddEqualsTheQdqGraphBitForBit) {
  const DType U = DType::UInt8, S = DType::Int8;
  struct Case {
    Shape x, r;
    DType xt, rt, yt;
    std::string act, kernel;
    float y_scale = 0.041f;
  };
  const std::vector<Case> cases = {
      {{2, 16, 28, 28}, {2, 16, 28, 28}, U, U, U, "relu", "qadd_u8u8_u8_avx2"},
      {{3, 5, 7, 3}, {3, 5, 7, 3}, S, U, S, "", "qadd_s8u8_s8_avx2"},
      {{1, 33}, {1, 33}, U, S, U, "clip", "qadd_u8s8_u8_avx2"},
      {{2, 8, 4, 4}, {1, 8, 1, 1}, U, U, U, "relu", "reference"},
      {{2, 16, 28, 28}, {2, 16, 28, 28}, U, U, U, "relu", "qadd_recip_u8u8_u8_avx2", 0.0625f},
      {{3, 5, 7, 3}, {3, 5, 7, 3}, S, U, S, "", "qadd_recip_s8u8_s8_avx2", 0.0625f},
      {{1, 37}, {1, 37}, U, S, U, "clip", "qadd_recip_u8s8_u8_avx2", 0.0625f},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const Model qdq = qadd_graph(c.x, c.r, c.xt, c.rt, c.yt, c.act, c.y_scale);
    Model lowered = clone_model(qdq);
    LowerQdq pass;
    ASSERT_TRUE(pass.run(lowered)) << "case " << i;
    infer_shapes(lowered);
    EXPECT_EQ(pass.stats().fused_add, 1) << "case " << i;
    EXPECT_TRUE(pass.stats().left_in_float.empty()) << "case " << i;
    int adds = 0;
    for (const auto& n : lowered.graph.nodes) {
      adds += n->domain == "octet" && n->op_type == "QLinearAdd";
      EXPECT_TRUE(n->op_type != "Add" && n->op_type != "Relu" && n->op_type != "Clip") << "case " << i;
    }
    EXPECT_EQ(adds, 1) << "case " << i;
    // Inputs spread over a little more than each quantized range, so both ends saturate.
    const std::map<std::string, Tensor> feeds = {{"x", testing::random_float(c.x, 10 + i, -4.5f, 4.5f)},
                                                 {"r", testing::random_float(c.r, 20 + i, -2.8f, 2.8f)}};
    const std::string out = qdq.graph.outputs[0];
    const Tensor want = Executor(qdq).run(feeds).at(out);
    EXPECT_TRUE(same_bits(Executor(lowered).run(feeds).at(out), want)) << "case " << i;
    expect_engine_runs(lowered, feeds, want, "octet.QLinearAdd", c.kernel, i);
  }
}

// An Add whose result is not quantized (here: a graph output) stays in float and is reported;
// an Add of one dequantized and one float input too.
TEST(EngineQAdd, UnquantizedResidualAddIsLeftInFloatAndReported) {
  Model m = qadd_graph({1, 4}, {1, 4}, DType::UInt8, DType::UInt8, DType::UInt8, "");
  for (auto& n : m.graph.nodes)
    if (n->name == "add") m.graph.outputs.push_back(n->outputs[0]);
  LowerQdq pass;
  pass.run(m);
  EXPECT_EQ(pass.stats().fused_add, 0);
  ASSERT_EQ(pass.stats().left_in_float.size(), 1u);
  EXPECT_NE(pass.stats().left_in_float[0].find("'add'"), std::string::npos);
  EXPECT_NE(pass.stats().left_in_float[0].find("not quantized"), std::string::npos);

  Model half = qadd_graph({1, 4}, {1, 4}, DType::UInt8, DType::UInt8, DType::UInt8, "relu");
  for (auto& n : half.graph.nodes)
    if (n->name == "add") n->inputs[1] = "r";
  LowerQdq p2;
  p2.run(half);
  ASSERT_EQ(p2.stats().left_in_float.size(), 1u);
  EXPECT_NE(p2.stats().left_in_float[0].find("not a per-tensor INT8/UINT8 DequantizeLinear"), std::string::npos);
}

// An octet.QLinearAdd after an octet.QLinearConv, fused into it (the engine's residual add): on
// the direct kernel each task adds the rows it wrote, on the other paths one pass adds the whole
// output; either way the reference executor's bits (and the unfused engine's), on 1 and 2 threads,
// with the convolution's output as either operand and both 8-bit types. An add whose output
// scale is a graph input has no fast kernel: nothing is fused, the convolution still runs on its
// INT8 kernel and the add on the reference op.
TEST(EngineQAdd, ResidualAddFusedIntoTheConvolutionEqualsTheReference) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const DType U = DType::UInt8, S = DType::Int8;
  struct Case {
    QConvCase conv;
    bool conv_first;
    DType r_type;
    bool runtime_scale = false;  // the add's output scale a graph input
    bool no_bias = false;        // the convolution without its bias input (8 inputs)
  };
  const std::vector<Case> cases = {
      {{1, 16, 14, 14, 16, 1, 3, 1, 1, 1, U, S, U, true, true}, true, U},    // direct on AVX-512 VNNI
      {{1, 16, 7, 7, 96, 1, 3, 1, 1, 1, U, S, U, true, true}, false, U, false, true},  // direct, 2 chunks, no bias
      {{2, 16, 9, 9, 32, 1, 3, 2, 1, 1, U, S, U, false, true}, false, S},   // direct, strided
      // direct, strided 1x1 on 14x14 (resnet8's shortcut): whole planes per task on 1 thread
      {{2, 16, 28, 28, 32, 1, 1, 2, 0, 1, U, S, U, false, true}, true, U},
      {{2, 16, 14, 14, 17, 1, 3, 1, 1, 1, U, S, U, true, true}, true, U},   // shifted
      {{1, 16, 6, 7, 9, 1, 1, 1, 2, 1, U, S, S, false}, false, U},          // im2col
      {{2, 8, 7, 6, 17, 1, 1, 1, 0, 1, U, S, U, false}, true, S},           // 1x1
      {{2, 24, 5, 5, 24, 24, 3, 1, 1, 1, U, S, U, true}, true, U},          // depthwise
      {{2, 24, 9, 9, 24, 24, 3, 1, 1, 1, U, S, U, false, true}, false, U},  // depthwise, pixel lanes (VBMI)
      {{1, 6, 10, 3, 4, 1, 3, 3, 2, 1, S, S, S, true}, false, S},           // int8 everything
      {{1, 16, 8, 8, 16, 1, 3, 1, 1, 1, U, S, U, false, true}, true, U, true},  // not fused
  };
  std::mt19937 rng(77);
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const QConvCase& t = c.conv;
    Model m = qconv_model(t, 3000 + static_cast<uint32_t>(i));
    if (c.no_bias) m.graph.nodes[0]->inputs.pop_back();
    const int64_t OH = (t.h + 2 * t.pad - t.dilation * (t.k - 1) - 1) / t.stride + 1;
    const int64_t OW = (t.w + 2 * t.pad - t.dilation * (t.k - 1) - 1) / t.stride + 1;
    const Shape ys = {t.n, t.m, OH, OW};
    Graph& g = m.graph;
    g.inputs.push_back("r");
    g.get_or_add_value("r").type = TensorType::of(c.r_type, ys);
    auto scalar = [&](const std::string& name, Tensor v) {
      g.get_or_add_value(name).initializer = v;
      g.get_or_add_value(name).type = TensorType::of(v.dtype(), v.shape());
    };
    scalar("rs", Tensor::scalar<float>(0.043f));
    scalar("rz", c.r_type == U ? Tensor::scalar<uint8_t>(131) : Tensor::scalar<int8_t>(3));
    if (c.runtime_scale) {
      g.inputs.push_back("as");
      g.get_or_add_value("as").type = TensorType::of(DType::Float32, {});
    } else {
      scalar("as", Tensor::scalar<float>(0.061f));
    }
    scalar("az", t.y_type == S ? Tensor::scalar<int8_t>(-7) : Tensor::scalar<uint8_t>(9));
    Node add;
    add.name = "qadd";
    add.op_type = "QLinearAdd";
    add.domain = "octet";
    const std::vector<std::string> conv_side = {"y", "ys", "yz"};
    const std::vector<std::string> r_side = {"r", "rs", "rz"};
    add.inputs = c.conv_first ? conv_side : r_side;
    const auto& second = c.conv_first ? r_side : conv_side;
    add.inputs.insert(add.inputs.end(), second.begin(), second.end());
    add.inputs.insert(add.inputs.end(), {"as", "az"});
    add.outputs = {"sum"};
    add.attrs["act_min"] = B::f(0.f);
    g.add_node(add);
    g.get_or_add_value("sum");
    g.outputs = {"sum"};
    g.topo_sort();
    infer_shapes(m);
    Tensor x(t.x_type, {t.n, t.c, t.h, t.w});
    for (int64_t j = 0; j < x.numel(); ++j) static_cast<uint8_t*>(x.raw())[j] = static_cast<uint8_t>(rng());
    Tensor r(c.r_type, ys);
    for (int64_t j = 0; j < r.numel(); ++j) static_cast<uint8_t*>(r.raw())[j] = static_cast<uint8_t>(rng());
    std::map<std::string, Tensor> feeds = {{"x", x}, {"r", r}};
    if (c.runtime_scale) feeds["as"] = Tensor::scalar<float>(0.061f);
    const Tensor want = Executor(m).run(feeds).at("sum");
    if (c.runtime_scale) {
      EngineOptions eo;
      eo.threads = 2;
      Engine e(m, eo);
      ASSERT_EQ(e.layers().size(), 2u) << "case " << i;
      EXPECT_TRUE(e.layers()[0].fused.empty()) << "case " << i;
      EXPECT_EQ(e.layers()[0].precision, "int8") << "case " << i;
      EXPECT_EQ(e.layers()[1].kernel, "reference") << "case " << i;
      EXPECT_TRUE(same_bits(e.run(feeds).at("sum"), want)) << "case " << i;
      continue;
    }
    for (int threads : {1, 2, 3}) {
      EngineOptions eo;
      eo.threads = threads;
      eo.profile = true;
      Engine e(m, eo);
      ASSERT_EQ(e.layers().size(), 1u) << "case " << i;
      EXPECT_EQ(e.layers()[0].fused, std::vector<std::string>{"qadd"}) << "case " << i;
      EXPECT_TRUE(same_bits(e.run(feeds).at("sum"), want)) << "case " << i << " threads " << threads;
      EXPECT_NE(e.layers()[0].kernel, "reference") << "case " << i << ": the fast op declined";
      eo.fuse_activations = false;
      EXPECT_TRUE(same_bits(Engine(m, eo).run(feeds).at("sum"), want)) << "case " << i << " unfused";
    }
  }
}

// A fused residual whose shape is not known at load, fed with one that broadcasts: the
// convolution's fast op declines the run, and the convolution and the add run on the reference
// ops (the reference executor's bits); a run with the full shape stays on the fused kernel.
TEST(EngineQAdd, FusedResidualOfAnotherShapeRunsOnTheReferenceOps) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const DType U = DType::UInt8, S = DType::Int8;
  Model m = qconv_model({1, 16, 8, 8, 16, 1, 3, 1, 1, 1, U, S, U, true, true}, 4000);
  Graph& g = m.graph;
  g.inputs.push_back("r");
  TensorType rt;
  rt.dtype = U;
  rt.has_shape = true;
  rt.dims = {Dim::known(1), Dim::known(16), Dim::symbol("h"), Dim::symbol("w")};
  g.get_or_add_value("r").type = rt;
  for (const auto& [name, v] : std::map<std::string, Tensor>{{"rs", Tensor::scalar<float>(0.043f)},
                                                             {"rz", Tensor::scalar<uint8_t>(131)},
                                                             {"as", Tensor::scalar<float>(0.061f)},
                                                             {"az", Tensor::scalar<uint8_t>(9)}}) {
    g.get_or_add_value(name).initializer = v;
    g.get_or_add_value(name).type = TensorType::of(v.dtype(), v.shape());
  }
  Node add;
  add.name = "qadd";
  add.op_type = "QLinearAdd";
  add.domain = "octet";
  add.inputs = {"y", "ys", "yz", "r", "rs", "rz", "as", "az"};
  add.outputs = {"sum"};
  g.add_node(add);
  g.get_or_add_value("sum");
  g.outputs = {"sum"};
  g.topo_sort();
  infer_shapes(m);
  EngineOptions eo;
  eo.threads = 2;
  eo.profile = true;
  Engine e(m, eo);
  ASSERT_EQ(e.layers().size(), 1u);
  EXPECT_EQ(e.layers()[0].fused, std::vector<std::string>{"qadd"});
  std::mt19937 rng(5);
  Tensor x(U, {1, 16, 8, 8});
  for (int64_t j = 0; j < x.numel(); ++j) x.data<uint8_t>()[j] = static_cast<uint8_t>(rng());
  for (const Shape& rs : {Shape{1, 16, 8, 8}, Shape{1, 16, 1, 1}}) {
    Tensor r(U, rs);
    for (int64_t j = 0; j < r.numel(); ++j) r.data<uint8_t>()[j] = static_cast<uint8_t>(rng());
    const std::map<std::string, Tensor> feeds = {{"x", x}, {"r", r}};
    EXPECT_TRUE(same_bits(e.run(feeds).at("sum"), Executor(m).run(feeds).at("sum"))) << shape_str(rs);
    EXPECT_EQ(e.layers()[0].kernel == "reference", rs[2] == 1) << shape_str(rs) << ": " << e.layers()[0].kernel;
  }
}

// The reference op's checks: a missing y_scale, a zero scale and a non-scalar zero point are
// errors that name the node.
TEST(EngineQAdd, ReferenceOpRejectsBadParameters) {
  Model m = qadd_graph({1, 4}, {1, 4}, DType::UInt8, DType::UInt8, DType::UInt8, "");
  LowerQdq().run(m);
  const std::map<std::string, Tensor> feeds = {{"x", testing::random_float({1, 4}, 1)},
                                               {"r", testing::random_float({1, 4}, 2)}};
  auto qadd = [](Model& mm) -> Node& {
    for (auto& n : mm.graph.nodes)
      if (n->op_type == "QLinearAdd") return *n;
    throw Error("no QLinearAdd");
  };
  {
    Model bad = clone_model(m);
    qadd(bad).inputs[1] = "zero_scale";
    bad.graph.get_or_add_value("zero_scale").initializer = Tensor::scalar<float>(0.f);
    bad.graph.get_or_add_value("zero_scale").type = TensorType::of(DType::Float32, {});
    EXPECT_THROW(
        {
          try {
            Executor(bad).run(feeds);
          } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("a_scale must be positive"), std::string::npos) << e.what();
            EXPECT_NE(std::string(e.what()).find("add"), std::string::npos) << e.what();
            throw;
          }
        },
        Error);
  }
  {
    Model bad = clone_model(m);
    qadd(bad).inputs.resize(6);
    EXPECT_THROW(Executor(bad).run(feeds), Error);
  }
  {
    Model bad = clone_model(m);
    qadd(bad).inputs[5] = "two_zps";
    bad.graph.get_or_add_value("two_zps").initializer = Tensor::from_vector<uint8_t>({2}, {1, 2});
    bad.graph.get_or_add_value("two_zps").type = TensorType::of(DType::UInt8, {2});
    EXPECT_THROW(Executor(bad).run(feeds), Error);
  }
}

// x -> Q -> DQ -> GlobalAveragePool -> [Flatten] -> Q -> DQ: the Q/DQ pattern of a quantized
// global pool (with Flatten, the QuantizeLinear sits after it, as a quantizer writes it for the
// Gemm that follows, and the lowering moves it up).
Model qpool_graph(const Shape& x_shape, DType x_type, DType y_type, bool flatten) {
  B b("qpool", 17);
  const std::string x = b.input("x", DType::Float32, x_shape);
  b.initializer("xs", Tensor::scalar<float>(0.031f));
  zero_point(b, "xz", x_type, 120);
  b.initializer("ys", Tensor::scalar<float>(0.0093f));
  zero_point(b, "yz", y_type, 100);
  const std::string dq = b.op("DequantizeLinear", {b.op("QuantizeLinear", {x, "xs", "xz"}, {}, "x.q"), "xs", "xz"},
                              {}, "x.dq");
  std::string y = b.op("GlobalAveragePool", {dq}, {}, "gap");
  if (flatten) y = b.op("Flatten", {y}, {}, "flatten");
  return quantized_output(b, y);
}

// The lowering turns the pattern into octet.QLinearGlobalAveragePool without changing a bit (its
// arithmetic is the graph's), and the engine's kernel equals the reference op bit for bit on 1
// and 2 threads, for 1-, 2- and 3-D planes and every u8/s8 mix.
TEST(EngineQPool, LoweredGlobalAveragePoolEqualsTheQdqGraphBitForBit) {
  const DType U = DType::UInt8, S = DType::Int8;
  struct Case {
    Shape x;
    DType xt, yt;
    bool flatten;
    std::string kernel;
  };
  const std::vector<Case> cases = {
      {{32, 64, 7, 7}, U, U, true, "qglobal_avgpool_u8_u8_avx2"},
      {{3, 5, 4, 4, 2}, S, U, false, "qglobal_avgpool_s8_u8_avx2"},
      {{2, 9, 1, 1}, U, S, true, "qglobal_avgpool_u8_s8_avx2"},
      {{4, 3, 10}, S, S, false, "qglobal_avgpool_s8_s8_avx2"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    const Model qdq = qpool_graph(c.x, c.xt, c.yt, c.flatten);
    Model lowered = clone_model(qdq);
    LowerQdq pass;
    ASSERT_TRUE(pass.run(lowered)) << "case " << i;
    infer_shapes(lowered);
    EXPECT_EQ(pass.stats().fused_pool, 1) << "case " << i;
    EXPECT_EQ(pass.stats().propagated, c.flatten ? 1 : 0) << "case " << i;
    EXPECT_TRUE(pass.stats().left_in_float.empty()) << "case " << i;
    for (const auto& n : lowered.graph.nodes) EXPECT_NE(n->op_type, "GlobalAveragePool") << "case " << i;
    // Inputs spread over a little more than the quantized range, so both ends saturate; the means
    // of a few planes land on the output's steps.
    const std::map<std::string, Tensor> feeds = {{"x", testing::random_float(c.x, 30 + i, -4.5f, 4.5f)}};
    const std::string out = qdq.graph.outputs[0];
    const Tensor want = Executor(qdq).run(feeds).at(out);
    EXPECT_TRUE(same_bits(Executor(lowered).run(feeds).at(out), want)) << "case " << i;
    expect_engine_runs(lowered, feeds, want, "octet.QLinearGlobalAveragePool", c.kernel, i);
  }
}

// A pool whose result is not quantized (a graph output) stays in float and is reported; the
// reference op names the node when its parameters or input are wrong.
TEST(EngineQPool, UnquantizedPoolIsLeftInFloatAndBadParametersAreErrors) {
  Model m = qpool_graph({1, 4, 3, 3}, DType::UInt8, DType::UInt8, false);
  for (auto& n : m.graph.nodes)
    if (n->name == "gap") m.graph.outputs.push_back(n->outputs[0]);
  LowerQdq pass;
  pass.run(m);
  EXPECT_EQ(pass.stats().fused_pool, 0);
  ASSERT_EQ(pass.stats().left_in_float.size(), 1u);
  EXPECT_NE(pass.stats().left_in_float[0].find("'gap'"), std::string::npos);
  EXPECT_NE(pass.stats().left_in_float[0].find("not quantized"), std::string::npos);

  Model good = qpool_graph({1, 4, 3, 3}, DType::UInt8, DType::UInt8, false);
  ASSERT_TRUE(LowerQdq().run(good));
  const std::map<std::string, Tensor> feeds = {{"x", testing::random_float({1, 4, 3, 3}, 1)}};
  auto pool = [](Model& mm) -> Node& {
    for (auto& n : mm.graph.nodes)
      if (n->op_type == "QLinearGlobalAveragePool") return *n;
    throw Error("no QLinearGlobalAveragePool");
  };
  auto expect_error = [&](Model& bad, const std::string& what) {
    try {
      Executor(bad).run(feeds);
      ADD_FAILURE() << "no error for " << what;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("gap"), std::string::npos) << e.what();
    }
  };
  {
    Model bad = clone_model(good);
    pool(bad).inputs[1] = "zero_scale";
    bad.graph.get_or_add_value("zero_scale").initializer = Tensor::scalar<float>(0.f);
    bad.graph.get_or_add_value("zero_scale").type = TensorType::of(DType::Float32, {});
    expect_error(bad, "x_scale must be positive");
  }
  {
    Model bad = clone_model(good);
    pool(bad).inputs.resize(3);
    expect_error(bad, "y_scale is required");
  }
}

}  // namespace
}  // namespace octet
