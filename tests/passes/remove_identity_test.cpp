#include "passes/remove_identity.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "ir/builder.h"
#include "passes/fold_batchnorm.h"
#include "runtime/executor.h"

namespace octet {
namespace {

using B = GraphBuilder;

Tensor random_tensor(const Shape& shape, uint32_t seed, float lo = -1, float hi = 1) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

std::vector<std::string> op_list(const Model& m) {
  std::vector<std::string> ops;
  for (const auto& n : m.graph.nodes) ops.push_back(n->op_type);
  return ops;
}

void expect_same_outputs(const std::map<std::string, Tensor>& want, const std::map<std::string, Tensor>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [name, w] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    const Tensor& g = got.at(name);
    ASSERT_EQ(g.shape(), w.shape());
    for (int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(g.get_as_double(i), w.get_as_double(i)) << name << "[" << i << "]";
  }
}

TEST(RemoveIdentity, RemovesCopiesAndKeepsOutputNames) {
  B b("g");
  b.input("x", DType::Float32, {2, 3});
  std::string a = b.op("Identity", {b.op("Relu", {"x"}, {}, "relu1")}, {}, "id1");
  std::string d = b.node("Dropout", {a}, {}, 1, "drop")[0];
  std::string c = b.op("Neg", {d}, {}, "neg");
  std::string y = b.op("Identity", {c}, {}, "id_out");  // a graph output: Neg takes its name
  b.output(y);
  b.output(b.op("Identity", {"x"}, {}, "id_of_input"));  // must stay: output aliasing an input
  Model m = b.build();
  const std::map<std::string, Tensor> feeds = {{"x", random_tensor({2, 3}, 1)}};
  const auto before = Executor(m).run(feeds);
  RemoveIdentity pass;
  ASSERT_TRUE(pass.run(m));
  EXPECT_EQ(pass.removed(), 3);
  std::vector<std::string> ops = op_list(m);
  std::sort(ops.begin(), ops.end());
  EXPECT_EQ(ops, (std::vector<std::string>{"Identity", "Neg", "Relu"}));
  EXPECT_EQ(m.graph.outputs, (std::vector<std::string>{"id_out_out", "id_of_input_out"}));
  EXPECT_EQ(m.graph.find_value(c), nullptr);
  EXPECT_EQ(m.graph.find_value(a), nullptr);
  expect_same_outputs(before, Executor(m).run(feeds));
}

TEST(RemoveIdentity, KeepsDropoutWithMaskOrTrainingMode) {
  B b("g");
  b.input("x", DType::Float32, {4});
  std::vector<std::string> with_mask = b.node("Dropout", {"x"}, {}, 2, "drop_mask");
  std::string t = b.node("Dropout", {"x", b.initializer("r", Tensor::scalar<float>(0.5f)),
                                     b.initializer("train", Tensor::scalar<bool>(true))},
                         {}, 1, "drop_train")[0];
  b.output(with_mask[0]);
  b.output(with_mask[1]);
  b.output(b.op("Neg", {t}));
  Model m = b.build();
  RemoveIdentity pass;
  EXPECT_FALSE(pass.run(m));
  EXPECT_EQ(m.graph.nodes.size(), 3u);
}

TEST(RemoveIdentity, LetsBatchNormFoldThroughAnIdentity) {
  B b("g");
  b.input("x", DType::Float32, {1, 2, 4, 4});
  std::string c = b.op("Conv", {"x", b.initializer("w", random_tensor({3, 2, 3, 3}, 2))}, {}, "conv");
  std::string i = b.op("Identity", {c}, {}, "id");
  b.output(b.op("BatchNormalization", {i, b.initializer("s", random_tensor({3}, 3)), b.initializer("bb", random_tensor({3}, 4)),
                                       b.initializer("m", random_tensor({3}, 5)), b.initializer("v", random_tensor({3}, 6, 0.5f, 2))},
                {}, "bn"));
  Model m = b.build();
  const std::map<std::string, Tensor> feeds = {{"x", random_tensor({1, 2, 4, 4}, 7)}};
  const auto before = Executor(m).run(feeds);
  PassManager pm;
  pm.add(std::make_unique<RemoveIdentity>());
  pm.add(std::make_unique<FoldBatchNorm>());
  EXPECT_EQ(pm.run(m), (std::vector<std::string>{"remove-identity", "fold-batchnorm"}));
  EXPECT_EQ(op_list(m), (std::vector<std::string>{"Conv"}));
  const auto after = Executor(m).run(feeds);
  for (int64_t k = 0; k < before.at("bn_out").numel(); ++k)
    ASSERT_NEAR(after.at("bn_out").get_as_double(k), before.at("bn_out").get_as_double(k),
                1e-4 * std::max(1.0, std::fabs(before.at("bn_out").get_as_double(k))));
}

}  // namespace
}  // namespace octet
