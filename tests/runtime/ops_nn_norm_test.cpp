// BatchNormalization (inference, training mode, old opsets), InstanceNormalization and
// LayerNormalization against values computed here from the formulas, dtypes and errors.
#include <gtest/gtest.h>

#include <cmath>

#include "../test_util.h"

namespace octet {
namespace {

using testing::attr_float;
using testing::attr_int;
using testing::expect_near;
using testing::make_node;
using testing::run_op;

void expect_fails(const Node& n, const std::vector<Tensor>& in, const std::string& needle,
                  int64_t opset = 21) {
  try {
    run_op(n, in, opset);
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

float bn(float x, float s, float b, float m, float v, float eps = 1e-5f) {
  return static_cast<float>(s * (x - m) / std::sqrt(double(v) + eps) + b);
}

TEST(OpsNnNorm, BatchNormInference) {
  Tensor x = Tensor::from_vector<float>({1, 2, 1, 3}, {-1, 0, 1, 2, 3, 4});
  Tensor s = Tensor::from_vector<float>({2}, {1, 1.5f});
  Tensor b = Tensor::from_vector<float>({2}, {0, 1});
  Tensor m = Tensor::from_vector<float>({2}, {0, 3});
  Tensor v = Tensor::from_vector<float>({2}, {1, 1.5f});
  Tensor want = Tensor::from_vector<float>(
      {1, 2, 1, 3}, {bn(-1, 1, 0, 0, 1), bn(0, 1, 0, 0, 1), bn(1, 1, 0, 0, 1),
                     bn(2, 1.5f, 1, 3, 1.5f), bn(3, 1.5f, 1, 3, 1.5f), bn(4, 1.5f, 1, 3, 1.5f)});
  Node n = make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"});
  for (int64_t opset : {6, 7, 9, 14, 15}) expect_near(run_op(n, {x, s, b, m, v}, opset)[0], want);
  // Old-opset attributes: is_test is ignored, spatial=1 accepted.
  Node old = make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"},
                       {{"is_test", attr_int(0)}, {"spatial", attr_int(1)}});
  expect_near(run_op(old, {x, s, b, m, v}, 6)[0], want);
  // training_mode = 0 at opset 14 is inference too; epsilon honoured.
  Node eps = make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"},
                       {{"epsilon", attr_float(0.5f)}, {"training_mode", attr_int(0)}});
  EXPECT_NEAR(run_op(eps, {x, s, b, m, v}, 14)[0].data<float>()[0], -1 / std::sqrt(1.5), 1e-6);
  // Float64 and float16; opset 15 scale/bias in another float type than X.
  expect_near(run_op(n, {x.cast(DType::Float64), s.cast(DType::Float64), b.cast(DType::Float64),
                         m.cast(DType::Float64), v.cast(DType::Float64)})[0],
              want.cast(DType::Float64), 1e-6f);
  expect_near(run_op(n, {x.cast(DType::Float16), s, b, m, v})[0], want.cast(DType::Float16), 1e-3f);
}

TEST(OpsNnNorm, BatchNormTrainingMode) {
  Tensor x = Tensor::from_vector<float>({2, 1, 2}, {1, 2, 3, 4});  // mean 2.5, var 1.25
  Tensor one = Tensor::from_vector<float>({1}, {1}), zero = Tensor::from_vector<float>({1}, {0});
  Node n = make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y", "rm", "rv"},
                     {{"training_mode", attr_int(1)}, {"momentum", attr_float(0.9f)}});
  auto out = run_op(n, {x, one, zero, zero, one}, 15);
  expect_near(out[0], Tensor::from_vector<float>(
                          {2, 1, 2}, {bn(1, 1, 0, 2.5f, 1.25f), bn(2, 1, 0, 2.5f, 1.25f),
                                      bn(3, 1, 0, 2.5f, 1.25f), bn(4, 1, 0, 2.5f, 1.25f)}));
  expect_near(out[1], Tensor::from_vector<float>({1}, {0.25f}));
  expect_near(out[2], Tensor::from_vector<float>({1}, {1.025f}));
  // Opset 9 with the optional outputs: Y stays inference; outputs are running and batch stats.
  Node o9 =
      make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y", "m1", "v1", "sm", "sv"});
  auto out9 = run_op(o9, {x, one, zero, zero, one}, 9);
  expect_near(out9[0],
              Tensor::from_vector<float>({2, 1, 2}, {bn(1, 1, 0, 0, 1), bn(2, 1, 0, 0, 1),
                                                     bn(3, 1, 0, 0, 1), bn(4, 1, 0, 0, 1)}));
  expect_near(out9[1], Tensor::from_vector<float>({1}, {0.25f}));
  expect_near(out9[3], Tensor::from_vector<float>({1}, {2.5f}));
  expect_near(out9[4], Tensor::from_vector<float>({1}, {1.25f}));
}

TEST(OpsNnNorm, BatchNormErrors) {
  Tensor x(DType::Float32, {1, 2, 3});
  Tensor c2(DType::Float32, {2}), c3(DType::Float32, {3});
  Node n = make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"});
  expect_fails(n, {x, c3, c2, c2, c2}, "scale has 3 elements but X has 2 channels");
  expect_fails(n, {x, c2, c2, c2, Tensor(DType::Float32, {2, 1})}, "input_var must be 1-D");
  expect_fails(n, {Tensor(DType::Float32, {4}), c2, c2, c2, c2}, "rank >= 2");
  expect_fails(n, {x.cast(DType::Int32), c2, c2, c2, c2}, "INT32");
  expect_fails(n, {x, c2, c2, c2}, "required input 4 is missing");
  Node sp =
      make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y"}, {{"spatial", attr_int(0)}});
  expect_fails(sp, {x, c2, c2, c2, c2}, "spatial=0", 7);
}

TEST(OpsNnNorm, InstanceNorm) {
  Tensor x = Tensor::from_vector<float>({1, 2, 2}, {1, 3, 2, 2});
  Tensor s = Tensor::from_vector<float>({2}, {2, 1});
  Tensor b = Tensor::from_vector<float>({2}, {0.5f, -1});
  Node n = make_node("InstanceNormalization", {"x", "s", "b"}, {"y"});
  const float a = static_cast<float>(2 / std::sqrt(1 + 1e-5));
  Tensor want = Tensor::from_vector<float>({1, 2, 2}, {0.5f - a, 0.5f + a, -1, -1});
  expect_near(run_op(n, {x, s, b})[0], want);
  expect_near(
      run_op(n, {x.cast(DType::Float64), s.cast(DType::Float64), b.cast(DType::Float64)})[0],
      want.cast(DType::Float64), 1e-6f);
  expect_near(
      run_op(n, {x.cast(DType::Float16), s.cast(DType::Float16), b.cast(DType::Float16)})[0],
      want.cast(DType::Float16), 1e-3f);
  Node e =
      make_node("InstanceNormalization", {"x", "s", "b"}, {"y"}, {{"epsilon", attr_float(1.f)}});
  EXPECT_NEAR(run_op(e, {x, s, b})[0].data<float>()[0], 0.5 - 2 / std::sqrt(2.0), 1e-6);
  expect_fails(n, {x, Tensor(DType::Float32, {3}), b}, "scale has 3 elements");
}

TEST(OpsNnNorm, LayerNorm) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 2, 4, 6});
  Tensor s = Tensor::from_vector<float>({3}, {1, 2, 3});
  Tensor b = Tensor::from_vector<float>({3}, {0, 0, 1});
  Node n = make_node("LayerNormalization", {"x", "s", "b"}, {"y", "mean", "inv"});
  auto out = run_op(n, {x, s, b}, 17);
  const double i0 = 1 / std::sqrt(2.0 / 3 + 1e-5), i1 = 1 / std::sqrt(8.0 / 3 + 1e-5);
  expect_near(out[0], Tensor::from_vector<float>({2, 3}, {float(-i0), 0, float(3 * i0 + 1),
                                                          float(-2 * i1), 0, float(6 * i1 + 1)}));
  expect_near(out[1], Tensor::from_vector<float>({2, 1}, {2, 4}));
  expect_near(out[2], Tensor::from_vector<float>({2, 1}, {float(i0), float(i1)}));
  // axis 0: one group over everything; Scale [3] broadcasts over X.shape[0:] = [2, 3]; no B.
  Node a0 = make_node("LayerNormalization", {"x", "s"}, {"y", "mean"}, {{"axis", attr_int(0)}});
  auto o0 = run_op(a0, {x, s}, 17);
  EXPECT_EQ(o0[1].shape(), Shape({1, 1}));
  EXPECT_NEAR(o0[1].data<float>()[0], 3, 1e-6);
  const double iv = 1 / std::sqrt(16.0 / 6 + 1e-5);  // var of {1,2,3,2,4,6} = 16/6
  EXPECT_NEAR(o0[0].data<float>()[5], 3 * 3 * iv, 1e-5);
  // Float16 X: Y in f16, Mean / InvStdDev in the stash type (float).
  auto oh = run_op(n, {x.cast(DType::Float16), s.cast(DType::Float16), b.cast(DType::Float16)}, 17);
  EXPECT_EQ(oh[0].dtype(), DType::Float16);
  EXPECT_EQ(oh[1].dtype(), DType::Float32);
  expect_near(oh[0], out[0].cast(DType::Float16), 2e-3f);
}

// stash_type sets the statistics' precision: float by default, double with 11. Values 10,000 +
// 0.001 k have a spread near the float ulp of their mean, so only the double statistics give the
// exact normalisation (a float mean is off by a sizeable part of the spread).
TEST(OpsNnNorm, LayerNormStashTypeSetsThePrecision) {
  std::vector<float> v;
  for (int k = 0; k < 8; ++k) v.push_back(10000.f + 0.0009765625f * static_cast<float>(k * k % 5));
  Tensor x = Tensor::from_vector<float>({1, 8}, v);
  Tensor s = Tensor::from_vector<float>({8}, std::vector<float>(8, 1.f));
  double m = 0, var = 0;
  for (float e : v) m += e;
  m /= 8;
  for (float e : v) var += (e - m) * (e - m);
  const double inv = 1 / std::sqrt(var / 8 + 1e-5);
  auto max_err = [&](const Tensor& y) {
    double err = 0;
    for (int j = 0; j < 8; ++j) err = std::max(err, std::fabs(y.data<float>()[j] - (v[static_cast<size_t>(j)] - m) * inv));
    return err;
  };
  auto d = run_op(make_node("LayerNormalization", {"x", "s"}, {"y", "mean"}, {{"stash_type", attr_int(11)}}), {x, s}, 17);
  EXPECT_EQ(d[1].dtype(), DType::Float64);
  EXPECT_LT(max_err(d[0]), 1e-6);
  auto f = run_op(make_node("LayerNormalization", {"x", "s"}, {"y", "mean"}), {x, s}, 17);
  EXPECT_EQ(f[1].dtype(), DType::Float32);
  EXPECT_GT(max_err(f[0]), 1e-3) << "float statistics of values near 1e4 lose part of a 0.004 spread";
}

TEST(OpsNnNorm, LayerNormErrors) {
  Tensor x(DType::Float32, {2, 3});
  Node n = make_node("LayerNormalization", {"x", "s"}, {"y"});
  expect_fails(n, {x, Tensor(DType::Float32, {2})}, "cannot be broadcast");
  expect_fails(make_node("LayerNormalization", {"x", "s"}, {"y"}, {{"axis", attr_int(2)}}),
               {x, Tensor(DType::Float32, {3})}, "out of range");
  expect_fails(n, {x.cast(DType::Int64), Tensor(DType::Float32, {3})}, "INT64");
  expect_fails(make_node("LayerNormalization", {"x", "s"}, {"y"}, {{"stash_type", attr_int(7)}}),
               {x, Tensor(DType::Float32, {3})}, "stash_type");
}

}  // namespace
}  // namespace octet
