// Tests for the extra op family (src/runtime/ops/extra*.cpp). The ops are run through a local
// OpRegistry filled by register_extra_ops, so these tests do not depend on the global table.
// Expected values are hand-computed from the ONNX spec examples or computed independently here.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "runtime/op_registry.h"
#include "../test_util.h"

namespace octet {
void register_extra_ops(OpRegistry& r);  // src/runtime/ops/extra.cpp
}

namespace octet::testing {
namespace {

const OpRegistry& extra_registry() {
  static const OpRegistry reg = [] {
    OpRegistry r;
    register_extra_ops(r);
    return r;
  }();
  return reg;
}

std::vector<Tensor> run_extra(const Node& node, const std::vector<Tensor>& inputs, int64_t opset = 21) {
  const OpDef* def = extra_registry().find(node.op_type, node.domain);
  if (!def) throw Error("op not registered: " + node.op_type);
  OpContext ctx{node, opset, {}, {}};
  for (const Tensor& t : inputs) ctx.inputs.push_back(t.defined() ? &t : nullptr);
  ctx.outputs.resize(node.outputs.size());
  def->run(ctx);
  return ctx.outputs;
}

std::vector<TensorType> infer_extra(const Node& node, const std::vector<TensorType>& types,
                                    const std::vector<const Tensor*>& consts = {}, int64_t opset = 21) {
  const OpDef* def = extra_registry().find(node.op_type, node.domain);
  if (!def || !def->infer) throw Error("no inference for " + node.op_type);
  InferContext ctx{node, opset, {}, {}, {}};
  for (const auto& t : types) ctx.inputs.push_back(&t);
  ctx.constants = consts;
  ctx.constants.resize(types.size(), nullptr);
  ctx.outputs.resize(node.outputs.size());
  def->infer(ctx);
  return ctx.outputs;
}

template <class T>
Tensor vec(Shape s, std::vector<T> v) { return Tensor::from_vector<T>(std::move(s), v); }
Tensor f32(Shape s, std::vector<float> v) { return vec<float>(std::move(s), std::move(v)); }
Tensor i64(Shape s, std::vector<int64_t> v) { return vec<int64_t>(std::move(s), std::move(v)); }

template <class T>
std::vector<T> values(const Tensor& t) {
  return std::vector<T>(t.data<T>(), t.data<T>() + t.numel());
}

// ---- math -----------------------------------------------------------------------------------------

TEST(OpsExtra, TrigMatchesStdInFloatAndHalf) {
  const uint32_t seed = 1234;
  SCOPED_TRACE(seed);
  Tensor x = random_float({3, 5}, seed, -0.9f, 0.9f);
  struct Case { const char* op; double (*f)(double); };
  const Case cases[] = {{"Sin", std::sin}, {"Cos", std::cos}, {"Tan", std::tan}, {"Asin", std::asin},
                        {"Acos", std::acos}, {"Atan", std::atan}, {"Sinh", std::sinh}, {"Cosh", std::cosh},
                        {"Asinh", std::asinh}, {"Atanh", std::atanh}};
  for (const Case& c : cases) {
    Tensor y = run_extra(make_node(c.op, {"x"}, {"y"}), {x})[0];
    for (int64_t i = 0; i < x.numel(); ++i)
      ASSERT_FLOAT_EQ(y.data<float>()[i], static_cast<float>(c.f(x.data<float>()[i]))) << c.op;
  }
  Tensor acosh = run_extra(make_node("Acosh", {"x"}, {"y"}), {f32({2}, {1.f, 2.f})})[0];
  EXPECT_FLOAT_EQ(acosh.data<float>()[0], 0.f);
  EXPECT_FLOAT_EQ(acosh.data<float>()[1], static_cast<float>(std::acosh(2.0)));
  Tensor h = x.cast(DType::Float16);
  Tensor yh = run_extra(make_node("Sin", {"x"}, {"y"}), {h})[0];
  ASSERT_EQ(yh.dtype(), DType::Float16);
  for (int64_t i = 0; i < h.numel(); ++i)
    EXPECT_NEAR(yh.get_as_double(i), std::sin(h.get_as_double(i)), 1e-3);
  EXPECT_THROW(run_extra(make_node("Sin", {"x"}, {"y"}), {i64({1}, {1})}), Error);
}

TEST(OpsExtra, IsNaNAndIsInf) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::nanf("");
  Tensor x = f32({4}, {1.f, nan, inf, -inf});
  EXPECT_EQ(values<bool>(run_extra(make_node("IsNaN", {"x"}, {"y"}), {x})[0]),
            (std::vector<bool>{false, true, false, false}));
  EXPECT_EQ(values<bool>(run_extra(make_node("IsInf", {"x"}, {"y"}), {x})[0]),
            (std::vector<bool>{false, false, true, true}));
  Node neg = make_node("IsInf", {"x"}, {"y"}, {{"detect_positive", attr_int(0)}});
  EXPECT_EQ(values<bool>(run_extra(neg, {x})[0]), (std::vector<bool>{false, false, false, true}));
}

TEST(OpsExtra, ModIntegerFollowsDivisorSign) {
  Node n = make_node("Mod", {"a", "b"}, {"c"});
  Tensor a = vec<int32_t>({6}, {5, -5, 5, -5, 7, std::numeric_limits<int32_t>::min()});
  Tensor b = vec<int32_t>({6}, {3, 3, -3, -3, 7, -1});
  EXPECT_EQ(values<int32_t>(run_extra(n, {a, b})[0]), (std::vector<int32_t>{2, 1, -1, -2, 0, 0}));
  Node f = make_node("Mod", {"a", "b"}, {"c"}, {{"fmod", attr_int(1)}});
  EXPECT_EQ(values<int32_t>(run_extra(f, {a, b})[0]), (std::vector<int32_t>{2, -2, 2, -2, 0, 0}));
  // Broadcast a [2,1] against b [3].
  Tensor ab = vec<int64_t>({2, 1}, {7, -7});
  Tensor bb = vec<int64_t>({3}, {2, -4, 5});
  Tensor c = run_extra(n, {ab, bb})[0];
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(c), (std::vector<int64_t>{1, -1, 2, 1, -3, 3}));
}

TEST(OpsExtra, ModFloatAndErrors) {
  Node f = make_node("Mod", {"a", "b"}, {"c"}, {{"fmod", attr_int(1)}});
  Tensor c = run_extra(f, {f32({2}, {-4.5f, 7.25f}), f32({2}, {2.f, -2.f})})[0];
  EXPECT_FLOAT_EQ(c.data<float>()[0], -0.5f);
  EXPECT_FLOAT_EQ(c.data<float>()[1], 1.25f);
  Node n = make_node("Mod", {"a", "b"}, {"c"});
  EXPECT_THROW(run_extra(n, {f32({1}, {1.f}), f32({1}, {2.f})}), Error);  // fmod=0 on floats
  EXPECT_THROW(run_extra(n, {vec<uint8_t>({2}, {1, 2}), vec<uint8_t>({2}, {1, 0})}), Error);
  EXPECT_THROW(run_extra(n, {vec<int32_t>({1}, {1}), i64({1}, {2})}), Error);  // mixed types
}

TEST(OpsExtra, BitShift) {
  Node l = make_node("BitShift", {"x", "y"}, {"z"}, {{"direction", attr_string("LEFT")}});
  Node r = make_node("BitShift", {"x", "y"}, {"z"}, {{"direction", attr_string("RIGHT")}});
  Tensor x = vec<uint8_t>({4}, {1, 0x81, 16, 255});
  Tensor y = vec<uint8_t>({4}, {3, 1, 8, 9});
  EXPECT_EQ(values<uint8_t>(run_extra(l, {x, y})[0]), (std::vector<uint8_t>{8, 2, 0, 0}));
  EXPECT_EQ(values<uint8_t>(run_extra(r, {x, y})[0]), (std::vector<uint8_t>{0, 0x40, 0, 0}));
  Tensor x64 = vec<uint64_t>({1}, {1});
  EXPECT_EQ(run_extra(l, {x64, vec<uint64_t>({1}, {63})})[0].data<uint64_t>()[0], uint64_t{1} << 63);
  EXPECT_THROW(run_extra(make_node("BitShift", {"x", "y"}, {"z"}), {x, y}), Error);  // no direction
  EXPECT_THROW(run_extra(l, {vec<int32_t>({1}, {1}), vec<int32_t>({1}, {1})}), Error);
}

TEST(OpsExtra, Activations) {
  Tensor x = f32({5}, {-2.f, -0.5f, 0.f, 0.5f, 2.f});
  Tensor celu = run_extra(make_node("Celu", {"x"}, {"y"}, {{"alpha", attr_float(2.f)}}), {x})[0];
  for (int64_t i = 0; i < 5; ++i) {
    const double v = x.data<float>()[i];
    EXPECT_NEAR(celu.data<float>()[i], v > 0 ? v : 2.0 * (std::exp(v / 2.0) - 1.0), 1e-6);
  }
  Tensor ss = run_extra(make_node("Softsign", {"x"}, {"y"}), {x})[0];
  EXPECT_FLOAT_EQ(ss.data<float>()[0], -2.f / 3.f);
  EXPECT_FLOAT_EQ(ss.data<float>()[3], 0.5f / 1.5f);
  Tensor tr = run_extra(make_node("ThresholdedRelu", {"x"}, {"y"}, {{"alpha", attr_float(0.5f)}}), {x})[0];
  EXPECT_EQ(values<float>(tr), (std::vector<float>{0, 0, 0, 0, 2.f}));
  Node sh = make_node("Shrink", {"x"}, {"y"}, {{"lambd", attr_float(1.f)}, {"bias", attr_float(0.5f)}});
  EXPECT_EQ(values<float>(run_extra(sh, {x})[0]), (std::vector<float>{-1.5f, 0, 0, 0, 1.5f}));
  // Integers: computed in double and truncated.
  EXPECT_EQ(values<int8_t>(run_extra(sh, {vec<int8_t>({3}, {-5, 1, 5})})[0]), (std::vector<int8_t>{-4, 0, 4}));
}

TEST(OpsExtra, CumSum) {
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto cs = [&](int64_t ex, int64_t rev, int64_t axis) {
    Node n = make_node("CumSum", {"x", "axis"}, {"y"}, {{"exclusive", attr_int(ex)}, {"reverse", attr_int(rev)}});
    return values<float>(run_extra(n, {x, vec<int32_t>({}, {static_cast<int32_t>(axis)})})[0]);
  };
  EXPECT_EQ(cs(0, 0, 1), (std::vector<float>{1, 3, 6, 4, 9, 15}));
  EXPECT_EQ(cs(1, 0, 1), (std::vector<float>{0, 1, 3, 0, 4, 9}));
  EXPECT_EQ(cs(0, 1, -1), (std::vector<float>{6, 5, 3, 15, 11, 6}));
  EXPECT_EQ(cs(1, 1, 1), (std::vector<float>{5, 3, 0, 11, 6, 0}));
  EXPECT_EQ(cs(0, 0, 0), (std::vector<float>{1, 2, 3, 5, 7, 9}));
  EXPECT_THROW(cs(0, 0, 2), Error);
  // Integers wrap.
  Node n = make_node("CumSum", {"x", "axis"}, {"y"});
  Tensor big = vec<int32_t>({2}, {std::numeric_limits<int32_t>::max(), 1});
  EXPECT_EQ(run_extra(n, {big, i64({1}, {0})})[0].data<int32_t>()[1], std::numeric_limits<int32_t>::min());
}

TEST(OpsExtra, TriluAndEyeLike) {
  Tensor x = vec<int32_t>({2, 3}, {1, 2, 3, 4, 5, 6});
  Node up = make_node("Trilu", {"x", "k"}, {"y"});
  Node lo = make_node("Trilu", {"x", "k"}, {"y"}, {{"upper", attr_int(0)}});
  EXPECT_EQ(values<int32_t>(run_extra(up, {x, Tensor()})[0]), (std::vector<int32_t>{1, 2, 3, 0, 5, 6}));
  EXPECT_EQ(values<int32_t>(run_extra(up, {x, i64({}, {1})})[0]), (std::vector<int32_t>{0, 2, 3, 0, 0, 6}));
  EXPECT_EQ(values<int32_t>(run_extra(lo, {x, i64({}, {-1})})[0]), (std::vector<int32_t>{0, 0, 0, 4, 0, 0}));
  EXPECT_EQ(values<int32_t>(run_extra(lo, {x, i64({}, {std::numeric_limits<int64_t>::max()})})[0]),
            values<int32_t>(x));
  Tensor s = vec<std::string>({2, 2}, {"a", "b", "c", "d"});
  EXPECT_EQ(values<std::string>(run_extra(lo, {s, Tensor()})[0]), (std::vector<std::string>{"a", "", "c", "d"}));
  EXPECT_THROW(run_extra(up, {f32({3}, {1, 2, 3}), Tensor()}), Error);

  Node eye = make_node("EyeLike", {"x"}, {"y"}, {{"k", attr_int(1)}, {"dtype", attr_int(1)}});
  Tensor e = run_extra(eye, {x})[0];
  EXPECT_EQ(e.dtype(), DType::Float32);
  EXPECT_EQ(values<float>(e), (std::vector<float>{0, 1, 0, 0, 0, 1}));
  Node eye2 = make_node("EyeLike", {"x"}, {"y"}, {{"k", attr_int(-1)}});
  EXPECT_EQ(values<int32_t>(run_extra(eye2, {vec<int32_t>({3, 2}, {9, 9, 9, 9, 9, 9})})[0]),
            (std::vector<int32_t>{0, 0, 1, 0, 0, 1}));
  EXPECT_THROW(run_extra(eye, {f32({2}, {1, 2})}), Error);
}

TEST(OpsExtra, DropoutIsIdentityInInference) {
  Tensor x = f32({2, 2}, {1, 2, 3, 4});
  Node n = make_node("Dropout", {"x", "r", "t"}, {"y", "m"});
  auto out = run_extra(n, {x, f32({}, {0.5f}), Tensor()});
  EXPECT_EQ(values<float>(out[0]), values<float>(x));
  EXPECT_EQ(values<bool>(out[1]), (std::vector<bool>{true, true, true, true}));
  EXPECT_THROW(run_extra(n, {x, f32({}, {0.5f}), vec<bool>({}, {true})}), Error);
  auto zero = run_extra(n, {x, f32({}, {0.f}), vec<bool>({}, {true})});  // deterministic
  EXPECT_EQ(values<float>(zero[0]), values<float>(x));
  // Before opset 10 the mask has the input's type.
  auto old = run_extra(make_node("Dropout", {"x"}, {"y", "m"}, {{"ratio", attr_float(0.3f)}}), {x}, 7);
  EXPECT_EQ(old[1].dtype(), DType::Float32);
  EXPECT_EQ(values<float>(old[1]), (std::vector<float>{1, 1, 1, 1}));
}

TEST(OpsExtra, LRNMatchesFormula) {
  // One pixel, 4 channels, size 3: window [c-1, c+1] clipped.
  Tensor x = f32({1, 4, 1, 1}, {1, 2, 3, 4});
  Node n = make_node("LRN", {"x"}, {"y"}, {{"size", attr_int(3)}, {"alpha", attr_float(0.3f)},
                                          {"beta", attr_float(0.5f)}, {"bias", attr_float(2.f)}});
  Tensor y = run_extra(n, {x})[0];
  const double sq[4] = {1 + 4, 1 + 4 + 9, 4 + 9 + 16, 9 + 16};
  for (int c = 0; c < 4; ++c)
    EXPECT_NEAR(y.data<float>()[c], (c + 1) / std::pow(2.0 + 0.3f / 3.0 * sq[c], 0.5f), 1e-6);
  EXPECT_THROW(run_extra(make_node("LRN", {"x"}, {"y"}, {{"size", attr_int(0)}}), {x}), Error);
}

TEST(OpsExtra, MeanVarianceNormalizationGivesZeroMeanUnitVariance) {
  const uint32_t seed = 77;
  SCOPED_TRACE(seed);
  Tensor x = random_float({2, 3, 4, 5}, seed, -3.f, 5.f);
  Tensor y = run_extra(make_node("MeanVarianceNormalization", {"x"}, {"y"}), {x})[0];
  for (int c = 0; c < 3; ++c) {  // default axes [0, 2, 3]: one group per channel
    double s = 0, s2 = 0;
    for (int n = 0; n < 2; ++n)
      for (int i = 0; i < 20; ++i) {
        const double v = y.data<float>()[(n * 3 + c) * 20 + i];
        s += v;
        s2 += v * v;
      }
    EXPECT_NEAR(s / 40, 0.0, 1e-5);
    EXPECT_NEAR(s2 / 40, 1.0, 1e-4);
  }
  EXPECT_THROW(run_extra(make_node("MeanVarianceNormalization", {"x"}, {"y"}), {f32({2, 2}, {1, 2, 3, 4})}), Error);
}

// ---- data movement --------------------------------------------------------------------------------

TEST(OpsExtra, DepthToSpaceModesAndSpaceToDepthRoundTrip) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  Tensor x = f32({1, 4, 2, 2}, v);
  Node dcr = make_node("DepthToSpace", {"x"}, {"y"}, {{"blocksize", attr_int(2)}});
  Node crd = make_node("DepthToSpace", {"x"}, {"y"}, {{"blocksize", attr_int(2)}, {"mode", attr_string("CRD")}});
  Tensor yd = run_extra(dcr, {x})[0], yc = run_extra(crd, {x})[0];
  ASSERT_EQ(yd.shape(), (Shape{1, 1, 4, 4}));
  // Independent formula: y[0,0,h*2+i,w*2+j] = x[0, channel(i,j), h, w].
  for (int h = 0; h < 2; ++h)
    for (int w = 0; w < 2; ++w)
      for (int i = 0; i < 2; ++i)
        for (int j = 0; j < 2; ++j) {
          const int yo = (h * 2 + i) * 4 + w * 2 + j;
          EXPECT_EQ(yd.data<float>()[yo], v[((i * 2 + j) * 2 + h) * 2 + w]);  // DCR: channel i*b+j (C/b^2 = 1)
          EXPECT_EQ(yc.data<float>()[yo], v[((i * 2 + j) * 2 + h) * 2 + w]);
        }
  // With 8 channels the two modes differ.
  std::vector<float> v32(32);
  for (int i = 0; i < 32; ++i) v32[i] = static_cast<float>(i);
  Tensor x8 = f32({1, 8, 2, 2}, v32);
  Tensor d8 = run_extra(dcr, {x8})[0], c8 = run_extra(crd, {x8})[0];
  // out[0, c, 2h+i, 2w+j]: DCR from channel (i*2+j)*2 + c, CRD from channel c*4 + i*2 + j.
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 2; ++i)
      for (int j = 0; j < 2; ++j) {
        const int yo = (c * 4 + i) * 4 + j;  // h = w = 0
        EXPECT_EQ(d8.data<float>()[yo], v32[((i * 2 + j) * 2 + c) * 4]);
        EXPECT_EQ(c8.data<float>()[yo], v32[(c * 4 + i * 2 + j) * 4]);
      }
  Node s2d = make_node("SpaceToDepth", {"x"}, {"y"}, {{"blocksize", attr_int(2)}});
  Tensor back = run_extra(s2d, {d8})[0];
  EXPECT_EQ(back.shape(), x8.shape());
  EXPECT_EQ(values<float>(back), v32);
  EXPECT_THROW(run_extra(dcr, {f32({1, 3, 1, 1}, {1, 2, 3})}), Error);
  EXPECT_THROW(run_extra(s2d, {f32({1, 1, 3, 2}, {1, 2, 3, 4, 5, 6})}), Error);
}

TEST(OpsExtra, TopKTiesAndDirections) {
  Tensor x = f32({2, 4}, {3, 1, 3, 2, 0, 5, 5, 1});
  Node n = make_node("TopK", {"x", "k"}, {"v", "i"});
  auto out = run_extra(n, {x, i64({1}, {3})});
  EXPECT_EQ(values<float>(out[0]), (std::vector<float>{3, 3, 2, 5, 5, 1}));
  EXPECT_EQ(values<int64_t>(out[1]), (std::vector<int64_t>{0, 2, 3, 1, 2, 3}));
  Node s = make_node("TopK", {"x", "k"}, {"v", "i"}, {{"largest", attr_int(0)}, {"axis", attr_int(0)}});
  auto sm = run_extra(s, {x, i64({1}, {1})});
  EXPECT_EQ(values<float>(sm[0]), (std::vector<float>{0, 1, 3, 1}));
  EXPECT_EQ(values<int64_t>(sm[1]), (std::vector<int64_t>{1, 0, 0, 1}));
  EXPECT_THROW(run_extra(n, {x, i64({1}, {5})}), Error);
  EXPECT_THROW(run_extra(n, {x, i64({1}, {-1})}), Error);
  // Opset 1-9: k is an attribute.
  auto old = run_extra(make_node("TopK", {"x"}, {"v", "i"}, {{"k", attr_int(1)}}), {x}, 9);
  EXPECT_EQ(values<int64_t>(old[1]), (std::vector<int64_t>{0, 1}));
}

TEST(OpsExtra, GatherNDWithBatchDims) {
  Tensor data = vec<int32_t>({2, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7});
  Node n0 = make_node("GatherND", {"d", "i"}, {"y"});
  Tensor y0 = run_extra(n0, {data, i64({2, 1, 2}, {0, 1, 1, 0})})[0];  // spec example 4
  EXPECT_EQ(y0.shape(), (Shape{2, 1, 2}));
  EXPECT_EQ(values<int32_t>(y0), (std::vector<int32_t>{2, 3, 4, 5}));
  Node n1 = make_node("GatherND", {"d", "i"}, {"y"}, {{"batch_dims", attr_int(1)}});
  Tensor y1 = run_extra(n1, {data, i64({2, 1}, {1, 0})})[0];  // spec example 5
  EXPECT_EQ(y1.shape(), (Shape{2, 2}));
  EXPECT_EQ(values<int32_t>(y1), (std::vector<int32_t>{2, 3, 4, 5}));
  Tensor yn = run_extra(n0, {data, i64({1, 3}, {-1, -1, -1})})[0];
  EXPECT_EQ(values<int32_t>(yn), (std::vector<int32_t>{7}));
  EXPECT_THROW(run_extra(n0, {data, i64({1, 3}, {0, 2, 0})}), Error);
  EXPECT_THROW(run_extra(n0, {data, i64({1, 4}, {0, 0, 0, 0})}), Error);
}

TEST(OpsExtra, ScatterNDReductions) {
  Tensor data = f32({4}, {1, 2, 3, 4});
  Tensor idx = i64({3, 1}, {1, 3, 1});
  Tensor upd = f32({3}, {10, 20, 30});
  auto sc = [&](const char* red) {
    return values<float>(run_extra(make_node("ScatterND", {"d", "i", "u"}, {"y"}, {{"reduction", attr_string(red)}}),
                                   {data, idx, upd})[0]);
  };
  EXPECT_EQ(sc("add"), (std::vector<float>{1, 42, 3, 24}));
  EXPECT_EQ(sc("mul"), (std::vector<float>{1, 600, 3, 80}));
  EXPECT_EQ(sc("max"), (std::vector<float>{1, 30, 3, 20}));
  EXPECT_EQ(sc("min"), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(values<float>(data), (std::vector<float>{1, 2, 3, 4}));  // input untouched
  EXPECT_THROW(sc("avg"), Error);
  Node n = make_node("ScatterND", {"d", "i", "u"}, {"y"});
  // Slice updates: data [2,2], k = 1.
  Tensor d2 = f32({2, 2}, {1, 2, 3, 4});
  EXPECT_EQ(values<float>(run_extra(n, {d2, i64({1, 1}, {-1}), f32({1, 2}, {8, 9})})[0]),
            (std::vector<float>{1, 2, 8, 9}));
  EXPECT_THROW(run_extra(n, {d2, i64({1, 1}, {2}), f32({1, 2}, {8, 9})}), Error);
  EXPECT_THROW(run_extra(n, {d2, i64({1, 1}, {0}), f32({2}, {8, 9})}), Error);
}

TEST(OpsExtra, ScatterElements) {
  Tensor data = f32({3, 3}, {0, 0, 0, 0, 0, 0, 0, 0, 0});
  Tensor idx = i64({2, 3}, {1, 0, 2, 0, 2, 1});
  Tensor upd = f32({2, 3}, {1.0f, 1.1f, 1.2f, 2.0f, 2.1f, 2.2f});
  Tensor y = run_extra(make_node("ScatterElements", {"d", "i", "u"}, {"y"}), {data, idx, upd})[0];
  EXPECT_EQ(values<float>(y), (std::vector<float>{2.0f, 1.1f, 0, 1.0f, 0, 2.2f, 0, 2.1f, 1.2f}));  // spec example 1
  Tensor d1 = f32({1, 5}, {1, 2, 3, 4, 5});
  Node ax = make_node("ScatterElements", {"d", "i", "u"}, {"y"}, {{"axis", attr_int(1)}, {"reduction", attr_string("add")}});
  EXPECT_EQ(values<float>(run_extra(ax, {d1, i64({1, 2}, {1, -4}), f32({1, 2}, {1.5f, 2.25f})})[0]),
            (std::vector<float>{1, 5.75f, 3, 4, 5}));
  Node sc = make_node("Scatter", {"d", "i", "u"}, {"y"}, {{"axis", attr_int(1)}});
  EXPECT_EQ(values<float>(run_extra(sc, {d1, vec<int32_t>({1, 2}, {1, 3}), f32({1, 2}, {1.1f, 2.1f})}, 10)[0]),
            (std::vector<float>{1, 1.1f, 3, 2.1f, 5}));
  EXPECT_THROW(run_extra(ax, {d1, i64({1, 2}, {1, 5}), f32({1, 2}, {1, 2})}), Error);
  EXPECT_THROW(run_extra(ax, {d1, i64({2, 1}, {1, 1}), f32({2, 1}, {1, 2})}), Error);
  EXPECT_THROW(run_extra(ax, {d1, i64({1, 2}, {1, 1}), f32({1, 1}, {1})}), Error);
}

TEST(OpsExtra, OneHot) {
  Node n = make_node("OneHot", {"i", "d", "v"}, {"y"});
  Tensor y = run_extra(n, {i64({3}, {0, -1, 5}), f32({}, {3.f}), vec<int32_t>({2}, {-1, 7})})[0];
  EXPECT_EQ(y.shape(), (Shape{3, 3}));
  EXPECT_EQ(values<int32_t>(y), (std::vector<int32_t>{7, -1, -1, -1, -1, 7, -1, -1, -1}));
  Node a0 = make_node("OneHot", {"i", "d", "v"}, {"y"}, {{"axis", attr_int(0)}});
  Tensor y0 = run_extra(a0, {f32({2}, {1.7f, 0.f}), i64({1}, {2}), f32({2}, {0, 1})})[0];
  EXPECT_EQ(y0.shape(), (Shape{2, 2}));
  EXPECT_EQ(values<float>(y0), (std::vector<float>{0, 1, 1, 0}));
  EXPECT_THROW(run_extra(n, {i64({1}, {0}), i64({}, {0}), f32({2}, {0, 1})}), Error);
  EXPECT_THROW(run_extra(n, {i64({1}, {0}), i64({}, {2}), f32({3}, {0, 1, 2})}), Error);
  EXPECT_THROW(run_extra(make_node("OneHot", {"i", "d", "v"}, {"y"}, {{"axis", attr_int(3)}}),
                         {i64({1}, {0}), i64({}, {2}), f32({2}, {0, 1})}),
               Error);
}

TEST(OpsExtra, NonZeroAndCompress) {
  Tensor x = f32({2, 3}, {0, 1, 0, -2, 0, 3});
  Tensor nz = run_extra(make_node("NonZero", {"x"}, {"y"}), {x})[0];
  EXPECT_EQ(nz.shape(), (Shape{2, 3}));
  EXPECT_EQ(values<int64_t>(nz), (std::vector<int64_t>{0, 1, 1, 1, 0, 2}));
  Tensor cond = vec<bool>({2}, {false, true});
  Node c1 = make_node("Compress", {"x", "c"}, {"y"}, {{"axis", attr_int(-1)}});
  Tensor y1 = run_extra(c1, {x, cond})[0];
  EXPECT_EQ(y1.shape(), (Shape{2, 1}));
  EXPECT_EQ(values<float>(y1), (std::vector<float>{1, 0}));
  Node cf = make_node("Compress", {"x", "c"}, {"y"});
  EXPECT_EQ(values<float>(run_extra(cf, {x, vec<bool>({4}, {true, true, false, true})})[0]),
            (std::vector<float>{0, 1, -2}));
  EXPECT_THROW(run_extra(c1, {x, vec<bool>({4}, {false, false, false, true})}), Error);
  EXPECT_THROW(run_extra(c1, {x, i64({2}, {0, 1})}), Error);
}

TEST(OpsExtra, ReverseSequence) {
  std::vector<float> v(16);
  for (int i = 0; i < 16; ++i) v[i] = static_cast<float>(i);
  Node n = make_node("ReverseSequence", {"x", "l"}, {"y"}, {{"batch_axis", attr_int(0)}, {"time_axis", attr_int(1)}});
  Tensor y = run_extra(n, {f32({4, 4}, v), i64({4}, {1, 2, 3, 4})})[0];  // spec example 2
  EXPECT_EQ(values<float>(y), (std::vector<float>{0, 1, 2, 3, 5, 4, 6, 7, 10, 9, 8, 11, 15, 14, 13, 12}));
  Node t = make_node("ReverseSequence", {"x", "l"}, {"y"});
  Tensor yt = run_extra(t, {f32({4, 4}, {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15}),
                            i64({4}, {4, 3, 2, 1})})[0];  // spec example 1
  EXPECT_EQ(values<float>(yt), (std::vector<float>{3, 6, 9, 12, 2, 5, 8, 13, 1, 4, 10, 14, 0, 7, 11, 15}));
  EXPECT_THROW(run_extra(n, {f32({4, 4}, v), i64({4}, {1, 2, 3, 5})}), Error);
  EXPECT_THROW(run_extra(n, {f32({4, 4}, v), i64({3}, {1, 2, 3})}), Error);
}

TEST(OpsExtra, UniqueAllOutputs) {
  Node unsorted = make_node("Unique", {"x"}, {"y", "i", "inv", "c"}, {{"sorted", attr_int(0)}});
  auto o1 = run_extra(unsorted, {f32({6}, {2, 1, 1, 3, 4, 3})});  // spec example 1
  EXPECT_EQ(values<float>(o1[0]), (std::vector<float>{2, 1, 3, 4}));
  EXPECT_EQ(values<int64_t>(o1[1]), (std::vector<int64_t>{0, 1, 3, 4}));
  EXPECT_EQ(values<int64_t>(o1[2]), (std::vector<int64_t>{0, 1, 1, 2, 3, 2}));
  EXPECT_EQ(values<int64_t>(o1[3]), (std::vector<int64_t>{1, 2, 2, 1}));
  Node sorted = make_node("Unique", {"x"}, {"y", "i", "inv", "c"});
  auto o2 = run_extra(sorted, {f32({2, 2}, {1, 3, 2, 3})});  // spec example 2
  EXPECT_EQ(values<float>(o2[0]), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(values<int64_t>(o2[1]), (std::vector<int64_t>{0, 2, 1}));
  EXPECT_EQ(values<int64_t>(o2[2]), (std::vector<int64_t>{0, 2, 1, 2}));
  EXPECT_EQ(values<int64_t>(o2[3]), (std::vector<int64_t>{1, 1, 2}));
  Node ax1 = make_node("Unique", {"x"}, {"y", "i", "inv", "c"}, {{"axis", attr_int(1)}});
  auto o4 = run_extra(ax1, {f32({2, 4, 2}, {1, 1, 0, 1, 2, 1, 0, 1, 1, 1, 0, 1, 2, 1, 0, 1})});  // example 4
  EXPECT_EQ(o4[0].shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(values<float>(o4[0]), (std::vector<float>{0, 1, 1, 1, 2, 1, 0, 1, 1, 1, 2, 1}));
  EXPECT_EQ(values<int64_t>(o4[1]), (std::vector<int64_t>{1, 0, 2}));
  EXPECT_EQ(values<int64_t>(o4[2]), (std::vector<int64_t>{1, 0, 2, 0}));
  EXPECT_EQ(values<int64_t>(o4[3]), (std::vector<int64_t>{2, 1, 1}));
  auto os = run_extra(sorted, {vec<std::string>({3}, {"b", "a", "b"})});
  EXPECT_EQ(values<std::string>(os[0]), (std::vector<std::string>{"a", "b"}));
}

TEST(OpsExtra, EmptyAndScalarEdges) {
  Tensor nz = run_extra(make_node("NonZero", {"x"}, {"y"}), {f32({}, {2.f})})[0];
  EXPECT_EQ(nz.shape(), (Shape{1, 1}));  // a scalar counts as shape [1]
  auto u = run_extra(make_node("Unique", {"x"}, {"y", "i", "inv", "c"}), {f32({0, 3}, {})});
  EXPECT_EQ(u[0].shape(), (Shape{0}));
  EXPECT_EQ(u[3].shape(), (Shape{0}));
  Tensor x = f32({2, 3}, {1, 2, 3, 4, 5, 6});
  auto t0 = run_extra(make_node("TopK", {"x", "k"}, {"v", "i"}), {x, i64({1}, {0})});
  EXPECT_EQ(t0[0].shape(), (Shape{2, 0}));
  EXPECT_THROW(run_extra(make_node("GatherND", {"d", "i"}, {"y"}, {{"batch_dims", attr_int(1)}}),
                         {x, i64({3, 1}, {0, 0, 0})}),
               Error);
  Tensor c = run_extra(make_node("Compress", {"x", "c"}, {"y"}, {{"axis", attr_int(0)}}),
                       {x, vec<bool>({0}, {})})[0];
  EXPECT_EQ(c.shape(), (Shape{0, 3}));
  Tensor cs = run_extra(make_node("CumSum", {"x", "a"}, {"y"}), {f32({0, 2}, {}), i64({}, {0})})[0];
  EXPECT_EQ(cs.shape(), (Shape{0, 2}));
  Tensor mod = run_extra(make_node("Mod", {"a", "b"}, {"c"}), {i64({0}, {}), i64({1}, {0})})[0];
  EXPECT_EQ(mod.numel(), 0);  // no element is divided, so a zero divisor is not an error
}

// ---- shape inference ------------------------------------------------------------------------------

TEST(OpsExtra, InferShapes) {
  TensorType x = TensorType::of(DType::Float32, {2, 8, 3, 5});
  auto d2s = infer_extra(make_node("DepthToSpace", {"x"}, {"y"}, {{"blocksize", attr_int(2)}}), {x});
  EXPECT_EQ(d2s[0].str(), TensorType::of(DType::Float32, {2, 2, 6, 10}).str());
  EXPECT_THROW(infer_extra(make_node("DepthToSpace", {"x"}, {"y"}, {{"blocksize", attr_int(3)}}), {x}), Error);

  Tensor k = i64({1}, {2});
  auto topk = infer_extra(make_node("TopK", {"x", "k"}, {"v", "i"}), {x, TensorType::of(DType::Int64, {1})}, {nullptr, &k});
  EXPECT_EQ(topk[0].str(), TensorType::of(DType::Float32, {2, 8, 3, 2}).str());
  EXPECT_EQ(topk[1].dtype, DType::Int64);

  auto gnd = infer_extra(make_node("GatherND", {"d", "i"}, {"y"}, {{"batch_dims", attr_int(1)}}),
                         {x, TensorType::of(DType::Int64, {2, 4, 2})});
  EXPECT_EQ(gnd[0].str(), TensorType::of(DType::Float32, {2, 4, 5}).str());

  Tensor depth = i64({}, {10});
  auto oh = infer_extra(make_node("OneHot", {"i", "d", "v"}, {"y"}, {{"axis", attr_int(1)}}),
                        {TensorType::of(DType::Int64, {3, 4}), TensorType::of(DType::Int64, {}),
                         TensorType::of(DType::Int32, {2})},
                        {nullptr, &depth, nullptr});
  EXPECT_EQ(oh[0].str(), TensorType::of(DType::Int32, {3, 10, 4}).str());

  auto nz = infer_extra(make_node("NonZero", {"x"}, {"y"}), {x});
  EXPECT_EQ(nz[0].dtype, DType::Int64);
  EXPECT_EQ(nz[0].dims[0].value, 4);

  auto mod = infer_extra(make_node("Mod", {"a", "b"}, {"c"}), {TensorType::of(DType::Int32, {3, 1}),
                                                                 TensorType::of(DType::Int32, {4})});
  EXPECT_EQ(mod[0].str(), TensorType::of(DType::Int32, {3, 4}).str());
  EXPECT_THROW(infer_extra(make_node("Mod", {"a", "b"}, {"c"}), {TensorType::of(DType::Float32, {1}),
                                                                  TensorType::of(DType::Float32, {1})}),
               Error);
  auto drop = infer_extra(make_node("Dropout", {"x"}, {"y", "m"}), {x});
  EXPECT_EQ(drop[1].dtype, DType::Bool);
  auto uq = infer_extra(make_node("Unique", {"x"}, {"y", "i", "inv", "c"}), {x});
  EXPECT_EQ(uq[2].dims[0].value, 2 * 8 * 3 * 5);
  EXPECT_THROW(infer_extra(make_node("Trilu", {"x"}, {"y"}), {TensorType::of(DType::Float32, {3})}), Error);
  EXPECT_THROW(infer_extra(make_node("EyeLike", {"x"}, {"y"}), {x}), Error);
}

}  // namespace
}  // namespace octet::testing
