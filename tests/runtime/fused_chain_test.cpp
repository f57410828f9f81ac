// Element-wise nodes fused after a float MatMul / Gemm (fast/post_ops.h): the engine applies a
// chain such as Add(bias) -> Gelu or Mul(scale) -> Softmax to each block of the product's output.
// The fused engine must give the unfused engine's bits (same kernels, block-independent), name
// the fused nodes in its profile, stop a chain at a value that is observed, read twice or a graph
// output, and hand a chain that does not fit the run's shapes back to the nodes one by one.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "../test_util.h"
#include "ir/builder.h"
#include "runtime/engine.h"
#include "runtime/executor.h"
#include "runtime/fast/fast_op.h"
#include "runtime/fast/post_ops.h"
#include "runtime/shape_inference.h"

namespace octet {
namespace {

using B = GraphBuilder;

Tensor scalar(float v) {
  Tensor t(DType::Float32, {});
  t.data<float>()[0] = v;
  return t;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

struct Runs {
  Tensor fused, unfused, reference;
  std::vector<EngineLayer> layers;
};

// Runs `m` on the engine with and without fusion (threads as given) and on the reference.
Runs run_three(const Model& m, const std::map<std::string, Tensor>& feeds, int threads = 2,
               const std::set<std::string>& observe = {}) {
  const std::string out = m.graph.outputs[0];
  Runs r;
  EngineOptions eo;
  eo.threads = threads;
  eo.observe = observe;
  Engine fused(m, eo);
  r.fused = fused.run(feeds).at(out);
  r.layers = fused.layers();
  eo.fuse_activations = false;
  r.unfused = Engine(m, eo).run(feeds).at(out);
  r.reference = Executor(m).run(feeds).at(out);
  return r;
}

// max |got - want| / (|want| + floor): a sanity bound against the reference (whose Gelu, Softmax
// and sums round differently); the exactness checked here is against the unfused engine.
double max_rel(const Tensor& got, const Tensor& want, double floor) {
  double rel = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double w = want.data<float>()[i], v = got.data<float>()[i];
    rel = std::max(rel, std::fabs(v - w) / (std::fabs(w) + floor));
  }
  return rel;
}

TEST(EngineFusedChain, BiasAndGeluAfterAMatMulGiveTheUnfusedBits) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  for (const int64_t n : {40, 7, 128}) {  // a partial 16-column panel, a row shorter than a vector
    SCOPED_TRACE(n);
    B g("mlp", 20);
    const std::string x = g.input("x", DType::Float32, {5, 49, 24});
    const std::string w = g.initializer("w", testing::random_float({24, n}, 1));
    const std::string b = g.initializer("b", testing::random_float({n}, 2));
    const std::string mm = g.op("MatMul", {x, w}, {}, "fc");
    const std::string add = g.op("Add", {b, mm}, {}, "bias");  // the bias first: Add commutes
    g.output(g.op("Gelu", {add}, {}, "gelu"));
    Model m = g.build();
    infer_shapes(m);
    const Tensor xv = testing::random_float({5, 49, 24}, 3, -3.f, 3.f);
    for (int threads : {1, 3}) {
      const Runs r = run_three(m, {{"x", xv}}, threads);
      ASSERT_EQ(r.layers.size(), 1u);
      EXPECT_EQ(r.layers[0].fused, (std::vector<std::string>{"bias", "gelu"}));
      EXPECT_TRUE(same_bits(r.fused, r.unfused));
      EXPECT_LT(max_rel(r.fused, r.reference, 1.0), 1e-4);
    }
  }
}

TEST(EngineFusedChain, ScaleAndSoftmaxAfterAttentionScoresGiveTheUnfusedBits) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  B g("attn", 17);
  const std::string q = g.input("q", DType::Float32, {2, 4, 49, 16});
  const std::string k = g.input("k", DType::Float32, {2, 4, 16, 49});
  const std::string s = g.op("MatMul", {q, k}, {}, "scores");
  const std::string scaled = g.op("Mul", {s, g.initializer("c", scalar(0.25f))}, {}, "scale");
  g.output(g.op("Softmax", {scaled}, {{"axis", B::i(-1)}}, "softmax"));
  Model m = g.build();
  infer_shapes(m);
  const Tensor qv = testing::random_float({2, 4, 49, 16}, 4, -2.f, 2.f);
  const Tensor kv = testing::random_float({2, 4, 16, 49}, 5, -2.f, 2.f);
  const Runs r = run_three(m, {{"q", qv}, {"k", kv}});
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].kernel,  // N = 49: the narrow tiles where the AVX-512 builds run
            fast::act_zmm() ? "matmul_f32_dyn_narrow_avx512" : "matmul_f32_dyn_sgemm_6x16_avx2");
  EXPECT_EQ(r.layers[0].fused, (std::vector<std::string>{"scale", "softmax"}));
  EXPECT_TRUE(same_bits(r.fused, r.unfused));
  EXPECT_LT(max_rel(r.fused, r.reference, 1e-30), 1e-4);
}

// Attention's head splits: q and v [B, T, H, d] -> [B, H, T, d], k -> [B, H, d, T] (the scores'
// B operand, read transposed). Each Transpose read only by a run-time MatMul is folded into it
// (the MatMul reads the operand through the permutation) and listed among its fused nodes, with
// the unfused engine's bits; the head merge after the context product ([B, H, T, d] ->
// [B, T, H, d]) is written by the product itself, a Transpose that moves the last dim is not; an observed Transpose output stays a step of its own; a run whose
// operands do not fit declines, and the Transposes and the MatMul then run as nodes, with the
// reference's error.
TEST(EngineFusedChain, HeadSplitTransposesFoldIntoTheAttentionMatMuls) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  auto build = [](int64_t d_k, bool infer) {
    B g("heads", 17);
    const std::string q = g.input("q", DType::Float32, {2, 49, 4, 16});
    const std::string k = g.input("k", DType::Float32, {2, 49, 4, d_k});
    const std::string v = g.input("v", DType::Float32, {2, 49, 4, 16});
    const std::string qt = g.op("Transpose", {q}, {{"perm", B::ints({0, 2, 1, 3})}}, "q_t");
    const std::string kt = g.op("Transpose", {k}, {{"perm", B::ints({0, 2, 3, 1})}}, "k_t");
    const std::string vt = g.op("Transpose", {v}, {{"perm", B::ints({0, 2, 1, 3})}}, "v_t");
    const std::string s = g.op("MatMul", {qt, kt}, {}, "scores");
    const std::string scaled = g.op("Mul", {s, g.initializer("c", scalar(0.25f))}, {}, "scale");
    const std::string p = g.op("Softmax", {scaled}, {{"axis", B::i(-1)}}, "softmax");
    const std::string ctx = g.op("MatMul", {p, vt}, {}, "context");
    g.output(g.op("Transpose", {ctx}, {{"perm", B::ints({0, 2, 1, 3})}}, "merge"));  // [B, T, H, d]
    const std::string v2 = g.input("v2", DType::Float32, {2, 4, 49, 16});
    g.output(g.op("Transpose", {g.op("MatMul", {p, v2}, {}, "context2")}, {{"perm", B::ints({0, 1, 3, 2})}}, "moves_last"));
    Model m = g.build();
    if (infer) infer_shapes(m);  // (shape inference would reject the mismatch at load)
    return m;
  };
  const Model m = build(16, true);
  const std::map<std::string, Tensor> feeds = {{"q", testing::random_float({2, 49, 4, 16}, 31, -2.f, 2.f)},
                                               {"k", testing::random_float({2, 49, 4, 16}, 32, -2.f, 2.f)},
                                               {"v", testing::random_float({2, 49, 4, 16}, 33, -2.f, 2.f)},
                                               {"v2", testing::random_float({2, 4, 49, 16}, 35, -2.f, 2.f)}};
  for (int threads : {1, 2}) {
    const Runs r = run_three(m, feeds, threads);
    ASSERT_EQ(r.layers.size(), 4u);
    EXPECT_EQ(r.layers[0].node, "scores");
    EXPECT_EQ(r.layers[0].fused, (std::vector<std::string>{"q_t", "k_t", "scale", "softmax"}));
    EXPECT_EQ(r.layers[1].fused, (std::vector<std::string>{"v_t", "merge"}));  // the head merge written by the product
    EXPECT_TRUE(r.layers[2].fused.empty());
    EXPECT_EQ(r.layers[3].node, "moves_last") << "a Transpose that moves the last dim stays a step";
    EXPECT_TRUE(same_bits(r.fused, r.unfused));
    EXPECT_LT(max_rel(r.fused, r.reference, 1e-3), 1e-4);
  }
  std::string k_t_value;
  for (const auto& n : m.graph.nodes)
    if (n->name == "k_t") k_t_value = n->outputs[0];
  const Runs observed = run_three(m, feeds, 2, {k_t_value});
  ASSERT_EQ(observed.layers.size(), 5u);
  EXPECT_EQ(observed.layers[0].node, "k_t");
  EXPECT_EQ(observed.layers[1].fused, (std::vector<std::string>{"q_t", "scale", "softmax"}));
  EXPECT_TRUE(same_bits(observed.fused, observed.unfused));
  // k with d = 8 where q has 16: the scores' fast op declines, the nodes then report the mismatch.
  const Model bad = build(8, false);
  std::map<std::string, Tensor> bad_feeds = feeds;
  bad_feeds["k"] = testing::random_float({2, 49, 4, 8}, 34);
  auto error_of = [&](bool fuse) {
    EngineOptions eo;
    eo.fuse_activations = fuse;
    try {
      Engine(bad, eo).run(bad_feeds);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(Engine(bad, EngineOptions{}).layers()[0].fused, (std::vector<std::string>{"q_t", "k_t"}));  // no shapes: no chain
  const std::string folded_error = error_of(true);
  EXPECT_NE(folded_error, "no error");
  EXPECT_EQ(folded_error, error_of(false));
}

// A residual connection after a product: MatMul -> Add(bias) -> Add(r, .) with r computed
// before the MatMul and of the product's shape (a named batch dim included) is fused, the addend
// read per block (PostOp::Kind::AddTensor), with the unfused bits; also after a run-time MatMul.
// An Add whose other operand comes after the product, or broadcasts, stays a node.
TEST(EngineFusedChain, ResidualAddAfterAProductGivesTheUnfusedBits) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  B g("residual", 17);
  const std::string x = g.input("x", DType::Float32, {-1, 7, 40});
  const std::string r = g.op("Relu", {x}, {}, "r");
  const std::string mm = g.op("MatMul", {x, g.initializer("w", testing::random_float({40, 40}, 41))}, {}, "mm");
  const std::string biased = g.op("Add", {mm, g.initializer("b", testing::random_float({40}, 42))}, {}, "bias");
  const std::string res = g.op("Add", {r, biased}, {}, "residual");
  const std::string xt = g.op("Transpose", {x}, {{"perm", B::ints({0, 2, 1})}}, "xt");
  const std::string mm2 = g.op("MatMul", {res, xt}, {}, "mm2");  // run-time operands, [N, 7, 7]
  const std::string late = g.op("Sigmoid", {mm2}, {}, "late");
  const std::string res2 = g.op("Add", {mm2, g.op("MatMul", {x, xt}, {}, "mm3")}, {}, "residual2");
  const std::string bcast = g.op("Add", {g.op("MatMul", {res2, late}, {}, "mm4"),
                                         g.op("ReduceMean", {res2}, {{"axes", B::ints({1})}, {"keepdims", B::i(1)}}, "row")},
                                 {}, "broadcast");
  g.output(bcast);
  Model m = g.build();
  infer_shapes(m);
  const Runs runs = run_three(m, {{"x", testing::random_float({3, 7, 40}, 43)}});
  auto layer = [&](const std::string& node) {
    for (const auto& l : runs.layers)
      if (l.node == node) return l;
    ADD_FAILURE() << "no layer " << node;
    return EngineLayer{};
  };
  EXPECT_EQ(layer("mm").fused, (std::vector<std::string>{"bias", "residual"}));
  EXPECT_EQ(layer("mm3").fused, (std::vector<std::string>{"residual2"}));  // mm2 is computed by then
  EXPECT_TRUE(layer("mm2").fused.empty()) << "read twice (Sigmoid, Add): the chain stops";
  EXPECT_TRUE(layer("mm4").fused.empty()) << "the row mean broadcasts: not the product's shape";
  EXPECT_TRUE(same_bits(runs.fused, runs.unfused));
  EXPECT_LT(max_rel(runs.fused, runs.reference, 1e-3), 1e-4);
}

// A Gemm with its own bias, then Add(row) -> Div(scalar) -> Sub(scalar - x) -> Clip: all four
// fused, the clamp last (not in the SGEMM epilogue, which holds the Gemm's bias).
TEST(EngineFusedChain, LongChainAfterAGemmWithBiasGivesTheUnfusedBits) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  B g("gemm", 13);
  const std::string x = g.input("x", DType::Float32, {37, 20});
  const std::string y = g.op("Gemm",
                             {x, g.initializer("w", testing::random_float({33, 20}, 6)),
                              g.initializer("c", testing::random_float({33}, 7))},
                             {{"transB", B::i(1)}}, "gemm");
  const std::string a = g.op("Add", {y, g.initializer("row", testing::random_float({1, 33}, 8))}, {}, "add");
  const std::string d = g.op("Div", {a, g.initializer("three", scalar(3.f))}, {}, "div");
  const std::string sub = g.op("Sub", {g.initializer("half", scalar(0.5f)), d}, {}, "rsub");
  g.output(g.op("Clip", {sub, g.initializer("lo", scalar(-0.2f)), g.initializer("hi", scalar(0.6f))}, {}, "clip"));
  Model m = g.build();
  infer_shapes(m);
  const Runs r = run_three(m, {{"x", testing::random_float({37, 20}, 9)}});
  ASSERT_EQ(r.layers.size(), 1u);
  EXPECT_EQ(r.layers[0].fused, (std::vector<std::string>{"add", "div", "rsub", "clip"}));
  EXPECT_TRUE(same_bits(r.fused, r.unfused));
  EXPECT_LT(max_rel(r.fused, r.reference, 1.0), 1e-4);
}

// A chain ends at a value that is observed or a graph output (that value is the fused step's
// result), and does not start when the product is read twice; observed values keep their
// unfused bits.
TEST(EngineFusedChain, StopsAtObservedSharedAndOutputValues) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  B g("stops", 20);
  const std::string x = g.input("x", DType::Float32, {8, 16});
  const std::string mm = g.op("MatMul", {x, g.initializer("w", testing::random_float({16, 24}, 10))}, {}, "mm");
  const std::string add = g.op("Add", {mm, g.initializer("b", testing::random_float({24}, 11))}, {}, "add");
  const std::string gelu = g.op("Gelu", {add}, {}, "gelu");
  const std::string mm2 = g.op("MatMul", {gelu, g.initializer("w2", testing::random_float({24, 24}, 12))}, {}, "mm2");
  const std::string relu = g.op("Relu", {mm2}, {}, "relu");  // mm2 is read by Relu and by the Add
  g.output(g.op("Add", {relu, mm2}, {}, "sum"));
  g.output(gelu);
  Model m = g.build();
  infer_shapes(m);
  const Tensor xv = testing::random_float({8, 16}, 13);
  EngineOptions eo;
  eo.fuse_activations = false;
  RunOptions keep;
  keep.keep_intermediates = true;
  const auto want = Engine(m, eo).run({{"x", xv}}, keep);

  auto fused_of = [](const Engine& e, const std::string& node) {
    for (const auto& l : e.layers())
      if (l.node == node) return l.fused;
    ADD_FAILURE() << node << " is not a step";
    return std::vector<std::string>{};
  };
  const std::vector<std::string> none;
  for (const std::string& observed : {std::string(), mm, add}) {
    SCOPED_TRACE(observed);
    EngineOptions fo;
    fo.threads = 2;
    if (!observed.empty()) fo.observe = {observed};
    Engine e(m, fo);
    std::map<std::string, Tensor> seen;
    const auto got = e.run({{"x", xv}}, RunOptions{}, [&](const std::string& name, const Tensor& v) { seen[name] = v; });
    if (observed.empty()) {
      EXPECT_EQ(fused_of(e, "mm"), (std::vector<std::string>{"add", "gelu"})) << "gelu, a graph output, ends it";
    } else if (observed == mm) {
      EXPECT_EQ(fused_of(e, "mm"), none);
    } else {
      EXPECT_EQ(fused_of(e, "mm"), std::vector<std::string>{"add"});
    }
    EXPECT_EQ(fused_of(e, "mm2"), none) << "its output has two readers";
    if (!observed.empty()) {
      ASSERT_TRUE(seen.count(observed));
      EXPECT_TRUE(same_bits(seen.at(observed), want.at(observed)));
    }
    for (const auto& out : m.graph.outputs) EXPECT_TRUE(same_bits(got.at(out), want.at(out))) << out;
  }
}

// Ops that do not fit the product's inferred shape are not fused (Softmax along a non-last axis,
// a row bias that would raise a rank-1 product's rank): they run as nodes, with the unfused
// engine's bits. A chain whose product declines a run (K = 0, left to the reference op) runs
// node by node.
TEST(EngineFusedChain, OpsThatDoNotFitAndDeclinedRunsGiveTheUnfusedBits) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  auto check = [](Model& m, const std::map<std::string, Tensor>& feeds, const std::vector<std::string>& fused,
                  const Shape& shape) {
    infer_shapes(m);
    const Runs r = run_three(m, feeds);
    EXPECT_EQ(r.layers[0].fused, fused);
    EXPECT_EQ(r.fused.shape(), shape);
    EXPECT_TRUE(same_bits(r.fused, r.unfused));
  };
  {
    B g("axis0", 17);
    const std::string x = g.input("x", DType::Float32, {6, 16});
    const std::string mm = g.op("MatMul", {x, g.initializer("w", testing::random_float({16, 20}, 14))}, {}, "mm");
    g.output(g.op("Softmax", {mm}, {{"axis", B::i(0)}}, "softmax"));
    Model m = g.build();
    check(m, {{"x", testing::random_float({6, 16}, 15)}}, {}, {6, 20});
  }
  {
    B g("coerced", 11);  // opset 11: Softmax over the dims from axis 1 on, i.e. not rows of the last dim
    const std::string q = g.input("q", DType::Float32, {2, 3, 5, 8});
    const std::string k = g.input("k", DType::Float32, {2, 3, 8, 5});
    const std::string s = g.op("MatMul", {q, k}, {}, "scores");
    const std::string scaled = g.op("Mul", {g.initializer("c", scalar(0.5f)), s}, {}, "scale");
    g.output(g.op("Softmax", {scaled}, {}, "softmax"));
    Model m = g.build();
    check(m, {{"q", testing::random_float({2, 3, 5, 8}, 19)}, {"k", testing::random_float({2, 3, 8, 5}, 20)}},
          {"scale"}, {2, 3, 5, 5});
  }
  {
    B g("rank", 17);
    const std::string x = g.input("x", DType::Float32, {16});
    const std::string mm = g.op("MatMul", {x, g.initializer("w", testing::random_float({16, 20}, 16))}, {}, "mm");
    g.output(g.op("Add", {mm, g.initializer("b", testing::random_float({1, 20}, 17))}, {}, "add"));
    Model m = g.build();
    check(m, {{"x", testing::random_float({16}, 18)}}, {}, {1, 20});
  }
  {
    B g("k0", 17);
    const std::string x = g.input("x", DType::Float32, {3, 0});
    const std::string mm = g.op("MatMul", {x, g.initializer("w", Tensor(DType::Float32, {0, 5}))}, {}, "mm");
    const std::string add = g.op("Add", {mm, g.initializer("b", testing::random_float({5}, 21))}, {}, "add");
    g.output(g.op("Relu", {add}, {}, "relu"));
    Model m = g.build();
    check(m, {{"x", Tensor(DType::Float32, {3, 0})}}, {"add", "relu"}, {3, 5});
  }
}

// The other operand orders and scalar ops, on both constant-weight paths (K <= 256: rows of X in
// place; K = 300: the transposed product, whose bias goes in the epilogue's row vector), on a
// one-column product (the GEMV path) and on an attention product with K = 400 (the packed,
// K-blocked path).
TEST(EngineFusedChain, ScalarOpsOnEveryProductPathGiveTheUnfusedBits) {
  if (!fast_kernels_available()) GTEST_SKIP() << "no AVX2/FMA on this CPU";
  for (const auto& [K, N] : {std::pair<int64_t, int64_t>{24, 40}, {300, 40}, {300, 1}, {24, 1}}) {
    SCOPED_TRACE(::testing::Message() << "K=" << K << " N=" << N);
    B g("scalars", 17);
    const std::string x = g.input("x", DType::Float32, {9, K});
    std::string y = g.op("MatMul", {x, g.initializer("w", testing::random_float({K, N}, 22))}, {}, "mm");
    y = g.op("Add", {y, g.initializer("b", testing::random_float({N}, 23))}, {}, "bias");
    y = g.op("Sub", {y, g.initializer("s1", scalar(0.25f))}, {}, "sub");   // x - s
    y = g.op("Div", {g.initializer("s2", scalar(3.f)), y}, {}, "rdiv");   // s / x
    y = g.op("Add", {g.initializer("s3", scalar(-0.5f)), y}, {}, "sadd");  // s + x
    y = g.op("Mul", {g.initializer("s4", scalar(1.5f)), y}, {}, "smul");   // s * x
    g.output(g.op("Clip", {y, g.initializer("lo", scalar(-4.f)), g.initializer("hi", scalar(4.f))}, {}, "clip"));
    Model m = g.build();
    infer_shapes(m);
    const Runs r = run_three(m, {{"x", testing::random_float({9, K}, 24)}});
    EXPECT_EQ(r.layers[0].fused, (std::vector<std::string>{"bias", "sub", "rdiv", "sadd", "smul", "clip"}));
    EXPECT_TRUE(same_bits(r.fused, r.unfused));
  }
  B g("attn400", 17);
  const std::string a = g.input("a", DType::Float32, {2, 7, 400});
  const std::string b = g.input("b", DType::Float32, {2, 400, 19});
  const std::string s = g.op("MatMul", {a, b}, {}, "mm");
  g.output(g.op("Softmax", {g.op("Div", {s, g.initializer("d", scalar(20.f))}, {}, "div")}, {}, "softmax"));
  Model m = g.build();
  infer_shapes(m);
  const Runs r = run_three(m, {{"a", testing::random_float({2, 7, 400}, 25)}, {"b", testing::random_float({2, 400, 19}, 26)}});
  EXPECT_EQ(r.layers[0].fused, (std::vector<std::string>{"div", "softmax"}));
  EXPECT_TRUE(same_bits(r.fused, r.unfused));
}

}  // namespace
}  // namespace octet
