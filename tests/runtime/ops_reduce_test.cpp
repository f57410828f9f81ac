// Tests for the reduction family (src/runtime/ops/reduce.cpp): Reduce*, ArgMax/ArgMin,
// Softmax/LogSoftmax/Hardmax. Expected values are computed by hand or, for the random sweep, by
// a brute-force loop over multi-indices written independently of the kernels.
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "runtime/ops/op_util.h"
#include "../test_util.h"

namespace octet {
namespace {

using testing::attr_int;
using testing::attr_ints;
using testing::expect_near;
using testing::make_node;
using testing::run_op;

const float kInf = std::numeric_limits<float>::infinity();

// [3,2,2] example used by the ONNX docs: 1..12.
Tensor example_3x2x2() {
  return Tensor::from_vector<float>({3, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
}

Tensor axes_tensor(std::vector<int64_t> axes) {
  const int64_t n = static_cast<int64_t>(axes.size());
  return Tensor::from_vector<int64_t>({n}, axes);
}

// Runs a Reduce op with axes as input (opset 18 form) or attribute (opset 11 form).
Tensor reduce(const std::string& op, const Tensor& x, std::optional<std::vector<int64_t>> axes,
              int64_t keepdims = 1, int64_t opset = 18, int64_t noop = 0) {
  std::map<std::string, Attribute> attrs{{"keepdims", attr_int(keepdims)}};
  const bool axes_as_input = opset >= (op == "ReduceSum" ? 13 : 18);
  if (axes_as_input && noop) attrs["noop_with_empty_axes"] = attr_int(noop);
  if (axes_as_input && axes) {
    Node n = make_node(op, {"x", "axes"}, {"y"}, attrs);
    return run_op(n, {x, axes_tensor(*axes)}, opset)[0];
  }
  if (axes) attrs["axes"] = attr_ints(*axes);
  Node n = make_node(op, {"x"}, {"y"}, attrs);
  return run_op(n, {x}, opset)[0];
}

TEST(ReduceOps, SumKeepdimsAxisAsInputAndAttribute) {
  Tensor want = Tensor::from_vector<float>({3, 1, 2}, {4, 6, 12, 14, 20, 22});
  expect_near(reduce("ReduceSum", example_3x2x2(), std::vector<int64_t>{1}, 1, 13), want);
  expect_near(reduce("ReduceSum", example_3x2x2(), std::vector<int64_t>{1}, 1, 11), want);
  expect_near(reduce("ReduceSum", example_3x2x2(), std::vector<int64_t>{-2}, 1, 21), want);
}

TEST(ReduceOps, MeanNoKeepdimsAndNegativeAxes) {
  Tensor want = Tensor::from_vector<float>({3, 2}, {2, 3, 6, 7, 10, 11});
  expect_near(reduce("ReduceMean", example_3x2x2(), std::vector<int64_t>{1}, 0, 18), want);
  expect_near(reduce("ReduceMean", example_3x2x2(), std::vector<int64_t>{-2}, 0, 13), want);
  // Two axes, given out of order.
  Tensor want02 = Tensor::from_vector<float>({1, 2, 1}, {5.5f, 7.5f});
  expect_near(reduce("ReduceMean", example_3x2x2(), std::vector<int64_t>{2, 0}, 1, 18), want02);
}

TEST(ReduceOps, DefaultAxesReduceEverything) {
  expect_near(reduce("ReduceSum", example_3x2x2(), std::nullopt, 1, 13),
              Tensor::from_vector<float>({1, 1, 1}, {78}));
  expect_near(reduce("ReduceMax", example_3x2x2(), std::nullopt, 0, 18), Tensor::scalar<float>(12));
  // An empty axes input without noop also reduces everything.
  expect_near(reduce("ReduceMin", example_3x2x2(), std::vector<int64_t>{}, 0, 18), Tensor::scalar<float>(1));
  // Rank-0 input is valid.
  expect_near(reduce("ReduceL1", Tensor::scalar<float>(-3), std::nullopt, 1, 18), Tensor::scalar<float>(3));
}

TEST(ReduceOps, NoopWithEmptyAxesKeepsShapeButAppliesElementwisePart) {
  Tensor x = Tensor::from_vector<float>({2, 2}, {-1, 2, -3, 4});
  expect_near(reduce("ReduceSum", x, std::vector<int64_t>{}, 1, 13, 1), x);
  expect_near(reduce("ReduceSum", x, std::nullopt, 0, 13, 1), x);
  expect_near(reduce("ReduceSumSquare", x, std::vector<int64_t>{}, 1, 18, 1),
              Tensor::from_vector<float>({2, 2}, {1, 4, 9, 16}));
  expect_near(reduce("ReduceL1", x, std::vector<int64_t>{}, 1, 18, 1),
              Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4}));
  expect_near(reduce("ReduceMax", x, std::nullopt, 0, 18, 1), x);
}

TEST(ReduceOps, EveryOpOnAHandExample) {
  // Rows [1,-2] and [3,4], reduced along axis 1.
  Tensor x = Tensor::from_vector<float>({2, 2}, {1, -2, 3, 4});
  auto row = [&](const std::string& op) { return reduce(op, x, std::vector<int64_t>{1}, 0); };
  expect_near(row("ReduceSum"), Tensor::from_vector<float>({2}, {-1, 7}));
  expect_near(row("ReduceMean"), Tensor::from_vector<float>({2}, {-0.5f, 3.5f}));
  expect_near(row("ReduceMax"), Tensor::from_vector<float>({2}, {1, 4}));
  expect_near(row("ReduceMin"), Tensor::from_vector<float>({2}, {-2, 3}));
  expect_near(row("ReduceProd"), Tensor::from_vector<float>({2}, {-2, 12}));
  expect_near(row("ReduceL1"), Tensor::from_vector<float>({2}, {3, 7}));
  expect_near(row("ReduceL2"), Tensor::from_vector<float>({2}, {std::sqrt(5.f), 5}));
  expect_near(row("ReduceSumSquare"), Tensor::from_vector<float>({2}, {5, 25}));
  expect_near(row("ReduceLogSumExp"),
              Tensor::from_vector<float>({2}, {std::log(std::exp(1.f) + std::exp(-2.f)),
                                               std::log(std::exp(3.f) + std::exp(4.f))}));
  Tensor pos = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  expect_near(reduce("ReduceLogSum", pos, std::vector<int64_t>{1}, 0),
              Tensor::from_vector<float>({2}, {std::log(3.f), std::log(7.f)}));
}

TEST(ReduceOps, LogSumExpIsStableForLargeAndInfiniteInputs) {
  Tensor x = Tensor::from_vector<float>({4, 2}, {1000, 1000, -1000, -1000, -kInf, -kInf, kInf, 1});
  Tensor y = reduce("ReduceLogSumExp", x, std::vector<int64_t>{1}, 0);
  const float* d = y.data<float>();
  EXPECT_NEAR(d[0], 1000 + std::log(2.0), 1e-3);
  EXPECT_NEAR(d[1], -1000 + std::log(2.0), 1e-3);
  EXPECT_EQ(d[2], -kInf);
  EXPECT_EQ(d[3], kInf);
}

TEST(ReduceOps, EmptySetReductionsGiveTheSpecIdentities) {
  Tensor x(DType::Float32, {2, 0, 3});
  auto empty = [&](const std::string& op) {
    Tensor y = reduce(op, x, std::vector<int64_t>{1}, 1);
    EXPECT_EQ(y.shape(), (Shape{2, 1, 3})) << op;
    return y.data<float>()[0];
  };
  EXPECT_EQ(empty("ReduceSum"), 0.f);
  EXPECT_EQ(empty("ReduceProd"), 1.f);
  EXPECT_EQ(empty("ReduceMax"), -kInf);
  EXPECT_EQ(empty("ReduceMin"), kInf);
  EXPECT_EQ(empty("ReduceL1"), 0.f);
  EXPECT_EQ(empty("ReduceL2"), 0.f);
  EXPECT_EQ(empty("ReduceSumSquare"), 0.f);
  EXPECT_EQ(empty("ReduceLogSum"), -kInf);
  EXPECT_EQ(empty("ReduceLogSumExp"), -kInf);
  EXPECT_TRUE(std::isnan(empty("ReduceMean")));

  Tensor xi(DType::Int32, {0, 2});
  Tensor ymax = reduce("ReduceMax", xi, std::vector<int64_t>{0}, 0);
  ASSERT_EQ(ymax.shape(), (Shape{2}));
  EXPECT_EQ(ymax.data<int32_t>()[0], std::numeric_limits<int32_t>::lowest());
  EXPECT_EQ(reduce("ReduceMin", xi, std::vector<int64_t>{0}, 0).data<int32_t>()[1],
            std::numeric_limits<int32_t>::max());
  EXPECT_EQ(reduce("ReduceMean", xi, std::vector<int64_t>{0}, 0).data<int32_t>()[0], 0);

  // A zero-size dim that is kept gives an empty output.
  Tensor z = reduce("ReduceSum", x, std::vector<int64_t>{2}, 1, 13);
  EXPECT_EQ(z.shape(), (Shape{2, 0, 1}));
}

TEST(ReduceOps, IntegerTypes) {
  Tensor x = Tensor::from_vector<int32_t>({2, 2}, {1, 2, -3, -4});
  Tensor mean = reduce("ReduceMean", x, std::vector<int64_t>{1}, 0);
  ASSERT_EQ(mean.dtype(), DType::Int32);
  EXPECT_EQ(mean.data<int32_t>()[0], 1);   // 1.5 truncated
  EXPECT_EQ(mean.data<int32_t>()[1], -3);  // -3.5 truncated toward zero
  Tensor l2 = reduce("ReduceL2", x, std::vector<int64_t>{1}, 0);
  EXPECT_EQ(l2.data<int32_t>()[0], 2);  // sqrt(5) truncated
  EXPECT_EQ(l2.data<int32_t>()[1], 5);
  EXPECT_EQ(reduce("ReduceL1", x, std::vector<int64_t>{1}, 0).data<int32_t>()[1], 7);
  EXPECT_EQ(reduce("ReduceProd", x, std::vector<int64_t>{1}, 0).data<int32_t>()[1], 12);

  // int64 sums are exact beyond 2^53.
  const int64_t big = (int64_t{1} << 60) + 1;
  Tensor xl = Tensor::from_vector<int64_t>({3}, {big, big, -big + 5});
  EXPECT_EQ(reduce("ReduceSum", xl, std::nullopt, 0, 13).data<int64_t>()[0], big + 5);

  Tensor xu = Tensor::from_vector<uint8_t>({4}, {3, 250, 7, 0});
  EXPECT_EQ(reduce("ReduceMax", xu, std::nullopt, 0).data<uint8_t>()[0], 250);
  EXPECT_EQ(reduce("ReduceMin", xu, std::nullopt, 0).data<uint8_t>()[0], 0);
  Tensor xs = Tensor::from_vector<int8_t>({3}, {-128, 5, 127});
  EXPECT_EQ(reduce("ReduceMin", xs, std::nullopt, 0).data<int8_t>()[0], -128);
}

TEST(ReduceOps, HalfBFloat16AndDouble) {
  Tensor xh(DType::Float16, {3});
  for (int i = 0; i < 3; ++i) xh.data<Half>()[i] = Half(static_cast<float>(i + 1) * 0.5f);
  Tensor yh = reduce("ReduceSum", xh, std::nullopt, 0, 13);
  ASSERT_EQ(yh.dtype(), DType::Float16);
  EXPECT_EQ(static_cast<float>(yh.data<Half>()[0]), 3.0f);
  Tensor yb = reduce("ReduceMax", xh.cast(DType::BFloat16), std::nullopt, 1);
  ASSERT_EQ(yb.dtype(), DType::BFloat16);
  EXPECT_EQ(yb.shape(), (Shape{1}));
  EXPECT_EQ(static_cast<float>(yb.data<BFloat16>()[0]), 1.5f);
  Tensor xd = Tensor::from_vector<double>({2}, {0.1, 0.2});
  EXPECT_DOUBLE_EQ(reduce("ReduceSumSquare", xd, std::nullopt, 0).data<double>()[0], 0.1 * 0.1 + 0.2 * 0.2);
}

TEST(ReduceOps, BoolMaxMin) {
  Tensor x = Tensor::from_vector<bool>({2, 2}, {false, true, false, false});
  Tensor mx = reduce("ReduceMax", x, std::vector<int64_t>{1}, 0, 20);
  ASSERT_EQ(mx.dtype(), DType::Bool);
  EXPECT_TRUE(mx.data<bool>()[0]);
  EXPECT_FALSE(mx.data<bool>()[1]);
  Tensor mn = reduce("ReduceMin", x, std::vector<int64_t>{0}, 0, 20);
  EXPECT_FALSE(mn.data<bool>()[0]);
  EXPECT_FALSE(mn.data<bool>()[1]);
  EXPECT_THROW(reduce("ReduceSum", x, std::nullopt), Error);
}

TEST(ReduceOps, MaxPropagatesNaN) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {1, NAN, 2, 3, 4, 5});
  Tensor y = reduce("ReduceMax", x, std::vector<int64_t>{1}, 0);
  EXPECT_TRUE(std::isnan(y.data<float>()[0]));
  EXPECT_EQ(y.data<float>()[1], 5.f);
  EXPECT_TRUE(std::isnan(reduce("ReduceMin", x, std::vector<int64_t>{1}, 0).data<float>()[0]));
}

TEST(ReduceOps, BadAxesAreErrors) {
  Tensor x = example_3x2x2();
  EXPECT_THROW(reduce("ReduceSum", x, std::vector<int64_t>{3}, 1, 13), Error);
  EXPECT_THROW(reduce("ReduceMean", x, std::vector<int64_t>{-4}, 1, 11), Error);
  EXPECT_THROW(reduce("ReduceMax", x, std::vector<int64_t>{1, -2}, 1, 18), Error);  // duplicate
  EXPECT_THROW(reduce("ReduceSum", Tensor::scalar<float>(1), std::vector<int64_t>{0}, 1, 13), Error);
  // Axes both as attribute and input.
  Node both = make_node("ReduceSum", {"x", "axes"}, {"y"}, {{"axes", attr_ints({0})}});
  EXPECT_THROW(run_op(both, {x, axes_tensor({1})}, 13), Error);
  // Axes of the wrong type or rank.
  Node n = make_node("ReduceSum", {"x", "axes"}, {"y"});
  EXPECT_THROW(run_op(n, {x, Tensor::from_vector<float>({1}, {1})}, 13), Error);
  EXPECT_THROW(run_op(n, {x, Tensor::from_vector<int64_t>({1, 1}, {1})}, 13), Error);
  try {
    reduce("ReduceSum", x, std::vector<int64_t>{5}, 1, 13);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ReduceSum_test"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("5"), std::string::npos) << e.what();
  }
}

// Brute force: every subset of axes of a shape with size-1 dims, every op, both keepdims.
double brute_reduce(const std::string& op, const std::vector<double>& v) {
  double acc = 0;
  if (op == "ReduceSum") { for (double a : v) acc += a; return acc; }
  if (op == "ReduceMean") { for (double a : v) acc += a; return acc / v.size(); }
  if (op == "ReduceProd") { acc = 1; for (double a : v) acc *= a; return acc; }
  if (op == "ReduceMax") { acc = -INFINITY; for (double a : v) acc = std::max(acc, a); return acc; }
  if (op == "ReduceMin") { acc = INFINITY; for (double a : v) acc = std::min(acc, a); return acc; }
  if (op == "ReduceL1") { for (double a : v) acc += std::fabs(a); return acc; }
  if (op == "ReduceL2") { for (double a : v) acc += a * a; return std::sqrt(acc); }
  if (op == "ReduceSumSquare") { for (double a : v) acc += a * a; return acc; }
  if (op == "ReduceLogSum") { for (double a : v) acc += a; return std::log(acc); }
  if (op == "ReduceLogSumExp") { for (double a : v) acc += std::exp(a); return std::log(acc); }
  ADD_FAILURE() << op;
  return 0;
}

TEST(ReduceOps, RandomSweepMatchesBruteForce) {
  const uint32_t seed = 20240611;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  const Shape shape{2, 1, 3, 4, 1, 2};
  Tensor x = testing::random_float(shape, seed, 0.1f, 2.0f);  // positive: LogSum is defined
  const int64_t rank = static_cast<int64_t>(shape.size());
  const std::vector<int64_t> strides = contiguous_strides(shape);
  const char* ops[] = {"ReduceSum", "ReduceMean", "ReduceProd", "ReduceMax", "ReduceMin", "ReduceL1",
                       "ReduceL2", "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp"};
  for (int mask = 1; mask < (1 << rank); ++mask) {
    std::vector<int64_t> axes;
    for (int64_t d = 0; d < rank; ++d)
      if (mask & (1 << d)) axes.push_back(d % 2 ? d - rank : d);  // mix negative axes in
    // Group input elements by output position (kept dims, row-major).
    Shape out_shape;
    for (int64_t d = 0; d < rank; ++d) out_shape.push_back(mask & (1 << d) ? 1 : shape[d]);
    const std::vector<int64_t> out_strides = contiguous_strides(out_shape);
    std::vector<std::vector<double>> groups(static_cast<size_t>(shape_numel(out_shape)));
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t o = 0;
      for (int64_t d = 0; d < rank; ++d) {
        const int64_t id = (i / strides[d]) % shape[d];
        if (!(mask & (1 << d))) o += id * out_strides[d];
      }
      groups[o].push_back(x.data<float>()[i]);
    }
    for (const char* op : ops) {
      Tensor want(DType::Float32, out_shape);
      for (size_t o = 0; o < groups.size(); ++o)
        want.data<float>()[o] = static_cast<float>(brute_reduce(op, groups[o]));
      SCOPED_TRACE(::testing::Message() << op << " mask " << mask);
      expect_near(reduce(op, x, axes, 1), want, 1e-4f);
      Shape squeezed;
      for (int64_t d = 0; d < rank; ++d)
        if (!(mask & (1 << d))) squeezed.push_back(shape[d]);
      expect_near(reduce(op, x, axes, 0, 11), want.reshaped(squeezed), 1e-4f);
    }
  }
}

// ---- ArgMax / ArgMin ----

Tensor arg(const std::string& op, const Tensor& x, int64_t axis, int64_t keepdims = 1, int64_t last = 0) {
  Node n = make_node(op, {"x"}, {"y"},
                     {{"axis", attr_int(axis)}, {"keepdims", attr_int(keepdims)},
                      {"select_last_index", attr_int(last)}});
  return run_op(n, {x}, 13)[0];
}

TEST(ArgReduceOps, ExamplesKeepdimsAndNegativeAxis) {
  Tensor x = Tensor::from_vector<float>({2, 2}, {2, 1, 3, 10});
  expect_near(arg("ArgMax", x, 0), Tensor::from_vector<int64_t>({1, 2}, {1, 1}));
  expect_near(arg("ArgMax", x, 1), Tensor::from_vector<int64_t>({2, 1}, {0, 1}));
  expect_near(arg("ArgMax", x, -1, 0), Tensor::from_vector<int64_t>({2}, {0, 1}));
  expect_near(arg("ArgMin", x, 1, 0), Tensor::from_vector<int64_t>({2}, {1, 0}));
  expect_near(arg("ArgMin", x, 0, 0), Tensor::from_vector<int64_t>({2}, {0, 0}));
  // Default attributes: axis 0, keepdims 1.
  Node n = make_node("ArgMax", {"x"}, {"y"});
  expect_near(run_op(n, {x}, 11)[0], Tensor::from_vector<int64_t>({1, 2}, {1, 1}));
}

TEST(ArgReduceOps, TiesAndSelectLastIndex) {
  Tensor x = Tensor::from_vector<int32_t>({2, 3}, {2, 7, 7, 1, 1, 0});
  expect_near(arg("ArgMax", x, 1, 0), Tensor::from_vector<int64_t>({2}, {1, 0}));
  expect_near(arg("ArgMax", x, 1, 0, 1), Tensor::from_vector<int64_t>({2}, {2, 1}));
  expect_near(arg("ArgMin", x, 1, 0, 1), Tensor::from_vector<int64_t>({2}, {0, 2}));
  // Strided axis (inner > 1): [2,3,2] along axis 1.
  Tensor y = Tensor::from_vector<float>({1, 3, 2}, {0, 5, 9, 5, 9, -1});
  expect_near(arg("ArgMax", y, 1), Tensor::from_vector<int64_t>({1, 1, 2}, {1, 0}));
  expect_near(arg("ArgMax", y, 1, 1, 1), Tensor::from_vector<int64_t>({1, 1, 2}, {2, 1}));
}

TEST(ArgReduceOps, NaNWinsLikeNumpy) {
  Tensor x = Tensor::from_vector<float>({4}, {1, NAN, 5, NAN});
  EXPECT_EQ(arg("ArgMax", x, 0, 0).data<int64_t>()[0], 1);
  EXPECT_EQ(arg("ArgMin", x, 0, 0).data<int64_t>()[0], 1);
  EXPECT_EQ(arg("ArgMax", x, 0, 0, 1).data<int64_t>()[0], 3);
}

TEST(ArgReduceOps, HalfInput) {
  Tensor x = Tensor::from_vector<float>({3}, {0.5f, -2.f, 0.25f}).cast(DType::Float16);
  EXPECT_EQ(arg("ArgMin", x, 0, 0).data<int64_t>()[0], 1);
}

TEST(ArgReduceOps, Errors) {
  Tensor x = Tensor::from_vector<float>({2, 2}, {2, 1, 3, 10});
  EXPECT_THROW(arg("ArgMax", x, 2), Error);
  EXPECT_THROW(arg("ArgMin", x, -3), Error);
  EXPECT_THROW(arg("ArgMax", Tensor(DType::Float32, {2, 0}), 1), Error);
  // An empty output needs no element of the empty axis.
  EXPECT_EQ(arg("ArgMax", Tensor(DType::Float32, {0, 3}), 1).shape(), (Shape{0, 1}));
}

// ---- Softmax family ----

Tensor softmax_like(const std::string& op, const Tensor& x, std::optional<int64_t> axis, int64_t opset = 13) {
  std::map<std::string, Attribute> attrs;
  if (axis) attrs["axis"] = attr_int(*axis);
  return run_op(make_node(op, {"x"}, {"y"}, attrs), {x}, opset)[0];
}

TEST(SoftmaxOps, HandValuesAndLargeNumbers) {
  Tensor x = Tensor::from_vector<float>({1, 3}, {1, 2, 3});
  Tensor want = Tensor::from_vector<float>({1, 3}, {0.09003057f, 0.24472847f, 0.66524096f});
  expect_near(softmax_like("Softmax", x, std::nullopt), want);
  Tensor big = Tensor::from_vector<float>({1, 3}, {1000, 1001, 1002});
  expect_near(softmax_like("Softmax", big, std::nullopt), want);
  Tensor lwant = Tensor::from_vector<float>({1, 3}, {-2.40760596f, -1.40760596f, -0.40760596f});
  expect_near(softmax_like("LogSoftmax", x, std::nullopt), lwant);
  expect_near(softmax_like("LogSoftmax", big, std::nullopt), lwant, 1e-4f);
  Tensor xd = Tensor::from_vector<double>({3}, {1, 2, 3});
  EXPECT_NEAR(softmax_like("Softmax", xd, -1).data<double>()[2], 0.6652409557748219, 1e-15);
}

TEST(SoftmaxOps, AxisVersusOldCoerceTo2D) {
  // x is [2,2,2]; opset 13 axis 1 normalises over pairs along dim 1, opset 11 axis 1 normalises
  // over the 4 trailing elements of each batch.
  Tensor x = Tensor::from_vector<float>({2, 2, 2}, {0, 0, 0, 0, 1, 0, 1, 0});
  Tensor y13 = softmax_like("Softmax", x, 1, 13);
  expect_near(y13, Tensor::from_vector<float>({2, 2, 2}, {.5f, .5f, .5f, .5f, .5f, .5f, .5f, .5f}));
  const float e = std::exp(1.f), s = 2 * e + 2;
  Tensor y11 = softmax_like("Softmax", x, 1, 11);
  expect_near(y11, Tensor::from_vector<float>({2, 2, 2},
                                              {.25f, .25f, .25f, .25f, e / s, 1 / s, e / s, 1 / s}));
  // Default axis: -1 from 13, 1 before.
  const float p = e / (e + 1), q = 1 / (e + 1);
  expect_near(softmax_like("Softmax", x, std::nullopt, 13),
              Tensor::from_vector<float>({2, 2, 2}, {.5f, .5f, .5f, .5f, p, q, p, q}));
  expect_near(softmax_like("Softmax", x, std::nullopt, 11), y11);
  // Old semantics on a 1-D input with the default axis 1: each coerced row has one element.
  expect_near(softmax_like("Softmax", Tensor::from_vector<float>({2}, {3, 4}), std::nullopt, 11),
              Tensor::from_vector<float>({2}, {1, 1}));
}

TEST(SoftmaxOps, Hardmax) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {3, 0, 3, 1, 2, 0});
  expect_near(softmax_like("Hardmax", x, std::nullopt),
              Tensor::from_vector<float>({2, 3}, {1, 0, 0, 0, 1, 0}));
  expect_near(softmax_like("Hardmax", x, 0), Tensor::from_vector<float>({2, 3}, {1, 0, 1, 0, 1, 0}));
  expect_near(softmax_like("Hardmax", x, 0, 11), Tensor::from_vector<float>({2, 3}, {1, 0, 0, 0, 0, 0}));
  Tensor h = softmax_like("Hardmax", x.cast(DType::Float16), -1);
  ASSERT_EQ(h.dtype(), DType::Float16);
  EXPECT_EQ(static_cast<float>(h.data<Half>()[4]), 1.f);
}

TEST(SoftmaxOps, Errors) {
  Tensor x = Tensor::from_vector<float>({2, 3}, {3, 0, 3, 1, 2, 0});
  EXPECT_THROW(softmax_like("Softmax", x, 2, 13), Error);
  EXPECT_THROW(softmax_like("LogSoftmax", x, -3, 13), Error);
  EXPECT_THROW(softmax_like("Softmax", x, 3, 11), Error);
  EXPECT_THROW(softmax_like("Softmax", Tensor::from_vector<int32_t>({2}, {1, 2}), -1), Error);
  EXPECT_THROW(softmax_like("Softmax", Tensor::scalar<float>(1), std::nullopt), Error);
}

// ---- Shape inference ----

TensorType infer(const Node& node, std::vector<TensorType> ins, std::vector<const Tensor*> consts = {},
                 int64_t opset = 18) {
  const OpDef* def = OpRegistry::global().find(node.op_type);
  if (!def || !def->infer) throw Error("no infer for " + node.op_type);
  InferContext ctx{node, opset, {}, {}, {}};
  for (const TensorType& t : ins) ctx.inputs.push_back(&t);
  consts.resize(ins.size(), nullptr);
  ctx.constants = consts;
  ctx.outputs.resize(node.outputs.size());
  def->infer(ctx);
  return ctx.outputs[0];
}

TensorType tt(DType t, std::vector<Dim> dims) {
  TensorType r;
  r.dtype = t;
  r.has_shape = true;
  r.dims = std::move(dims);
  return r;
}

TEST(ReduceInfer, AxesFromAttributeOrConstantInput) {
  const TensorType in = tt(DType::Float32, {Dim::symbol("N"), Dim::known(3), Dim::known(4)});
  Node a = make_node("ReduceMean", {"x"}, {"y"}, {{"axes", attr_ints({-1})}, {"keepdims", attr_int(0)}});
  EXPECT_EQ(infer(a, {in}, {}, 11).str(), tt(DType::Float32, {Dim::symbol("N"), Dim::known(3)}).str());
  Node b = make_node("ReduceMax", {"x", "axes"}, {"y"});
  Tensor axes = axes_tensor({1});
  const TensorType at = tt(DType::Int64, {Dim::known(1)});
  EXPECT_EQ(infer(b, {in, at}, {nullptr, &axes}).str(),
            tt(DType::Float32, {Dim::symbol("N"), Dim::known(1), Dim::known(4)}).str());
  // No axes: everything reduced.
  Node c = make_node("ReduceSum", {"x"}, {"y"}, {{"keepdims", attr_int(0)}});
  EXPECT_EQ(infer(c, {in}).str(), tt(DType::Float32, {}).str());
  // Out-of-range axes fail already at inference.
  Node d = make_node("ReduceL2", {"x"}, {"y"}, {{"axes", attr_ints({3})}});
  EXPECT_THROW(infer(d, {in}, {}, 11), Error);
}

TEST(ReduceInfer, UnknownAxesKeepRankOnlyWithKeepdims) {
  const TensorType in = tt(DType::Float16, {Dim::symbol("N"), Dim::known(1), Dim::known(4)});
  const TensorType at = tt(DType::Int64, {Dim{}});
  Node k = make_node("ReduceSum", {"x", "axes"}, {"y"});
  TensorType out = infer(k, {in, at});
  ASSERT_TRUE(out.has_shape);
  EXPECT_EQ(out.str(), tt(DType::Float16, {Dim{}, Dim::known(1), Dim{}}).str());
  Node nk = make_node("ReduceSum", {"x", "axes"}, {"y"}, {{"keepdims", attr_int(0)}});
  out = infer(nk, {in, at});
  EXPECT_FALSE(out.has_shape);
  EXPECT_EQ(out.dtype, DType::Float16);
  // An axes input of static length 0 is known to be empty.
  Node noop = make_node("ReduceSum", {"x", "axes"}, {"y"}, {{"noop_with_empty_axes", attr_int(1)}});
  EXPECT_EQ(infer(noop, {in, tt(DType::Int64, {Dim::known(0)})}).str(), in.str());
  // Unknown rank, reduce everything without keepdims: a scalar.
  TensorType unknown;
  unknown.dtype = DType::Float32;
  EXPECT_EQ(infer(nk, {unknown, tt(DType::Int64, {Dim::known(0)})}).str(), tt(DType::Float32, {}).str());
  // Bool only for Max/Min.
  Node s = make_node("ReduceSum", {"x"}, {"y"});
  EXPECT_THROW(infer(s, {tt(DType::Bool, {Dim::known(2)})}), Error);
  Node m = make_node("ReduceMax", {"x"}, {"y"});
  EXPECT_EQ(infer(m, {tt(DType::Bool, {Dim::known(2)})}).str(), tt(DType::Bool, {Dim::known(1)}).str());
}

TEST(ReduceInfer, ArgAndSoftmax) {
  const TensorType in = tt(DType::Float32, {Dim::symbol("N"), Dim::known(5)});
  Node a = make_node("ArgMax", {"x"}, {"y"}, {{"axis", attr_int(-1)}, {"keepdims", attr_int(0)}});
  EXPECT_EQ(infer(a, {in}).str(), tt(DType::Int64, {Dim::symbol("N")}).str());
  Node b = make_node("ArgMin", {"x"}, {"y"}, {{"axis", attr_int(0)}});
  EXPECT_EQ(infer(b, {in}).str(), tt(DType::Int64, {Dim::known(1), Dim::known(5)}).str());
  Node bad = make_node("ArgMin", {"x"}, {"y"}, {{"axis", attr_int(2)}});
  EXPECT_THROW(infer(bad, {in}), Error);
  Node s = make_node("LogSoftmax", {"x"}, {"y"});
  EXPECT_EQ(infer(s, {in}, {}, 13).str(), in.str());
  Node sbad = make_node("Softmax", {"x"}, {"y"}, {{"axis", attr_int(-3)}});
  EXPECT_THROW(infer(sbad, {in}, {}, 13), Error);
  EXPECT_THROW(infer(s, {tt(DType::Int32, {Dim::known(2)})}, {}, 13), Error);
}

}  // namespace
}  // namespace octet
