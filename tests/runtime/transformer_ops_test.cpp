// The engine's fast transformer ops against the reference executor: MatMul of two run-time
// operands with broadcast batch dims (fast/matmul_f32.cpp), Softmax along the last axis and the
// opset < 13 coerced form, exact Gelu (fast/act.cpp), Mul/Sub/Div by a constant scalar
// (fast/eltwise.cpp) and GlobalAveragePool (fast/pool.cpp, the float ops around the convolutions);
// the cases these fast ops leave to the reference (other axes, Gelu's tanh form) keep the
// reference's result. Float results within the tolerances their kernels' tests establish.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "../test_util.h"
#include "ir/builder.h"
#include "runtime/engine.h"
#include "runtime/executor.h"
#include "runtime/fast/fast_op.h"
#include "kernels/avx512/sgemm_narrow_zmm.h"
#include "runtime/fast/post_ops.h"
#include "runtime/shape_inference.h"

namespace octet {
namespace {

using B = GraphBuilder;

Tensor abs_of(const Tensor& t) {
  Tensor a = t.clone();
  for (int64_t i = 0; i < a.numel(); ++i) a.data<float>()[i] = std::fabs(a.data<float>()[i]);
  return a;
}

Model matmul_model(const Shape& sa, const Shape& sb) {
  B g("mm", 17);
  const std::string a = g.input("a", DType::Float32, sa), b = g.input("b", DType::Float32, sb);
  g.output(g.op("MatMul", {a, b}, {}, "mm"));
  Model m = g.build();
  infer_shapes(m);
  return m;
}

TEST(EngineTransformerOps, MatMulOfTwoRuntimeOperandsBroadcastsBatchDims) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const std::vector<std::pair<Shape, Shape>> cases = {
      {{2, 3, 65, 16}, {2, 3, 16, 65}},  // attention scores
      {{2, 3, 49, 16}, {2, 3, 16, 49}},  // attention scores on 7 x 7 patches: the narrow tiles
      {{1, 2, 9, 300}, {1, 2, 300, 40}},  // a narrow N, K past the rows kernel's limit: the 6x16 tiles
      {{2, 3, 5, 7}, {3, 7, 4}},         // B broadcast over the leading dim
      {{5, 7}, {2, 7, 9}},               // A broadcast
      {{1, 3, 4, 6}, {2, 1, 6, 5}},      // both broadcast
      {{1, 1}, {1, 1}},
      {{3, 0, 4}, {3, 4, 2}},            // empty M
  };
  uint32_t seed = 40;
  for (const auto& [sa, sb] : cases) {
    SCOPED_TRACE(::testing::Message() << shape_str(sa) << " x " << shape_str(sb));
    const Model m = matmul_model(sa, sb);
    const Tensor a = testing::random_float(sa, seed++), b = testing::random_float(sb, seed++);
    const std::string out = m.graph.outputs[0];
    const Tensor want = Executor(m).run({{"a", a}, {"b", b}}).at(out);
    const Tensor mag = Executor(m).run({{"a", abs_of(a)}, {"b", abs_of(b)}}).at(out);
    EngineOptions eo;
    eo.threads = 2;
    Engine e(m, eo);
    const int64_t N = sb.back(), K = sa.back();
    EXPECT_EQ(e.layers()[0].kernel, fast::act_zmm() && N >= 2 && kernels::sgemm_narrow_wins(N) && K <= 256
                                        ? "matmul_f32_dyn_narrow_avx512"
                                        : "matmul_f32_dyn_sgemm_6x16_avx2");
    const Tensor got = e.run({{"a", a}, {"b", b}}).at(out);
    ASSERT_EQ(got.shape(), want.shape());
    for (int64_t i = 0; i < want.numel(); ++i)
      ASSERT_LE(std::fabs(got.data<float>()[i] - want.data<float>()[i]),
                2.0 * (K + 4) * std::ldexp(1.0, -24) * mag.data<float>()[i])
          << "element " << i;
  }
}

// One unary op on x, run by the engine and the reference; returns the largest relative difference
// max |got - want| / (|want| + floor) and the kernel the engine chose.
struct UnaryRun {
  double rel;
  std::string kernel;
};
UnaryRun run_unary(const std::string& op, std::map<std::string, Attribute> attrs, const Tensor& x, int64_t opset,
                   double floor) {
  B g("u", opset);
  const std::string in = g.input("x", DType::Float32, x.shape());
  g.output(g.op(op, {in}, attrs, "op"));
  Model m = g.build();
  infer_shapes(m);
  const std::string out = m.graph.outputs[0];
  const Tensor want = Executor(m).run({{"x", x}}).at(out);
  Engine e(m);
  const Tensor got = e.run({{"x", x}}).at(out);
  double rel = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double w = want.data<float>()[i], v = got.data<float>()[i];
    if (std::isnan(w) || std::isnan(v)) {
      rel = std::isnan(w) && std::isnan(v) ? rel : INFINITY;
      continue;
    }
    rel = std::max(rel, std::fabs(v - w) / (std::fabs(w) + floor));
  }
  return {rel, e.layers()[0].kernel};
}

TEST(EngineTransformerOps, SoftmaxAndGeluMatchTheReference) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const Tensor x = testing::random_float({2, 3, 9, 17}, 3, -6.f, 6.f);
  UnaryRun r = run_unary("Softmax", {}, x, 17, 1e-30);
  EXPECT_EQ(r.kernel, std::string("softmax_f32_rows_") + fast::act_isa());
  EXPECT_LT(r.rel, 4e-6);
  r = run_unary("Softmax", {{"axis", B::i(3)}}, x, 17, 1e-30);
  EXPECT_EQ(r.kernel, std::string("softmax_f32_rows_") + fast::act_isa());
  EXPECT_LT(r.rel, 4e-6);
  r = run_unary("Softmax", {{"axis", B::i(1)}}, x, 11, 1e-30);  // coerced to rows of 3 * 9 * 17
  EXPECT_EQ(r.kernel, std::string("softmax_f32_rows_") + fast::act_isa());
  EXPECT_LT(r.rel, 4e-6);
  r = run_unary("Softmax", {{"axis", B::i(1)}}, x, 17, 1e-30);  // not the last axis: reference
  EXPECT_EQ(r.rel, 0.0);
  r = run_unary("Gelu", {}, x, 20, 1e-30);
  EXPECT_EQ(r.kernel, std::string("gelu_f32_") + fast::act_isa());
  EXPECT_LT(r.rel, 1.2e-5);
  r = run_unary("Gelu", {{"approximate", B::s("tanh")}}, x, 20, 1e-30);
  EXPECT_EQ(r.kernel, "reference");
  EXPECT_EQ(r.rel, 0.0);
}

// LayerNormalization on the engine: the last axis or the last two, with and without B, gives the
// reference op's bits; broadcast parameters, a used Mean output, a float64 input and a
// non-default stash_type stay on the reference op.
TEST(EngineTransformerOps, LayerNormalizationMatchesTheReference) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  const Tensor x = testing::random_float({2, 5, 3, 24}, 7, -4.f, 9.f);
  struct Case {
    int64_t axis;
    std::vector<int64_t> param;  // Scale and B shape
    bool bias, mean_out;
    std::string kernel;
  };
  const std::string fast_ln = std::string("layernorm_f32_") + fast::act_isa();
  const std::vector<Case> cases = {
      {-1, {24}, true, false, fast_ln},  {-1, {1, 24}, false, false, fast_ln},
      {2, {3, 24}, true, false, fast_ln}, {-2, {1, 24}, true, false, "reference"},  // broadcast
      {-1, {24}, true, true, "reference"},
  };
  for (const Case& c : cases) {
    B g("ln", 17);
    const std::string in = g.input("x", DType::Float32, x.shape());
    std::vector<std::string> ins = {in, g.initializer("scale", testing::random_float(c.param, 8, 0.5f, 2.f))};
    if (c.bias) ins.push_back(g.initializer("bias", testing::random_float(c.param, 9, -1.f, 1.f)));
    const std::vector<std::string> outs = g.node("LayerNormalization", ins, {{"axis", B::i(c.axis)}, {"epsilon", B::f(1e-3f)}},
                                                 c.mean_out ? 2 : 1, "ln");
    for (const auto& o : outs) g.output(o);
    Model m = g.build();
    infer_shapes(m);
    const Tensor want = Executor(m).run({{"x", x}}).at(outs[0]);
    EngineOptions eo;
    eo.profile = true;  // the profile names the kernel that ran (a declined shape: "reference")
    Engine e(m, eo);
    const Tensor got = e.run({{"x", x}}).at(outs[0]);
    EXPECT_EQ(e.layers()[0].kernel, c.kernel) << "axis " << c.axis;
    ASSERT_EQ(got.shape(), want.shape());
    for (int64_t i = 0; i < want.numel(); ++i) {
      const double w = want.data<float>()[i], v = got.data<float>()[i];
      ASSERT_EQ(v, w) << "axis " << c.axis << " element " << i;
    }
  }
  // float64 X, Scale and B; stash_type double (the statistics outputs' type, which the fast op
  // does not write): the reference op.
  for (bool f64 : {true, false}) {
    B g("ln64", 17);
    const DType t = f64 ? DType::Float64 : DType::Float32;
    const Tensor x2 = f64 ? testing::random_float({4, 8}, 3).cast(DType::Float64) : testing::random_float({4, 8}, 3);
    const std::string in = g.input("x", t, x2.shape());
    const Tensor sc = testing::random_float({8}, 4);
    std::map<std::string, Attribute> attrs;
    if (!f64) attrs["stash_type"] = B::i(11);
    g.output(g.op("LayerNormalization", {in, g.initializer("scale", f64 ? sc.cast(DType::Float64) : sc)}, attrs, "ln"));
    Model m = g.build();
    infer_shapes(m);
    EngineOptions eo;
    eo.profile = true;
    Engine e(m, eo);
    const Tensor got = e.run({{"x", x2}}).at(m.graph.outputs[0]);
    const Tensor want = Executor(m).run({{"x", x2}}).at(m.graph.outputs[0]);
    EXPECT_EQ(e.layers()[0].kernel, "reference") << (f64 ? "float64" : "stash_type 11");
    EXPECT_EQ(std::memcmp(got.raw(), want.raw(), want.nbytes()), 0);
  }
}

// Transpose on the engine gives the reference op's bits: permutations that keep the innermost
// dim (row copies), move it (2-D transposes), reverse everything (no perm attribute), or are the
// identity; dims of size 1 that vanish in the reduction; float32 with a NaN payload and int32 on
// the fast op, uint8 and int64 on the reference; 1, 2 and 3 threads.
TEST(EngineTransformerOps, TransposeEqualsTheReference) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  struct Case {
    std::vector<int64_t> shape, perm;  // empty perm: no attribute
  };
  const std::vector<Case> cases = {
      {{6, 50, 4, 16}, {0, 2, 1, 3}}, {{6, 50, 4, 16}, {0, 2, 3, 1}}, {{5, 64, 49}, {0, 2, 1}},
      {{3, 4, 5, 6}, {3, 2, 1, 0}},   {{3, 4, 5, 6}, {}},             {{3, 4, 5, 6}, {0, 1, 2, 3}},
      {{1, 9, 1, 13}, {3, 1, 2, 0}},  {{2, 3, 4, 5}, {1, 0, 2, 3}},   {{2, 3, 4, 5}, {2, 3, 0, 1}},
      {{300, 70}, {1, 0}},            {{7}, {0}},                     {{5000, 3}, {1, 0}},
      {{3000, 3, 4}, {0, 2, 1}},      {{40, 3, 900}, {0, 2, 1}},      {{1, 1, 1}, {2, 0, 1}},
      {{4, 0, 5}, {2, 1, 0}},         {{}, {}},                       {{2, 100, 600}, {0, 2, 1}},
      {{2, 600, 100}, {0, 2, 1}},  // blocks of 60,000: cut into pieces along the columns, the rows
      {{40, 6, 5, 4}, {2, 1, 0, 3}}, {{3, 50, 7, 16}, {2, 0, 1, 3}},  // row gathers: carries, chunks
  };
  for (DType t : {DType::Float32, DType::Int32, DType::UInt32, DType::UInt8, DType::Int64}) {
    for (const Case& c : cases) {
      B g("tr", 17);
      const std::string in = g.input("x", t, c.shape);
      std::map<std::string, Attribute> attrs;
      if (!c.perm.empty()) attrs["perm"] = B::ints(c.perm);
      g.output(g.op("Transpose", {in}, attrs, "tr"));
      Model m = g.build();
      infer_shapes(m);
      Tensor x = testing::random_float(c.shape, 11, -1e6f, 1e6f).cast(t);
      if (t == DType::Float32) {
        const uint32_t nan = 0x7fc01234u;
        std::memcpy(x.data<float>() + x.numel() / 2, &nan, 4);
      }
      const Tensor want = Executor(m).run({{"x", x}}).at(m.graph.outputs[0]);
      for (int threads : {1, 2, 3}) {
        EngineOptions eo;
        eo.threads = threads;
        eo.profile = true;
        Engine e(m, eo);
        const Tensor got = e.run({{"x", x}}).at(m.graph.outputs[0]);
        const bool fast = t == DType::Float32 || t == DType::Int32 || t == DType::UInt32;
        EXPECT_EQ(e.layers()[0].kernel, fast ? "transpose_b32_avx2" : "reference") << dtype_name(t);
        ASSERT_EQ(got.shape(), want.shape());
        EXPECT_EQ(std::memcmp(got.raw(), want.raw(), want.nbytes()), 0)
            << dtype_name(t) << " " << shape_str(c.shape) << " perm " << shape_str(c.perm) << ", " << threads << " threads";
      }
    }
  }
}

// A perm the reference rejects (repeated, out of range, wrong length) is the reference op's Error
// on the engine too, never a result.
TEST(EngineTransformerOps, TransposeWithABadPermIsTheReferenceError) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  for (const std::vector<int64_t>& perm : std::vector<std::vector<int64_t>>{{0, 0, 1}, {0, 1, 3}, {1, 0}, {-1, 0, 1}}) {
    B g("tr", 17);
    const std::string in = g.input("x", DType::Float32, {2, 3, 4});
    g.output(g.op("Transpose", {in}, {{"perm", B::ints(perm)}}, "tr"));
    Model m = g.build();  // no shape inference: it would reject the perm first
    const Tensor x = testing::random_float({2, 3, 4}, 1);
    EXPECT_THROW(Executor(m).run({{"x", x}}), Error) << shape_str(perm);
    EXPECT_THROW(Engine(m).run({{"x", x}}), Error) << shape_str(perm);
  }
}

// Mul, Sub and Div with a constant float scalar on either side (attention's scaling, input
// normalisation): one IEEE operation per element, equal to the reference bit for bit.
TEST(EngineTransformerOps, ArithmeticWithAConstantScalarIsExact) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  struct Case {
    const char* op;
    bool scalar_first;
    const char* kernel;
  };
  const Case cases[] = {{"Mul", false, "mul_scalar_f32_avx2"}, {"Mul", true, "mul_scalar_f32_avx2"},
                        {"Sub", false, "sub_scalar_f32_avx2"}, {"Sub", true, "rsub_scalar_f32_avx2"},
                        {"Div", false, "div_scalar_f32_avx2"}, {"Div", true, "rdiv_scalar_f32_avx2"}};
  for (const Case& c : cases) {
    B g("arith", 17);
    const std::string x = g.input("x", DType::Float32, {3, 5, 7});
    g.initializer("s", Tensor::from_vector<float>({1, 1, 1}, {0.3081f}));  // a [1,1,1] constant, like a mean
    g.output(g.op(c.op, c.scalar_first ? std::vector<std::string>{"s", x} : std::vector<std::string>{x, "s"}, {}, "y"));
    Model m = g.build();
    infer_shapes(m);
    const Tensor in = testing::random_float({3, 5, 7}, 9);
    Engine e(m);
    EXPECT_EQ(e.layers()[0].kernel, c.kernel) << c.op;
    const Tensor got = e.run({{"x", in}}).at(m.graph.outputs[0]);
    const Tensor want = Executor(m).run({{"x", in}}).at(m.graph.outputs[0]);
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_EQ(std::memcmp(got.raw(), want.raw(), got.nbytes()), 0) << c.op << " scalar first: " << c.scalar_first;
  }
}

// GlobalAveragePool on the fast kernel, rank 4 and rank 3, equal to the reference bit for bit.
// Add of a tensor and a bias row broadcast along its leading dims (either operand order, [D] or
// [1, D], with and without a fused Relu) runs on add_f32_avx2 with the reference's bits; other
// broadcasts, and rows shorter than 8, are left to the reference op (the profile says so) with
// the reference's result.
TEST(EngineTransformerOps, AddOfABiasRowIsExact) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  struct Case {
    Shape a, b;
    bool relu, fast;
  };
  const std::vector<Case> cases = {
      {{2, 65, 48}, {48}, false, true},    // a transformer's bias
      {{48}, {2, 65, 48}, true, true},     // the other order, Relu fused
      {{3, 5, 13}, {1, 13}, false, true},  // a row that is not a multiple of 8
      {{4, 2, 3, 10}, {3, 10}, true, true},  // a row of two dims
      {{1, 9}, {9}, false, true},          // one row
      {{3, 5, 7}, {7}, false, false},      // row too short: reference
      {{3, 5, 16}, {5, 1}, false, false},  // broadcast along the last dim: reference
      {{3, 16}, {1, 1}, false, false},     // a scalar: reference
      {{16}, {1, 16}, false, false},       // the result takes the row's rank: reference
  };
  uint32_t seed = 90;
  for (const Case& t : cases) {
    SCOPED_TRACE(::testing::Message() << shape_str(t.a) << " + " << shape_str(t.b) << (t.relu ? " relu" : ""));
    B g("add", 17);
    const std::string a = g.input("a", DType::Float32, t.a), b = g.input("b", DType::Float32, t.b);
    std::string y = g.op("Add", {a, b}, {}, "add");
    if (t.relu) y = g.op("Relu", {y}, {}, "relu");
    g.output(y);
    Model m = g.build();
    infer_shapes(m);
    Tensor ta = testing::random_float(t.a, seed++), tb = testing::random_float(t.b, seed++);
    ta.data<float>()[0] = std::nanf("");  // NaN propagates as the reference's does
    const std::string out = m.graph.outputs[0];
    const Tensor want = Executor(m).run({{"a", ta}, {"b", tb}}).at(out);
    for (int threads : {1, 2}) {
      EngineOptions eo;
      eo.threads = threads;
      eo.profile = true;
      Engine e(m, eo);
      const Tensor got = e.run({{"a", ta}, {"b", tb}}).at(out);
      ASSERT_EQ(got.shape(), want.shape());
      EXPECT_EQ(std::memcmp(got.raw(), want.raw(), want.nbytes()), 0) << threads << " threads";
      EXPECT_EQ(e.layers()[0].kernel, t.fast ? "add_f32_avx2" : "reference");
    }
  }
}

TEST(EngineTransformerOps, GlobalAveragePoolIsExact) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  for (const Shape& shape : {Shape{2, 19, 7, 7}, Shape{3, 8, 5}}) {
    B g("gap", 17);
    const std::string x = g.input("x", DType::Float32, shape);
    g.output(g.op("GlobalAveragePool", {x}, {}, "gap"));
    Model m = g.build();
    infer_shapes(m);
    const Tensor in = testing::random_float(shape, 11);
    Engine e(m);
    EXPECT_EQ(e.layers()[0].kernel, "global_avgpool_f32_avx2");
    const Tensor got = e.run({{"x", in}}).at(m.graph.outputs[0]);
    const Tensor want = Executor(m).run({{"x", in}}).at(m.graph.outputs[0]);
    ASSERT_EQ(got.shape(), want.shape());
    EXPECT_EQ(std::memcmp(got.raw(), want.raw(), got.nbytes()), 0) << shape.size();
  }
}

}  // namespace
}  // namespace octet
