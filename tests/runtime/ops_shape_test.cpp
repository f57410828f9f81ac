// Tests for the shape/data-movement op family (src/runtime/ops/shape*.cpp). Expected values are
// hand-computed, computed here by independent index arithmetic, or (Resize) taken from ONNX's
// reference implementation (onnx.reference, onnx 1.19) as noted.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "runtime/op_registry.h"
#include "runtime/ops/op_util.h"
#include "../test_util.h"

namespace octet {
namespace {

using namespace octet::testing;

Tensor i64(Shape s, std::vector<int64_t> v) { return Tensor::from_vector<int64_t>(std::move(s), v); }
Tensor i64v(std::vector<int64_t> v) {
  const int64_t n = static_cast<int64_t>(v.size());
  return Tensor::from_vector<int64_t>({n}, v);
}
Tensor f32(Shape s, std::vector<float> v) { return Tensor::from_vector<float>(std::move(s), v); }
Tensor iota_f32(Shape s, float start = 0.f) {
  Tensor t(DType::Float32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = start + static_cast<float>(i);
  return t;
}
Tensor strs(Shape s, std::vector<std::string> v) { return Tensor::from_vector<std::string>(std::move(s), v); }

template <class T>
std::vector<T> values(const Tensor& t) {
  const T* p = t.data<T>();
  return std::vector<T>(p, p + t.numel());
}

Tensor run1(const Node& n, const std::vector<Tensor>& in, int64_t opset = 21) {
  return run_op(n, in, opset).at(0);
}

// Runs the op's shape inference. consts[i] may be nullptr; types are derived from `in`.
std::vector<TensorType> infer(const Node& n, const std::vector<TensorType>& in,
                              const std::vector<const Tensor*>& consts, int64_t opset = 21) {
  const OpDef* def = OpRegistry::global().find(n.op_type, n.domain);
  EXPECT_TRUE(def && def->infer) << n.op_type;
  InferContext ctx{n, opset, {}, {}, {}};
  for (const TensorType& t : in) ctx.inputs.push_back(t.dtype == DType::Undefined ? nullptr : &t);
  ctx.constants = consts;
  ctx.constants.resize(in.size(), nullptr);
  ctx.outputs.resize(n.outputs.size());
  def->infer(ctx);
  return ctx.outputs;
}
TensorType type_of(const Tensor& t) { return TensorType::of(t.dtype(), t.shape()); }
TensorType sym_type(DType d, std::vector<Dim> dims) {
  TensorType t;
  t.dtype = d;
  t.has_shape = true;
  t.dims = std::move(dims);
  return t;
}
Dim K(int64_t v) { return Dim::known(v); }
Dim S(const char* s) { return Dim::symbol(s); }

void expect_fails_with(const Node& n, const std::vector<Tensor>& in, const std::string& needle,
                       int64_t opset = 21) {
  try {
    run_op(n, in, opset);
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------------------------------------
// Reshape, Flatten, Squeeze, Unsqueeze, Identity

TEST(ShapeOpsReshape, ZeroAndMinusOne) {
  Tensor x = iota_f32({2, 3, 4});
  Tensor y = run1(make_node("Reshape", {"x", "s"}, {"y"}), {x, i64v({0, -1})});
  EXPECT_EQ(y.shape(), (Shape{2, 12}));
  EXPECT_EQ(values<float>(y), values<float>(x));
  y = run1(make_node("Reshape", {"x", "s"}, {"y"}), {x, i64v({-1, 0, 2})});
  EXPECT_EQ(y.shape(), (Shape{4, 3, 2}));
}

TEST(ShapeOpsReshape, AllowZero) {
  Tensor x(DType::Float32, {0, 3});
  Node n = make_node("Reshape", {"x", "s"}, {"y"}, {{"allowzero", attr_int(1)}});
  EXPECT_EQ(run1(n, {x, i64v({3, 0})}).shape(), (Shape{3, 0}));
  // Without allowzero the 0 copies the input dim.
  EXPECT_EQ(run1(make_node("Reshape", {"x", "s"}, {"y"}), {iota_f32({2, 3}), i64v({0, 3})}).shape(),
            (Shape{2, 3}));
  expect_fails_with(n, {x, i64v({0, -1})}, "both 0 and -1");
}

TEST(ShapeOpsReshape, Errors) {
  Node n = make_node("Reshape", {"x", "s"}, {"y"});
  expect_fails_with(n, {iota_f32({2, 3}), i64v({4, -1})}, "cannot be inferred");
  expect_fails_with(n, {iota_f32({2, 3}), i64v({-1, -1})}, "more than one -1");
  expect_fails_with(n, {iota_f32({2, 3}), i64v({5})}, "cannot reshape");
  expect_fails_with(n, {iota_f32({6}), i64v({6, 0})}, "has rank 1");
}

TEST(ShapeOpsReshape, InferSymbolic) {
  Node n = make_node("Reshape", {"x", "s"}, {"y"});
  Tensor s = i64v({0, -1});
  auto out = infer(n, {sym_type(DType::Float32, {S("N"), K(3), K(4)}), type_of(s)}, {nullptr, &s});
  ASSERT_TRUE(out[0].has_shape);
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{S("N"), K(12)}));
  Tensor s2 = i64v({-1, 4});
  out = infer(n, {sym_type(DType::Float32, {S("N"), K(3), K(4)}), type_of(s2)}, {nullptr, &s2});
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{Dim{}, K(4)}));
  Tensor s3 = i64v({3, -1});
  out = infer(n, {sym_type(DType::Float32, {K(2), K(3), K(4)}), type_of(s3)}, {nullptr, &s3});
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{K(3), K(8)}));
  // Shape not constant: only the rank is known.
  out = infer(n, {sym_type(DType::Float32, {K(2), K(3)}), sym_type(DType::Int64, {K(3)})}, {});
  EXPECT_EQ(out[0].dims.size(), 3u);
  EXPECT_FALSE(out[0].dims[0].is_known());
}

TEST(ShapeOpsFlatten, Axes) {
  Tensor x = iota_f32({2, 3, 4, 5});
  for (int64_t axis = -4; axis <= 4; ++axis) {
    const int64_t a = axis < 0 ? axis + 4 : axis;
    int64_t outer = 1;
    for (int64_t i = 0; i < a; ++i) outer *= x.dim(static_cast<size_t>(i));
    Tensor y = run1(make_node("Flatten", {"x"}, {"y"}, {{"axis", attr_int(axis)}}), {x});
    EXPECT_EQ(y.shape(), (Shape{outer, 120 / outer})) << "axis " << axis;
  }
  EXPECT_EQ(run1(make_node("Flatten", {"x"}, {"y"}), {Tensor(DType::Float32, {0, 3, 2})}).shape(),
            (Shape{0, 6}));
  expect_fails_with(make_node("Flatten", {"x"}, {"y"}, {{"axis", attr_int(5)}}), {x}, "out of range");
  auto out = infer(make_node("Flatten", {"x"}, {"y"}), {sym_type(DType::Float32, {S("N"), K(3), K(4)})}, {});
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{S("N"), K(12)}));
}

TEST(ShapeOpsSqueeze, AttributeAndInputForms) {
  Tensor x = iota_f32({1, 3, 1, 2});
  // opset 11: axes attribute
  Tensor y = run1(make_node("Squeeze", {"x"}, {"y"}, {{"axes", attr_ints({0, -2})}}), {x}, 11);
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  // opset 13: axes input
  y = run1(make_node("Squeeze", {"x", "a"}, {"y"}), {x, i64v({2})}, 13);
  EXPECT_EQ(y.shape(), (Shape{1, 3, 2}));
  // no axes: every 1 goes
  y = run1(make_node("Squeeze", {"x"}, {"y"}), {x}, 13);
  EXPECT_EQ(y.shape(), (Shape{3, 2}));
  EXPECT_EQ(values<float>(y), values<float>(x));
  expect_fails_with(make_node("Squeeze", {"x", "a"}, {"y"}), {x, i64v({1})}, "not 1");
  expect_fails_with(make_node("Squeeze", {"x", "a"}, {"y"}), {x, i64v({4})}, "out of range");
}

TEST(ShapeOpsUnsqueeze, AttributeAndInputForms) {
  Tensor x = iota_f32({3, 4});
  Tensor y = run1(make_node("Unsqueeze", {"x"}, {"y"}, {{"axes", attr_ints({0, 3})}}), {x}, 11);
  EXPECT_EQ(y.shape(), (Shape{1, 3, 4, 1}));
  y = run1(make_node("Unsqueeze", {"x", "a"}, {"y"}), {x, i64v({-1, 1})}, 13);
  EXPECT_EQ(y.shape(), (Shape{3, 1, 4, 1}));
  y = run1(make_node("Unsqueeze", {"x", "a"}, {"y"}), {Tensor::scalar<float>(2.f), i64v({0})}, 13);
  EXPECT_EQ(y.shape(), (Shape{1}));
  expect_fails_with(make_node("Unsqueeze", {"x", "a"}, {"y"}), {x, i64v({1, 1})}, "repeat");
  expect_fails_with(make_node("Unsqueeze", {"x", "a"}, {"y"}), {x, i64v({4})}, "out of range");
  Tensor a = i64v({0});
  auto out = infer(make_node("Unsqueeze", {"x", "a"}, {"y"}), {sym_type(DType::Int64, {}), type_of(a)}, {nullptr, &a});
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{K(1)}));
}

TEST(ShapeOpsIdentity, PassesThroughStrings) {
  Tensor x = strs({2}, {"a", "bc"});
  EXPECT_EQ(values<std::string>(run1(make_node("Identity", {"x"}, {"y"}), {x})),
            (std::vector<std::string>{"a", "bc"}));
}

// ---------------------------------------------------------------------------------------------
// Shape, Size, Constant, ConstantOfShape, Range

TEST(ShapeOpsShape, StartEnd) {
  Tensor x(DType::Float32, {2, 3, 4, 5});
  auto shape = [&](std::map<std::string, Attribute> attrs) {
    return values<int64_t>(run1(make_node("Shape", {"x"}, {"y"}, attrs), {x}));
  };
  EXPECT_EQ(shape({}), (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(shape({{"start", attr_int(1)}}), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(shape({{"end", attr_int(-1)}}), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(shape({{"start", attr_int(-10)}, {"end", attr_int(10)}}), (std::vector<int64_t>{2, 3, 4, 5}));
  EXPECT_EQ(shape({{"start", attr_int(3)}, {"end", attr_int(1)}}), (std::vector<int64_t>{}));
  auto out = infer(make_node("Shape", {"x"}, {"y"}, {{"start", attr_int(1)}}),
                   {sym_type(DType::Float32, {S("N"), K(3), K(4)})}, {});
  EXPECT_EQ(out[0].dtype, DType::Int64);
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{K(2)}));
}

TEST(ShapeOpsSize, CountsElements) {
  Tensor y = run1(make_node("Size", {"x"}, {"y"}), {Tensor(DType::Bool, {3, 0, 2})});
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{0}));
  EXPECT_EQ(values<int64_t>(run1(make_node("Size", {"x"}, {"y"}), {Tensor(DType::Int8, {3, 7})})),
            (std::vector<int64_t>{21}));
}

TEST(ShapeOpsConstant, AllValueForms) {
  EXPECT_EQ(values<float>(run1(make_node("Constant", {}, {"y"}, {{"value", attr_tensor(f32({2}, {1, 2}))}}), {})),
            (std::vector<float>{1, 2}));
  Tensor y = run1(make_node("Constant", {}, {"y"}, {{"value_float", attr_float(2.5f)}}), {});
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(values<float>(y), (std::vector<float>{2.5f}));
  EXPECT_EQ(values<float>(run1(make_node("Constant", {}, {"y"}, {{"value_floats", attr_floats({1, 3})}}), {})),
            (std::vector<float>{1, 3}));
  EXPECT_EQ(values<int64_t>(run1(make_node("Constant", {}, {"y"}, {{"value_int", attr_int(-7)}}), {})),
            (std::vector<int64_t>{-7}));
  EXPECT_EQ(values<int64_t>(run1(make_node("Constant", {}, {"y"}, {{"value_ints", attr_ints({4, 5, 6})}}), {})),
            (std::vector<int64_t>{4, 5, 6}));
  EXPECT_EQ(values<std::string>(run1(make_node("Constant", {}, {"y"}, {{"value_string", attr_string("hi")}}), {})),
            (std::vector<std::string>{"hi"}));
  Attribute ss;
  ss.kind = Attribute::Kind::Strings;
  ss.strings = {"a", "b"};
  y = run1(make_node("Constant", {}, {"y"}, {{"value_strings", ss}}), {});
  EXPECT_EQ(y.shape(), Shape{2});
  EXPECT_EQ(values<std::string>(y), (std::vector<std::string>{"a", "b"}));
  auto out = infer(make_node("Constant", {}, {"y"}, {{"value_ints", attr_ints({4, 5, 6})}}), {}, {});
  EXPECT_EQ(out[0].str(), "INT64[3]");
  expect_fails_with(make_node("Constant", {}, {"y"}), {}, "no value");
}

TEST(ShapeOpsConstantOfShape, ValuesAndShapes) {
  Tensor y = run1(make_node("ConstantOfShape", {"s"}, {"y"}), {i64v({2, 3})});
  EXPECT_EQ(y.dtype(), DType::Float32);
  EXPECT_EQ(values<float>(y), std::vector<float>(6, 0.f));
  y = run1(make_node("ConstantOfShape", {"s"}, {"y"}, {{"value", attr_tensor(Tensor::from_vector<int32_t>({1}, {7}))}}),
           {i64v({3})});
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{7, 7, 7}));
  y = run1(make_node("ConstantOfShape", {"s"}, {"y"}), {i64(Shape{0}, {})});
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(run1(make_node("ConstantOfShape", {"s"}, {"y"}), {i64v({4, 0})}).numel(), 0);
  expect_fails_with(make_node("ConstantOfShape", {"s"}, {"y"}), {i64v({2, -1})}, "negative");
  Tensor s = i64v({5, 2});
  auto out = infer(make_node("ConstantOfShape", {"s"}, {"y"}), {type_of(s)}, {&s});
  EXPECT_EQ(out[0].str(), "FLOAT[5,2]");
}

TEST(ShapeOpsRange, IntAndFloat) {
  Node n = make_node("Range", {"a", "b", "d"}, {"y"});
  auto ri = [&](int32_t a, int32_t b, int32_t d) {
    return values<int32_t>(run1(n, {Tensor::scalar<int32_t>(a), Tensor::scalar<int32_t>(b), Tensor::scalar<int32_t>(d)}));
  };
  EXPECT_EQ(ri(10, 4, -3), (std::vector<int32_t>{10, 7}));
  EXPECT_EQ(ri(0, 5, 2), (std::vector<int32_t>{0, 2, 4}));
  EXPECT_EQ(ri(0, 6, 2), (std::vector<int32_t>{0, 2, 4}));
  EXPECT_EQ(ri(5, 0, 1), (std::vector<int32_t>{}));
  Tensor y = run1(n, {Tensor::scalar<float>(1.f), Tensor::scalar<float>(2.f), Tensor::scalar<float>(0.3f)});
  ASSERT_EQ(y.numel(), 4);
  EXPECT_NEAR(y.data<float>()[3], 1.9f, 1e-6);
  Tensor y64 = run1(n, {Tensor::scalar<int64_t>(-3), Tensor::scalar<int64_t>(3), Tensor::scalar<int64_t>(3)});
  EXPECT_EQ(values<int64_t>(y64), (std::vector<int64_t>{-3, 0}));
  expect_fails_with(n, {Tensor::scalar<int64_t>(0), Tensor::scalar<int64_t>(3), Tensor::scalar<int64_t>(0)}, "delta");
  Tensor a = Tensor::scalar<int64_t>(0), b = Tensor::scalar<int64_t>(10), d = Tensor::scalar<int64_t>(3);
  auto out = infer(n, {type_of(a), type_of(b), type_of(d)}, {&a, &b, &d});
  EXPECT_EQ(out[0].str(), "INT64[4]");
}

// ---------------------------------------------------------------------------------------------
// Concat, Split, Slice

TEST(ShapeOpsConcat, AxesAndTypes) {
  Tensor a = iota_f32({2, 2}), b = iota_f32({2, 1}, 10.f);
  Tensor y = run1(make_node("Concat", {"a", "b"}, {"y"}, {{"axis", attr_int(-1)}}), {a, b});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 1, 10, 2, 3, 11}));
  Tensor e(DType::Float32, {0, 2});
  y = run1(make_node("Concat", {"a", "e", "a"}, {"y"}, {{"axis", attr_int(0)}}), {a, e, a});
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 1, 2, 3, 0, 1, 2, 3}));
  Tensor s = run1(make_node("Concat", {"a", "b"}, {"y"}, {{"axis", attr_int(0)}}),
                  {strs({1}, {"x"}), strs({2}, {"y", "z"})});
  EXPECT_EQ(values<std::string>(s), (std::vector<std::string>{"x", "y", "z"}));
  expect_fails_with(make_node("Concat", {"a", "b"}, {"y"}, {{"axis", attr_int(0)}}), {a, b}, "differ outside axis");
  auto out = infer(make_node("Concat", {"a", "b"}, {"y"}, {{"axis", attr_int(0)}}),
                   {sym_type(DType::Int64, {K(2)}), sym_type(DType::Int64, {K(1)})}, {});
  EXPECT_EQ(out[0].str(), "INT64[3]");
  out = infer(make_node("Concat", {"a", "b"}, {"y"}, {{"axis", attr_int(1)}}),
              {sym_type(DType::Float32, {S("N"), K(2)}), sym_type(DType::Float32, {Dim{}, K(5)})}, {});
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{S("N"), K(7)}));
}

TEST(ShapeOpsSplit, Forms) {
  Tensor x = iota_f32({2, 6});
  // opset 11: split attribute
  auto outs = run_op(make_node("Split", {"x"}, {"a", "b"}, {{"axis", attr_int(1)}, {"split", attr_ints({2, 4})}}), {x}, 11);
  EXPECT_EQ(values<float>(outs[0]), (std::vector<float>{0, 1, 6, 7}));
  EXPECT_EQ(values<float>(outs[1]), (std::vector<float>{2, 3, 4, 5, 8, 9, 10, 11}));
  // opset 13: split input, zero-size part
  outs = run_op(make_node("Split", {"x", "s"}, {"a", "b", "c"}, {{"axis", attr_int(-1)}}), {x, i64v({0, 5, 1})}, 13);
  EXPECT_EQ(outs[0].shape(), (Shape{2, 0}));
  EXPECT_EQ(values<float>(outs[2]), (std::vector<float>{5, 11}));
  // equal split by output count
  outs = run_op(make_node("Split", {"x"}, {"a", "b", "c"}, {{"axis", attr_int(1)}}), {x}, 13);
  EXPECT_EQ(values<float>(outs[1]), (std::vector<float>{2, 3, 8, 9}));
  // opset 18: num_outputs with a smaller last chunk
  Tensor v = iota_f32({7});
  outs = run_op(make_node("Split", {"x"}, {"a", "b", "c"}, {{"num_outputs", attr_int(3)}}), {v}, 18);
  EXPECT_EQ(outs[0].shape(), Shape{3});
  EXPECT_EQ(outs[1].shape(), Shape{3});
  EXPECT_EQ(values<float>(outs[2]), (std::vector<float>{6}));
  expect_fails_with(make_node("Split", {"x", "s"}, {"a", "b"}, {{"axis", attr_int(1)}}), {x, i64v({2, 3})}, "sums to 5");
  Tensor s = i64v({1, 5});
  auto types = infer(make_node("Split", {"x", "s"}, {"a", "b"}, {{"axis", attr_int(1)}}),
                     {sym_type(DType::Float32, {S("N"), K(6)}), type_of(s)}, {nullptr, &s});
  EXPECT_EQ(types[1].dims, (std::vector<Dim>{S("N"), K(5)}));
}

// Independent slice: numpy-style per-axis index lists.
std::vector<float> naive_slice(const Tensor& x, const std::vector<std::vector<int64_t>>& picks) {
  std::vector<float> out;
  const Shape& s = x.shape();
  std::vector<size_t> pos(s.size(), 0);
  std::vector<int64_t> st = contiguous_strides(s);
  for (const auto& p : picks)
    if (p.empty()) return out;
  while (true) {
    int64_t off = 0;
    for (size_t d = 0; d < s.size(); ++d) off += picks[d][pos[d]] * st[d];
    out.push_back(x.data<float>()[off]);
    size_t d = s.size();
    while (d-- > 0) {
      if (++pos[d] < picks[d].size()) break;
      pos[d] = 0;
    }
    if (d == static_cast<size_t>(-1)) break;
  }
  return out;
}

TEST(ShapeOpsSlice, StepsClampingAxes) {
  Tensor x = iota_f32({4, 5});
  Node n = make_node("Slice", {"x", "s", "e", "a", "t"}, {"y"});
  // negative step, clamped start
  Tensor y = run1(n, {x, i64v({100, -2}), i64v({-100, 0}), i64v({0, 1}), i64v({-2, -1})});
  EXPECT_EQ(y.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<float>(y), naive_slice(x, {{3, 1}, {3, 2, 1}}));
  // axes absent, steps absent, INT64_MAX end
  y = run1(make_node("Slice", {"x", "s", "e"}, {"y"}), {x, i64v({1}), i64v({std::numeric_limits<int64_t>::max()})});
  EXPECT_EQ(values<float>(y), naive_slice(x, {{1, 2, 3}, {0, 1, 2, 3, 4}}));
  // negative axis, step 2, empty result
  y = run1(n, {x, i64v({1}), i64v({5}), i64v({-1}), i64v({2})});
  EXPECT_EQ(values<float>(y), naive_slice(x, {{0, 1, 2, 3}, {1, 3}}));
  y = run1(n, {x, i64v({3}), i64v({1}), i64v({0}), i64v({1})});
  EXPECT_EQ(y.shape(), (Shape{0, 5}));
  // INT64_MIN step reads the start element only
  y = run1(n, {x, i64v({-1}), i64v({std::numeric_limits<int64_t>::min()}), i64v({1}),
               i64v({std::numeric_limits<int64_t>::min()})});
  EXPECT_EQ(values<float>(y), naive_slice(x, {{0, 1, 2, 3}, {4}}));
  // opset 9: attribute form
  y = run1(make_node("Slice", {"x"}, {"y"}, {{"starts", attr_ints({1, 1})}, {"ends", attr_ints({3, -1})}}), {x}, 9);
  EXPECT_EQ(values<float>(y), naive_slice(x, {{1, 2}, {1, 2, 3}}));
  expect_fails_with(n, {x, i64v({0}), i64v({1}), i64v({0}), i64v({0})}, "has a 0");
  expect_fails_with(n, {x, i64v({0, 0}), i64v({1, 1}), i64v({1, -1}), i64v({1, 1})}, "repeat");
}

// The ONNX spec (and onnxruntime) clamp a negative-step start into [0, dim-1] after adding dim,
// so a start below -dim still reads element 0; numpy (and onnx.reference) would give nothing.
TEST(ShapeOpsSlice, NegativeStepClampsStartPerSpec) {
  Tensor x = iota_f32({5});
  Node n = make_node("Slice", {"x", "s", "e", "a", "t"}, {"y"});
  EXPECT_EQ(values<float>(run1(n, {x, i64v({-10}), i64v({-20}), i64v({0}), i64v({-1})})), (std::vector<float>{0}));
  EXPECT_EQ(values<float>(run1(n, {x, i64v({-6}), i64v({-8}), i64v({0}), i64v({-2})})), (std::vector<float>{0}));
  EXPECT_EQ(values<float>(run1(n, {x, i64v({10}), i64v({-20}), i64v({0}), i64v({-2})})), (std::vector<float>{4, 2, 0}));
}

TEST(ShapeOpsSlice, StringsAndInfer) {
  Tensor x = strs({4}, {"a", "b", "c", "d"});
  Tensor y = run1(make_node("Slice", {"x", "s", "e", "a", "t"}, {"y"}), {x, i64v({-1}), i64v({-5}), i64v({0}), i64v({-1})});
  EXPECT_EQ(values<std::string>(y), (std::vector<std::string>{"d", "c", "b", "a"}));
  Tensor s = i64v({1}), e = i64v({-1}), a = i64v({1});
  Node n = make_node("Slice", {"x", "s", "e", "a"}, {"y"});
  auto out = infer(n, {sym_type(DType::Float32, {S("N"), K(10)}), type_of(s), type_of(e), type_of(a)},
                   {nullptr, &s, &e, &a});
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{S("N"), K(8)}));
  // A Shape -> Slice chain on a 1-D INT64 shape tensor.
  Tensor s0 = i64v({0}), e0 = i64v({1});
  out = infer(make_node("Slice", {"x", "s", "e"}, {"y"}), {sym_type(DType::Int64, {K(4)}), type_of(s0), type_of(e0)},
              {nullptr, &s0, &e0});
  EXPECT_EQ(out[0].str(), "INT64[1]");
}

// ---------------------------------------------------------------------------------------------
// Gather, GatherElements

TEST(ShapeOpsGather, AxesAndNegativeIndices) {
  Tensor x = iota_f32({3, 4});
  Tensor y = run1(make_node("Gather", {"x", "i"}, {"y"}), {x, i64(Shape{2, 2}, {0, -1, 2, 1})});
  EXPECT_EQ(y.shape(), (Shape{2, 2, 4}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 1, 2, 3, 8, 9, 10, 11, 8, 9, 10, 11, 4, 5, 6, 7}));
  y = run1(make_node("Gather", {"x", "i"}, {"y"}, {{"axis", attr_int(1)}}),
           {x, Tensor::from_vector<int32_t>({2}, {3, -4})});
  EXPECT_EQ(values<float>(y), (std::vector<float>{3, 0, 7, 4, 11, 8}));
  // scalar index drops the axis (shape chains: Shape -> Gather(0))
  y = run1(make_node("Gather", {"x", "i"}, {"y"}), {i64v({7, 8, 9}), Tensor::scalar<int64_t>(1)});
  EXPECT_EQ(y.shape(), Shape{});
  EXPECT_EQ(values<int64_t>(y), (std::vector<int64_t>{8}));
  Tensor b = Tensor::from_vector<bool>({3}, {true, false, true});
  EXPECT_EQ(values<bool>(run1(make_node("Gather", {"x", "i"}, {"y"}), {b, i64v({1, 2})})),
            (std::vector<bool>{false, true}));
  expect_fails_with(make_node("Gather", {"x", "i"}, {"y"}), {x, i64v({0, 3})}, "index 3");
  expect_fails_with(make_node("Gather", {"x", "i"}, {"y"}), {x, i64v({-4})}, "index -4");
  Tensor i = Tensor::scalar<int64_t>(0);
  auto out = infer(make_node("Gather", {"x", "i"}, {"y"}), {sym_type(DType::Int64, {K(4)}), type_of(i)}, {nullptr, &i});
  EXPECT_EQ(out[0].str(), "INT64[]");
  Tensor bad = i64v({5});
  EXPECT_THROW(infer(make_node("Gather", {"x", "i"}, {"y"}), {sym_type(DType::Int64, {K(4)}), type_of(bad)}, {nullptr, &bad}),
               Error);
}

TEST(ShapeOpsGatherElements, Axes) {
  Tensor x = iota_f32({3, 3}, 1.f);
  Tensor y = run1(make_node("GatherElements", {"x", "i"}, {"y"}, {{"axis", attr_int(0)}}),
                  {x, i64(Shape{2, 3}, {1, 2, 0, 2, 0, -3})});
  EXPECT_EQ(values<float>(y), (std::vector<float>{4, 8, 3, 7, 2, 3}));
  y = run1(make_node("GatherElements", {"x", "i"}, {"y"}, {{"axis", attr_int(1)}}),
           {x, i64(Shape{3, 2}, {0, 0, 1, 0, 2, -1})});
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 1, 5, 4, 9, 9}));
  expect_fails_with(make_node("GatherElements", {"x", "i"}, {"y"}), {x, i64(Shape{1, 1}, {3})}, "index 3");
}

// ---------------------------------------------------------------------------------------------
// Transpose, Tile, Expand

TEST(ShapeOpsTranspose, AllPermutationsOfRank3) {
  Tensor x = iota_f32({2, 3, 4});
  std::vector<int64_t> perm = {0, 1, 2};
  do {
    Tensor y = run1(make_node("Transpose", {"x"}, {"y"}, {{"perm", attr_ints(perm)}}), {x});
    Shape os = {x.dim(perm[0]), x.dim(perm[1]), x.dim(perm[2])};
    ASSERT_EQ(y.shape(), os);
    for (int64_t a = 0; a < os[0]; ++a)
      for (int64_t b = 0; b < os[1]; ++b)
        for (int64_t c = 0; c < os[2]; ++c) {
          int64_t in[3];
          in[perm[0]] = a;
          in[perm[1]] = b;
          in[perm[2]] = c;
          ASSERT_EQ(y.data<float>()[(a * os[1] + b) * os[2] + c], x.data<float>()[(in[0] * 3 + in[1]) * 4 + in[2]]);
        }
  } while (std::next_permutation(perm.begin(), perm.end()));
  Tensor y = run1(make_node("Transpose", {"x"}, {"y"}), {x});
  EXPECT_EQ(y.shape(), (Shape{4, 3, 2}));
  expect_fails_with(make_node("Transpose", {"x"}, {"y"}, {{"perm", attr_ints({0, 0, 1})}}), {x}, "not a permutation");
  auto out = infer(make_node("Transpose", {"x"}, {"y"}, {{"perm", attr_ints({1, 0})}}),
                   {sym_type(DType::Float32, {S("N"), K(3)})}, {});
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{K(3), S("N")}));
}

TEST(ShapeOpsTile, Repeats) {
  Tensor x = iota_f32({2, 2});
  Tensor y = run1(make_node("Tile", {"x", "r"}, {"y"}), {x, i64v({2, 3})});
  EXPECT_EQ(y.shape(), (Shape{4, 6}));
  for (int64_t i = 0; i < 4; ++i)
    for (int64_t j = 0; j < 6; ++j)
      EXPECT_EQ(y.data<float>()[i * 6 + j], x.data<float>()[(i % 2) * 2 + j % 2]);
  EXPECT_EQ(run1(make_node("Tile", {"x", "r"}, {"y"}), {x, i64v({0, 1})}).shape(), (Shape{0, 2}));
  expect_fails_with(make_node("Tile", {"x", "r"}, {"y"}), {x, i64v({2})}, "repeats");
}

TEST(ShapeOpsExpand, Bidirectional) {
  Tensor x = f32({3, 1}, {1, 2, 3});
  Tensor y = run1(make_node("Expand", {"x", "s"}, {"y"}), {x, i64v({2, 1, 2})});
  EXPECT_EQ(y.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
  y = run1(make_node("Expand", {"x", "s"}, {"y"}), {x, i64v({1})});
  EXPECT_EQ(y.shape(), (Shape{3, 1}));
  expect_fails_with(make_node("Expand", {"x", "s"}, {"y"}), {x, i64v({2, 2})}, "broadcast");
  Tensor s = i64v({2, 1, 4});
  auto out = infer(make_node("Expand", {"x", "s"}, {"y"}), {sym_type(DType::Float32, {S("N"), K(1)}), type_of(s)},
                   {nullptr, &s});
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{K(2), S("N"), K(4)}));
}

// ---------------------------------------------------------------------------------------------
// Pad

std::vector<float> pad1d(std::vector<int64_t> pads, const std::string& mode, std::vector<float> data,
                         int64_t opset = 21) {
  Tensor x = f32({static_cast<int64_t>(data.size())}, data);
  Node n = make_node("Pad", {"x", "p"}, {"y"}, {{"mode", attr_string(mode)}});
  return values<float>(run1(n, {x, i64v(pads)}, opset));
}

TEST(ShapeOpsPad, Modes1D) {
  const std::vector<float> d = {1, 2, 3};
  // numpy.pad(d, (5, 4), mode) gives these
  EXPECT_EQ(pad1d({5, 4}, "reflect", d), (std::vector<float>{2, 1, 2, 3, 2, 1, 2, 3, 2, 1, 2, 3}));
  EXPECT_EQ(pad1d({5, 4}, "wrap", d), (std::vector<float>{2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1}));
  EXPECT_EQ(pad1d({2, 1}, "edge", d), (std::vector<float>{1, 1, 1, 2, 3, 3}));
  EXPECT_EQ(pad1d({2, 1}, "constant", d), (std::vector<float>{0, 0, 1, 2, 3, 0}));
  // negative pads crop; the pad side then reads from the cropped tensor
  EXPECT_EQ(pad1d({-1, 0}, "constant", d), (std::vector<float>{2, 3}));
  EXPECT_EQ(pad1d({-1, 2}, "reflect", d), (std::vector<float>{2, 3, 2, 3}));
  EXPECT_EQ(pad1d({2, -1}, "edge", d), (std::vector<float>{1, 1, 1, 2}));
  EXPECT_EQ(pad1d({1, 1}, "reflect", {7}), (std::vector<float>{7, 7, 7}));
  // wrap reads the cropped tensor too (onnxruntime agrees)
  const std::vector<float> d4 = {1, 2, 3, 4};
  EXPECT_EQ(pad1d({-1, 1}, "wrap", d4), (std::vector<float>{2, 3, 4, 2}));
  EXPECT_EQ(pad1d({1, -1}, "wrap", d4), (std::vector<float>{3, 1, 2, 3}));
  EXPECT_EQ(pad1d({2, -3}, "wrap", d4), (std::vector<float>{1, 1, 1}));
  expect_fails_with(make_node("Pad", {"x", "p"}, {"y"}, {{"mode", attr_string("edge")}}),
                    {f32({1}, {7}), i64v({-1, 2})}, "empty axis");
}

TEST(ShapeOpsPad, ConstantValueAxesAndOldForm) {
  Tensor x = iota_f32({2, 2}, 1.f);
  Node n = make_node("Pad", {"x", "p", "v"}, {"y"});
  Tensor y = run1(n, {x, i64v({0, 1, 1, 0}), Tensor::scalar<float>(9.f)});
  EXPECT_EQ(y.shape(), (Shape{3, 3}));
  EXPECT_EQ(values<float>(y), (std::vector<float>{9, 1, 2, 9, 3, 4, 9, 9, 9}));
  // opset 18 axes input: pads only for axis -1
  y = run1(make_node("Pad", {"x", "p", "v", "a"}, {"y"}), {x, i64v({1, 2}), Tensor::scalar<float>(5.f), i64v({-1})}, 18);
  EXPECT_EQ(values<float>(y), (std::vector<float>{5, 1, 2, 5, 5, 5, 3, 4, 5, 5}));
  // opset 2 attributes
  y = run1(make_node("Pad", {"x"}, {"y"}, {{"pads", attr_ints({1, 0, 0, 0})}, {"value", attr_float(-1.f)}}), {x}, 2);
  EXPECT_EQ(values<float>(y), (std::vector<float>{-1, -1, 1, 2, 3, 4}));
  // strings, default constant is the empty string
  Tensor s = run1(make_node("Pad", {"x", "p"}, {"y"}), {strs({1}, {"a"}), i64v({1, 1})});
  EXPECT_EQ(values<std::string>(s), (std::vector<std::string>{"", "a", ""}));
  Tensor i8 = Tensor::from_vector<int8_t>({2}, {1, 2});
  EXPECT_EQ(values<int8_t>(run1(n, {i8, i64v({1, 0}), Tensor::scalar<int8_t>(-5)})), (std::vector<int8_t>{-5, 1, 2}));
  expect_fails_with(make_node("Pad", {"x", "p"}, {"y"}), {x, i64v({1, 1})}, "must have 4 values");
  expect_fails_with(make_node("Pad", {"x", "p"}, {"y"}), {x, i64v({-2, 0, -1, 0})}, "invalid size");
  Tensor p = i64v({1, 0, 2, 3});
  auto out = infer(make_node("Pad", {"x", "p"}, {"y"}), {sym_type(DType::Float32, {K(2), S("N")}), type_of(p)},
                   {nullptr, &p});
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{K(5), Dim{}}));
}

// ---------------------------------------------------------------------------------------------
// Resize, Upsample. Expected values from onnx.reference's Resize (onnx 1.19) unless noted.

Tensor resize(const Tensor& x, std::vector<float> scales, std::vector<int64_t> sizes,
              std::map<std::string, Attribute> attrs, Tensor roi = Tensor(), int64_t opset = 19) {
  Node n = make_node("Resize", {"x", "roi", "scales", "sizes"}, {"y"}, std::move(attrs));
  Tensor sc = scales.empty() ? Tensor() : f32({static_cast<int64_t>(scales.size())}, scales);
  Tensor sz = sizes.empty() ? Tensor() : i64v(sizes);
  return run1(n, {x, roi, sc, sz}, opset);
}

TEST(ShapeOpsResize, LinearHalfPixelUpsample) {  // ONNX test_resize_upsample_scales_linear
  Tensor y = resize(f32({1, 1, 2, 2}, {1, 2, 3, 4}), {1, 1, 2, 2}, {}, {{"mode", attr_string("linear")}});
  expect_near(y, f32({1, 1, 4, 4}, {1, 1.25, 1.75, 2, 1.5, 1.75, 2.25, 2.5, 2.5, 2.75, 3.25, 3.5, 3, 3.25, 3.75, 4}));
}

TEST(ShapeOpsResize, Cubic) {
  Tensor x = iota_f32({1, 1, 4, 4}, 1.f);
  expect_near(resize(x, {1, 1, 1.5f, 1.5f}, {}, {{"mode", attr_string("cubic")}}),
              f32({1, 1, 6, 6}, {0.5659722f, 1.0590278f, 1.8657408f, 2.4398148f, 3.2465277f, 3.7395833f,
                                 2.5381944f, 3.03125f,   3.8379629f, 4.412037f,  5.21875f,   5.7118053f,
                                 5.765046f,  6.258102f,  7.064815f,  7.638889f,  8.445601f,  8.938658f,
                                 8.061342f,  8.554399f,  9.361111f,  9.935185f,  10.741899f, 11.234954f,
                                 11.288195f, 11.78125f,  12.587963f, 13.162037f, 13.96875f,  14.461805f,
                                 13.260417f, 13.753472f, 14.560185f, 15.134259f, 15.940972f, 16.434029f}),
              1e-5f);
  expect_near(resize(x, {1, 1, 0.8f, 0.8f}, {},
                     {{"mode", attr_string("cubic")}, {"coordinate_transformation_mode", attr_string("align_corners")}}),
              f32({1, 1, 3, 3}, {1.f, 2.3951917f, 3.790383f, 6.580766f, 7.975958f, 9.371149f, 12.161532f,
                                 13.556724f, 14.951916f}),
              1e-5f);
  expect_near(resize(x, {1, 1, 0.8f, 0.8f}, {},
                     {{"mode", attr_string("cubic")}, {"cubic_coeff_a", attr_float(-0.5f)}, {"exclude_outside", attr_int(1)}}),
              f32({1, 1, 3, 3}, {1.3681267f, 2.6695013f, 4.0133367f, 6.573625f, 7.875f, 9.218835f, 11.948966f,
                                 13.250341f, 14.594176f}),
              1e-5f);
}

TEST(ShapeOpsResize, Antialias) {
  Tensor x = iota_f32({1, 1, 4, 4}, 1.f);
  expect_near(resize(x, {1, 1, 0.6f, 0.6f}, {}, {{"mode", attr_string("linear")}, {"antialias", attr_int(1)}}),
              f32({1, 1, 2, 2}, {2.875f, 4.5f, 9.375f, 11.f}));
  expect_near(resize(x, {1, 1, 0.6f, 0.6f}, {}, {{"mode", attr_string("cubic")}, {"antialias", attr_int(1)}}),
              f32({1, 1, 2, 2}, {2.5180721f, 4.2858863f, 9.589329f, 11.357142f}), 1e-5f);
}

TEST(ShapeOpsResize, CropAndResizeWithExtrapolation) {
  Tensor x = iota_f32({1, 1, 4, 4}, 1.f);
  Tensor roi = f32({8}, {0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 1.7f});
  expect_near(resize(x, {}, {1, 1, 3, 3},
                     {{"mode", attr_string("linear")}, {"coordinate_transformation_mode", attr_string("tf_crop_and_resize")},
                      {"extrapolation_value", attr_float(10.f)}},
                     roi),
              f32({1, 1, 3, 3}, {7.6000004f, 10, 10, 12.400001f, 10, 10, 10, 10, 10}), 1e-5f);
  expect_fails_with(make_node("Resize", {"x", "roi", "scales", "sizes"}, {"y"},
                              {{"coordinate_transformation_mode", attr_string("tf_crop_and_resize")}}),
                    {x, Tensor(), Tensor(), i64v({1, 1, 2, 2})}, "roi");
}

TEST(ShapeOpsResize, KeepAspectRatioAndAxes) {
  Tensor x = iota_f32({1, 1, 4, 4}, 1.f);
  Tensor y = resize(x, {}, {7, 8}, {{"axes", attr_ints({2, 3})}, {"keep_aspect_ratio_policy", attr_string("not_larger")}});
  ASSERT_EQ(y.shape(), (Shape{1, 1, 7, 7}));
  std::vector<float> v = values<float>(y);
  EXPECT_EQ((std::vector<float>(v.begin(), v.begin() + 7)), (std::vector<float>{1, 1, 2, 2, 3, 4, 4}));
  y = resize(x, {}, {7, 8}, {{"axes", attr_ints({2, 3})}, {"keep_aspect_ratio_policy", attr_string("not_smaller")}});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 8, 8}));
  // axes in reverse order: sizes follow the axes
  y = resize(x, {}, {2, 8}, {{"axes", attr_ints({3, 2})}});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 8, 2}));
}

TEST(ShapeOpsResize, HalfPixelSymmetricAndIntegers) {
  Tensor x = iota_f32({1, 1, 4, 4}, 1.f);
  expect_near(resize(x, {1, 1, 0.6f, 0.6f}, {},
                     {{"mode", attr_string("linear")}, {"coordinate_transformation_mode", attr_string("half_pixel_symmetric")}}),
              f32({1, 1, 2, 2}, {4.3333335f, 6.f, 11.f, 12.666666f}), 1e-5f);
  // int8: rounded half to even and saturated
  Tensor xi = Tensor::from_vector<int8_t>({1, 4}, {0, 100, -128, 127});
  Tensor y = resize(xi, {1, 2.5f}, {}, {{"mode", attr_string("linear")}});
  EXPECT_EQ(values<int8_t>(y), (std::vector<int8_t>{0, 10, 50, 90, 32, -60, -102, 0, 101, 127}));
  y = resize(xi, {1, 2.5f}, {}, {{"mode", attr_string("cubic")}});
  EXPECT_EQ(values<int8_t>(y), (std::vector<int8_t>{-11, 10, 71, 106, 35, -88, -121, -22, 105, 127}));
}

TEST(ShapeOpsResize, NearestModes) {
  Tensor x = iota_f32({1, 5});
  struct Case {
    const char* nearest;
    const char* coord;
    std::vector<float> up, down;  // sizes [1,8] and [1,3]
  };
  const std::vector<Case> cases = {
      {"round_prefer_floor", "half_pixel", {0, 0, 1, 2, 2, 3, 4, 4}, {0, 2, 4}},
      {"round_prefer_floor", "asymmetric", {0, 1, 1, 2, 2, 3, 4, 4}, {0, 2, 3}},
      {"round_prefer_floor", "align_corners", {0, 1, 1, 2, 2, 3, 3, 4}, {0, 2, 4}},
      {"round_prefer_ceil", "asymmetric", {0, 1, 1, 2, 3, 3, 4, 4}, {0, 2, 3}},
      {"floor", "half_pixel", {0, 0, 1, 1, 2, 2, 3, 4}, {0, 2, 3}},
      {"floor", "asymmetric", {0, 0, 1, 1, 2, 3, 3, 4}, {0, 1, 3}},
      {"ceil", "half_pixel", {0, 1, 2, 2, 3, 3, 4, 4}, {1, 2, 4}},
      {"ceil", "pytorch_half_pixel", {0, 1, 2, 2, 3, 3, 4, 4}, {1, 2, 4}},
      {"ceil", "asymmetric", {0, 1, 2, 2, 3, 4, 4, 4}, {0, 2, 4}},
  };
  for (const Case& c : cases) {
    std::map<std::string, Attribute> a = {{"nearest_mode", attr_string(c.nearest)},
                                          {"coordinate_transformation_mode", attr_string(c.coord)}};
    EXPECT_EQ(values<float>(resize(x, {}, {1, 8}, a)), c.up) << c.nearest << " " << c.coord;
    EXPECT_EQ(values<float>(resize(x, {}, {1, 3}, a)), c.down) << c.nearest << " " << c.coord;
  }
  // nearest works on any dtype
  Tensor s = resize(strs({1, 2}, {"a", "b"}), {1, 2}, {}, {});
  EXPECT_EQ(values<std::string>(s), (std::vector<std::string>{"a", "a", "b", "b"}));
}

TEST(ShapeOpsResize, Opset10AndUpsample) {
  // Resize-10 downsampling: asymmetric with ceil (ONNX 1.5's test_resize_downsample_nearest)
  Tensor x = iota_f32({1, 1, 2, 4}, 1.f);
  Node r10 = make_node("Resize", {"x", "scales"}, {"y"});
  Tensor y = run1(r10, {x, f32({4}, {1, 1, 0.6f, 0.6f})}, 10);
  EXPECT_EQ(values<float>(y), (std::vector<float>{1, 3}));
  // Upsample-7 (attribute) and -9 (input): nearest repeats, output floor(in * scale)
  Tensor x2 = f32({1, 1, 2, 2}, {1, 2, 3, 4});
  y = run1(make_node("Upsample", {"x"}, {"y"}, {{"scales", attr_floats({1, 1, 2, 3})}}), {x2}, 7);
  EXPECT_EQ(y.shape(), (Shape{1, 1, 4, 6}));
  std::vector<float> v = values<float>(y);
  EXPECT_EQ((std::vector<float>(v.begin(), v.begin() + 6)), (std::vector<float>{1, 1, 1, 2, 2, 2}));
  y = run1(make_node("Upsample", {"x", "s"}, {"y"}, {{"mode", attr_string("linear")}}), {x2, f32({4}, {1, 1, 2, 2})}, 9);
  // asymmetric linear: x_in = x_out / 2, clamped at the border
  expect_near(y, f32({1, 1, 4, 4}, {1, 1.5, 2, 2, 2, 2.5, 3, 3, 3, 3.5, 4, 4, 3, 3.5, 4, 4}));
}

TEST(ShapeOpsResize, Infer) {
  Node n = make_node("Resize", {"x", "roi", "scales", "sizes"}, {"y"});
  Tensor sc = f32({4}, {1, 1, 2, 0.5f});
  auto out = infer(n, {sym_type(DType::Float32, {S("N"), K(3), K(10), K(9)}), TensorType{}, type_of(sc), TensorType{}},
                   {nullptr, nullptr, &sc, nullptr});
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{S("N"), K(3), K(20), K(4)}));
  Tensor sz = i64v({5, 6});
  Node na = make_node("Resize", {"x", "roi", "scales", "sizes"}, {"y"}, {{"axes", attr_ints({2, 3})}});
  out = infer(na, {sym_type(DType::Float32, {S("N"), K(3), Dim{}, Dim{}}), TensorType{}, TensorType{}, type_of(sz)},
              {nullptr, nullptr, nullptr, &sz});
  EXPECT_EQ(out[0].dims, (std::vector<Dim>{S("N"), K(3), K(5), K(6)}));
}

}  // namespace
}  // namespace octet
