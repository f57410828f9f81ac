// TorchGraph as a training engine: learning a separable problem, writing the weights back and
// re-running them on the executor, gradients and running statistics, which initializers become
// parameters, hooks, Dropout, fake quantization's straight-through gradient, errors, the zoo
// models, and libtorch's thread settings. Op-by-op agreement with the executor is in
// torch_graph_ops_test.cpp.
#include "train/torch_graph.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/utils.h>

#include <iostream>
#include <random>

#include "../test_util.h"
#include "ir/builder.h"
#include "runtime/executor.h"
#include "zoo/zoo.h"

namespace octet::train {
namespace {

using B = GraphBuilder;

Tensor rnd(const Shape& s, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  return testing::random_float(s, seed, lo, hi);
}

// Largest |a - b| relative to max(1, |b|).
double max_rel_diff(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor d =
      (a.to(torch::kDouble) - b.to(torch::kDouble)).abs() / b.to(torch::kDouble).abs().clamp_min(1.0);
  return d.numel() == 0 ? 0.0 : d.max().item<double>();
}

template <class F>
void expect_error(F f, const std::vector<std::string>& fragments) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning " << fragments[0];
  } catch (const Error& e) {
    for (const std::string& s : fragments)
      EXPECT_NE(std::string(e.what()).find(s), std::string::npos) << e.what();
  }
}

torch::Tensor cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels) {
  return -at::log_softmax(logits, 1).gather(1, labels.unsqueeze(1)).mean();
}

// Plain SGD on every parameter.
void sgd_step(TorchGraph& g, double lr) {
  torch::NoGradGuard no_grad;
  for (torch::Tensor& p : g.parameters()) {
    p.sub_(p.grad() * lr);
    p.grad().zero_();
  }
}

// x: [n, 4] in [-1, 1]; label 1 when x0 + 0.5 x1 - x2 > 0 (linearly separable).
void separable_data(int64_t n, uint32_t seed, torch::Tensor* x, torch::Tensor* y) {
  *x = to_torch(rnd({n, 4}, seed));
  *y = ((x->select(1, 0) + 0.5 * x->select(1, 1) - x->select(1, 2)) > 0).to(torch::kLong);
}

Model mlp(uint32_t seed) {
  B b("mlp", 17);
  const std::string x = b.input("x", DType::Float32, {-1, 4});
  b.initializer("w1", rnd({16, 4}, seed, -0.5f, 0.5f));
  b.initializer("b1", Tensor(DType::Float32, {16}));
  b.initializer("w2", rnd({2, 16}, seed + 1, -0.5f, 0.5f));
  b.initializer("b2", Tensor(DType::Float32, {2}));
  const std::string h = b.op("Relu", {b.op("Gemm", {x, "w1", "b1"}, {{"transB", B::i(1)}})});
  b.output(b.op("Gemm", {h, "w2", "b2"}, {{"transB", B::i(1)}}, "logits"));
  return b.build();
}

TEST(TorchGraph, MlpLearnsASeparableProblemAndTheExecutorReproducesIt) {
  const uint32_t seed = 11;
  std::cout << "seed " << seed << "\n";
  torch::Tensor x, y;
  separable_data(128, seed, &x, &y);
  auto train = [&](Model& m, double* first, double* last) {
    TorchGraph g(m);
    EXPECT_EQ(g.parameter_names(), (std::vector<std::string>{"b1", "b2", "w1", "w2"}));
    for (int step = 0; step < 300; ++step) {
      torch::Tensor loss = cross_entropy(g.forward_one(x, true), y);
      if (step == 0) *first = loss.item<double>();
      *last = loss.item<double>();
      loss.backward();
      sgd_step(g, 0.5);
    }
    g.write_back(m);
    return g.forward_one(x, false);
  };
  Model m = mlp(seed);
  double first = 0, last = 0;
  const torch::Tensor out = train(m, &first, &last);
  std::cout << "loss " << first << " -> " << last << "\n";
  EXPECT_GT(first, 0.5);
  EXPECT_LT(last, 0.08);
  EXPECT_GT((out.argmax(1) == y).to(torch::kFloat).mean().item<double>(), 0.97);

  // The written-back weights on the executor give the bridge's outputs.
  const auto ref = Executor(m).run({{"x", from_torch(x)}});
  EXPECT_LT(max_rel_diff(out, to_torch(ref.at("logits_out"))), 1e-5);

  // Same seed, same result, bit for bit.
  Model m2 = mlp(seed);
  double first2 = 0, last2 = 0;
  const torch::Tensor out2 = train(m2, &first2, &last2);
  EXPECT_TRUE(at::equal(out, out2));
  EXPECT_EQ(last, last2);
}

// Conv -> BatchNormalization -> Relu -> GlobalAveragePool -> Flatten -> Gemm; the conv output is
// a second graph output so the batch statistics can be checked.
Model conv_bn_gemm(uint32_t seed) {
  B b("cbg", 17);
  const std::string x = b.input("x", DType::Float32, {-1, 2, 6, 6});
  b.initializer("conv.w", rnd({4, 2, 3, 3}, seed, -0.5f, 0.5f));
  b.initializer("conv.b", rnd({4}, seed + 1, -0.1f, 0.1f));
  b.initializer("bn.scale", rnd({4}, seed + 2, 0.5f, 1.5f));
  b.initializer("bn.bias", rnd({4}, seed + 3, -0.1f, 0.1f));
  b.initializer("bn.mean", rnd({4}, seed + 4, -0.1f, 0.1f));
  b.initializer("bn.var", rnd({4}, seed + 5, 0.5f, 1.5f));
  b.initializer("fc.w", rnd({3, 4}, seed + 6));
  b.initializer("fc.b", rnd({3}, seed + 7));
  const std::string c = b.op("Conv", {x, "conv.w", "conv.b"}, {{"pads", B::ints({1, 1, 1, 1})}}, "conv");
  const std::string n =
      b.op("BatchNormalization", {c, "bn.scale", "bn.bias", "bn.mean", "bn.var"}, {{"momentum", B::f(0.8f)}});
  const std::string p = b.op("Flatten", {b.op("GlobalAveragePool", {b.op("Relu", {n})})});
  b.output(b.op("Gemm", {p, "fc.w", "fc.b"}, {{"transB", B::i(1)}}, "fc"));
  b.output(c);
  return b.build();
}

TEST(TorchGraph, GradientsReachEveryParameterAndBatchNormUpdatesItsStatistics) {
  Model m = conv_bn_gemm(5);
  TorchGraph g(m);
  EXPECT_EQ(g.parameter_names(),
            (std::vector<std::string>{"bn.bias", "bn.scale", "conv.b", "conv.w", "fc.b", "fc.w"}));
  EXPECT_EQ(g.buffer_names(), (std::vector<std::string>{"bn.mean", "bn.var"}));
  const torch::Tensor mean0 = g.buffers()[0].clone(), var0 = g.buffers()[1].clone();
  const torch::Tensor x = to_torch(rnd({5, 2, 6, 6}, 99));
  auto out = g.forward({{"x", x}}, true);
  const torch::Tensor w = to_torch(rnd({5, 3}, 100));
  (out.at("fc_out") * w).sum().backward();
  for (size_t i = 0; i < g.parameters().size(); ++i) {
    const torch::Tensor p = g.parameters()[i];
    ASSERT_TRUE(p.grad().defined()) << g.parameter_names()[i];
    EXPECT_GT(p.grad().abs().max().item<double>(), 0.0) << g.parameter_names()[i];
  }
  // PyTorch's update with ONNX's momentum 0.8: running * 0.8 + batch * 0.2, variance unbiased.
  const torch::Tensor conv = out.at("conv_out").detach();
  const torch::Tensor bm = conv.mean({0, 2, 3}), bv = conv.var({0, 2, 3}, /*unbiased=*/true);
  EXPECT_LT(max_rel_diff(g.buffers()[0], mean0 * 0.8 + bm * 0.2), 1e-6);
  EXPECT_LT(max_rel_diff(g.buffers()[1], var0 * 0.8 + bv * 0.2), 1e-6);
  // Eval mode uses (and does not change) the running statistics; the executor agrees after write_back.
  const torch::Tensor mean1 = g.buffers()[0].clone();
  const torch::Tensor ev = g.forward({{"x", x}}, false).at("fc_out");
  EXPECT_TRUE(at::equal(g.buffers()[0], mean1));
  g.write_back(m);
  const auto ref = Executor(m).run({{"x", from_torch(x)}});
  EXPECT_LT(max_rel_diff(ev, to_torch(ref.at("fc_out"))), 1e-5);
}

TEST(TorchGraph, CnnTrainsAndWritesBack) {
  Model m = conv_bn_gemm(8);
  TorchGraph g(m);
  torch::manual_seed(3);
  // Three classes by which input channel carries the signal / its sign.
  const torch::Tensor x = torch::randn({24, 2, 6, 6}) * 0.3;
  const torch::Tensor y = torch::arange(24, torch::kLong) % 3;
  {
    torch::NoGradGuard ng;
    x.select(1, 0).add_((y == 0).to(torch::kFloat).view({24, 1, 1}));
    x.select(1, 1).add_((y == 1).to(torch::kFloat).view({24, 1, 1}));
    x.select(1, 0).sub_((y == 2).to(torch::kFloat).view({24, 1, 1}));
  }
  double first = 0, last = 0;
  for (int step = 0; step < 150; ++step) {
    torch::Tensor loss = cross_entropy(g.forward({{"x", x}}, true).at("fc_out"), y);
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    loss.backward();
    sgd_step(g, 0.2);
  }
  std::cout << "cnn loss " << first << " -> " << last << "\n";
  EXPECT_LT(last, 0.25);
  const torch::Tensor ev = g.forward({{"x", x}}, false).at("fc_out");
  g.write_back(m);
  const auto ref = Executor(m).run({{"x", from_torch(x)}});
  EXPECT_LT(max_rel_diff(ev, to_torch(ref.at("fc_out"))), 1e-5);
}

// Autograd's gradient of sum(op(inputs) * r) against central finite differences, in double, for
// the ops whose backward is composed here (padding, cropping, gathers, weight matrices).
void check_gradient(const std::string& op, const std::vector<Shape>& shapes,
                    std::map<std::string, Attribute> attrs, int64_t opset = 17,
                    const std::vector<Tensor>& consts = {}) {
  SCOPED_TRACE(op);
  B b("grad", opset);
  std::vector<std::string> names;
  std::map<std::string, torch::Tensor> feeds;
  for (size_t i = 0; i < shapes.size(); ++i) {
    names.push_back(b.input(str_cat("x", i), DType::Float64, shapes[i]));
    feeds[names.back()] =
        to_torch(rnd(shapes[i], 500 + static_cast<uint32_t>(i), -2.f, 2.f)).to(torch::kDouble);
  }
  for (size_t i = 0; i < consts.size(); ++i) names.push_back(b.initializer(str_cat("c", i), consts[i]));
  b.output(b.op(op, names, std::move(attrs)));
  Model m = b.build();
  TorchGraph g(m);
  torch::Tensor r;
  auto loss = [&](const std::map<std::string, torch::Tensor>& in) {
    const torch::Tensor out = g.forward(in, true).begin()->second;
    if (!r.defined()) r = to_torch(rnd(out.sizes().vec(), 77)).to(torch::kDouble);
    return (out * r).sum();
  };
  for (auto& [n, t] : feeds) t.requires_grad_(true);
  loss(feeds).backward();
  const double h = 1e-6;
  for (auto& [n, t] : feeds) {
    const torch::Tensor grad = t.grad();
    for (int64_t i = 0; i < t.numel(); ++i) {
      auto shifted = [&](double d) {
        std::map<std::string, torch::Tensor> in;
        for (const auto& [n2, t2] : feeds) in[n2] = t2.detach().clone();
        in[n].view({-1})[i] += d;
        torch::NoGradGuard ng;
        return loss(in).item<double>();
      };
      const double numeric = (shifted(h) - shifted(-h)) / (2 * h);
      ASSERT_NEAR(grad.view({-1})[i].item<double>(), numeric, 1e-5 * std::max(1.0, std::fabs(numeric)))
          << "input " << n << " element " << i;
    }
  }
}

TEST(TorchGraph, GradientsMatchFiniteDifferences) {
  const auto i64 = [](const Shape& s, const std::vector<int64_t>& v) {
    return Tensor::from_vector<int64_t>(s, v);
  };
  check_gradient("Conv", {{1, 2, 5, 4}, {3, 2, 2, 3}},
                 {{"pads", B::ints({1, 0, 0, 2})}, {"strides", B::ints({2, 1})}});
  check_gradient(
      "ConvTranspose", {{1, 2, 3, 3}, {2, 2, 3, 2}},
      {{"strides", B::ints({2, 2})}, {"pads", B::ints({1, 0, 0, 1})}, {"output_padding", B::ints({1, 0})}});
  check_gradient("MaxPool", {{1, 1, 5, 6}},
                 {{"kernel_shape", B::ints({2, 3})},
                  {"strides", B::ints({2, 2})},
                  {"pads", B::ints({1, 1, 0, 0})},
                  {"ceil_mode", B::i(1)}});
  check_gradient("AveragePool", {{1, 2, 5, 5}},
                 {{"kernel_shape", B::ints({3, 2})},
                  {"strides", B::ints({2, 2})},
                  {"pads", B::ints({1, 0, 1, 1})},
                  {"count_include_pad", B::i(0)}});
  check_gradient("AveragePool", {{1, 1, 7}}, {{"kernel_shape", B::ints({2})}, {"dilations", B::ints({2})}},
                 19);
  check_gradient("LayerNormalization", {{2, 3, 4}, {4}, {4}}, {});
  check_gradient("InstanceNormalization", {{2, 3, 4}, {3}, {3}}, {});
  check_gradient("LRN", {{1, 4, 2, 2}}, {{"size", B::i(3)}});
  check_gradient("Softmax", {{2, 3, 4}}, {{"axis", B::i(1)}}, 11);
  check_gradient("Resize", {{1, 1, 3, 4}}, {{"mode", B::s("cubic")}}, 13,
                 {Tensor(DType::Float32, {0}), Tensor::from_vector<float>({4}, {1, 1, 1.5f, 0.75f})});
  check_gradient("Pad", {{3, 4}}, {{"mode", B::s("reflect")}}, 13, {i64({4}, {2, 1, 1, 3})});
  check_gradient("Slice", {{5, 4}}, {}, 13, {i64({1}, {-1}), i64({1}, {-6}), i64({1}, {0}), i64({1}, {-2})});
  check_gradient("DepthToSpace", {{1, 4, 2, 3}}, {{"blocksize", B::i(2)}});
  check_gradient("GatherND", {{3, 4}}, {}, 13, {i64({3, 2}, {0, 1, 2, 3, 0, 1})});
  check_gradient("CumSum", {{3, 4}}, {{"exclusive", B::i(1)}, {"reverse", B::i(1)}}, 13, {i64({}, {1})});
}

TEST(TorchGraph, ShapeBoundsAndQuantParametersStayConstants) {
  B b("consts", 13);
  const std::string x = b.input("x", DType::Float32, {2, 6});
  b.initializer("w", rnd({6, 6}, 1));
  b.initializer("bias", rnd({6}, 2));
  b.initializer("lo", Tensor::scalar<float>(0.f));
  b.initializer("hi", Tensor::scalar<float>(6.f));
  b.initializer("six", Tensor::scalar<float>(6.f));
  b.initializer("two", Tensor::scalar<float>(2.f));
  b.initializer("shape", Tensor::from_vector<int64_t>({2}, {3, 4}));
  b.initializer("scale", Tensor::scalar<float>(0.1f));
  b.initializer("int_w", Tensor::from_vector<int8_t>({6}, {1, 2, 3, 4, 5, 6}));
  const std::string h = b.op("Add", {b.op("MatMul", {x, "w"}), "bias"});
  const std::string r6 = b.op("Min", {b.op("Clip", {h, "lo", "hi"}), "six"});
  const std::string q = b.op("DequantizeLinear", {b.op("QuantizeLinear", {r6, "scale"}), "scale"});
  const std::string p = b.op("Pow", {q, "two"});
  const std::string d = b.op("DequantizeLinear", {"int_w", "scale"});
  b.output(b.op("Reshape", {b.op("Add", {p, d}), "shape"}));
  Model m = b.build();
  TorchGraph g(m);
  EXPECT_EQ(g.parameter_names(), (std::vector<std::string>{"bias", "w"}));
  EXPECT_TRUE(g.buffer_names().empty());
  const torch::Tensor in = to_torch(rnd({2, 6}, 3, -3.f, 3.f));
  const auto ref = Executor(m).run({{"x", from_torch(in)}});
  EXPECT_LT(max_rel_diff(g.forward_one(in, false), to_torch(ref.begin()->second)), 1e-5);
}

TEST(TorchGraph, FakeQuantPassesGradientsStraightThroughInsideTheRange) {
  B b("qat", 13);
  const std::string x = b.input("x", DType::Float32, {1, 6});
  b.initializer("w", rnd({6, 2}, 4));
  b.initializer("s", Tensor::scalar<float>(0.1f));
  b.initializer("z", Tensor::scalar<int8_t>(0));
  const std::string xq = b.op("DequantizeLinear", {b.op("QuantizeLinear", {x, "s", "z"}), "s", "z"});
  const std::string wq = b.op("DequantizeLinear", {b.op("QuantizeLinear", {"w", "s", "z"}), "s", "z"});
  b.output(b.op("MatMul", {xq, wq}));
  Model m = b.build();
  TorchGraph g(m);
  ASSERT_EQ(g.parameter_names(), std::vector<std::string>{"w"});
  // 20 and -20 are outside int8 * 0.1 = [-12.8, 12.7]: clamped, no gradient there.
  const torch::Tensor in =
      torch::tensor({0.33f, -0.71f, 20.f, 1.05f, -20.f, 0.f}).reshape({1, 6}).requires_grad_(true);
  const torch::Tensor out = g.forward_one(in, true);
  const auto ref = Executor(m).run({{"x", from_torch(in)}});
  EXPECT_LT(max_rel_diff(out, to_torch(ref.begin()->second)), 1e-5);
  out.sum().backward();
  const torch::Tensor gx = in.grad().reshape({6});
  const torch::Tensor wsum = g.parameters()[0].detach().mul(10).round().div(10).sum(1);  // DQ(Q(w)) row sums
  for (int i : {0, 1, 3, 5}) EXPECT_NEAR(gx[i].item<float>(), wsum[i].item<float>(), 1e-5) << i;
  EXPECT_EQ(gx[2].item<float>(), 0.f);
  EXPECT_EQ(gx[4].item<float>(), 0.f);
  EXPECT_GT(g.parameters()[0].grad().abs().sum().item<float>(), 0.f);
}

TEST(TorchGraph, HooksSeeAndReplaceValues) {
  B b("hooks", 17);
  const std::string x = b.input("x", DType::Float32, {2, 3});
  b.output(b.op("Neg", {b.op("Relu", {x}, {}, "relu")}, {}, "neg"));
  Model m = b.build();
  TorchGraph g(m);
  int pre = 0;
  g.set_pre_hook([&](const Node&, size_t, const torch::Tensor& v) {
    ++pre;
    return v;
  });
  g.set_post_hook([](const Node& n, size_t, const torch::Tensor& v) { return n.name == "relu" ? v * 2 : v; });
  const torch::Tensor in = to_torch(rnd({2, 3}, 9));
  EXPECT_TRUE(at::allclose(g.forward_one(in, false), -2 * at::relu(in)));
  EXPECT_EQ(pre, 2);
}

TEST(TorchGraph, DropoutIsTheIdentityInEvalAndDropsInTraining) {
  B b("drop", 13);
  const std::string x = b.input("x", DType::Float32, {100, 100});
  b.node("Dropout", {x}, {{"ratio", B::f(0.25f)}}, 2, "drop");
  b.output("drop_out0");
  b.output("drop_out1");
  Model m = b.build();
  TorchGraph g(m);
  const torch::Tensor in = torch::ones({100, 100});
  auto ev = g.forward({{"x", in}}, false);
  EXPECT_TRUE(at::equal(ev.at("drop_out0"), in));
  EXPECT_TRUE(ev.at("drop_out1").all().item<bool>());
  torch::manual_seed(1);
  auto tr = g.forward({{"x", in}}, true);
  const double kept = tr.at("drop_out1").to(torch::kFloat).mean().item<double>();
  EXPECT_NEAR(kept, 0.75, 0.02);
  EXPECT_TRUE(at::allclose(tr.at("drop_out0"), tr.at("drop_out1").to(torch::kFloat) / 0.75));
  torch::manual_seed(1);
  EXPECT_TRUE(at::equal(g.forward({{"x", in}}, true).at("drop_out0"), tr.at("drop_out0")));
}

TEST(TorchGraph, BadInputsAreErrorsNamingTheNode) {
  {
    B b("custom", 17);
    b.output(b.op("NoSuchOp", {b.input("x", DType::Float32, {2})}, {}, "mystery"));
    Model m = b.build();
    expect_error([&] { TorchGraph g(m); }, {"mystery", "NoSuchOp", "not supported"});
  }
  {
    B b("conv_int", 17);
    const std::string x = b.input("x", DType::Int64, {1, 1, 3, 3});
    b.initializer("w", rnd({1, 1, 2, 2}, 1));
    b.output(b.op("Conv", {x, "w"}, {}, "conv1"));
    Model m = b.build();
    TorchGraph g(m);
    expect_error(
        [&] {
          g.forward_one(torch::ones({1, 1, 3, 3}, torch::kLong), false);
        },
        {"conv1", "Conv", "INT64"});
  }
  {
    B b("sqrt_int", 17);
    b.output(b.op("Sqrt", {b.input("x", DType::Int32, {3})}, {}, "root"));
    Model m = b.build();
    TorchGraph g(m);
    expect_error([&] { g.forward_one(torch::ones({3}, torch::kInt), false); }, {"root", "Sqrt", "INT32"});
  }
  {
    B b("feeds", 17);
    b.output(b.op("Relu", {b.input("x", DType::Float32, {2, 3})}));
    Model m = b.build();
    TorchGraph g(m);
    expect_error([&] { g.forward({}, false); }, {"missing input 'x'"});
    expect_error([&] { g.forward_one(torch::ones({2, 3}, torch::kDouble), false); }, {"input 'x'", "DOUBLE"});
    expect_error([&] { g.forward_one(torch::ones({6}), false); }, {"input 'x' has shape [6]"});
  }
  {
    B b("mismatch", 17);
    const std::string x = b.input("x", DType::Float32, {2, 3});
    b.initializer("w", rnd({4, 5}, 1));
    b.output(b.op("MatMul", {x, "w"}, {}, "mm"));
    Model m = b.build();
    TorchGraph g(m);
    expect_error([&] { g.forward_one(torch::ones({2, 3}), false); }, {"mm", "inner dims"});
  }
}

TEST(TorchGraph, ZooModelsMatchTheExecutorAndTrain) {
  for (const std::string& name : zoo::model_names()) {
    SCOPED_TRACE(name);
    Model m = zoo::make_model(name, 1);
    TorchGraph g(m);
    const Tensor in = zoo::sample_input(3, 7);
    const auto ref = Executor(m).run({{m.graph.inputs[0], in}});
    const torch::Tensor out = g.forward_one(to_torch(in), false);
    EXPECT_LT(max_rel_diff(out, to_torch(ref.begin()->second)), 1e-5);
    torch::manual_seed(2);
    g.forward_one(to_torch(in), true).pow(2).sum().backward();
    for (size_t i = 0; i < g.parameters().size(); ++i) {
      const torch::Tensor p = g.parameters()[i];
      EXPECT_TRUE(p.grad().defined() && p.grad().abs().max().item<double>() > 0) << g.parameter_names()[i];
    }
  }
}

TEST(TorchGraph, ThreadCountCanBeSet) {
  // Debian's libtorch is built with OpenMP; at::set_num_threads sets its intra-op pool.
  const int before = at::get_num_threads();
  std::cout << at::get_parallel_info();
  at::set_num_threads(2);
  EXPECT_EQ(at::get_num_threads(), 2);
  at::set_num_threads(before);
}

}  // namespace
}  // namespace octet::train
