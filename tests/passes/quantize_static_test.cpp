// Static, dynamic and weight-only quantization passes on small graphs: where Q/DQ go, the
// parameters written (checked against quant_math directly), the presets, exclusions, zero ranges,
// and that the executor's result of the quantized model stays close to the float model.
#include "passes/quantize_static.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "../test_util.h"
#include "ir/builder.h"
#include "passes/lower_qdq.h"
#include "passes/quantize_dynamic.h"
#include "runtime/executor.h"
#include "runtime/shape_inference.h"

namespace octet {
namespace {

using B = GraphBuilder;

Tensor rnd(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  return testing::random_float(s, seed, lo, hi);
}

// image [N,2,6,6] -> Conv 3x3 (4 out, bias) -> Relu -> Flatten -> Gemm (transB=1, bias) -> logits
Model conv_gemm(int64_t opset = 17) {
  B b("conv_gemm", opset);
  const std::string x = b.input("image", DType::Float32, {-1, 2, 6, 6});
  b.initializer("conv.w", rnd({4, 2, 3, 3}, 1, -0.5f, 0.5f));
  b.initializer("conv.b", rnd({4}, 2, -0.1f, 0.1f));
  b.initializer("fc.w", rnd({3, 4 * 4 * 4}, 3, -0.3f, 0.3f));
  b.initializer("fc.b", rnd({3}, 4, -0.1f, 0.1f));
  std::string y = b.op("Conv", {x, "conv.w", "conv.b"}, {}, "conv");
  y = b.op("Relu", {y}, {}, "relu");
  y = b.op("Flatten", {y}, {}, "flatten");
  b.output(b.op("Gemm", {y, "fc.w", "fc.b"}, {{"transB", B::i(1)}}, "logits"));
  Model m = b.build();
  infer_shapes(m);
  return m;
}

std::map<std::string, int> op_counts(const Model& m) {
  std::map<std::string, int> c;
  for (const auto& n : m.graph.nodes) c[n->op_type]++;
  return c;
}

const Node* node_named(const Model& m, const std::string& name) {
  for (const auto& n : m.graph.nodes)
    if (n->name == name) return n.get();
  return nullptr;
}

// Max |a - b| over the single outputs of both models on the same input.
double max_output_diff(const Model& a, const Model& b, const Tensor& x) {
  const Tensor ya = Executor(a).run({{"image", x}}).at(a.graph.outputs.at(0));
  const Tensor yb = Executor(b).run({{"image", x}}).at(b.graph.outputs.at(0));
  double d = 0;
  for (int64_t i = 0; i < ya.numel(); ++i) d = std::max(d, std::fabs(ya.get_as_double(i) - yb.get_as_double(i)));
  return d;
}

std::map<std::string, quant::Range> ranges_from_data(const Model& m, const StaticQuantPlan& plan, const Tensor& x) {
  RunOptions opts;
  opts.keep_intermediates = true;
  auto values = Executor(m).run({{"image", x}}, opts);
  values["image"] = x;
  std::map<std::string, quant::Range> r;
  for (const auto& t : plan.activations) {
    const Tensor& v = values.at(t);
    quant::Range range{0.f, 0.f, false};
    for (int64_t i = 0; i < v.numel(); ++i) {
      range.min = std::min(range.min, v.data<float>()[i]);
      range.max = std::max(range.max, v.data<float>()[i]);
    }
    r[t] = range;
  }
  return r;
}

// Two residual blocks, then two convolutions added as the graph output:
//   r0 = relu(c0(x)); r1 = relu(add1(c1(r0), r0)); r2 = add2(c2(r1), r1); out = add3(c3(r2), c4(r2)).
// add2's result feeds only convolutions, add1's a convolution and add2; add3 is the output.
Model residual_blocks() {
  B b("residual", 17);
  const std::string x = b.input("image", DType::Float32, {-1, 2, 6, 6});
  for (int i = 0; i < 5; ++i) b.initializer(str_cat("c", i, ".w"), rnd({2, 2, 3, 3}, 10 + i, -0.5f, 0.5f));
  auto conv = [&](const std::string& in, int i) {
    return b.op("Conv", {in, str_cat("c", i, ".w")}, {{"pads", B::ints({1, 1, 1, 1})}}, str_cat("c", i));
  };
  const std::string r0 = b.op("Relu", {conv(x, 0)}, {}, "relu0");
  const std::string r1 = b.op("Relu", {b.op("Add", {conv(r0, 1), r0}, {}, "add1")}, {}, "relu1");
  const std::string r2 = b.op("Add", {conv(r1, 2), r1}, {}, "add2");
  const std::string y3 = conv(r2, 3);
  b.output(b.op("Add", {y3, conv(r2, 4)}, {}, "add3"));
  Model m = b.build();
  infer_shapes(m);
  return m;
}

TEST(QuantizeStatic, ResidualAddsWhoseResultIsQuantizedAreQuantized) {
  const Model m = residual_blocks();
  StaticQuantOptions o;
  StaticQuantPlan plan = plan_static(m, o);
  EXPECT_EQ(plan.nodes, (std::vector<std::string>{"c0", "c1", "add1", "c2", "add2", "c3", "c4"}))
      << "add3 is the graph output, so its result is not quantized";
  // add1's inputs are quantized: c1's output (which nothing else reads) and relu0's.
  EXPECT_TRUE(std::count(plan.activations.begin(), plan.activations.end(), node_named(m, "c1")->outputs[0]));
  Model q = clone_model(m);
  apply_static(q, plan, ranges_from_data(m, plan, rnd({3, 2, 6, 6}, 5, 0.f, 1.f)), o);
  for (const char* add : {"add1", "add2"})
    for (const auto& in : node_named(q, add)->inputs) {
      const Node* producer = nullptr;
      for (const auto& n : q.graph.nodes)
        if (n->outputs[0] == in) producer = n.get();
      ASSERT_NE(producer, nullptr);
      EXPECT_EQ(producer->op_type, "DequantizeLinear") << add << " input " << in;
    }
  // On the calibration data, within a few 8-bit steps of the output range, as with the Adds in float.
  const Tensor x = rnd({3, 2, 6, 6}, 5, 0.f, 1.f);
  const Tensor y = Executor(m).run({{"image", x}}).at(m.graph.outputs[0]);
  double y_max = 0;
  for (int64_t i = 0; i < y.numel(); ++i) y_max = std::max(y_max, std::fabs(y.get_as_double(i)));
  StaticQuantOptions no_adds = o;
  no_adds.residual_adds = false;
  const StaticQuantPlan plan2 = plan_static(m, no_adds);
  Model q2 = clone_model(m);
  apply_static(q2, plan2, ranges_from_data(m, plan2, x), no_adds);
  const double with_adds = max_output_diff(m, q, x), without = max_output_diff(m, q2, x);
  EXPECT_LT(with_adds, 0.05 * y_max) << "max |y| " << y_max;
  EXPECT_LT(with_adds, 1.5 * without) << "the quantized adds cost at most a little rounding";

  // Off: only the convolutions.
  o.residual_adds = false;
  EXPECT_EQ(plan_static(m, o).nodes, (std::vector<std::string>{"c0", "c1", "c2", "c3", "c4"}));
  // "Add" listed: every Add, whatever reads it.
  o.residual_adds = true;
  o.op_types.insert("Add");
  EXPECT_EQ(plan_static(m, o).nodes,
            (std::vector<std::string>{"c0", "c1", "add1", "c2", "add2", "c3", "c4", "add3"}));
  // add2 excluded: add1, read by add2, stays float too.
  o.op_types.erase("Add");
  o.exclude_nodes.insert("add2");
  EXPECT_EQ(plan_static(m, o).nodes, (std::vector<std::string>{"c0", "c1", "c2", "c3", "c4"}));
}

// A residual block ending in a global pool and a classifier:
//   r = relu(add(c1(relu(c0(x))), relu(c0(x)))); out = fc(flatten(gap(r))).
Model residual_pool_head() {
  B b("residual_pool", 17);
  const std::string x = b.input("image", DType::Float32, {-1, 2, 6, 6});
  for (int i = 0; i < 2; ++i) b.initializer(str_cat("c", i, ".w"), rnd({2, 2, 3, 3}, 30 + i, -0.5f, 0.5f));
  b.initializer("fc.w", rnd({3, 2}, 33, -0.5f, 0.5f));
  auto conv = [&](const std::string& in, int i) {
    return b.op("Conv", {in, str_cat("c", i, ".w")}, {{"pads", B::ints({1, 1, 1, 1})}}, str_cat("c", i));
  };
  const std::string r0 = b.op("Relu", {conv(x, 0)}, {}, "relu0");
  const std::string r = b.op("Relu", {b.op("Add", {conv(r0, 1), r0}, {}, "add")}, {}, "relu1");
  const std::string f = b.op("Flatten", {b.op("GlobalAveragePool", {r}, {}, "gap")}, {}, "flatten");
  b.output(b.op("Gemm", {f, "fc.w"}, {{"transB", B::i(1)}}, "fc"));
  Model m = b.build();
  infer_shapes(m);
  return m;
}

// The pool's result reaches the quantized Gemm through Flatten, so the pool is quantized, and then
// the Add before it; the lowering turns both into integer ops with nothing left in float.
TEST(QuantizeStatic, GlobalPoolWhoseResultIsQuantizedIsQuantized) {
  const Model m = residual_pool_head();
  StaticQuantOptions o;
  const StaticQuantPlan plan = plan_static(m, o);
  EXPECT_EQ(plan.nodes, (std::vector<std::string>{"c0", "c1", "add", "gap", "fc"}));
  EXPECT_TRUE(std::count(plan.activations.begin(), plan.activations.end(), node_named(m, "relu1")->outputs[0]));
  const Tensor x = rnd({4, 2, 6, 6}, 7, 0.f, 1.f);
  Model q = clone_model(m);
  apply_static(q, plan, ranges_from_data(m, plan, x), o);
  const Node* gap = node_named(q, "gap");
  ASSERT_NE(gap, nullptr);
  for (const auto& n : q.graph.nodes)
    if (n->outputs[0] == gap->inputs[0]) EXPECT_EQ(n->op_type, "DequantizeLinear");
  Model lowered = clone_model(q);
  LowerQdq lower;
  lower.run(lowered);
  EXPECT_EQ(lower.stats().fused_pool, 1);
  EXPECT_EQ(lower.stats().fused_add, 1);
  EXPECT_TRUE(lower.stats().left_in_float.empty());
  // Still close to the float model (the pool adds one rounding of its input).
  const Tensor y = Executor(m).run({{"image", x}}).at(m.graph.outputs[0]);
  double y_max = 0;
  for (int64_t i = 0; i < y.numel(); ++i) y_max = std::max(y_max, std::fabs(y.get_as_double(i)));
  EXPECT_LT(max_output_diff(m, q, x), 0.05 * y_max) << "max |y| " << y_max;

  // Off, or the op type excluded: the pool stays float, and so does the Add that feeds it.
  StaticQuantOptions off = o;
  off.global_pools = false;
  EXPECT_EQ(plan_static(m, off).nodes, (std::vector<std::string>{"c0", "c1", "fc"}));
  StaticQuantOptions excluded = o;
  excluded.exclude_op_types.insert("GlobalAveragePool");
  EXPECT_EQ(plan_static(m, excluded).nodes, (std::vector<std::string>{"c0", "c1", "fc"}));
  // A pool that is also a graph output stays float.
  Model out = clone_model(m);
  out.graph.outputs.push_back(node_named(out, "gap")->outputs[0]);
  EXPECT_EQ(plan_static(out, o).nodes, (std::vector<std::string>{"c0", "c1", "fc"}));
}

TEST(QuantizeStatic, OnnxRuntimePresetPlacesQdqOnInputsWithInt32Bias) {
  Model m = conv_gemm();
  const Tensor x = rnd({2, 2, 6, 6}, 9, 0.f, 1.f);
  StaticQuantOptions o;  // onnxruntime, uint8 asymmetric activations, per-channel weights
  const StaticQuantPlan plan = plan_static(m, o);
  EXPECT_EQ(plan.nodes, (std::vector<std::string>{"conv", "logits"}));
  // The conv's input and the Gemm's input (after Relu and Flatten), never the Conv output itself.
  EXPECT_EQ(plan.activations, (std::vector<std::string>{"flatten_out", "image"}));
  Model q = conv_gemm();
  const auto ranges = ranges_from_data(m, plan, x);
  const StaticQuantResult r = apply_static(q, plan, ranges, o);
  auto counts = op_counts(q);
  EXPECT_EQ(counts["QuantizeLinear"], 2);
  EXPECT_EQ(counts["DequantizeLinear"], 6);  // 2 activations, 2 weights, 2 biases
  EXPECT_EQ(counts["Relu"], 1);
  // Relu still reads the Conv directly: nothing between them.
  const Node* relu = node_named(q, "relu");
  ASSERT_NE(relu, nullptr);
  EXPECT_EQ(relu->inputs[0], "conv_out");

  // Parameters against quant_math on the same inputs.
  for (const QuantRecord& rec : r.records) {
    if (rec.kind == "activation") {
      quant::QuantSpec spec;
      spec.qtype = DType::UInt8;
      spec.symmetric = false;
      const QuantParams want = quant::params_from_range(ranges.at(rec.tensor).min, ranges.at(rec.tensor).max, spec, "t");
      EXPECT_EQ(rec.params.qtype, DType::UInt8);
      EXPECT_EQ(rec.params.scale, want.scale) << rec.tensor;
      EXPECT_EQ(rec.params.zero_point, want.zero_point) << rec.tensor;
    } else if (rec.kind == "weight") {
      EXPECT_EQ(rec.params.qtype, DType::Int8);
      EXPECT_EQ(rec.params.axis, 0) << rec.tensor;  // output channels: Conv [M,..], Gemm transB=1 [N,K]
      EXPECT_EQ(rec.params.scale.size(), rec.tensor == "conv.w" ? 4u : 3u);
      for (int32_t z : rec.params.zero_point) EXPECT_EQ(z, 0);
    } else {
      ASSERT_EQ(rec.kind, "bias");
      EXPECT_EQ(rec.params.qtype, DType::Int32);
      // scale = s_input * s_weight[c]
      const std::string input = rec.tensor == "conv.b" ? "image" : "flatten_out";
      const std::string weight = rec.tensor == "conv.b" ? "conv.w" : "fc.w";
      const QuantRecord *in = nullptr, *w = nullptr;
      for (const auto& o2 : r.records) {
        if (o2.tensor == input) in = &o2;
        if (o2.tensor == weight) w = &o2;
      }
      ASSERT_TRUE(in && w);
      for (size_t c = 0; c < rec.params.scale.size(); ++c)
        EXPECT_FLOAT_EQ(rec.params.scale[c], in->params.scale[0] * w->params.scale[c]);
    }
  }
  // The stored int8 weight dequantizes to exactly quant_math's fake_quant of the float weight.
  const Tensor& wq = *q.graph.value("conv.w_quantized").initializer;
  const Tensor& w = *m.graph.value("conv.w").initializer;
  const QuantParams& wp = *q.graph.value("conv.w_quantized").quant;
  const Tensor deq = quant::dequantize(wq, wp), fq = quant::fake_quant(w, wp);
  for (int64_t i = 0; i < w.numel(); ++i) EXPECT_EQ(deq.data<float>()[i], fq.data<float>()[i]);
  EXPECT_FALSE(q.graph.find_value("conv.w")) << "the float weight nothing reads any more is dropped";

  // The quantized model runs and stays close to the float one (8-bit: a few percent of the range).
  const double d = max_output_diff(m, q, x);
  std::cout << "max |float - quantized| = " << d << "\n";
  EXPECT_LT(d, 0.05);
  EXPECT_GT(d, 0.0) << "quantization should change the result a little";
}

TEST(QuantizeStatic, TensorRtPresetIsSymmetricInt8WithFloatBias) {
  Model m = conv_gemm();
  const Tensor x = rnd({2, 2, 6, 6}, 9, 0.f, 1.f);
  StaticQuantOptions o;
  o.target = QuantTarget::TensorRT;
  o.activation_type = DType::UInt8;  // ignored by the preset
  const StaticQuantPlan plan = plan_static(m, o);
  Model q = conv_gemm();
  const StaticQuantResult r = apply_static(q, plan, ranges_from_data(m, plan, x), o);
  for (const QuantRecord& rec : r.records) {
    EXPECT_NE(rec.kind, "bias") << "TensorRT keeps float biases";
    EXPECT_EQ(rec.params.qtype, DType::Int8) << rec.tensor;
    for (int32_t z : rec.params.zero_point) EXPECT_EQ(z, 0) << rec.tensor;
  }
  EXPECT_EQ(op_counts(q)["DequantizeLinear"], 4);
  EXPECT_LT(max_output_diff(m, q, x), 0.05);
}

TEST(QuantizeStatic, ExclusionsOverridesAndZeroRanges) {
  Model m = conv_gemm();
  StaticQuantOptions o;
  o.exclude_nodes = {"logits"};
  StaticQuantPlan plan = plan_static(m, o);
  EXPECT_EQ(plan.nodes, std::vector<std::string>{"conv"});
  EXPECT_EQ(plan.activations, std::vector<std::string>{"image"});

  o = StaticQuantOptions{};
  o.exclude_op_types = {"Conv", "Gemm"};
  EXPECT_TRUE(plan_static(m, o).nodes.empty()) << "nothing left to quantize";

  // Per-tensor override for one node; a zero (all-zero) range gives a warning and a valid scale.
  o = StaticQuantOptions{};
  o.overrides["conv"].per_channel = 0;
  plan = plan_static(m, o);
  std::map<std::string, quant::Range> ranges = {{"image", {0.f, 1.f, false}}, {"flatten_out", {0.f, 0.f, true}}};
  Model q = conv_gemm();
  const StaticQuantResult r = apply_static(q, plan, ranges, o);
  bool warned = false;
  for (const auto& w : r.warnings) warned |= w.find("'flatten_out'") != std::string::npos;
  EXPECT_TRUE(warned);
  for (const QuantRecord& rec : r.records) {
    for (float s : rec.params.scale) EXPECT_TRUE(std::isfinite(s) && s > 0) << rec.tensor;
    if (rec.tensor == "conv.w") {
      EXPECT_EQ(rec.params.scale.size(), 1u) << "per-tensor override";
    }
    if (rec.tensor == "fc.w") {
      EXPECT_EQ(rec.params.scale.size(), 3u);
    }
  }
  Executor(q).run({{"image", rnd({1, 2, 6, 6}, 3, 0.f, 1.f)}});

  // A range override replaces the calibrated one.
  o = StaticQuantOptions{};
  o.range_overrides["image"] = {-2.f, 2.f, false};
  plan = plan_static(m, o);
  Model q2 = conv_gemm();
  const StaticQuantResult r2 = apply_static(q2, plan, {{"image", {0.f, 1.f, false}}, {"flatten_out", {0.f, 3.f, false}}}, o);
  for (const QuantRecord& rec : r2.records)
    if (rec.tensor == "image") {
      EXPECT_FLOAT_EQ(rec.params.scale[0], 4.f / 255.f);
    }
}

TEST(QuantizeStatic, OpsetLimitsAreErrors) {
  EXPECT_THROW(plan_static(conv_gemm(9), StaticQuantOptions{}), Error);   // no QuantizeLinear
  EXPECT_THROW(plan_static(conv_gemm(12), StaticQuantOptions{}), Error);  // per-channel DQ needs 13
  StaticQuantOptions per_tensor;
  per_tensor.per_channel = false;
  EXPECT_NO_THROW(plan_static(conv_gemm(12), per_tensor));
  StaticQuantOptions int4;
  int4.weight_type = DType::Int4;
  EXPECT_THROW(plan_static(conv_gemm(17), int4), Error);
}

TEST(QuantizeStatic, WeightOnlyInt4BlockedAtOpset21) {
  Model m = conv_gemm(21);
  StaticQuantOptions o;
  o.weight_type = DType::Int4;
  o.weight_block_size = 16;
  o.target = QuantTarget::TensorRT;
  StaticQuantPlan plan = plan_static(m, o);
  plan.activations.clear();
  Model q = conv_gemm(21);
  const StaticQuantResult r = apply_static(q, plan, {}, o);
  EXPECT_EQ(op_counts(q)["QuantizeLinear"], 0);
  EXPECT_EQ(op_counts(q)["DequantizeLinear"], 2);
  for (const QuantRecord& rec : r.records) {
    EXPECT_EQ(rec.params.qtype, DType::Int4);
    EXPECT_EQ(rec.params.block_size, 16);
  }
  // Gemm fc.w [3, 64] transB=1: blocks along K (axis 1): 3 x 4 scales.
  EXPECT_EQ(q.graph.value("fc.w_quantized").quant->scale.size(), 12u);
  const double d = max_output_diff(m, q, rnd({2, 2, 6, 6}, 9, 0.f, 1.f));
  std::cout << "int4 weight-only max diff " << d << "\n";
  EXPECT_LT(d, 0.2);
}

TEST(QuantizeDynamic, MatMulBecomesIntegerMatMulWithRuntimeScales) {
  B b("mm", 17);
  const std::string x = b.input("image", DType::Float32, {-1, 5, 8});
  b.initializer("w", rnd({8, 6}, 5));
  b.initializer("gw", rnd({4, 6}, 6));
  b.initializer("gb", rnd({4}, 7));
  std::string y = b.op("MatMul", {x, "w"}, {}, "mm");
  y = b.op("Reshape", {y, b.initializer("shape", Tensor::from_vector<int64_t>({2}, {-1, 6}))}, {}, "flat");
  b.output(b.op("Gemm", {y, "gw", "gb"}, {{"transB", B::i(1)}, {"beta", B::f(0.5f)}}, "logits"));
  Model m = b.build();
  infer_shapes(m);
  Model q = clone_model(m);
  const StaticQuantResult r = apply_dynamic(q, DynamicQuantOptions{});
  EXPECT_EQ(r.records.size(), 2u);
  auto counts = op_counts(q);
  EXPECT_EQ(counts["DynamicQuantizeLinear"], 2);
  EXPECT_EQ(counts["MatMulInteger"], 2);
  EXPECT_EQ(counts["MatMul"], 0);
  EXPECT_EQ(counts["Gemm"], 0);
  const Tensor in = rnd({3, 5, 8}, 8);
  const double d = max_output_diff(m, q, in);
  std::cout << "dynamic max diff " << d << "\n";
  EXPECT_LT(d, 0.05);
  EXPECT_GT(d, 0.0);
}

}  // namespace
}  // namespace octet
