// The libtorch bridge against octet's reference executor, op by op: each case builds a one-node
// model, runs it on the executor and through TorchGraph (eval mode), and compares every output
// (floats within 1e-5 relative, integers and booleans exactly). Inputs are random with fixed,
// printed seeds.
#include <gtest/gtest.h>

#include <iostream>
#include <set>

#include "../test_util.h"
#include "ir/builder.h"
#include "runtime/executor.h"
#include "runtime/op_registry.h"
#include "train/torch_graph.h"
#include "train/torch_ops.h"

namespace octet::train {
namespace {

using testing::attr_floats;
using testing::attr_tensor;
using B = GraphBuilder;

struct In {
  Tensor t;
  bool init = false;  // an initializer rather than a graph input
};
In feed(Tensor t) { return {std::move(t), false}; }
In init(Tensor t) { return {std::move(t), true}; }
In none() { return {}; }

uint32_t g_seed = 20240;
Tensor rnd(const Shape& s, float lo = -1.f, float hi = 1.f) {
  return testing::random_float(s, g_seed++, lo, hi);
}
Tensor i64(const Shape& s, const std::vector<int64_t>& v) { return Tensor::from_vector<int64_t>(s, v); }
Tensor f32(const Shape& s, const std::vector<float>& v) { return Tensor::from_vector<float>(s, v); }
Tensor fs(float v) { return Tensor::scalar<float>(v); }

std::set<std::string> g_skipped;  // ops the executor does not register (yet)

// "" when `got` matches `want` (floats within tol relative to max(1, |want|), other types
// exactly), else the first mismatch.
std::string mismatch(const Tensor& want, const torch::Tensor& got_t, double tol) {
  const Tensor got = from_torch(got_t);
  if (got.shape() != want.shape())
    return str_cat("shape ", shape_str(got.shape()), " vs ", shape_str(want.shape()));
  if (dtype_is_float(want.dtype()) != dtype_is_float(got.dtype()) ||
      (!dtype_is_float(want.dtype()) && got.dtype() != want.dtype()))
    return str_cat("type ", dtype_name(got.dtype()), " vs ", dtype_name(want.dtype()));
  for (int64_t i = 0; i < want.numel(); ++i) {
    const double e = want.get_as_double(i), g = got.get_as_double(i);
    if ((std::isnan(e) && std::isnan(g)) || e == g) continue;
    if (!dtype_is_float(want.dtype()) || std::isnan(e) || std::isnan(g) || std::isinf(e) || std::isinf(g) ||
        std::fabs(g - e) > tol * std::max(1.0, std::fabs(e)))
      return str_cat("element ", i, ": bridge ", g, ", executor ", e);
  }
  return "";
}

int g_compared = 0;

void expect_close(const Tensor& want, const torch::Tensor& got, const std::string& what, double tol) {
  ++g_compared;
  const std::string d = mismatch(want, got, tol);
  EXPECT_TRUE(d.empty()) << what << ": " << d;
}

// Builds op(ins) with `attrs`, runs it on the executor and on the bridge, compares the outputs.
void check(const std::string& op, const std::vector<In>& ins, std::map<std::string, Attribute> attrs = {},
           size_t n_out = 1, int64_t opset = 17, double tol = 1e-5) {
  if (!OpRegistry::global().find(op)) {
    g_skipped.insert(op);
    return;
  }
  B b("case", opset);
  std::vector<std::string> names;
  std::map<std::string, Tensor> feeds;
  std::map<std::string, torch::Tensor> tfeeds;
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!ins[i].t.defined()) {
      names.push_back("");
      continue;
    }
    const std::string name = str_cat("in", i);
    if (ins[i].init) {
      b.initializer(name, ins[i].t);
    } else {
      b.input(name, ins[i].t.dtype(), ins[i].t.shape());
      feeds[name] = ins[i].t;
      tfeeds[name] = to_torch(ins[i].t);
    }
    names.push_back(name);
  }
  for (const std::string& o : b.node(op, names, std::move(attrs), n_out, "n")) b.output(o);
  const Model m = b.build();
  const auto want = Executor(m).run(feeds);
  TorchGraph g(m);
  const auto got = g.forward(tfeeds, false);
  for (const auto& [name, t] : want) expect_close(t, got.at(name), op + " output " + name, tol);
}

// A model of several nodes (shape subgraphs, Q/DQ pairs), compared the same way.
void check_model(const Model& m, const std::map<std::string, Tensor>& feeds, double tol = 1e-5) {
  const auto want = Executor(m).run(feeds);
  std::map<std::string, torch::Tensor> tfeeds;
  for (const auto& [n, t] : feeds) tfeeds[n] = to_torch(t);
  TorchGraph g(m);
  const auto got = g.forward(tfeeds, false);
  for (const auto& [name, t] : want) expect_close(t, got.at(name), "output " + name, tol);
}

#define EXPECT_MATCH(...)      \
  do {                         \
    SCOPED_TRACE("this case"); \
    check(__VA_ARGS__);        \
  } while (0)

TEST(TorchGraphOps, EveryExecutorOpHasAMapping) {
  const detail::OpTable& table = detail::op_table();
  for (const std::string& op : OpRegistry::global().op_types(""))
    EXPECT_TRUE(table.count(op)) << "op " << op
                                 << " is registered in the executor but not mapped by the bridge";
}

TEST(TorchGraphOps, Elementwise) {
  EXPECT_MATCH("Add", {feed(rnd({2, 3, 4})), feed(rnd({3, 1}))});
  EXPECT_MATCH("Sub", {feed(rnd({2, 3})), init(rnd({3}))});
  EXPECT_MATCH("Mul", {feed(rnd({4, 1, 5})), feed(rnd({1, 3, 5}))});
  EXPECT_MATCH("Div", {feed(rnd({2, 3})), feed(rnd({2, 3}, 0.5f, 2.f))});
  EXPECT_MATCH("Add", {feed(rnd({2, 3, 4})), feed(rnd({3}))}, {{"broadcast", B::i(1)}, {"axis", B::i(1)}}, 1,
               6);
  EXPECT_MATCH("Pow", {feed(rnd({2, 3}, 0.1f, 2.f)), feed(rnd({2, 3}))});
  EXPECT_MATCH("Pow", {feed(rnd({5}, -2.f, 2.f)), init(i64({}, {3}))});
  for (const char* op : {"Neg", "Abs", "Exp", "Erf", "Relu", "Sigmoid", "Tanh", "HardSwish", "Sign", "Floor",
                         "Ceil", "Softplus", "Softsign", "Sin", "Cos", "Atan", "Sinh", "Asinh"})
    EXPECT_MATCH(op, {feed(rnd({3, 7}, -4.f, 4.f))});
  for (const char* op : {"Sqrt", "Log", "Reciprocal", "Acosh"})
    EXPECT_MATCH(op, {feed(rnd({3, 7}, 1.f, 5.f))});
  EXPECT_MATCH("Round", {feed(f32({8}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, 0.49f, 2.51f, -3.7f}))});
  EXPECT_MATCH("LeakyRelu", {feed(rnd({4, 5}))}, {{"alpha", B::f(0.13f)}});
  EXPECT_MATCH("Elu", {feed(rnd({4, 5}, -3.f, 3.f))}, {{"alpha", B::f(0.7f)}});
  EXPECT_MATCH("Selu", {feed(rnd({4, 5}, -3.f, 3.f))});
  EXPECT_MATCH("Celu", {feed(rnd({4, 5}, -3.f, 3.f))}, {{"alpha", B::f(1.5f)}});
  EXPECT_MATCH("ThresholdedRelu", {feed(rnd({4, 5}, -3.f, 3.f))}, {{"alpha", B::f(0.5f)}});
  EXPECT_MATCH("Shrink", {feed(rnd({4, 5}, -3.f, 3.f))}, {{"lambd", B::f(0.7f)}, {"bias", B::f(0.2f)}});
  EXPECT_MATCH("HardSigmoid", {feed(rnd({4, 5}, -6.f, 6.f))}, {{"alpha", B::f(0.25f)}, {"beta", B::f(0.4f)}});
  EXPECT_MATCH("Gelu", {feed(rnd({4, 5}, -4.f, 4.f))}, {}, 1, 20);
  EXPECT_MATCH("Gelu", {feed(rnd({4, 5}, -4.f, 4.f))}, {{"approximate", B::s("tanh")}}, 1, 20);
  EXPECT_MATCH("PRelu", {feed(rnd({2, 3, 4, 4})), init(rnd({3, 1, 1}))});
  EXPECT_MATCH("PRelu", {feed(rnd({2, 3, 4, 4})), init(rnd({3}))}, {}, 1, 6);
  EXPECT_MATCH("Clip", {feed(rnd({4, 6}, -10.f, 10.f)), init(fs(0.f)), init(fs(6.f))}, {}, 1, 13);  // ReLU6
  EXPECT_MATCH("Clip", {feed(rnd({4, 6}, -10.f, 10.f)), none(), init(fs(1.f))}, {}, 1, 13);
  EXPECT_MATCH("Clip", {feed(rnd({4, 6}, -10.f, 10.f))}, {{"min", B::f(-1.f)}, {"max", B::f(2.f)}}, 1, 6);
  EXPECT_MATCH("Max", {feed(rnd({2, 3})), feed(rnd({3})), feed(rnd({2, 1}))});
  EXPECT_MATCH("Min", {feed(rnd({2, 3})), init(fs(0.25f))});
  EXPECT_MATCH("Sum", {feed(rnd({2, 3})), feed(rnd({3})), feed(rnd({2, 1}))});
  EXPECT_MATCH("Mean", {feed(rnd({2, 3})), feed(rnd({3}))});
  EXPECT_MATCH("Mod", {feed(rnd({3, 4}, -5.f, 5.f)), feed(rnd({3, 4}, 0.5f, 2.f))}, {{"fmod", B::i(1)}});
  Tensor a = rnd({3, 4}), bb = rnd({3, 4});
  bb.data<float>()[0] = a.data<float>()[0];
  for (const char* op : {"Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual"})
    EXPECT_MATCH(op, {feed(a), feed(bb)});
  Tensor cond(DType::Bool, {3, 4});
  for (int i = 0; i < 12; ++i) cond.data<bool>()[i] = i % 3 == 0;
  EXPECT_MATCH("Where", {feed(cond), feed(rnd({3, 4})), feed(rnd({4}))});
  EXPECT_MATCH("Cast", {feed(rnd({3, 4}, -100.f, 100.f))},
               {{"to", B::i(static_cast<int64_t>(DType::Int32))}});
  EXPECT_MATCH("Cast", {feed(rnd({3, 4}, -100.f, 100.f))},
               {{"to", B::i(static_cast<int64_t>(DType::Float16))}});
  EXPECT_MATCH("Cast", {feed(rnd({3, 4}))}, {{"to", B::i(static_cast<int64_t>(DType::Float64))}});
  EXPECT_MATCH("Cast", {feed(i64({3}, {1, -2, 7}))}, {{"to", B::i(static_cast<int64_t>(DType::Float32))}});
  EXPECT_MATCH("CastLike", {feed(rnd({3, 4})), feed(i64({1}, {0}))});
  EXPECT_MATCH("IsNaN", {feed(f32({3}, {1.f, NAN, -2.f}))});
}

TEST(TorchGraphOps, ConvAndGemm) {
  // 2-D with bias, strides, dilations, groups, asymmetric pads.
  EXPECT_MATCH("Conv", {feed(rnd({2, 4, 9, 8})), init(rnd({6, 2, 3, 3})), init(rnd({6}))},
               {{"group", B::i(2)},
                {"strides", B::ints({2, 1})},
                {"dilations", B::ints({1, 2})},
                {"pads", B::ints({1, 0, 2, 1})}});
  EXPECT_MATCH("Conv", {feed(rnd({1, 3, 7, 7})), init(rnd({5, 3, 3, 3}))},
               {{"auto_pad", B::s("SAME_UPPER")}, {"strides", B::ints({2, 2})}});
  EXPECT_MATCH("Conv", {feed(rnd({1, 3, 8, 7})), init(rnd({5, 3, 2, 3}))},
               {{"auto_pad", B::s("SAME_LOWER")}});
  EXPECT_MATCH("Conv", {feed(rnd({1, 3, 8, 7})), init(rnd({5, 3, 2, 3}))}, {{"auto_pad", B::s("VALID")}});
  EXPECT_MATCH("Conv", {feed(rnd({2, 3, 10})), init(rnd({4, 3, 3})), init(rnd({4}))},
               {{"pads", B::ints({2, 1})}});  // 1-D
  EXPECT_MATCH("Conv", {feed(rnd({1, 2, 5, 6, 4})), init(rnd({3, 2, 2, 3, 2}))},
               {{"pads", B::ints({1, 0, 1, 0, 1, 1})}});
  EXPECT_MATCH("Conv", {feed(rnd({1, 6, 6, 6})), init(rnd({6, 1, 3, 3}))},
               {{"group", B::i(6)}, {"pads", B::ints({1, 1, 1, 1})}});
  // ConvTranspose: strides, pads, output_padding, groups, output_shape, auto_pad.
  EXPECT_MATCH("ConvTranspose", {feed(rnd({2, 4, 5, 4})), init(rnd({4, 3, 3, 3})), init(rnd({6}))},
               {{"group", B::i(2)},
                {"strides", B::ints({2, 3})},
                {"pads", B::ints({1, 0, 0, 2})},
                {"output_padding", B::ints({1, 1})}});
  EXPECT_MATCH("ConvTranspose", {feed(rnd({1, 2, 4, 4})), init(rnd({2, 3, 3, 3}))},
               {{"strides", B::ints({2, 2})}, {"output_shape", B::ints({10, 9})}});
  EXPECT_MATCH(
      "ConvTranspose", {feed(rnd({1, 2, 4, 5})), init(rnd({2, 3, 3, 2}))},
      {{"strides", B::ints({2, 2})}, {"auto_pad", B::s("SAME_UPPER")}, {"dilations", B::ints({1, 2})}});
  EXPECT_MATCH("ConvTranspose", {feed(rnd({1, 3, 6})), init(rnd({3, 2, 4})), init(rnd({2}))},
               {{"strides", B::ints({3})}});
  // Gemm, MatMul.
  EXPECT_MATCH("Gemm", {feed(rnd({4, 5})), init(rnd({3, 5})), init(rnd({3}))}, {{"transB", B::i(1)}});
  EXPECT_MATCH("Gemm", {feed(rnd({5, 4})), init(rnd({5, 3})), init(rnd({4, 1}))},
               {{"transA", B::i(1)}, {"alpha", B::f(0.5f)}, {"beta", B::f(2.f)}});
  EXPECT_MATCH("Gemm", {feed(rnd({4, 5})), init(rnd({5, 3}))});
  EXPECT_MATCH("MatMul", {feed(rnd({2, 1, 4, 5})), init(rnd({3, 5, 6}))});
  EXPECT_MATCH("MatMul", {feed(rnd({5})), feed(rnd({2, 5, 3}))});
  EXPECT_MATCH("MatMul", {feed(rnd({2, 4, 5})), feed(rnd({5}))});
}

TEST(TorchGraphOps, PoolsAndNorms) {
  EXPECT_MATCH(
      "MaxPool", {feed(rnd({2, 3, 9, 8}))},
      {{"kernel_shape", B::ints({3, 3})}, {"strides", B::ints({2, 2})}, {"pads", B::ints({1, 0, 0, 1})}});
  EXPECT_MATCH("MaxPool", {feed(rnd({1, 2, 10, 9}))},
               {{"kernel_shape", B::ints({3, 2})},
                {"strides", B::ints({2, 2})},
                {"ceil_mode", B::i(1)},
                {"dilations", B::ints({2, 1})}},
               2);
  EXPECT_MATCH("MaxPool", {feed(rnd({1, 2, 9}))},
               {{"kernel_shape", B::ints({2})}, {"auto_pad", B::s("SAME_UPPER")}});
  EXPECT_MATCH("MaxPool", {feed(rnd({1, 2, 4, 5, 6}))},
               {{"kernel_shape", B::ints({2, 2, 3})}, {"strides", B::ints({1, 2, 2})}});
  EXPECT_MATCH(
      "AveragePool", {feed(rnd({2, 3, 9, 8}))},
      {{"kernel_shape", B::ints({3, 3})}, {"strides", B::ints({2, 2})}, {"pads", B::ints({1, 1, 1, 0})}});
  EXPECT_MATCH("AveragePool", {feed(rnd({2, 3, 9, 8}))},
               {{"kernel_shape", B::ints({3, 3})},
                {"strides", B::ints({2, 2})},
                {"pads", B::ints({1, 1, 1, 0})},
                {"count_include_pad", B::i(1)},
                {"ceil_mode", B::i(1)}});
  EXPECT_MATCH("AveragePool", {feed(rnd({1, 2, 11}))},
               {{"kernel_shape", B::ints({4})},
                {"strides", B::ints({3})},
                {"ceil_mode", B::i(1)},
                {"pads", B::ints({2, 1})}});
  EXPECT_MATCH("AveragePool", {feed(rnd({1, 2, 4, 6, 5}))},
               {{"kernel_shape", B::ints({2, 3, 2})}, {"auto_pad", B::s("SAME_LOWER")}});
  EXPECT_MATCH(
      "AveragePool", {feed(rnd({1, 2, 9, 9}))},
      {{"kernel_shape", B::ints({2, 2})}, {"dilations", B::ints({2, 3})}, {"pads", B::ints({1, 1, 1, 1})}}, 1,
      19);
  EXPECT_MATCH("GlobalAveragePool", {feed(rnd({2, 3, 5, 4}))});
  EXPECT_MATCH("GlobalMaxPool", {feed(rnd({2, 3, 5, 4}))});
  EXPECT_MATCH(
      "BatchNormalization",
      {feed(rnd({2, 3, 4, 5})), init(rnd({3})), init(rnd({3})), init(rnd({3})), init(rnd({3}, 0.5f, 2.f))},
      {{"epsilon", B::f(1e-3f)}});
  EXPECT_MATCH("BatchNormalization",
               {feed(rnd({4, 3})), init(rnd({3})), init(rnd({3})), init(rnd({3})), init(rnd({3}, 0.5f, 2.f))},
               {}, 1, 9);
  EXPECT_MATCH("InstanceNormalization", {feed(rnd({2, 3, 4, 5})), init(rnd({3})), init(rnd({3}))});
  EXPECT_MATCH("LayerNormalization", {feed(rnd({2, 3, 8})), init(rnd({8})), init(rnd({8}))});
  EXPECT_MATCH("LayerNormalization", {feed(rnd({2, 3, 4})), init(rnd({3, 4}))}, {{"axis", B::i(1)}}, 3);
  EXPECT_MATCH("LRN", {feed(rnd({2, 5, 3, 3}))}, {{"size", B::i(3)}, {"alpha", B::f(0.01f)}});
  EXPECT_MATCH("MeanVarianceNormalization", {feed(rnd({2, 3, 4, 5}))});
}

TEST(TorchGraphOps, ShapeAndMovement) {
  EXPECT_MATCH("Concat", {feed(rnd({2, 3})), init(rnd({2, 1})), feed(rnd({2, 2}))}, {{"axis", B::i(-1)}});
  EXPECT_MATCH("Split", {feed(rnd({2, 7})), init(i64({3}, {2, 4, 1}))}, {{"axis", B::i(1)}}, 3, 13);
  EXPECT_MATCH("Split", {feed(rnd({7, 2}))}, {{"num_outputs", B::i(3)}}, 3, 18);
  EXPECT_MATCH("Split", {feed(rnd({6, 2}))}, {{"split", B::ints({1, 5})}}, 2, 11);
  EXPECT_MATCH("Slice",
               {feed(rnd({5, 6, 4})), init(i64({2}, {4, -1})), init(i64({2}, {0, 1})), init(i64({2}, {0, 1})),
                init(i64({2}, {-2, -2}))},
               {}, 1, 13);
  EXPECT_MATCH("Slice",
               {feed(rnd({5, 6})), init(i64({1}, {1})), init(i64({1}, {1000})), init(i64({1}, {1})),
                init(i64({1}, {2}))},
               {}, 1, 13);
  EXPECT_MATCH("Slice", {feed(rnd({5, 6}))}, {{"starts", B::ints({1, -3})}, {"ends", B::ints({3, 100})}}, 1,
               9);
  EXPECT_MATCH("Gather", {feed(rnd({4, 5, 3})), init(i64({2, 2}, {0, -1, 3, 2}))}, {{"axis", B::i(1)}});
  EXPECT_MATCH("Gather", {feed(rnd({4, 5})), init(i64({}, {2}))});
  EXPECT_MATCH("GatherElements", {feed(rnd({3, 4})), init(i64({2, 4}, {0, 2, -1, 1, 2, 0, 1, 1}))},
               {{"axis", B::i(0)}});
  EXPECT_MATCH("Reshape", {feed(rnd({2, 3, 4})), init(i64({3}, {0, -1, 2}))});
  EXPECT_MATCH("Flatten", {feed(rnd({2, 3, 4}))}, {{"axis", B::i(2)}});
  EXPECT_MATCH("Flatten", {feed(rnd({2, 3, 4}))}, {{"axis", B::i(0)}});
  EXPECT_MATCH("Transpose", {feed(rnd({2, 3, 4}))}, {{"perm", B::ints({1, 2, 0})}});
  EXPECT_MATCH("Transpose", {feed(rnd({2, 3, 4}))});
  EXPECT_MATCH("Squeeze", {feed(rnd({1, 3, 1, 2})), init(i64({1}, {-2}))}, {}, 1, 13);
  EXPECT_MATCH("Squeeze", {feed(rnd({1, 3, 1, 2}))}, {{"axes", B::ints({0})}}, 1, 11);
  EXPECT_MATCH("Squeeze", {feed(rnd({1, 3, 1, 2}))});
  EXPECT_MATCH("Unsqueeze", {feed(rnd({3, 2})), init(i64({2}, {0, -1}))}, {}, 1, 13);
  EXPECT_MATCH("Unsqueeze", {feed(rnd({3, 2}))}, {{"axes", B::ints({1})}}, 1, 11);
  EXPECT_MATCH("Expand", {feed(rnd({3, 1})), init(i64({3}, {2, 1, 4}))});
  EXPECT_MATCH("Tile", {feed(rnd({2, 3})), init(i64({2}, {2, 3}))});
  EXPECT_MATCH("Identity", {feed(rnd({2, 3}))});
  EXPECT_MATCH("Shape", {feed(rnd({2, 3, 4, 5}))}, {{"start", B::i(1)}, {"end", B::i(-1)}}, 1, 15);
  EXPECT_MATCH("Size", {feed(rnd({2, 3}))});
  EXPECT_MATCH("Pad", {feed(rnd({2, 3, 4})), init(i64({6}, {0, 1, -1, 1, 2, 2})), init(fs(1.5f))}, {}, 1, 13);
  EXPECT_MATCH("Pad", {feed(rnd({2, 3, 4})), init(i64({4}, {2, 1, 1, 3})), none(), init(i64({2}, {1, 2}))},
               {{"mode", B::s("reflect")}}, 1, 18);
  EXPECT_MATCH("Pad", {feed(rnd({3, 4})), init(i64({4}, {1, 2, 2, 1}))}, {{"mode", B::s("edge")}}, 1, 13);
  EXPECT_MATCH("Pad", {feed(rnd({3, 4})), init(i64({4}, {1, 5, 2, -1}))}, {{"mode", B::s("wrap")}}, 1, 19);
  EXPECT_MATCH("Pad", {feed(rnd({3, 4}))}, {{"pads", B::ints({1, 0, 0, 2})}, {"value", B::f(-2.f)}}, 1, 2);
  EXPECT_MATCH("Trilu", {feed(rnd({2, 4, 5})), init(i64({}, {1}))}, {{"upper", B::i(0)}}, 1, 14);
  EXPECT_MATCH("DepthToSpace", {feed(rnd({1, 8, 2, 3}))}, {{"blocksize", B::i(2)}, {"mode", B::s("CRD")}});
  EXPECT_MATCH("SpaceToDepth", {feed(rnd({1, 2, 4, 6}))}, {{"blocksize", B::i(2)}});
  EXPECT_MATCH("GatherND", {feed(rnd({3, 4, 2})), init(i64({2, 2}, {0, 1, 2, -1}))});
  EXPECT_MATCH("ScatterND", {feed(rnd({4, 3})), init(i64({2, 1}, {3, 0})), feed(rnd({2, 3}))});
  EXPECT_MATCH("ScatterElements", {feed(rnd({3, 3})), init(i64({1, 2}, {2, 0})), feed(rnd({1, 2}))},
               {{"axis", B::i(1)}});
}

TEST(TorchGraphOps, Resize) {
  const Tensor x = rnd({1, 2, 4, 5});
  auto scales = [](std::vector<float> v) {
    return init(Tensor::from_vector<float>({static_cast<int64_t>(v.size())}, v));
  };
  EXPECT_MATCH("Resize", {feed(x), none(), scales({1, 1, 2, 1.5f})}, {{"mode", B::s("nearest")}}, 1, 13);
  EXPECT_MATCH("Resize", {feed(x), none(), scales({1, 1, 0.6f, 0.5f})},
               {{"mode", B::s("nearest")},
                {"nearest_mode", B::s("ceil")},
                {"coordinate_transformation_mode", B::s("asymmetric")}},
               1, 13);
  EXPECT_MATCH("Resize", {feed(x), none(), scales({1, 1, 2, 2})}, {{"mode", B::s("linear")}}, 1, 13);
  EXPECT_MATCH("Resize", {feed(x), none(), none(), init(i64({4}, {1, 2, 7, 3}))},
               {{"mode", B::s("linear")}, {"coordinate_transformation_mode", B::s("align_corners")}}, 1, 13);
  EXPECT_MATCH("Resize", {feed(x), none(), scales({1, 1, 1.7f, 0.8f})},
               {{"mode", B::s("cubic")}, {"coordinate_transformation_mode", B::s("pytorch_half_pixel")}}, 1,
               13);
  EXPECT_MATCH(
      "Resize",
      {feed(x), init(f32({8}, {0, 0, 0.2f, 0.1f, 1, 1, 0.9f, 1.2f})), none(), init(i64({4}, {1, 2, 5, 4}))},
      {{"mode", B::s("linear")},
       {"coordinate_transformation_mode", B::s("tf_crop_and_resize")},
       {"extrapolation_value", B::f(-3.f)}},
      1, 13);
  EXPECT_MATCH("Resize", {feed(x), none(), scales({0.5f, 0.6f})},
               {{"mode", B::s("linear")}, {"antialias", B::i(1)}, {"axes", B::ints({2, 3})}}, 1, 18);
  EXPECT_MATCH("Resize", {feed(x), scales({1, 1, 2, 3})}, {{"mode", B::s("nearest")}}, 1, 10);
  EXPECT_MATCH("Upsample", {feed(x), scales({1, 1, 2, 2})}, {{"mode", B::s("linear")}}, 1, 9);
}

TEST(TorchGraphOps, Reductions) {
  for (const char* op : {"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                         "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare"}) {
    EXPECT_MATCH(op, {feed(rnd({3, 4, 5}))}, {{"axes", B::ints({0, -1})}}, 1,
                 13 - (std::string(op) == "ReduceSum" ? 2 : 0));
    EXPECT_MATCH(op, {feed(rnd({3, 4, 5})), init(i64({1}, {1}))}, {{"keepdims", B::i(0)}}, 1, 18);
    EXPECT_MATCH(op, {feed(rnd({3, 4}))}, {}, 1, 18);
  }
  EXPECT_MATCH("ReduceLogSum", {feed(rnd({3, 4}, 0.5f, 2.f))}, {{"axes", B::ints({1})}}, 1, 13);
  EXPECT_MATCH("ReduceSum", {feed(rnd({3, 4})), init(i64({0}, {}))}, {{"noop_with_empty_axes", B::i(1)}}, 1,
               13);
  EXPECT_MATCH("Softmax", {feed(rnd({2, 3, 4}, -3.f, 3.f))}, {{"axis", B::i(1)}}, 1, 13);
  EXPECT_MATCH("Softmax", {feed(rnd({2, 3, 4}, -3.f, 3.f))}, {{"axis", B::i(1)}}, 1, 11);  // coerced to 2-D
  EXPECT_MATCH("LogSoftmax", {feed(rnd({2, 3, 4}, -3.f, 3.f))}, {}, 1, 13);
  EXPECT_MATCH("LogSoftmax", {feed(rnd({2, 3, 4}, -3.f, 3.f))}, {}, 1, 11);
  EXPECT_MATCH("ArgMax", {feed(rnd({3, 4}))}, {{"axis", B::i(1)}});
  EXPECT_MATCH("Hardmax", {feed(rnd({3, 4}))});
  EXPECT_MATCH("CumSum", {feed(rnd({3, 4})), init(i64({}, {1}))},
               {{"exclusive", B::i(1)}, {"reverse", B::i(1)}});
  EXPECT_MATCH("TopK", {feed(rnd({3, 6})), init(i64({1}, {3}))}, {{"axis", B::i(1)}, {"largest", B::i(0)}},
               2);
}

TEST(TorchGraphOps, Quantization) {
  const Tensor x = rnd({2, 3, 4}, -2.f, 2.f);
  EXPECT_MATCH("QuantizeLinear", {feed(x), init(fs(0.02f)), init(Tensor::scalar<uint8_t>(128))});
  EXPECT_MATCH(
      "QuantizeLinear",
      {feed(x), init(f32({3}, {0.01f, 0.02f, 0.03f})), init(Tensor::from_vector<int8_t>({3}, {0, -3, 5}))},
      {{"axis", B::i(1)}});
  EXPECT_MATCH("QuantizeLinear", {feed(x), init(fs(0.05f))});  // UINT8, zero point 0: clamps negatives
  EXPECT_MATCH("DequantizeLinear",
               {init(Tensor::from_vector<int8_t>({2, 3}, {-128, -1, 0, 5, 100, 127})),
                init(f32({3}, {0.5f, 0.25f, 2.f})), init(Tensor::from_vector<int8_t>({3}, {1, 0, -2}))},
               {{"axis", B::i(1)}});
  EXPECT_MATCH("QuantizeLinear",
               {feed(rnd({2, 6})), init(f32({2, 2}, {0.01f, 0.02f, 0.03f, 0.04f})),
                init(Tensor::from_vector<int8_t>({2, 2}, {0, 1, -1, 2}))},
               {{"axis", B::i(1)}, {"block_size", B::i(3)}}, 1, 21);

  // A Q/DQ pair on activations and on a float weight: fake quantization end to end.
  B b("qdq", 13);
  const std::string in = b.input("x", DType::Float32, {4, 6});
  b.initializer("w", rnd({6, 5}));
  b.initializer("s", fs(0.03f));
  b.initializer("z", Tensor::scalar<int8_t>(-2));
  b.initializer("ws", f32({5}, {0.01f, 0.02f, 0.015f, 0.03f, 0.01f}));
  b.initializer("wz", Tensor::from_vector<int8_t>({5}, {0, 0, 0, 0, 0}));
  const std::string xq = b.op("DequantizeLinear", {b.op("QuantizeLinear", {in, "s", "z"}), "s", "z"});
  const std::string wq =
      b.op("DequantizeLinear", {b.op("QuantizeLinear", {"w", "ws", "wz"}, {{"axis", B::i(1)}}), "ws", "wz"},
           {{"axis", B::i(1)}});
  b.output(b.op("MatMul", {xq, wq}));
  check_model(b.build(), {{"x", rnd({4, 6}, -3.f, 3.f)}});

  // INT4 and UINT16 round trips (the quantized value stays inside the bridge), and an INT32 bias.
  for (DType t : {DType::Int4, DType::UInt16}) {
    B q("q_" + dtype_name(t), 21);
    const std::string qx = q.input("x", DType::Float32, {3, 5});
    q.initializer("s", fs(t == DType::Int4 ? 0.2f : 0.0001f));
    Tensor zp = Tensor::scalar<int32_t>(t == DType::Int4 ? -1 : 30000).cast(t);
    q.initializer("z", zp);
    q.output(q.op("DequantizeLinear", {q.op("QuantizeLinear", {qx, "s", "z"}), "s", "z"}));
    check_model(q.build(), {{"x", rnd({3, 5}, -2.f, 2.f)}});
  }
  EXPECT_MATCH("DequantizeLinear",
               {init(Tensor::from_vector<int32_t>({3}, {-70000, 5, 123456})), init(fs(0.001f))});

  // A quantized value moved by Reshape/Transpose before DequantizeLinear, read by Cast, and
  // returned as a graph output (as INT8).
  B c("carriers", 13);
  const std::string cx = c.input("x", DType::Float32, {2, 6});
  c.initializer("s", fs(0.02f));
  c.initializer("z", Tensor::scalar<int8_t>(3));
  c.initializer("shape", i64({2}, {3, 4}));
  const std::string q = c.op("QuantizeLinear", {cx, "s", "z"});
  const std::string moved = c.op("Transpose", {c.op("Reshape", {q, "shape"})});
  c.output(moved);
  c.output(c.op("DequantizeLinear", {moved, "s", "z"}));
  c.output(c.op("Cast", {q}, {{"to", B::i(static_cast<int64_t>(DType::Float32))}}));
  check_model(c.build(), {{"x", rnd({2, 6}, -3.f, 3.f)}});
}

TEST(TorchGraphOps, ShapeSubgraphRunsOnTheExecutor) {
  // Reshape to [N, -1] computed from Shape -> Gather -> Unsqueeze -> Concat, as exporters write it;
  // plus ConstantOfShape and Constant.
  B b("shape_subgraph", 13);
  const std::string x = b.input("x", DType::Float32, {3, 2, 4});
  b.initializer("zero", i64({}, {0}));
  b.initializer("axes0", i64({1}, {0}));
  b.initializer("minus1", i64({1}, {-1}));
  const std::string n = b.op("Unsqueeze", {b.op("Gather", {b.op("Shape", {x}), "zero"}), "axes0"});
  const std::string shape = b.op("Concat", {n, "minus1"}, {{"axis", B::i(0)}});
  const std::string flat = b.op("Reshape", {x, shape});
  Attribute v = attr_tensor(f32({1}, {0.5f}));
  const std::string halves = b.op("ConstantOfShape", {b.op("Shape", {flat})}, {{"value", v}});
  const std::string k = b.op("Constant", {}, {{"value", attr_tensor(f32({1}, {3.f}))}});
  b.output(b.op("Mul", {b.op("Add", {flat, halves}), k}));
  check_model(b.build(), {{"x", rnd({3, 2, 4})}});
}

TEST(TorchGraphOps, TheComparisonCatchesSmallDifferences) {
  const Tensor want = f32({3}, {1.f, -250.f, 0.001f});
  EXPECT_EQ(mismatch(want, to_torch(want) * (1 + 5e-6), 1e-5), "");
  EXPECT_NE(mismatch(want, to_torch(want) * (1 + 3e-5), 1e-5), "");
  EXPECT_NE(mismatch(want, to_torch(want) + 2e-5, 1e-5), "");
  EXPECT_NE(mismatch(i64({2}, {1, 2}), torch::tensor({1, 3}, torch::kLong), 1e-5), "");
  EXPECT_NE(mismatch(i64({2}, {1, 2}), torch::tensor({1, 2}, torch::kInt), 1e-5), "");
}

TEST(TorchGraphOps, ReportsOpsTheExecutorLacks) {
  std::cout << "[ note ] " << g_compared << " outputs compared\n";
  // Not a failure: extra ops are only checked once the executor registers them.
  if (!g_skipped.empty()) {
    std::string list;
    for (const std::string& op : g_skipped) list += " " + op;
    std::cout << "[ note ] not compared (not registered in the executor):" << list << "\n";
  }
}

}  // namespace
}  // namespace octet::train
