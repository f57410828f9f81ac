// Element-wise ops: arithmetic, unary math and activations, comparisons and logic, Where, Cast.
// Expected values are hand-computed (or well-known constants), broadcasting is checked against an
// independent multi-index computation, and every op family has error cases.
#include <cmath>
#include <limits>

#include "../test_util.h"

namespace octet {
namespace {

using testing::attr_float;
using testing::attr_int;
using testing::attr_string;
using testing::expect_near;
using testing::make_node;
using testing::run_op;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

Tensor run1(const Node& n, const std::vector<Tensor>& in, int64_t opset = 21) {
  return run_op(n, in, opset).at(0);
}
Tensor run_unary(const std::string& op, const Tensor& x, std::map<std::string, Attribute> attrs = {},
                 int64_t opset = 21) {
  return run1(make_node(op, {"x"}, {"y"}, std::move(attrs)), {x}, opset);
}
Tensor run_binary(const std::string& op, const Tensor& a, const Tensor& b, int64_t opset = 21,
                  std::map<std::string, Attribute> attrs = {}) {
  return run1(make_node(op, {"a", "b"}, {"y"}, std::move(attrs)), {a, b}, opset);
}
Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }

template <class T>
void expect_values(const Tensor& t, DType dtype, const Shape& shape, const std::vector<T>& want) {
  ASSERT_EQ(t.dtype(), dtype);
  ASSERT_EQ(t.shape(), shape);
  ASSERT_EQ(t.numel(), static_cast<int64_t>(want.size()));
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(t.data<T>()[i], want[i]) << "element " << i;
}

// Shape inference through the registry.
std::vector<TensorType> infer_op(const Node& node, std::vector<TensorType> in, int64_t opset = 21) {
  const OpDef* def = OpRegistry::global().find(node.op_type, node.domain);
  if (!def || !def->infer) throw Error("no infer function for " + node.op_type);
  InferContext ctx{node, opset, {}, {}, {}};
  for (const TensorType& t : in) ctx.inputs.push_back(&t);
  ctx.constants.assign(in.size(), nullptr);
  ctx.outputs.resize(node.outputs.size());
  def->infer(ctx);
  return ctx.outputs;
}
TensorType tt(DType d, std::vector<Dim> dims) {
  TensorType t;
  t.dtype = d;
  t.has_shape = true;
  t.dims = std::move(dims);
  return t;
}
Dim K(int64_t v) { return Dim::known(v); }

// ---- Add / Sub / Mul / Div -----------------------------------------------------------------------

TEST(ElementwiseArith, AddBroadcastsRowAgainstMatrix) {
  Tensor y = run_binary("Add", f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({3}, {10, 20, 30}));
  expect_values<float>(y, DType::Float32, {2, 3}, {11, 22, 33, 14, 25, 36});
}

TEST(ElementwiseArith, SubBroadcastsColumnAgainstRow) {
  // [2,1] - [1,3] -> [2,3]
  Tensor y = run_binary("Sub", f32({2, 1}, {10, 20}), f32({1, 3}, {1, 2, 3}));
  expect_values<float>(y, DType::Float32, {2, 3}, {9, 8, 7, 19, 18, 17});
}

TEST(ElementwiseArith, MatchesIndependentBroadcastOnRandomShapes) {
  const uint32_t seed = 1234;
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  for (int trial = 0; trial < 30; ++trial) {
    // Random rank-3 output; each input dim is either the output dim or 1, ranks may be dropped.
    Shape out{1 + int64_t(rng() % 3), 1 + int64_t(rng() % 4), 1 + int64_t(rng() % 3)};
    Shape sa = out, sb = out;
    for (size_t d = 0; d < 3; ++d) {
      if (rng() % 2) sa[d] = 1;
      if (rng() % 2) sb[d] = 1;
    }
    const size_t drop = rng() % 3;
    sb.erase(sb.begin(), sb.begin() + drop);
    Tensor a = testing::random_float(sa, seed + trial);
    Tensor b = testing::random_float(sb, seed + 100 + trial);
    Tensor y = run_binary("Mul", a, b);
    Shape full_b(3, 1);
    for (size_t d = 0; d < sb.size(); ++d) full_b[3 - sb.size() + d] = sb[d];
    Shape want_shape(3);
    for (size_t d = 0; d < 3; ++d) want_shape[d] = std::max(sa[d], full_b[d]);
    ASSERT_EQ(y.shape(), want_shape);
    for (int64_t i = 0; i < want_shape[0]; ++i)
      for (int64_t j = 0; j < want_shape[1]; ++j)
        for (int64_t k = 0; k < want_shape[2]; ++k) {
          auto at = [](const Tensor& t, const Shape& s, int64_t i, int64_t j, int64_t k) {
            int64_t ii = s[0] == 1 ? 0 : i, jj = s[1] == 1 ? 0 : j, kk = s[2] == 1 ? 0 : k;
            return t.data<float>()[(ii * s[1] + jj) * s[2] + kk];
          };
          float want = at(a, sa, i, j, k) * at(b, full_b, i, j, k);
          ASSERT_EQ(y.data<float>()[(i * want_shape[1] + j) * want_shape[2] + k], want);
        }
  }
}

TEST(ElementwiseArith, IntegerArithmeticWraps) {
  auto i32 = [](std::vector<int32_t> v) { return Tensor::from_vector<int32_t>({int64_t(v.size())}, v); };
  const int32_t mx = std::numeric_limits<int32_t>::max(), mn = std::numeric_limits<int32_t>::min();
  expect_values<int32_t>(run_binary("Add", i32({mx, 5}), i32({1, -7})), DType::Int32, {2}, {mn, -2});
  expect_values<int32_t>(run_binary("Mul", i32({65536, -3}), i32({65536, 4})), DType::Int32, {2},
                         {0, -12});
  Tensor u8a = Tensor::from_vector<uint8_t>({3}, {1, 200, 7});
  Tensor u8b = Tensor::from_vector<uint8_t>({3}, {2, 100, 7});
  expect_values<uint8_t>(run_binary("Sub", u8a, u8b), DType::UInt8, {3}, {255, 100, 0});
  expect_values<uint8_t>(run_binary("Add", u8a, u8b), DType::UInt8, {3}, {3, 44, 14});
  Tensor u16 = Tensor::from_vector<uint16_t>({1}, {65535});
  expect_values<uint16_t>(run_binary("Mul", u16, u16), DType::UInt16, {1}, {1});
}

TEST(ElementwiseArith, IntegerDivisionTruncatesTowardZero) {
  Tensor a = Tensor::from_vector<int64_t>({5}, {7, -7, 7, -7, std::numeric_limits<int64_t>::min()});
  Tensor b = Tensor::from_vector<int64_t>({5}, {2, 2, -2, -2, -1});
  expect_values<int64_t>(run_binary("Div", a, b), DType::Int64, {5},
                         {3, -3, -3, 3, std::numeric_limits<int64_t>::min()});
  Tensor c = Tensor::from_vector<int8_t>({2}, {-128, 9});
  Tensor d = Tensor::from_vector<int8_t>({1}, {-1});
  expect_values<int8_t>(run_binary("Div", c, d), DType::Int8, {2}, {-128, -9});
}

TEST(ElementwiseArith, IntegerDivisionByZeroIsAnError) {
  Tensor a = Tensor::from_vector<int32_t>({2}, {1, 2});
  Tensor b = Tensor::from_vector<int32_t>({2}, {1, 0});
  EXPECT_THROW(run_binary("Div", a, b), Error);
}

TEST(ElementwiseArith, FloatDivisionFollowsIeee) {
  Tensor y = run_binary("Div", f32({3}, {1, -1, 3}), f32({3}, {0, 0, 4}));
  EXPECT_EQ(y.data<float>()[0], kInf);
  EXPECT_EQ(y.data<float>()[1], -kInf);
  EXPECT_EQ(y.data<float>()[2], 0.75f);
}

TEST(ElementwiseArith, HalfAndBFloat16ComputeInFloat) {
  Tensor a = Tensor::from_vector<Half>({2}, {Half(1.5f), Half(-2.0f)});
  Tensor b = Tensor::from_vector<Half>({2}, {Half(0.25f), Half(3.0f)});
  Tensor y = run_binary("Mul", a, b);
  ASSERT_EQ(y.dtype(), DType::Float16);
  EXPECT_EQ(static_cast<float>(y.data<Half>()[0]), 0.375f);
  EXPECT_EQ(static_cast<float>(y.data<Half>()[1]), -6.0f);
  Tensor c = Tensor::from_vector<BFloat16>({1}, {BFloat16(1.0f)});
  Tensor d = Tensor::from_vector<BFloat16>({1}, {BFloat16(0.5f)});
  EXPECT_EQ(static_cast<float>(run_binary("Add", c, d).data<BFloat16>()[0]), 1.5f);
}

TEST(ElementwiseArith, NonBroadcastableShapesAndMixedTypesAreErrors) {
  EXPECT_THROW(run_binary("Add", f32({2, 3}, {1, 2, 3, 4, 5, 6}), f32({2}, {1, 2})), Error);
  EXPECT_THROW(run_binary("Add", f32({1}, {1}), Tensor::from_vector<double>({1}, {1.0})), Error);
  EXPECT_THROW(run_binary("Add", Tensor::from_vector<bool>({1}, {true}),
                          Tensor::from_vector<bool>({1}, {true})),
               Error);
}

TEST(ElementwiseArith, LegacyBroadcastWithAxisBeforeOpset7) {
  // A [2,3,2], B [3] at axis 1 -> B varies along dim 1.
  Tensor a = f32({2, 3, 2}, std::vector<float>(12, 1.0f));
  Tensor b = f32({3}, {10, 20, 30});
  Tensor y = run_binary("Add", a, b, 6, {{"broadcast", attr_int(1)}, {"axis", attr_int(1)}});
  expect_values<float>(y, DType::Float32, {2, 3, 2}, {11, 11, 21, 21, 31, 31, 11, 11, 21, 21, 31, 31});
  // B that does not fit at that axis
  EXPECT_THROW(run_binary("Add", a, f32({3, 3}, std::vector<float>(9, 0)), 6,
                          {{"broadcast", attr_int(1)}, {"axis", attr_int(1)}}),
               Error);
}

// ---- Pow -----------------------------------------------------------------------------------------

TEST(ElementwisePow, MixedBaseAndExponentTypes) {
  Tensor y = run_binary("Pow", f32({3}, {2, 4, -3}), Tensor::from_vector<int32_t>({3}, {3, -1, 2}));
  expect_values<float>(y, DType::Float32, {3}, {8, 0.25f, 9});
  Tensor z = run_binary("Pow", Tensor::from_vector<int32_t>({3}, {2, 9, 3}), f32({3}, {3, 0.5f, 1.5f}));
  expect_values<int32_t>(z, DType::Int32, {3}, {8, 3, 5});  // 3^1.5 = 5.196 truncates
  Tensor w = run_binary("Pow", Tensor::from_vector<int64_t>({5}, {3, -2, 1, -1, 5}),
                        Tensor::from_vector<int64_t>({5}, {4, 3, -5, -3, -2}));
  expect_values<int64_t>(w, DType::Int64, {5}, {81, -8, 1, -1, 0});
  EXPECT_THROW(run_binary("Pow", Tensor::from_vector<int32_t>({1}, {0}),
                          Tensor::from_vector<int32_t>({1}, {-1})),
               Error);
}

TEST(ElementwisePow, BroadcastsScalarExponent) {
  Tensor y = run_binary("Pow", f32({2, 2}, {1, 2, 3, 4}), f32({}, {2}));
  expect_values<float>(y, DType::Float32, {2, 2}, {1, 4, 9, 16});
}

// ---- unary math ----------------------------------------------------------------------------------

TEST(ElementwiseUnary, MathFunctionsOnKnownValues) {
  expect_near(run_unary("Sqrt", f32({3}, {4, 2, 0})), f32({3}, {2, 1.41421356f, 0}));
  expect_near(run_unary("Exp", f32({3}, {0, 1, -1})), f32({3}, {1, 2.71828183f, 0.36787944f}));
  expect_near(run_unary("Log", f32({2}, {1, 2.71828183f})), f32({2}, {0, 1}));
  expect_near(run_unary("Erf", f32({3}, {0, 0.5f, -1})), f32({3}, {0, 0.52049988f, -0.84270079f}));
  expect_near(run_unary("Tanh", f32({2}, {0, 1})), f32({2}, {0, 0.76159416f}));
  expect_near(run_unary("Reciprocal", f32({2}, {4, -0.5f})), f32({2}, {0.25f, -2}));
  expect_near(run_unary("Floor", f32({3}, {1.5f, -1.5f, 2})), f32({3}, {1, -2, 2}));
  expect_near(run_unary("Ceil", f32({3}, {1.5f, -1.5f, 2})), f32({3}, {2, -1, 2}));
  Tensor l = run_unary("Log", f32({2}, {0, -1}));
  EXPECT_EQ(l.data<float>()[0], -kInf);
  EXPECT_TRUE(std::isnan(l.data<float>()[1]));
}

TEST(ElementwiseUnary, RoundIsHalfToEven) {
  Tensor y = run_unary("Round", f32({8}, {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f, 2.4f, -2.6f}));
  expect_values<float>(y, DType::Float32, {8}, {0, 2, 2, -0.0f, -2, -2, 2, -3});
}

TEST(ElementwiseUnary, DoubleAndHalfInputs) {
  Tensor d = run_unary("Sqrt", Tensor::from_vector<double>({1}, {2.0}));
  EXPECT_DOUBLE_EQ(d.data<double>()[0], 1.4142135623730951);
  Tensor h = run_unary("Exp", Tensor::from_vector<Half>({1}, {Half(1.0f)}));
  ASSERT_EQ(h.dtype(), DType::Float16);
  EXPECT_EQ(static_cast<float>(h.data<Half>()[0]), 2.71875f);  // nearest half to e
}

TEST(ElementwiseUnary, IntegerCapableOps) {
  const int32_t mn = std::numeric_limits<int32_t>::min();
  Tensor i = Tensor::from_vector<int32_t>({4}, {-5, 0, 7, mn});
  expect_values<int32_t>(run_unary("Abs", i), DType::Int32, {4}, {5, 0, 7, mn});
  expect_values<int32_t>(run_unary("Neg", i), DType::Int32, {4}, {5, 0, -7, mn});
  expect_values<int32_t>(run_unary("Sign", i), DType::Int32, {4}, {-1, 0, 1, -1});
  expect_values<int32_t>(run_unary("Relu", i), DType::Int32, {4}, {0, 0, 7, 0});
  Tensor u = Tensor::from_vector<uint8_t>({2}, {0, 200});
  expect_values<uint8_t>(run_unary("Sign", u), DType::UInt8, {2}, {0, 1});
  Tensor f = run_unary("Sign", f32({4}, {-2.5f, 0, 3, kNaN}));
  EXPECT_EQ(f.data<float>()[0], -1);
  EXPECT_EQ(f.data<float>()[1], 0);
  EXPECT_EQ(f.data<float>()[2], 1);
  EXPECT_TRUE(std::isnan(f.data<float>()[3]));
  expect_values<float>(run_unary("Relu", f32({3}, {-1, 0.5f, -0.0f})), DType::Float32, {3},
                       {0, 0.5f, 0});
}

TEST(ElementwiseUnary, FloatOnlyOpsRejectIntegers) {
  Tensor i = Tensor::from_vector<int32_t>({1}, {4});
  for (const char* op : {"Sqrt", "Exp", "Sigmoid", "Round", "Gelu"})
    EXPECT_THROW(run_unary(op, i), Error) << op;
  EXPECT_THROW(run_unary("Abs", Tensor::from_vector<bool>({1}, {true})), Error);
}

// ---- activations ---------------------------------------------------------------------------------

TEST(ElementwiseActivation, SigmoidSoftplusAreStable) {
  expect_near(run_unary("Sigmoid", f32({4}, {0, 2, -2, -1000})),
              f32({4}, {0.5f, 0.88079708f, 0.11920292f, 0}));
  Tensor s = run_unary("Softplus", f32({4}, {0, 1, 100, -100}));
  expect_near(s, f32({4}, {0.69314718f, 1.31326169f, 100, 3.7200760e-44f}));
}

TEST(ElementwiseActivation, ParameterisedActivations) {
  Tensor x = f32({4}, {-2, -0.5f, 0, 3});
  expect_near(run_unary("LeakyRelu", x), f32({4}, {-0.02f, -0.005f, 0, 3}));
  expect_near(run_unary("LeakyRelu", x, {{"alpha", attr_float(0.5f)}}), f32({4}, {-1, -0.25f, 0, 3}));
  // Elu: alpha * (e^x - 1) below 0.
  expect_near(run_unary("Elu", x, {{"alpha", attr_float(2.0f)}}),
              f32({4}, {2 * -0.86466472f, 2 * -0.39346934f, 0, 3}));
  // Selu defaults: gamma * alpha * (e^x - 1) = 1.7580993 * (e^x - 1).
  expect_near(run_unary("Selu", x), f32({4}, {-1.52016647f, -0.69175289f, 0, 3.15210307f}));
  expect_near(run_unary("HardSigmoid", x), f32({4}, {0.1f, 0.4f, 0.5f, 1}));
  expect_near(run_unary("HardSigmoid", x, {{"alpha", attr_float(1)}, {"beta", attr_float(0)}}),
              f32({4}, {0, 0, 0, 1}));
  expect_near(run_unary("HardSwish", f32({4}, {-4, -1, 1, 4})),
              f32({4}, {0, -0.33333333f, 0.66666667f, 4}));
}

TEST(ElementwiseActivation, GeluExactAndTanh) {
  Tensor x = f32({3}, {-1, 0, 1});
  // 0.5 x (1 + erf(x / sqrt 2)): Phi(1) = 0.84134475
  expect_near(run_unary("Gelu", x), f32({3}, {-0.15865525f, 0, 0.84134475f}));
  // tanh form: 0.5 (1 + tanh(0.7978845608 * 1.044715)) = 0.84119199
  expect_near(run_unary("Gelu", x, {{"approximate", attr_string("tanh")}}),
              f32({3}, {-0.15880801f, 0, 0.84119199f}));
  EXPECT_THROW(run_unary("Gelu", x, {{"approximate", attr_string("fast")}}), Error);
}

TEST(ElementwiseActivation, PReluBroadcastsSlopeToX) {
  Tensor x = f32({2, 3}, {-1, -2, -3, 1, 2, 3});
  Tensor s = f32({3}, {0.5f, 1, 2});
  expect_values<float>(run_binary("PRelu", x, s), DType::Float32, {2, 3}, {-0.5f, -2, -6, 1, 2, 3});
  // A slope that would enlarge X is not allowed (unidirectional).
  EXPECT_THROW(run_binary("PRelu", f32({3}, {1, 2, 3}), f32({2, 3}, {1, 1, 1, 1, 1, 1})), Error);
  Tensor xi = Tensor::from_vector<int32_t>({3}, {-4, 0, 5});
  Tensor si = Tensor::from_vector<int32_t>({1}, {3});
  expect_values<int32_t>(run_binary("PRelu", xi, si), DType::Int32, {3}, {-12, 0, 5});
}

TEST(ElementwiseActivation, PReluOpset6AcceptsPerChannelSlope) {
  Tensor x = f32({1, 2, 3}, {-1, -1, -1, -1, -1, -1});
  Tensor s = f32({2}, {0.5f, 2});
  expect_values<float>(run_binary("PRelu", x, s, 6), DType::Float32, {1, 2, 3},
                       {-0.5f, -0.5f, -0.5f, -2, -2, -2});
}

// ---- Clip ----------------------------------------------------------------------------------------

TEST(ElementwiseClip, AttributeFormBeforeOpset11) {
  Tensor x = f32({4}, {-5, 0.5f, 5, kInf});
  Tensor y = run_unary("Clip", x, {{"min", attr_float(-1)}, {"max", attr_float(1)}}, 6);
  expect_values<float>(y, DType::Float32, {4}, {-1, 0.5f, 1, 1});
  Tensor z = run_unary("Clip", x, {{"min", attr_float(0)}}, 6);  // max defaults to FLT_MAX
  expect_values<float>(z, DType::Float32, {4}, {0, 0.5f, 5, std::numeric_limits<float>::max()});
}

TEST(ElementwiseClip, InputFormWithOptionalBounds) {
  Node n = make_node("Clip", {"x", "lo", "hi"}, {"y"});
  Tensor x = f32({4}, {-5, 0.5f, 5, kNaN});
  Tensor y = run1(n, {x, Tensor::scalar<float>(-1), Tensor::scalar<float>(1)}, 13);
  EXPECT_EQ(y.data<float>()[0], -1);
  EXPECT_EQ(y.data<float>()[1], 0.5f);
  EXPECT_EQ(y.data<float>()[2], 1);
  EXPECT_TRUE(std::isnan(y.data<float>()[3]));
  Tensor only_max = run1(n, {x, Tensor(), Tensor::scalar<float>(0)}, 13);
  EXPECT_EQ(only_max.data<float>()[0], -5);
  EXPECT_EQ(only_max.data<float>()[2], 0);
  // min > max: everything becomes max.
  Tensor swapped = run1(n, {f32({2}, {-3, 3}), Tensor::scalar<float>(2), Tensor::scalar<float>(1)}, 13);
  expect_values<float>(swapped, DType::Float32, {2}, {1, 1});
}

TEST(ElementwiseClip, IntegerTypesAndBadBounds) {
  Node n = make_node("Clip", {"x", "lo", "hi"}, {"y"});
  Tensor x = Tensor::from_vector<int8_t>({4}, {-128, -1, 1, 127});
  Tensor y = run1(n, {x, Tensor(), Tensor::scalar<int8_t>(0)}, 13);
  expect_values<int8_t>(y, DType::Int8, {4}, {-128, -1, 0, 0});
  Tensor z = run1(n, {x, Tensor::scalar<int8_t>(-2), Tensor::scalar<int8_t>(100)}, 13);
  expect_values<int8_t>(z, DType::Int8, {4}, {-2, -1, 1, 100});
  EXPECT_THROW(run1(n, {x, Tensor::scalar<float>(0), Tensor()}, 13), Error);  // type mismatch
  EXPECT_THROW(run1(n, {x, Tensor::from_vector<int8_t>({2}, {0, 1}), Tensor()}, 13), Error);
}

// ---- Max / Min / Sum / Mean ----------------------------------------------------------------------

TEST(ElementwiseVariadic, ThreeInputsBroadcast) {
  Node n = make_node("Max", {"a", "b", "c"}, {"y"});
  Tensor a = f32({2, 2}, {1, 5, 3, 0});
  Tensor b = f32({2}, {2, 2});
  Tensor c = f32({}, {4});
  expect_values<float>(run1(n, {a, b, c}), DType::Float32, {2, 2}, {4, 5, 4, 4});
  n.op_type = "Min";
  expect_values<float>(run1(n, {a, b, c}), DType::Float32, {2, 2}, {1, 2, 2, 0});
  n.op_type = "Sum";
  expect_values<float>(run1(n, {a, b, c}), DType::Float32, {2, 2}, {7, 11, 9, 6});
  n.op_type = "Mean";
  expect_near(run1(n, {a, b, c}), f32({2, 2}, {7 / 3.f, 11 / 3.f, 3, 2}));
}

TEST(ElementwiseVariadic, SingleInputIntegersAndNaN) {
  Node one = make_node("Max", {"a"}, {"y"});
  Tensor a = Tensor::from_vector<uint64_t>({2}, {1, 18446744073709551615ull});
  expect_values<uint64_t>(run1(one, {a}), DType::UInt64, {2}, {1, 18446744073709551615ull});
  Node two = make_node("Min", {"a", "b"}, {"y"});
  Tensor b = Tensor::from_vector<uint64_t>({1}, {7});
  expect_values<uint64_t>(run1(two, {a, b}), DType::UInt64, {2}, {1, 7});
  two.op_type = "Max";
  Tensor m = run1(two, {f32({2}, {1, kNaN}), f32({2}, {kNaN, 2})});
  EXPECT_TRUE(std::isnan(m.data<float>()[0]));
  EXPECT_TRUE(std::isnan(m.data<float>()[1]));
  two.op_type = "Mean";
  EXPECT_THROW(run1(two, {a, b}), Error);  // Mean is defined for floats only
  two.op_type = "Sum";
  EXPECT_THROW(run1(two, {f32({2}, {1, 2}), f32({3}, {1, 2, 3})}), Error);
  EXPECT_THROW(run1(two, {f32({1}, {1}), b}), Error);
}

// ---- comparisons and logic -----------------------------------------------------------------------

TEST(ElementwiseCompare, NumericComparisonsBroadcast) {
  Tensor a = f32({2, 2}, {1, 2, 3, kNaN});
  Tensor b = f32({2}, {2, 2});
  expect_values<bool>(run_binary("Equal", a, b), DType::Bool, {2, 2}, {false, true, false, false});
  expect_values<bool>(run_binary("Less", a, b), DType::Bool, {2, 2}, {true, false, false, false});
  expect_values<bool>(run_binary("Greater", a, b), DType::Bool, {2, 2}, {false, false, true, false});
  expect_values<bool>(run_binary("LessOrEqual", a, b), DType::Bool, {2, 2}, {true, true, false, false});
  expect_values<bool>(run_binary("GreaterOrEqual", a, b), DType::Bool, {2, 2},
                      {false, true, true, false});
  Tensor i = Tensor::from_vector<int64_t>({3}, {-1, 0, 1});
  expect_values<bool>(run_binary("Less", i, Tensor::scalar<int64_t>(0)), DType::Bool, {3},
                      {true, false, false});
  Tensor u = Tensor::from_vector<uint32_t>({2}, {4000000000u, 1});
  expect_values<bool>(run_binary("Greater", u, Tensor::scalar<uint32_t>(2)), DType::Bool, {2},
                      {true, false});
}

TEST(ElementwiseCompare, EqualOnStringsAndBools) {
  Tensor a = Tensor::from_vector<std::string>({3}, {"a", "bc", ""});
  Tensor b = Tensor::from_vector<std::string>({1}, {"bc"});
  expect_values<bool>(run_binary("Equal", a, b), DType::Bool, {3}, {false, true, false});
  EXPECT_THROW(run_binary("Less", a, b), Error);
  Tensor t = Tensor::from_vector<bool>({2}, {true, false});
  expect_values<bool>(run_binary("Equal", t, Tensor::scalar<bool>(false)), DType::Bool, {2},
                      {false, true});
  EXPECT_THROW(run_binary("Equal", t, f32({1}, {1})), Error);
}

TEST(ElementwiseLogic, AndOrXorNotWithBroadcast) {
  Tensor a = Tensor::from_vector<bool>({2, 2}, {true, true, false, false});
  Tensor b = Tensor::from_vector<bool>({2}, {true, false});
  expect_values<bool>(run_binary("And", a, b), DType::Bool, {2, 2}, {true, false, false, false});
  expect_values<bool>(run_binary("Or", a, b), DType::Bool, {2, 2}, {true, true, true, false});
  expect_values<bool>(run_binary("Xor", a, b), DType::Bool, {2, 2}, {false, true, true, false});
  expect_values<bool>(run_unary("Not", b), DType::Bool, {2}, {false, true});
  EXPECT_THROW(run_binary("And", a, Tensor::from_vector<int32_t>({2}, {1, 0})), Error);
  EXPECT_THROW(run_unary("Not", f32({1}, {0})), Error);
  EXPECT_THROW(run_binary("Or", a, Tensor::from_vector<bool>({3}, {true, true, true})), Error);
}

// ---- Where ---------------------------------------------------------------------------------------

TEST(ElementwiseWhere, ThreeWayBroadcast) {
  Node n = make_node("Where", {"c", "x", "y"}, {"z"});
  Tensor c = Tensor::from_vector<bool>({2, 1}, {true, false});
  Tensor x = f32({3}, {1, 2, 3});
  Tensor y = f32({}, {-1});
  expect_values<float>(run1(n, {c, x, y}), DType::Float32, {2, 3}, {1, 2, 3, -1, -1, -1});
  Tensor xs = Tensor::from_vector<std::string>({2}, {"a", "b"});
  Tensor ys = Tensor::from_vector<std::string>({2}, {"c", "d"});
  Tensor c2 = Tensor::from_vector<bool>({2}, {false, true});
  expect_values<std::string>(run1(n, {c2, xs, ys}), DType::String, {2}, {"c", "b"});
  EXPECT_THROW(run1(n, {f32({1}, {1}), x, y}), Error);                  // condition not bool
  EXPECT_THROW(run1(n, {c, x, Tensor::scalar<double>(1)}), Error);       // X, Y types differ
  EXPECT_THROW(run1(n, {c, x, f32({2}, {1, 2})}), Error);                // [3] vs [2]
}

// ---- Cast ----------------------------------------------------------------------------------------

TEST(ElementwiseCast, NumericConversions) {
  Tensor x = f32({4}, {1.7f, -1.7f, 300, 0});
  expect_values<int32_t>(run_unary("Cast", x, {{"to", attr_int(6)}}), DType::Int32, {4}, {1, -1, 300, 0});
  expect_values<bool>(run_unary("Cast", x, {{"to", attr_int(9)}}), DType::Bool, {4},
                      {true, true, true, false});
  Tensor h = run_unary("Cast", x, {{"to", attr_int(10)}});
  ASSERT_EQ(h.dtype(), DType::Float16);
  EXPECT_EQ(static_cast<float>(h.data<Half>()[2]), 300.0f);
}

TEST(ElementwiseCast, StringsBothWays) {
  Tensor x = f32({4}, {0.9767611f, 0.1f, -2.5f, kNaN});
  Tensor s = run_unary("Cast", x, {{"to", attr_int(8)}});
  expect_values<std::string>(s, DType::String, {4}, {"0.9767611", "0.1", "-2.5", "NaN"});
  Tensor back = run_unary("Cast", Tensor::from_vector<std::string>({3}, {"0.25", "-INF", "1e3"}),
                          {{"to", attr_int(1)}});
  expect_values<float>(back, DType::Float32, {3}, {0.25f, -kInf, 1000});
  EXPECT_THROW(run_unary("Cast", Tensor::from_vector<std::string>({1}, {"abc"}), {{"to", attr_int(1)}}),
               Error);
}

TEST(ElementwiseCast, FourBitTargetsWrapAndFp8IsRejected) {
  Tensor x = f32({4}, {-9, -1, 8, 15});
  Tensor u4 = run_unary("Cast", x, {{"to", attr_int(21)}});
  ASSERT_EQ(u4.dtype(), DType::UInt4);
  EXPECT_EQ(u4.data<uint8_t>()[0], 7);
  EXPECT_EQ(u4.data<uint8_t>()[1], 15);
  EXPECT_EQ(u4.data<uint8_t>()[2], 8);
  EXPECT_EQ(u4.data<uint8_t>()[3], 15);
  Tensor i4 = run_unary("Cast", x, {{"to", attr_int(22)}});
  expect_values<int8_t>(i4, DType::Int4, {4}, {7, -1, -8, -1});
  EXPECT_THROW(run_unary("Cast", x, {{"to", attr_int(17)}}), Error);   // FLOAT8E4M3FN
  EXPECT_THROW(run_unary("Cast", x, {{"to", attr_int(99)}}), Error);   // unknown code
  EXPECT_THROW(run_unary("Cast", x), Error);                           // `to` missing
}

TEST(ElementwiseCast, CastLikeTakesTheSecondInputsType) {
  Tensor y = run_binary("CastLike", f32({2}, {2.9f, -2.9f}), Tensor::scalar<int8_t>(0));
  expect_values<int8_t>(y, DType::Int8, {2}, {2, -2});
}

// ---- shape inference -----------------------------------------------------------------------------

TEST(ElementwiseInfer, BroadcastWithSymbolsAndTypes) {
  Node add = make_node("Add", {"a", "b"}, {"y"});
  auto out = infer_op(add, {tt(DType::Float32, {Dim::symbol("N"), K(1), K(4)}), tt(DType::Float32, {K(3), K(1)})});
  EXPECT_EQ(out[0].str(), tt(DType::Float32, {Dim::symbol("N"), K(3), K(4)}).str());
  EXPECT_THROW(infer_op(add, {tt(DType::Float32, {K(2)}), tt(DType::Float32, {K(3)})}), Error);
  EXPECT_THROW(infer_op(add, {tt(DType::Float32, {K(2)}), tt(DType::Int32, {K(2)})}), Error);

  Node pow = make_node("Pow", {"a", "b"}, {"y"});
  EXPECT_EQ(infer_op(pow, {tt(DType::Int64, {K(2)}), tt(DType::Float32, {})})[0].dtype, DType::Int64);

  Node less = make_node("Less", {"a", "b"}, {"y"});
  auto c = infer_op(less, {tt(DType::Int32, {K(2), K(3)}), tt(DType::Int32, {K(3)})});
  EXPECT_EQ(c[0].str(), tt(DType::Bool, {K(2), K(3)}).str());

  Node legacy = make_node("Mul", {"a", "b"}, {"y"}, {{"broadcast", attr_int(1)}, {"axis", attr_int(0)}});
  auto l = infer_op(legacy, {tt(DType::Float32, {K(2), K(3)}), tt(DType::Float32, {K(2)})}, 6);
  EXPECT_EQ(l[0].str(), tt(DType::Float32, {K(2), K(3)}).str());
}

TEST(ElementwiseInfer, VariadicWhereCastAndUnary) {
  Node sum = make_node("Sum", {"a", "b", "c"}, {"y"});
  auto s = infer_op(sum, {tt(DType::Float16, {K(3), K(1)}), tt(DType::Float16, {K(4)}),
                          tt(DType::Float16, {})});
  EXPECT_EQ(s[0].str(), tt(DType::Float16, {K(3), K(4)}).str());
  EXPECT_THROW(infer_op(sum, {tt(DType::Float16, {K(3)}), tt(DType::Float32, {K(3)}),
                              tt(DType::Float16, {K(3)})}),
               Error);

  Node where = make_node("Where", {"c", "x", "y"}, {"z"});
  auto w = infer_op(where, {tt(DType::Bool, {K(2), K(1)}), tt(DType::Int64, {K(5)}), tt(DType::Int64, {})});
  EXPECT_EQ(w[0].str(), tt(DType::Int64, {K(2), K(5)}).str());
  EXPECT_THROW(infer_op(where, {tt(DType::Float32, {}), tt(DType::Int64, {}), tt(DType::Int64, {})}),
               Error);

  Node cast = make_node("Cast", {"x"}, {"y"}, {{"to", attr_int(7)}});
  EXPECT_EQ(infer_op(cast, {tt(DType::Float32, {Dim::symbol("B"), K(2)})})[0].str(),
            tt(DType::Int64, {Dim::symbol("B"), K(2)}).str());
  Node cast_like = make_node("CastLike", {"x", "t"}, {"y"});
  EXPECT_EQ(infer_op(cast_like, {tt(DType::Float32, {K(2)}), tt(DType::Float16, {})})[0].str(),
            tt(DType::Float16, {K(2)}).str());

  Node sqrt = make_node("Sqrt", {"x"}, {"y"});
  EXPECT_EQ(infer_op(sqrt, {tt(DType::Float64, {K(7)})})[0].str(), tt(DType::Float64, {K(7)}).str());
  EXPECT_THROW(infer_op(sqrt, {tt(DType::Int32, {K(7)})}), Error);
  Node prelu = make_node("PRelu", {"x", "s"}, {"y"});
  EXPECT_THROW(infer_op(prelu, {tt(DType::Float32, {K(3)}), tt(DType::Float32, {K(2), K(3)})}), Error);
  Node eq = make_node("Equal", {"a", "b"}, {"y"});
  EXPECT_EQ(infer_op(eq, {tt(DType::String, {K(2)}), tt(DType::String, {K(1)})})[0].dtype, DType::Bool);
}

TEST(ElementwiseRegistry, EveryOpHasRunAndInfer) {
  for (const char* op :
       {"Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Neg", "Abs", "Exp", "Log", "Erf", "Relu",
        "LeakyRelu", "PRelu", "Clip", "Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "Gelu", "Elu",
        "Selu", "Softplus", "Sign", "Reciprocal", "Floor", "Ceil", "Round", "Max", "Min", "Sum",
        "Mean", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "Not", "And", "Or",
        "Xor", "Where", "Cast", "CastLike"}) {
    const OpDef* def = OpRegistry::global().find(op);
    ASSERT_NE(def, nullptr) << op;
    EXPECT_TRUE(def->run && def->infer) << op;
  }
}

}  // namespace
}  // namespace octet
