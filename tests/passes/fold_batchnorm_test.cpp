// FoldBatchNorm: every fold is checked against the unfolded graph run on the reference executor
// (BatchNormalization evaluated by its own op), plus hand-worked weights for the formula itself.
#include "passes/fold_batchnorm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "ir/builder.h"
#include "passes/fold_constants.h"
#include "runtime/executor.h"
#include "zoo/zoo.h"

namespace octet {
namespace {

using B = GraphBuilder;

Tensor random_tensor(const Shape& shape, std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

int count_ops(const Model& m, const std::string& op) {
  int n = 0;
  for (const auto& node : m.graph.nodes) n += node->op_type == op;
  return n;
}

// Gives every BatchNormalization non-trivial statistics (the zoo's are the identity): scale of both
// signs, var in [0.05, 3] so some channels are amplified and some attenuated.
void randomize_bn_stats(Model& m, uint32_t seed) {
  std::mt19937 rng(seed);
  for (const auto& node : m.graph.nodes) {
    if (node->op_type != "BatchNormalization") continue;
    const int64_t c = m.graph.value(node->inputs[1]).initializer->numel();
    m.graph.value(node->inputs[1]).initializer = random_tensor({c}, rng, -1.5f, 1.5f);
    m.graph.value(node->inputs[2]).initializer = random_tensor({c}, rng, -0.5f, 0.5f);
    m.graph.value(node->inputs[3]).initializer = random_tensor({c}, rng, -0.5f, 0.5f);
    m.graph.value(node->inputs[4]).initializer = random_tensor({c}, rng, 0.05f, 3.0f);
  }
}

std::map<std::string, Tensor> run_model(const Model& m, const std::map<std::string, Tensor>& feeds) {
  return Executor(m).run(feeds);
}

// Every output within 1e-4 relative: |a - b| <= 1e-4 * max(1, |b|). Prints the largest difference.
void expect_outputs_close(const std::map<std::string, Tensor>& want, const std::map<std::string, Tensor>& got,
                          const std::string& what) {
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [name, w] : want) {
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << "missing output " << name;
    const Tensor& g = it->second;
    ASSERT_EQ(g.shape(), w.shape()) << name;
    double max_diff = 0, max_ref = 0;
    for (int64_t i = 0; i < w.numel(); ++i) {
      const double a = g.get_as_double(i), b = w.get_as_double(i);
      max_diff = std::max(max_diff, std::fabs(a - b));
      max_ref = std::max(max_ref, std::fabs(b));
      ASSERT_LE(std::fabs(a - b), 1e-4 * std::max(1.0, std::fabs(b))) << what << ": " << name << "[" << i << "]";
    }
    std::printf("  %s: output '%s' max |diff| = %.3g (max |ref| = %.3g)\n", what.c_str(), name.c_str(),
                max_diff, max_ref);
  }
}

// Adds a BatchNormalization over `channels` with random statistics; returns its output.
std::string add_bn(B& b, const std::string& x, int64_t channels, std::mt19937& rng, const std::string& name) {
  return b.op("BatchNormalization",
              {x, b.initializer(name + ".scale", random_tensor({channels}, rng, -1.5f, 1.5f)),
               b.initializer(name + ".bias", random_tensor({channels}, rng, -0.5f, 0.5f)),
               b.initializer(name + ".mean", random_tensor({channels}, rng, -0.5f, 0.5f)),
               b.initializer(name + ".var", random_tensor({channels}, rng, 0.05f, 3.0f))},
              {{"epsilon", B::f(1e-3f)}}, name);
}

// Folds, checks the op counts, and compares with the unfolded run on a random input.
void fold_and_compare(Model& m, const std::map<std::string, Tensor>& feeds, int expect_folded,
                      const std::string& what) {
  const auto before = run_model(m, feeds);
  const int bn_before = count_ops(m, "BatchNormalization");
  FoldBatchNorm pass;
  EXPECT_EQ(pass.run(m), expect_folded > 0);
  EXPECT_EQ(pass.stats().folded(), expect_folded);
  EXPECT_EQ(count_ops(m, "BatchNormalization"), bn_before - expect_folded);
  m.graph.topo_sort();  // still a valid graph
  expect_outputs_close(before, run_model(m, feeds), what);
}

TEST(FoldBatchNorm, HandWorkedConv1x1) {
  // W = [2, 3] per channel, b = [1, -1]; scale [2, 0.5], var [3, 0], eps 1 -> s = [1, 0.5];
  // mean [0.5, 1], bias [0.1, 0.2]:
  //   W' = [2*1, 3*0.5] = [2, 1.5], b' = [(1-0.5)*1+0.1, (-1-1)*0.5+0.2] = [0.6, -0.8].
  B b("g");
  b.input("x", DType::Float32, {1, 1, 2, 2});
  std::string y = b.op("Conv", {"x", b.initializer("w", Tensor::from_vector<float>({2, 1, 1, 1}, {2, 3})),
                                b.initializer("b", Tensor::from_vector<float>({2}, {1, -1}))},
                       {}, "conv");
  y = b.op("BatchNormalization",
           {y, b.initializer("s", Tensor::from_vector<float>({2}, {2, 0.5f})),
            b.initializer("beta", Tensor::from_vector<float>({2}, {0.1f, 0.2f})),
            b.initializer("m", Tensor::from_vector<float>({2}, {0.5f, 1})),
            b.initializer("v", Tensor::from_vector<float>({2}, {3, 0}))},
           {{"epsilon", B::f(1.0f)}}, "bn");
  b.output(y);
  Model m = b.build();
  FoldBatchNorm pass;
  ASSERT_TRUE(pass.run(m));
  ASSERT_EQ(m.graph.nodes.size(), 1u);
  const Node& conv = *m.graph.nodes[0];
  EXPECT_EQ(conv.outputs[0], y);  // the BN's output name survives
  const Tensor& w = *m.graph.value(conv.inputs[1]).initializer;
  const Tensor& bias = *m.graph.value(conv.inputs[2]).initializer;
  EXPECT_FLOAT_EQ(w.data<float>()[0], 2.0f);
  EXPECT_FLOAT_EQ(w.data<float>()[1], 1.5f);
  EXPECT_FLOAT_EQ(bias.data<float>()[0], 0.6f);
  EXPECT_FLOAT_EQ(bias.data<float>()[1], -0.8f);
  // The old weights and BN parameters are gone, the intermediate value too.
  for (const char* gone : {"w", "b", "s", "beta", "m", "v", "conv_out"})
    EXPECT_EQ(m.graph.find_value(gone), nullptr) << gone;
}

class FoldBatchNormZoo : public ::testing::TestWithParam<const char*> {};

TEST_P(FoldBatchNormZoo, FoldsEveryBatchNormAndKeepsOutputs) {
  const uint32_t seed = 1234;
  std::printf("model %s, seed %u\n", GetParam(), seed);
  Model m = zoo::make_model(GetParam(), seed);
  randomize_bn_stats(m, seed + 1);
  const int bn = count_ops(m, "BatchNormalization");
  ASSERT_GT(bn, 0);
  const std::map<std::string, Tensor> feeds = {{"image", zoo::sample_input(4, seed + 2)}};
  const auto before = run_model(m, feeds);
  PassManager pm;
  pm.add(std::make_unique<FoldConstants>());
  auto fold_bn = std::make_unique<FoldBatchNorm>();
  FoldBatchNorm* fold_bn_ptr = fold_bn.get();
  pm.add(std::move(fold_bn));
  pm.run(m);
  EXPECT_EQ(count_ops(m, "BatchNormalization"), 0);
  EXPECT_EQ(fold_bn_ptr->stats().folded_into_conv, bn);
  EXPECT_EQ(fold_bn_ptr->stats().left_alone, 0);
  expect_outputs_close(before, run_model(m, feeds), GetParam());
}

INSTANTIATE_TEST_SUITE_P(Zoo, FoldBatchNormZoo, ::testing::Values("resnet8", "mobilenetv2-tiny"));

TEST(FoldBatchNorm, MobileNetDepthwiseConvsAreFolded) {
  Model m = zoo::make_model("mobilenetv2-tiny", 7);
  int depthwise_bn = 0;
  std::map<std::string, const Node*> producer;
  for (const auto& n : m.graph.nodes) producer[n->outputs[0]] = n.get();
  for (const auto& n : m.graph.nodes)
    if (n->op_type == "BatchNormalization") {
      const Node* p = producer.at(n->inputs[0]);
      if (p->op_type == "Conv" && p->attr_int("group", 1) > 1) ++depthwise_bn;
    }
  ASSERT_GT(depthwise_bn, 0);
  FoldBatchNorm pass;
  pass.run(m);
  EXPECT_EQ(count_ops(m, "BatchNormalization"), 0);
}

TEST(FoldBatchNorm, ConvWithOtherReaderIsNotFolded) {
  std::mt19937 rng(11);
  std::printf("seed 11\n");
  B b("g");
  b.input("x", DType::Float32, {2, 3, 6, 6});
  std::string c = b.op("Conv", {"x", b.initializer("w", random_tensor({4, 3, 3, 3}, rng, -1, 1))},
                       {{"pads", B::ints({1, 1, 1, 1})}}, "conv");
  std::string y = add_bn(b, c, 4, rng, "bn");
  std::string z = b.op("Add", {y, b.op("Relu", {c})});  // c has a second reader
  b.output(z);
  Model m = b.build();
  fold_and_compare(m, {{"x", random_tensor({2, 3, 6, 6}, rng, -1, 1)}}, 0, "conv with two readers");

  // The same when the conv output is itself a graph output.
  B b2("g2");
  b2.input("x", DType::Float32, {1, 3, 4, 4});
  std::string c2 = b2.op("Conv", {"x", b2.initializer("w", random_tensor({2, 3, 1, 1}, rng, -1, 1))}, {}, "conv");
  b2.output(add_bn(b2, c2, 2, rng, "bn"));
  b2.output(c2);
  Model m2 = b2.build();
  fold_and_compare(m2, {{"x", random_tensor({1, 3, 4, 4}, rng, -1, 1)}}, 0, "conv output is a graph output");
}

TEST(FoldBatchNorm, SharedWeightIsCopiedNotChanged) {
  std::mt19937 rng(12);
  std::printf("seed 12\n");
  B b("g");
  b.input("x", DType::Float32, {1, 3, 5, 5});
  const Tensor w = random_tensor({4, 3, 3, 3}, rng, -1, 1);
  const Tensor w_copy = w.clone();
  b.initializer("w", w);
  b.initializer("bias", random_tensor({4}, rng, -1, 1));
  std::string y1 = add_bn(b, b.op("Conv", {"x", "w", "bias"}, {}, "conv1"), 4, rng, "bn1");
  std::string y2 = add_bn(b, b.op("Conv", {"x", "w", "bias"}, {}, "conv2"), 4, rng, "bn2");
  std::string y3 = b.op("Conv", {"x", "w"}, {}, "conv3");  // no BN: must keep the original weight
  b.output(b.op("Add", {b.op("Add", {y1, y2}), y3}));
  Model m = b.build();
  fold_and_compare(m, {{"x", random_tensor({1, 3, 5, 5}, rng, -1, 1)}}, 2, "shared weight");
  const Tensor& w_after = *m.graph.value("w").initializer;
  for (int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(w_after.data<float>()[i], w_copy.data<float>()[i]);
  // The two folded convs got distinct new weights.
  std::set<std::string> weights;
  for (const auto& n : m.graph.nodes)
    if (n->op_type == "Conv") weights.insert(n->inputs[1]);
  EXPECT_EQ(weights.size(), 3u);
  // "bias" was read only by the folded convs: removed.
  EXPECT_EQ(m.graph.find_value("bias"), nullptr);
}

TEST(FoldBatchNorm, ConvVariants) {
  // {group, in channels, out channels, with bias}: grouped, depthwise, depthwise with multiplier.
  struct Case { int64_t group, cin, cout; bool bias; };
  const Case cases[] = {{1, 3, 5, true}, {1, 3, 5, false}, {2, 4, 6, true}, {4, 4, 4, false}, {3, 3, 6, true}};
  uint32_t seed = 20;
  for (const Case& c : cases) {
    std::mt19937 rng(++seed);
    std::printf("Conv group %lld cin %lld cout %lld bias %d seed %u\n", (long long)c.group, (long long)c.cin,
                (long long)c.cout, c.bias, seed);
    B b("g");
    b.input("x", DType::Float32, {2, c.cin, 7, 7});
    std::vector<std::string> in = {"x", b.initializer("w", random_tensor({c.cout, c.cin / c.group, 3, 3}, rng, -1, 1))};
    if (c.bias) in.push_back(b.initializer("b", random_tensor({c.cout}, rng, -1, 1)));
    std::string y = b.op("Conv", in, {{"group", B::i(c.group)}, {"strides", B::ints({2, 2})}}, "conv");
    b.output(add_bn(b, y, c.cout, rng, "bn"));
    Model m = b.build();
    fold_and_compare(m, {{"x", random_tensor({2, c.cin, 7, 7}, rng, -1, 1)}}, 1, "conv");
  }
}

TEST(FoldBatchNorm, ConvTransposeGroupsUseTheRightChannel) {
  // W is [C, M/group, k, k]; with C = 4, group 2, M/group = 3 the output channel of W[c, j] is
  // (c / 2) * 3 + j: scaling along axis 0 or along axis 1 alone gives wrong results.
  struct Case { int64_t group, cin, out_per_group; bool bias; };
  const Case cases[] = {{2, 4, 3, true}, {2, 4, 3, false}, {1, 3, 5, true}, {4, 4, 1, false}};
  uint32_t seed = 40;
  for (const Case& c : cases) {
    std::mt19937 rng(++seed);
    const int64_t m_out = c.out_per_group * c.group;
    std::printf("ConvTranspose group %lld cin %lld cout %lld bias %d seed %u\n", (long long)c.group,
                (long long)c.cin, (long long)m_out, c.bias, seed);
    B b("g");
    b.input("x", DType::Float32, {2, c.cin, 4, 4});
    std::vector<std::string> in = {"x", b.initializer("w", random_tensor({c.cin, c.out_per_group, 3, 3}, rng, -1, 1))};
    if (c.bias) in.push_back(b.initializer("b", random_tensor({m_out}, rng, -1, 1)));
    std::string y = b.op("ConvTranspose", in, {{"group", B::i(c.group)}, {"strides", B::ints({2, 2})}}, "convt");
    b.output(add_bn(b, y, m_out, rng, "bn"));
    Model m = b.build();
    fold_and_compare(m, {{"x", random_tensor({2, c.cin, 4, 4}, rng, -1, 1)}}, 1, "convtranspose");
  }
}

TEST(FoldBatchNorm, GemmTransBAndBiasShapes) {
  // A [3, 5] -> Y [3, 4]; C absent, scalar, [4], [1, 4], [3, 1], [3, 4]; alpha and beta not 1.
  const std::vector<Shape> c_shapes = {{}, {}, {4}, {1, 4}, {3, 1}, {3, 4}};
  uint32_t seed = 60;
  for (int trans_b = 0; trans_b <= 1; ++trans_b)
    for (size_t ci = 0; ci < c_shapes.size(); ++ci) {
      std::mt19937 rng(++seed);
      const bool has_c = ci > 0;
      std::printf("Gemm transB %d C %s seed %u\n", trans_b, has_c ? shape_str(c_shapes[ci]).c_str() : "absent",
                  seed);
      B b("g");
      b.input("a", DType::Float32, {3, 5});
      std::vector<std::string> in = {
          "a", b.initializer("w", random_tensor(trans_b ? Shape{4, 5} : Shape{5, 4}, rng, -1, 1))};
      if (has_c) in.push_back(b.initializer("c", random_tensor(c_shapes[ci], rng, -1, 1)));
      std::string y = b.op("Gemm", in,
                           {{"transB", B::i(trans_b)}, {"alpha", B::f(0.7f)}, {"beta", B::f(1.3f)}}, "gemm");
      b.output(add_bn(b, y, 4, rng, "bn"));
      Model m = b.build();
      fold_and_compare(m, {{"a", random_tensor({3, 5}, rng, -1, 1)}}, 1, "gemm");
    }
}

TEST(FoldBatchNorm, ChainOfBatchNormsFoldsCompletely) {
  std::mt19937 rng(80);
  std::printf("seed 80\n");
  B b("g");
  b.input("x", DType::Float32, {1, 2, 5, 5});
  std::string y = b.op("Conv", {"x", b.initializer("w", random_tensor({3, 2, 3, 3}, rng, -1, 1))}, {}, "conv");
  y = add_bn(b, y, 3, rng, "bn1");
  y = add_bn(b, y, 3, rng, "bn2");
  b.output(y);
  Model m = b.build();
  fold_and_compare(m, {{"x", random_tensor({1, 2, 5, 5}, rng, -1, 1)}}, 2, "bn chain");
  EXPECT_EQ(m.graph.nodes.size(), 1u);
}

TEST(FoldBatchNorm, LeavesWhatItCannotFold) {
  std::mt19937 rng(90);
  std::printf("seed 90\n");
  B b("g", 15);
  b.input("x", DType::Float32, {2, 3, 4, 4});
  // After a Relu: nothing to fold into.
  std::string y = add_bn(b, b.op("Relu", {"x"}), 3, rng, "bn_after_relu");
  // Training mode with its running statistics outputs.
  std::string c = b.op("Conv", {y, b.initializer("w", random_tensor({3, 3, 1, 1}, rng, -1, 1))}, {}, "conv");
  std::vector<std::string> outs =
      b.node("BatchNormalization",
             {c, b.initializer("s", random_tensor({3}, rng, 0.5f, 1)), b.initializer("bb", random_tensor({3}, rng, 0, 1)),
              b.initializer("m", random_tensor({3}, rng, 0, 1)), b.initializer("v", random_tensor({3}, rng, 0.5f, 1))},
             {{"training_mode", B::i(1)}}, 3, "bn_training");
  b.output(outs[0]);
  Model m = b.build();
  FoldBatchNorm pass;
  EXPECT_FALSE(pass.run(m));
  EXPECT_EQ(pass.stats().left_alone, 2);
  EXPECT_EQ(count_ops(m, "BatchNormalization"), 2);

  // float64 weights: left alone.
  B b2("g2");
  b2.input("x", DType::Float64, {1, 2, 3, 3});
  Tensor w64 = Tensor::from_vector<double>({2, 2, 1, 1}, {1, 2, 3, 4});
  Tensor p64 = Tensor::from_vector<double>({2}, {1, 1});
  std::string c2 = b2.op("Conv", {"x", b2.initializer("w", w64)});
  b2.output(b2.op("BatchNormalization", {c2, b2.initializer("s", p64), b2.initializer("bb", p64),
                                         b2.initializer("m", p64), b2.initializer("v", p64)}));
  Model m2 = b2.build();
  EXPECT_FALSE(pass.run(m2));
  EXPECT_EQ(pass.stats().left_alone, 1);
}

TEST(FoldBatchNorm, NonPositiveVarianceIsAnErrorNamingTheNode) {
  B b("g");
  b.input("x", DType::Float32, {1, 1, 2, 2});
  std::string y = b.op("Conv", {"x", b.initializer("w", Tensor::from_vector<float>({2, 1, 1, 1}, {1, 1}))});
  Tensor ones = Tensor::from_vector<float>({2}, {1, 1});
  b.output(b.op("BatchNormalization",
                {y, b.initializer("s", ones), b.initializer("bb", ones), b.initializer("m", ones),
                 b.initializer("v", Tensor::from_vector<float>({2}, {1, -2}))},
                {{"epsilon", B::f(1e-5f)}}, "the_bn"));
  Model m = b.build();
  FoldBatchNorm pass;
  try {
    pass.run(m);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("the_bn"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("input_var[1]"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace octet
