// LowerQdq: which Q/DQ patterns become octet's fused integer ops, and that the lowered model
// computes what the Q/DQ model computes (up to the float rounding the integer accumulation removes)
// on the reference executor.
#include "passes/lower_qdq.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "../test_util.h"
#include "ir/builder.h"
#include "passes/quantize_static.h"
#include "runtime/engine.h"
#include "runtime/executor.h"
#include "runtime/shape_inference.h"

namespace octet {
namespace {

using B = GraphBuilder;

Tensor rnd(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  return testing::random_float(s, seed, lo, hi);
}

// image [N,2,8,8] -> Conv 3x3 pad 1 (6, bias) -> Relu -> Conv 3x3 stride 2 (4, bias) -> Clip(0,6)
//   -> Flatten -> Gemm (transB, bias) -> logits; `skip` adds the first Relu's output to the
// input of the Flatten path's MaxPool so one activation has a float reader besides its QuantizeLinear.
Model net(bool skip) {
  B b("net", 17);
  const std::string x = b.input("image", DType::Float32, {-1, 2, 8, 8});
  b.initializer("c1.w", rnd({6, 2, 3, 3}, 1, -0.5f, 0.5f));
  b.initializer("c1.b", rnd({6}, 2, -0.1f, 0.1f));
  b.initializer("c2.w", rnd({4, 6, 3, 3}, 3, -0.4f, 0.4f));
  b.initializer("c2.b", rnd({4}, 4, -0.1f, 0.1f));
  b.initializer("fc.w", rnd({3, 4 * 4 * 4}, 5, -0.3f, 0.3f));
  b.initializer("fc.b", rnd({3}, 6, -0.1f, 0.1f));
  b.initializer("lo", Tensor::scalar<float>(0.f));
  b.initializer("hi", Tensor::scalar<float>(6.f));
  std::string y = b.op("Conv", {x, "c1.w", "c1.b"}, {{"pads", B::ints({1, 1, 1, 1})}}, "c1");
  const std::string r1 = b.op("Relu", {y}, {}, "r1");
  y = b.op("Conv", {r1, "c2.w", "c2.b"}, {{"pads", B::ints({1, 1, 1, 1})}, {"strides", B::ints({2, 2})}}, "c2");
  y = b.op("Clip", {y, "lo", "hi"}, {}, "clip");
  if (skip) {
    const std::string p = b.op("MaxPool", {r1}, {{"kernel_shape", B::ints({2, 2})}, {"strides", B::ints({2, 2})}}, "pool");
    const std::string s = b.op("ReduceMean", {p}, {{"axes", B::ints({1})}, {"keepdims", B::i(1)}}, "mean");
    y = b.op("Add", {y, s}, {}, "add");
  }
  y = b.op("Flatten", {y}, {}, "flatten");
  b.output(b.op("Gemm", {y, "fc.w", "fc.b"}, {{"transB", B::i(1)}}, "logits"));
  Model m = b.build();
  infer_shapes(m);
  return m;
}

// Static INT8 of `m` with min-max ranges measured on `calib` by the reference executor.
Model quantize_minmax(const Model& m, const StaticQuantOptions& o, const Tensor& calib) {
  const StaticQuantPlan plan = plan_static(m, o);
  RunOptions keep;
  keep.keep_intermediates = true;
  auto values = Executor(m).run({{"image", calib}}, keep);
  values["image"] = calib;
  std::map<std::string, quant::Range> ranges;
  for (const auto& t : plan.activations) {
    const Tensor& v = values.at(t);
    quant::Range r{0.f, 0.f, false};
    for (int64_t i = 0; i < v.numel(); ++i) {
      r.min = std::min(r.min, v.data<float>()[i]);
      r.max = std::max(r.max, v.data<float>()[i]);
    }
    ranges[t] = r;
  }
  Model q = clone_model(m);
  apply_static(q, plan, ranges, o);
  return q;
}

Model quantized(bool skip, QuantTarget target, const Tensor& calib) {
  StaticQuantOptions o;
  o.target = target;
  if (target == QuantTarget::TensorRT) o.activation_symmetric = true;
  return quantize_minmax(net(skip), o, calib);
}

// The Q/DQ model and its lowering give the same output `out` on x up to the float rounding the
// integer accumulation removes: max |a - b| < 2% of max |a| (a one-step flip in a quantized
// intermediate moves an output by a few of that tensor's steps).
::testing::AssertionResult outputs_close(const Model& qdq, const Model& lowered, const Tensor& x,
                                         const std::string& out) {
  const Tensor a = Executor(qdq).run({{"image", x}}).at(out);
  const Tensor b = Executor(lowered).run({{"image", x}}).at(out);
  if (a.shape() != b.shape())
    return ::testing::AssertionFailure() << "shapes " << shape_str(a.shape()) << " vs " << shape_str(b.shape());
  double max_diff = 0, max_abs = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    max_diff = std::max(max_diff, std::fabs(double(a.data<float>()[i]) - b.data<float>()[i]));
    max_abs = std::max(max_abs, std::fabs(double(a.data<float>()[i])));
  }
  if (max_diff < 0.02 * max_abs) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "max |a-b| " << max_diff << " of max |a| " << max_abs;
}

std::map<std::string, int> op_counts(const Model& m) {
  std::map<std::string, int> c;
  for (const auto& n : m.graph.nodes) c[(n->domain.empty() ? "" : n->domain + ".") + n->op_type]++;
  return c;
}

const Node* node_named(const Model& m, const std::string& name) {
  for (const auto& n : m.graph.nodes)
    if (n->name == name) return n.get();
  return nullptr;
}

TEST(LowerQdq, FusesConvReluQuantizeAndLeavesFloatReadersAlone) {
  const Tensor calib = rnd({4, 2, 8, 8}, 11, 0.f, 1.f);
  Model q = quantized(false, QuantTarget::OnnxRuntime, calib);
  Model lowered = clone_model(q);
  LowerQdq pass;
  ASSERT_TRUE(pass.run(lowered));
  const auto counts = op_counts(lowered);
  EXPECT_EQ(counts.at("octet.QLinearConv"), 2);
  EXPECT_EQ(counts.at("octet.QLinearMatMul"), 1);
  EXPECT_EQ(counts.count("Conv") + counts.count("Gemm") + counts.count("Relu"), 0u);
  EXPECT_EQ(counts.count("DequantizeLinear"), 0u) << "every DQ was absorbed";
  EXPECT_EQ(pass.stats().fused_conv, 2);
  EXPECT_EQ(pass.stats().fused_matmul, 1);
  EXPECT_EQ(pass.stats().fused_activations, 2);  // Relu and Clip
  EXPECT_EQ(pass.stats().quantized_outputs, 2);
  EXPECT_TRUE(pass.stats().left_in_float.empty());
  // c1 absorbed Relu and the QuantizeLinear for c2's input: it writes UINT8 with an INT32 bias.
  const Node* c1 = node_named(lowered, "c1");
  ASSERT_NE(c1, nullptr);
  ASSERT_EQ(c1->inputs.size(), 9u);
  EXPECT_FALSE(c1->inputs[6].empty());
  EXPECT_EQ(lowered.graph.value(c1->inputs[8]).initializer->dtype(), DType::Int32);
  EXPECT_EQ(c1->attr_float("act_min", -1.f), 0.f);
  // c2 -> Clip -> Flatten -> Q: the Q moves above Flatten, so c2 absorbs Clip and Q and
  // Flatten runs on UINT8.
  EXPECT_EQ(pass.stats().propagated, 1);
  const Node* c2 = node_named(lowered, "c2");
  ASSERT_NE(c2, nullptr);
  ASSERT_GE(c2->inputs.size(), 8u);
  EXPECT_FALSE(c2->inputs[6].empty());
  EXPECT_EQ(c2->attr_float("act_max", 0.f), 6.f);

  // Same logits up to float rounding (the integer path only removes rounding of the float conv);
  // a flip of one step in c1's quantized output moves a logit by at most a few c1 steps' worth.
  const Tensor x = rnd({8, 2, 8, 8}, 12, 0.f, 1.f);
  EXPECT_TRUE(outputs_close(q, lowered, x, "logits_out"));
}

TEST(LowerQdq, ActivationWithAFloatReaderKeepsItsQuantizeLinear) {
  const Tensor calib = rnd({4, 2, 8, 8}, 21, 0.f, 1.f);
  Model q = quantized(true, QuantTarget::OnnxRuntime, calib);
  Model lowered = clone_model(q);
  LowerQdq pass;
  ASSERT_TRUE(pass.run(lowered));
  // r1 feeds both c2 (through Q/DQ) and the MaxPool (float): c1 writes float with Relu fused, and
  // the QuantizeLinear stays.
  const Node* c1 = node_named(lowered, "c1");
  ASSERT_NE(c1, nullptr);
  EXPECT_EQ(c1->domain, "octet");
  EXPECT_TRUE(c1->inputs.size() < 7 || c1->inputs[6].empty());
  EXPECT_EQ(op_counts(lowered).at("QuantizeLinear"), 3);  // the image, r1 for c2, the Gemm's input
  const Tensor x = rnd({3, 2, 8, 8}, 22, 0.f, 1.f);
  EXPECT_TRUE(outputs_close(q, lowered, x, "logits_out"));
}

TEST(LowerQdq, TensorRtPresetFloatBiasBecomesInt32) {
  const Tensor calib = rnd({4, 2, 8, 8}, 31, 0.f, 1.f);
  Model q = quantized(false, QuantTarget::TensorRT, calib);
  Model lowered = clone_model(q);
  LowerQdq pass;
  ASSERT_TRUE(pass.run(lowered));
  EXPECT_EQ(pass.stats().fused_conv, 2);
  const Node* c1 = node_named(lowered, "c1");
  ASSERT_NE(c1, nullptr);
  ASSERT_EQ(c1->inputs.size(), 9u);
  const Tensor& bias = *lowered.graph.value(c1->inputs[8]).initializer;
  EXPECT_EQ(bias.dtype(), DType::Int32);
  EXPECT_EQ(lowered.graph.value(c1->inputs[7]).initializer->dtype(), DType::Int8);
  const Tensor x = rnd({4, 2, 8, 8}, 32, 0.f, 1.f);
  EXPECT_TRUE(outputs_close(q, lowered, x, "logits_out"));
}

TEST(LowerQdq, FloatModelAndUnsupportedPatternsAreLeftAlone) {
  Model m = net(false);
  LowerQdq pass;
  EXPECT_FALSE(pass.run(m));
  EXPECT_TRUE(pass.stats().left_in_float.empty());

  // A Conv whose weight is float (not DequantizeLinear) but whose input is: left, and reported.
  const Tensor calib = rnd({2, 2, 8, 8}, 41, 0.f, 1.f);
  Model q = quantized(false, QuantTarget::OnnxRuntime, calib);
  for (auto& n : q.graph.nodes)
    if (n->name == "c2") n->inputs[1] = "c2.w";
  q.graph.get_or_add_value("c2.w").initializer = rnd({4, 6, 3, 3}, 3, -0.4f, 0.4f);
  q.graph.get_or_add_value("c2.w").type = TensorType::of(DType::Float32, {4, 6, 3, 3});
  LowerQdq p2;
  ASSERT_TRUE(p2.run(q));
  ASSERT_EQ(p2.stats().left_in_float.size(), 1u);
  EXPECT_NE(p2.stats().left_in_float[0].find("'c2'"), std::string::npos);
  EXPECT_NE(p2.stats().left_in_float[0].find("weight"), std::string::npos);
  EXPECT_EQ(node_named(q, "c2")->op_type, "Conv");
  EXPECT_NO_THROW(Executor(q).run({{"image", calib}}));
}

}  // namespace
}  // namespace octet

namespace octet {
namespace {

// image -> Conv -> Relu -> MaxPool -> Flatten -> Q/DQ -> Gemm: the QuantizeLinear moves above
// Flatten and MaxPool, the Conv absorbs Relu and Q, and MaxPool / Flatten run on UINT8.
TEST(LowerQdq, PropagatesQuantizeAboveMaxPoolAndFlatten) {
  B b("pool", 17);
  const std::string x = b.input("image", DType::Float32, {-1, 2, 8, 8});
  b.initializer("c.w", rnd({4, 2, 3, 3}, 51, -0.5f, 0.5f));
  b.initializer("c.b", rnd({4}, 52, -0.1f, 0.1f));
  b.initializer("fc.w", rnd({3, 64}, 53, -0.3f, 0.3f));
  std::string y = b.op("Conv", {x, "c.w", "c.b"}, {{"pads", B::ints({1, 1, 1, 1})}}, "c");
  y = b.op("Relu", {y}, {}, "relu");
  y = b.op("MaxPool", {y}, {{"kernel_shape", B::ints({2, 2})}, {"strides", B::ints({2, 2})}}, "pool");
  y = b.op("Flatten", {y}, {}, "flat");
  b.output(b.op("Gemm", {y, "fc.w"}, {{"transB", B::i(1)}}, "fc"));
  Model m = b.build();
  infer_shapes(m);
  Model q = quantize_minmax(m, StaticQuantOptions{}, rnd({4, 2, 8, 8}, 54, 0.f, 1.f));
  Model lowered = clone_model(q);
  LowerQdq pass;
  ASSERT_TRUE(pass.run(lowered));
  EXPECT_EQ(pass.stats().propagated, 2);
  EXPECT_EQ(pass.stats().quantized_outputs, 1);
  infer_shapes(lowered);
  const Node* pool = node_named(lowered, "pool");
  ASSERT_NE(pool, nullptr);
  EXPECT_EQ(lowered.graph.value(pool->inputs[0]).type.dtype, DType::UInt8);
  EXPECT_EQ(node_named(lowered, "c")->domain, "octet");
  // MaxPool and Flatten commute with Q exactly; only the conv's integer accumulation differs.
  const Tensor xin = rnd({5, 2, 8, 8}, 55, 0.f, 1.f);
  EXPECT_TRUE(outputs_close(q, lowered, xin, "fc_out"));
}


struct MatMulAdd {
  bool quantized_after;  // Q/DQ -> MatMul (6 x 3) after the Relu
  bool bias_first;       // Add(bias, y) instead of Add(y, bias)
  bool int32_bias;       // the bias as DequantizeLinear of INT32 (as quantizers write it)
};

// image [N,4,8] -> MatMul (8 x 6) -> Add (bias, `bias_shape`) -> Relu [-> Q/DQ -> MatMul]: a
// transformer's linear layer as exporters write it.
Model matmul_add(const Shape& bias_shape, const MatMulAdd& v) {
  B b("mm_add", 17);
  const std::string x = b.input("image", DType::Float32, {-1, 4, 8});
  b.initializer("w1", rnd({8, 6}, 61, -0.5f, 0.5f));
  b.initializer("w2", rnd({6, 3}, 63, -0.5f, 0.5f));
  std::string bias = "b1";
  if (v.int32_bias) {
    const Tensor f = rnd(bias_shape, 62, -3000.f, 3000.f);
    std::vector<int32_t> q(static_cast<size_t>(f.numel()));
    for (size_t i = 0; i < q.size(); ++i) q[i] = static_cast<int32_t>(f.data<float>()[i]);
    b.initializer("b1_q", Tensor::from_vector<int32_t>(bias_shape, q));
    b.initializer("b1_s", Tensor::scalar<float>(1e-4f));
    bias = b.op("DequantizeLinear", {"b1_q", "b1_s"}, {}, "b1_dq");
  } else {
    b.initializer("b1", rnd(bias_shape, 62, -0.3f, 0.3f));
  }
  std::string y = b.op("MatMul", {x, "w1"}, {}, "mm");
  y = v.bias_first ? b.op("Add", {bias, y}, {}, "bias") : b.op("Add", {y, bias}, {}, "bias");
  y = b.op("Relu", {y}, {}, "relu");
  if (v.quantized_after) y = b.op("MatMul", {y, "w2"}, {}, "mm2");
  b.output(y);
  Model m = b.build();
  infer_shapes(m);
  return m;
}

// The Add of a 1-D bias after a quantized MatMul goes into the fused op's float bias, with the
// Relu after it, and changes no bit: the same model with the bias as [1, 6] (which the lowering
// leaves as an Add) gives the same output. When the layer's output is quantized for the next one,
// the QuantizeLinear stays a node (an int32 bias would round before the sum).
TEST(LowerQdq, MatMulBiasAddIsTakenInWithoutChangingABit) {
  const Tensor calib = rnd({4, 4, 8}, 64, -1.f, 1.f);
  const Tensor x = rnd({5, 4, 8}, 65, -1.f, 1.f);
  for (const MatMulAdd v : {MatMulAdd{false, false, false}, MatMulAdd{true, false, false},
                            MatMulAdd{false, true, true}, MatMulAdd{true, true, false}}) {
    const bool quantized_after = v.quantized_after;
    SCOPED_TRACE(::testing::Message() << (quantized_after ? "a quantized MatMul after it" : "float output")
                                      << (v.bias_first ? ", bias first" : "")
                                      << (v.int32_bias ? ", DequantizeLinear of an INT32 bias" : ""));
    Model q = quantize_minmax(matmul_add({6}, v), StaticQuantOptions{}, calib);
    Model q_wide = quantize_minmax(matmul_add({1, 6}, v), StaticQuantOptions{}, calib);
    Model lowered = clone_model(q), lowered_wide = clone_model(q_wide);
    LowerQdq pass, pass_wide;
    ASSERT_TRUE(pass.run(lowered));
    ASSERT_TRUE(pass_wide.run(lowered_wide));
    const auto counts = op_counts(lowered);
    EXPECT_EQ(counts.count("Add") + counts.count("Relu"), 0u);
    EXPECT_EQ(counts.count("DequantizeLinear"), 0u) << "the INT32 bias's DequantizeLinear is swept too";
    EXPECT_EQ(op_counts(lowered_wide).at("Add"), 1) << "a [1, 6] bias is not taken in";
    const Node* mm = node_named(lowered, "mm");
    ASSERT_NE(mm, nullptr);
    ASSERT_EQ(mm->domain, "octet");
    ASSERT_EQ(mm->inputs.size(), 9u);
    EXPECT_TRUE(mm->inputs[6].empty()) << "float output";
    EXPECT_EQ(lowered.graph.value(mm->inputs[8]).initializer->dtype(), DType::Float32);
    EXPECT_EQ(mm->attr_float("act_min", -1.f), 0.f);
    EXPECT_EQ(counts.count("QuantizeLinear") ? counts.at("QuantizeLinear") : 0, quantized_after ? 2 : 1);
    const std::string out = lowered.graph.outputs[0];
    const Tensor a = Executor(lowered).run({{"image", x}}).at(out);
    const Tensor b = Executor(lowered_wide).run({{"image", x}}).at(out);
    ASSERT_EQ(a.shape(), b.shape());
    EXPECT_EQ(std::memcmp(a.raw(), b.raw(), a.nbytes()), 0);
    EXPECT_TRUE(outputs_close(q, lowered, x, out));
    // The engine's INT8 MatMul with the float bias in its epilogue: the same bits again.
    EngineOptions one;
    one.threads = 1;
    const Tensor e = Engine(lowered, one).run({{"image", x}}).at(out);
    ASSERT_EQ(e.shape(), a.shape());
    EXPECT_EQ(std::memcmp(e.raw(), a.raw(), a.nbytes()), 0);
  }
}
}  // namespace
}  // namespace octet
