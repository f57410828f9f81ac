// FoldConstants: folded graphs are compared with the unfolded graph on the reference executor and
// with hand-worked constants; saved and reloaded through ONNX to check the result is a legal model.
#include "passes/fold_constants.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "ir/builder.h"
#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "runtime/executor.h"
#include "zoo/zoo.h"
#include "../temp_dir.h"

namespace octet {
namespace {

using B = GraphBuilder;

Tensor random_tensor(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  Tensor t(DType::Float32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
  return t;
}

Tensor i64(const std::vector<int64_t>& v) {
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
}

int count_ops(const Model& m, const std::string& op) {
  int n = 0;
  for (const auto& node : m.graph.nodes) n += node->op_type == op;
  return n;
}

const Node* find_node(const Model& m, const std::string& op) {
  for (const auto& node : m.graph.nodes)
    if (node->op_type == op) return node.get();
  return nullptr;
}

std::map<std::string, Tensor> run_model(const Model& m, const std::map<std::string, Tensor>& feeds) {
  return Executor(m).run(feeds);
}

// Equal within 1e-5 relative (folding evaluates the same reference ops, so results are normally
// identical); prints the largest difference.
void expect_outputs_close(const std::map<std::string, Tensor>& want, const std::map<std::string, Tensor>& got,
                          const std::string& what) {
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [name, w] : want) {
    auto it = got.find(name);
    ASSERT_NE(it, got.end()) << "missing output " << name;
    const Tensor& g = it->second;
    ASSERT_EQ(g.dtype(), w.dtype()) << name;
    ASSERT_EQ(g.shape(), w.shape()) << name;
    double max_diff = 0;
    for (int64_t i = 0; i < w.numel(); ++i) {
      const double a = g.get_as_double(i), b = w.get_as_double(i);
      max_diff = std::max(max_diff, std::fabs(a - b));
      ASSERT_LE(std::fabs(a - b), 1e-5 * std::max(1.0, std::fabs(b))) << what << ": " << name << "[" << i << "]";
    }
    std::printf("  %s: output '%s' max |diff| = %.3g\n", what.c_str(), name.c_str(), max_diff);
  }
}

std::string temp_dir() { return testing::make_temp_dir("octet_fold_constants"); }  // removed at exit

// Saves and reloads the model; the reloaded model must give the same outputs.
void expect_round_trip(const Model& m, const std::map<std::string, Tensor>& feeds, const std::string& what) {
  const std::string path = temp_dir() + "/model.onnx";
  save_model(m, path);
  Model back = load_model(path);
  EXPECT_EQ(back.graph.nodes.size(), m.graph.nodes.size());
  EXPECT_EQ(back.graph.outputs, m.graph.outputs);
  expect_outputs_close(run_model(m, feeds), run_model(back, feeds), what + " after save/load");
  std::remove(path.c_str());
  rmdir(dirname_of(path).c_str());
}

TEST(FoldConstants, ShapeGatherConcatReshapeChainOnStaticShapes) {
  B b("g");
  b.input("x", DType::Float32, {2, 3, 4});
  // Shape of an intermediate (its type must be inferred, not read from a declaration).
  std::string y = b.op("Relu", {"x"}, {}, "relu");
  std::string s = b.op("Shape", {y}, {}, "shape");
  std::string d0 = b.op("Gather", {s, b.initializer("idx0", i64({0}))}, {{"axis", B::i(0)}}, "gather");
  std::string target = b.op("Concat", {d0, b.initializer("minus1", i64({-1}))}, {{"axis", B::i(0)}}, "concat");
  b.output(b.op("Reshape", {y, target}, {}, "reshape"));
  Model m = b.build();
  const std::map<std::string, Tensor> feeds = {{"x", random_tensor({2, 3, 4}, 1)}};
  const auto before = run_model(m, feeds);

  FoldConstants pass;
  ASSERT_TRUE(pass.run(m));
  EXPECT_EQ(pass.stats().nodes_folded, 3);
  EXPECT_EQ(pass.stats().shape_nodes_folded, 1);
  // idx0 and minus1, and the folded Shape and Gather outputs that only the folded nodes read.
  EXPECT_EQ(pass.stats().initializers_removed, 4);
  ASSERT_EQ(m.graph.nodes.size(), 2u);              // Relu, Reshape
  const Node* reshape = find_node(m, "Reshape");
  ASSERT_NE(reshape, nullptr);
  const Value& t = m.graph.value(reshape->inputs[1]);
  ASSERT_TRUE(t.initializer.has_value());
  ASSERT_EQ(t.initializer->shape(), Shape{2});
  EXPECT_EQ(t.initializer->data<int64_t>()[0], 2);
  EXPECT_EQ(t.initializer->data<int64_t>()[1], -1);
  EXPECT_EQ(m.graph.find_value("idx0"), nullptr);
  expect_outputs_close(before, run_model(m, feeds), "shape chain");
  expect_round_trip(m, feeds, "shape chain");
}

TEST(FoldConstants, DynamicBatchFoldsOnlyTheStaticPart) {
  // Reshape(x, Concat(Gather(Shape(x), [0]), ReduceProd(Shape(x, start=1)))) for x [N,3,4]:
  // Shape(x) depends on N and stays; Shape(x, start=1) = [3,4] and its product [12] fold.
  B b("g");
  b.input("x", DType::Float32, {-1, 3, 4});
  std::string n = b.op("Gather", {b.op("Shape", {"x"}, {}, "shape_all"), b.initializer("idx0", i64({0}))},
                       {{"axis", B::i(0)}}, "gather");
  std::string tail = b.op("Shape", {"x"}, {{"start", B::i(1)}}, "shape_tail");
  std::string prod = b.op("ReduceProd", {tail}, {{"keepdims", B::i(1)}}, "prod");
  std::string target = b.op("Concat", {n, prod}, {{"axis", B::i(0)}}, "concat");
  b.output(b.op("Reshape", {"x", target}, {}, "reshape"));
  Model m = b.build();
  const std::map<std::string, Tensor> feeds = {{"x", random_tensor({5, 3, 4}, 2)}};
  const auto before = run_model(m, feeds);

  FoldConstants pass;
  ASSERT_TRUE(pass.run(m));
  EXPECT_EQ(pass.stats().nodes_folded, 2);  // shape_tail, prod
  EXPECT_EQ(pass.stats().shape_nodes_folded, 1);
  EXPECT_EQ(count_ops(m, "Shape"), 1);
  EXPECT_EQ(count_ops(m, "ReduceProd"), 0);
  const Tensor& p = *m.graph.value(prod).initializer;
  ASSERT_EQ(p.numel(), 1);
  EXPECT_EQ(p.data<int64_t>()[0], 12);
  const auto after = run_model(m, feeds);
  expect_outputs_close(before, after, "dynamic batch");
  EXPECT_EQ(after.begin()->second.shape(), (Shape{5, 12}));
}

TEST(FoldConstants, FoldedGraphOutputsStayOutputs) {
  // "sum" = [1,2] + [10,20] and "const_out" (a Constant node) are graph outputs with no input
  // dependence; "y" = x * sum depends on x.
  B b("g");
  b.input("x", DType::Float32, {2});
  std::string sum = b.op("Add", {b.initializer("a", Tensor::from_vector<float>({2}, {1, 2})),
                                 b.initializer("c", Tensor::from_vector<float>({2}, {10, 20}))},
                         {}, "sum");
  Attribute value;
  value.kind = Attribute::Kind::Tensor;
  value.t = Tensor::from_vector<int64_t>({3}, {7, 8, 9});
  std::string k = b.op("Constant", {}, {{"value", value}}, "const");
  b.output(b.op("Mul", {"x", sum}, {}, "mul"));
  b.output(sum);
  b.output(k);
  Model m = b.build();
  const std::vector<std::string> outputs_before = m.graph.outputs;
  const std::map<std::string, Tensor> feeds = {{"x", Tensor::from_vector<float>({2}, {3, 4})}};

  FoldConstants pass;
  ASSERT_TRUE(pass.run(m));
  EXPECT_EQ(pass.stats().constant_nodes, 1);
  EXPECT_EQ(pass.stats().nodes_folded, 1);
  EXPECT_EQ(m.graph.outputs, outputs_before);
  ASSERT_EQ(m.graph.nodes.size(), 1u);  // Mul
  const auto out = run_model(m, feeds);
  EXPECT_FLOAT_EQ(out.at(sum).data<float>()[0], 11);
  EXPECT_FLOAT_EQ(out.at(sum).data<float>()[1], 22);
  EXPECT_FLOAT_EQ(out.at("mul_out").data<float>()[0], 33);
  EXPECT_FLOAT_EQ(out.at("mul_out").data<float>()[1], 88);
  EXPECT_EQ(out.at(k).data<int64_t>()[2], 9);
  EXPECT_EQ(m.graph.find_value("a"), nullptr);  // read only by the folded Add
  expect_round_trip(m, feeds, "initializer outputs");
}

TEST(FoldConstants, RespectsTheSizeLimit) {
  FoldConstantsOptions small;
  small.max_output_elements = 100;
  B b("g");
  b.input("x", DType::Float32, {1});
  // 400 elements: over the limit. Expand to exactly 100: folded.
  std::string big = b.op("ConstantOfShape", {b.initializer("shape_big", i64({20, 20}))}, {}, "cos_big");
  std::string ok = b.op("Expand", {b.initializer("one", Tensor::from_vector<float>({1}, {1.5f})),
                                   b.initializer("shape_ok", i64({10, 10}))},
                        {}, "expand_ok");
  b.output(b.op("Add", {"x", big}, {}, "add_big"));
  b.output(b.op("Add", {"x", ok}, {}, "add_ok"));
  Model m = b.build();
  const std::map<std::string, Tensor> feeds = {{"x", Tensor::from_vector<float>({1}, {2})}};
  const auto before = run_model(m, feeds);
  FoldConstants pass(small);
  ASSERT_TRUE(pass.run(m));
  EXPECT_EQ(pass.stats().skipped_over_limit, 1);
  EXPECT_EQ(pass.stats().nodes_folded, 1);
  EXPECT_EQ(count_ops(m, "ConstantOfShape"), 1);
  EXPECT_EQ(count_ops(m, "Expand"), 0);
  EXPECT_EQ(m.graph.value(ok).initializer->numel(), 100);
  expect_outputs_close(before, run_model(m, feeds), "size limit");

  // With the default limit, a 2^40-element ConstantOfShape and a 2^62-element Expand are refused
  // before anything is allocated (this test would die of memory otherwise); never run.
  B b2("g2");
  b2.input("x", DType::Float32, {1});
  std::string huge = b2.op("ConstantOfShape", {b2.initializer("shape_huge", i64({1 << 20, 1 << 20}))});
  std::string huge2 = b2.op("Expand", {b2.initializer("one", Tensor::from_vector<float>({1}, {1})),
                                       b2.initializer("shape_huge2", i64({int64_t{1} << 31, int64_t{1} << 31}))});
  b2.output(b2.op("Add", {"x", huge}));
  b2.output(b2.op("Add", {"x", huge2}));
  Model m2 = b2.build();
  FoldConstants pass2;
  pass2.run(m2);
  EXPECT_EQ(pass2.stats().skipped_over_limit, 2);
  EXPECT_EQ(count_ops(m2, "ConstantOfShape"), 1);
  EXPECT_EQ(count_ops(m2, "Expand"), 1);
}

TEST(FoldConstants, ErrorOnConstantDataNamesTheNode) {
  B b("g");
  b.input("x", DType::Float32, {4});
  std::string r = b.op("Reshape", {b.initializer("six", random_tensor({6}, 3)), b.initializer("to4", i64({4}))},
                       {}, "bad_reshape");
  b.output(b.op("Add", {"x", r}));
  Model m = b.build();
  FoldConstants pass;
  try {
    pass.run(m);
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad_reshape"), std::string::npos) << e.what();
  }
}

TEST(FoldConstants, LeavesRandomAndQuantizedWeightsAlone) {
  B b("g", 17);
  b.input("x", DType::Float32, {4});
  // Dropout in training mode on constants: a random draw, not a constant.
  std::vector<std::string> drop =
      b.node("Dropout", {b.initializer("d_in", random_tensor({4}, 4)),
                         b.initializer("ratio", Tensor::scalar<float>(0.5f)),
                         b.initializer("training", Tensor::scalar<bool>(true))},
             {}, 1, "dropout");
  // A Q/DQ weight: QuantizeLinear folds to int8, DequantizeLinear stays by default.
  std::string q = b.op("QuantizeLinear", {b.initializer("w", Tensor::from_vector<float>({4}, {0.1f, -0.2f, 0.3f, 1.0f})),
                                          b.initializer("s", Tensor::scalar<float>(0.01f)),
                                          b.initializer("zp", Tensor::scalar<int8_t>(0))},
                       {}, "q");
  std::string dq = b.op("DequantizeLinear", {q, "s", "zp"}, {}, "dq");
  b.output(b.op("Add", {b.op("Add", {"x", drop[0]}), dq}));
  Model m = b.build();

  FoldConstants pass;
  ASSERT_TRUE(pass.run(m));
  EXPECT_EQ(count_ops(m, "Dropout"), 1);
  EXPECT_EQ(count_ops(m, "QuantizeLinear"), 0);
  EXPECT_EQ(count_ops(m, "DequantizeLinear"), 1);
  const Tensor& qw = *m.graph.value(q).initializer;
  ASSERT_EQ(qw.dtype(), DType::Int8);
  EXPECT_EQ(qw.data<int8_t>()[0], 10);
  EXPECT_EQ(qw.data<int8_t>()[1], -20);
  EXPECT_EQ(qw.data<int8_t>()[3], 100);

  FoldConstantsOptions fold_dq;
  fold_dq.fold_dequantize_linear = true;
  FoldConstants pass_dq(fold_dq);
  ASSERT_TRUE(pass_dq.run(m));
  EXPECT_EQ(count_ops(m, "DequantizeLinear"), 0);
  EXPECT_FLOAT_EQ(m.graph.value(dq).initializer->data<float>()[1], -0.2f);
}

TEST(FoldConstants, RemovesDeadNodesKeepsGraphInputs) {
  B b("g");
  b.input("x", DType::Float32, {3});
  b.input("unused", DType::Float32, {3});
  b.initializer("never_read", random_tensor({3}, 5));
  b.op("Relu", {"x"}, {}, "dead_relu");  // output read by nobody
  b.output(b.op("Neg", {"x"}, {}, "neg"));
  Model m = b.build();
  // A custom-domain node on constant input, read by the output: must stay.
  Node custom;
  custom.name = "custom";
  custom.op_type = "MyOp";
  custom.domain = "com.example";
  custom.inputs = {"never_read"};
  custom.outputs = {"custom_out"};
  m.graph.add_node(custom);
  m.graph.outputs.push_back("custom_out");
  m.graph.topo_sort();

  FoldConstants pass;
  ASSERT_TRUE(pass.run(m));
  EXPECT_EQ(pass.stats().dead_nodes_removed, 1);
  EXPECT_EQ(pass.stats().initializers_removed, 0);  // never_read is read by the custom op
  EXPECT_EQ(m.graph.inputs, (std::vector<std::string>{"x", "unused"}));
  EXPECT_EQ(count_ops(m, "Relu"), 0);
  EXPECT_EQ(count_ops(m, "MyOp"), 1);
  EXPECT_EQ(m.graph.find_value("dead_relu_out"), nullptr);

  // Drop the custom op from the outputs: it becomes dead, and so does its initializer.
  m.graph.outputs.pop_back();
  ASSERT_TRUE(pass.run(m));
  EXPECT_EQ(pass.stats().dead_nodes_removed, 1);
  EXPECT_EQ(pass.stats().initializers_removed, 1);
  EXPECT_EQ(m.graph.find_value("never_read"), nullptr);
  EXPECT_FALSE(pass.run(m));  // nothing left to do

  // A node with a subgraph attribute (its body could read the Relu output by name): nothing is
  // removed.
  b.input("x", DType::Float32, {3});
  b.initializer("also_never_read", random_tensor({3}, 6));
  b.op("Relu", {"x"}, {}, "maybe_read_by_body");
  Attribute body;
  body.kind = Attribute::Kind::Graph;
  b.output(b.op("Neg", {"x"}, {{"fake_body", body}}, "with_body"));
  Model m2 = b.build();
  EXPECT_FALSE(pass.run(m2));
  EXPECT_EQ(m2.graph.nodes.size(), 2u);
  EXPECT_NE(m2.graph.find_value("also_never_read"), nullptr);
}

class FoldConstantsZoo : public ::testing::TestWithParam<const char*> {};

TEST_P(FoldConstantsZoo, ConstantNodesBecomeInitializersAndTheModelStillRunsAndSaves) {
  const uint32_t seed = 99;
  std::printf("model %s, seed %u\n", GetParam(), seed);
  Model m = zoo::make_model(GetParam(), seed);
  const int constants = count_ops(m, "Constant");
  ASSERT_GT(constants, 0);
  const std::map<std::string, Tensor> feeds = {{"image", zoo::sample_input(3, seed)}};
  const auto before = run_model(m, feeds);
  FoldConstants pass;
  ASSERT_TRUE(pass.run(m));
  EXPECT_EQ(pass.stats().constant_nodes, constants);
  EXPECT_EQ(count_ops(m, "Constant"), 0);
  expect_outputs_close(before, run_model(m, feeds), GetParam());
  expect_round_trip(m, feeds, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Zoo, FoldConstantsZoo, ::testing::Values("lenet", "resnet8", "mobilenetv2-tiny"));

}  // namespace
}  // namespace octet
