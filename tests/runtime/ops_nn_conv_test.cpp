// Conv and ConvTranspose: hand-computed cases (the ONNX operator examples), a random sweep of
// Conv against a naive N-D loop written independently here (explicitly padded copy, multi-index
// arithmetic), ConvTranspose checked as the adjoint of Conv, dtypes, and error cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <random>

#include "../test_util.h"
#include "runtime/ops/op_util.h"

namespace octet {
namespace {

using testing::attr_int;
using testing::attr_ints;
using testing::attr_string;
using testing::expect_near;
using testing::make_node;
using testing::run_op;

Tensor iota(const Shape& s, float start = 0.f, float step = 1.f) {
  Tensor t(DType::Float32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = start + step * static_cast<float>(i);
  return t;
}

Tensor filled(const Shape& s, float v) {
  Tensor t(DType::Float32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = v;
  return t;
}

// ---- hand-computed (ONNX Conv / ConvTranspose operator examples) ----

TEST(OpsNnConv, BasicWithAndWithoutPadding) {
  Tensor x = iota({1, 1, 5, 5}), w = filled({1, 1, 3, 3}, 1.f);
  Node padded = make_node("Conv", {"x", "w"}, {"y"},
                          {{"kernel_shape", attr_ints({3, 3})}, {"pads", attr_ints({1, 1, 1, 1})}});
  expect_near(run_op(padded, {x, w})[0],
              Tensor::from_vector<float>(
                  {1, 1, 5, 5}, {12,  21, 27, 33,  24,  33,  54,  63, 72,  51,  63,  99, 108,
                                 117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84}));
  Node plain = make_node("Conv", {"x", "w"}, {"y"});
  expect_near(run_op(plain, {x, w})[0],
              Tensor::from_vector<float>({1, 1, 3, 3}, {54, 63, 72, 99, 108, 117, 144, 153, 162}));
}

TEST(OpsNnConv, StridesAndAsymmetricPadding) {
  Tensor x = iota({1, 1, 7, 5}), w = filled({1, 1, 3, 3}, 1.f);
  Node n = make_node("Conv", {"x", "w"}, {"y"},
                     {{"strides", attr_ints({2, 2})}, {"pads", attr_ints({1, 0, 1, 0})}});
  expect_near(run_op(n, {x, w})[0],
              Tensor::from_vector<float>({1, 1, 4, 2}, {21, 33, 99, 117, 189, 207, 171, 183}));
  Node same = make_node("Conv", {"x", "w"}, {"y"},
                        {{"strides", attr_ints({2, 2})}, {"auto_pad", attr_string("SAME_LOWER")}});
  // ceil(7/2) x ceil(5/2) = 4 x 3; total pads 2 per dim, split evenly.
  expect_near(run_op(same, {x, w})[0],
              Tensor::from_vector<float>({1, 1, 4, 3},
                                         {12, 27, 24, 63, 108, 81, 123, 198, 141, 112, 177, 124}));
}

TEST(OpsNnConv, BiasGroupsAndDepthwise) {
  // Two groups of one channel each, one output channel per group: y_c = w_c * x_c + b_c.
  Tensor x = Tensor::from_vector<float>({1, 2, 1, 2}, {1, 2, 3, 4});
  Tensor w = Tensor::from_vector<float>({2, 1, 1, 1}, {10, 100});
  Tensor b = Tensor::from_vector<float>({2}, {0.5f, -1});
  Node n = make_node("Conv", {"x", "w", "b"}, {"y"}, {{"group", attr_int(2)}});
  expect_near(run_op(n, {x, w, b})[0],
              Tensor::from_vector<float>({1, 2, 1, 2}, {10.5f, 20.5f, 299, 399}));
  // group 1 with two input channels sums them.
  Tensor w1 = Tensor::from_vector<float>({1, 2, 1, 1}, {1, 1});
  Node n1 = make_node("Conv", {"x", "w"}, {"y"});
  expect_near(run_op(n1, {x, w1})[0], Tensor::from_vector<float>({1, 1, 1, 2}, {4, 6}));
}

TEST(OpsNnConv, Conv1dAnd3dAndDilation) {
  Tensor x1 = iota({1, 1, 6});
  Tensor w1 = Tensor::from_vector<float>({1, 1, 2}, {1, -1});
  Node d = make_node("Conv", {"x", "w"}, {"y"}, {{"dilations", attr_ints({2})}});
  // y[i] = x[i] - x[i+2] = -2
  expect_near(run_op(d, {x1, w1})[0], Tensor::from_vector<float>({1, 1, 4}, {-2, -2, -2, -2}));
  Tensor x3 = iota({1, 1, 2, 2, 2});
  Tensor w3 = filled({1, 1, 2, 2, 2}, 1.f);
  Node n3 = make_node("Conv", {"x", "w"}, {"y"});
  expect_near(run_op(n3, {x3, w3})[0], Tensor::from_vector<float>({1, 1, 1, 1, 1}, {28}));
}

TEST(OpsNnConv, Float64AndFloat16) {
  Tensor x = iota({1, 1, 5, 5}), w = filled({1, 1, 3, 3}, 1.f);
  Node n = make_node("Conv", {"x", "w"}, {"y"});
  Tensor want = Tensor::from_vector<float>({1, 1, 3, 3}, {54, 63, 72, 99, 108, 117, 144, 153, 162});
  Tensor y64 = run_op(n, {x.cast(DType::Float64), w.cast(DType::Float64)})[0];
  expect_near(y64, want.cast(DType::Float64));
  Tensor y16 = run_op(n, {x.cast(DType::Float16), w.cast(DType::Float16)})[0];
  expect_near(y16, want.cast(DType::Float16));
}

// ---- random sweep against an independent naive N-D convolution ----

struct ConvCase {
  Shape x, w;
  int64_t group = 1;
  std::vector<int64_t> strides, dilations, pads;  // pads: begins then ends, explicit
  bool bias = false;
};

// Naive conv over any spatial rank: pads X explicitly, then walks multi-indices. Double accum.
Tensor naive_conv(const ConvCase& c, const Tensor& X, const Tensor& W, const Tensor* B) {
  const size_t sp = c.x.size() - 2;
  Shape padded = c.x;
  for (size_t i = 0; i < sp; ++i) padded[2 + i] += c.pads[i] + c.pads[sp + i];
  std::vector<double> xp(static_cast<size_t>(shape_numel(padded)), 0.0);
  std::vector<int64_t> xst = contiguous_strides(c.x), pst = contiguous_strides(padded);
  for (int64_t f = 0; f < X.numel(); ++f) {
    int64_t rem = f, pf = 0;
    for (size_t d = 0; d < c.x.size(); ++d) {
      int64_t idx = rem / xst[d];
      rem %= xst[d];
      if (d >= 2) idx += c.pads[d - 2];
      pf += idx * pst[d];
    }
    xp[static_cast<size_t>(pf)] = X.data<float>()[f];
  }
  Shape out = {c.x[0], c.w[0]};
  for (size_t i = 0; i < sp; ++i) {
    const int64_t ek = (c.w[2 + i] - 1) * c.dilations[i] + 1;
    out.push_back((padded[2 + i] - ek) / c.strides[i] + 1);
  }
  Tensor Y(DType::Float32, out);
  std::vector<int64_t> ost = contiguous_strides(out), wst = contiguous_strides(c.w);
  const Shape ksp(c.w.begin() + 2, c.w.end());
  const int64_t kcount = shape_numel(ksp);
  std::vector<int64_t> kst = contiguous_strides(ksp);
  const int64_t cg = c.x[1] / c.group, mg = c.w[0] / c.group;
  for (int64_t f = 0; f < Y.numel(); ++f) {
    std::vector<int64_t> o(out.size());
    for (size_t d = 0; d < out.size(); ++d) o[d] = (f / ost[d]) % out[d];
    const int64_t n = o[0], m = o[1], g = m / mg;
    double acc = B ? B->data<float>()[m] : 0.0;
    for (int64_t cl = 0; cl < cg; ++cl)
      for (int64_t kf = 0; kf < kcount; ++kf) {
        int64_t pf = n * pst[0] + (g * cg + cl) * pst[1];
        int64_t wf = m * wst[0] + cl * wst[1];
        for (size_t i = 0; i < sp; ++i) {
          const int64_t k = (kf / kst[i]) % ksp[i];
          pf += (o[2 + i] * c.strides[i] + k * c.dilations[i]) * pst[2 + i];
          wf += k * wst[2 + i];
        }
        acc += xp[static_cast<size_t>(pf)] * static_cast<double>(W.data<float>()[wf]);
      }
    Y.data<float>()[f] = static_cast<float>(acc);
  }
  return Y;
}

TEST(OpsNnConv, RandomAgainstNaive) {
  const uint32_t base_seed = 20240601;
  for (uint32_t iter = 0; iter < 60; ++iter) {
    const uint32_t seed = base_seed + iter;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    ConvCase c;
    const size_t sp = static_cast<size_t>(uni(1, 3));
    c.group = uni(1, 3);
    const bool depthwise = uni(0, 3) == 0;
    const int64_t cg = depthwise ? 1 : uni(1, 3);
    const int64_t mg = uni(1, 2);
    c.x = {uni(1, 2), c.group * cg};
    c.w = {c.group * mg, cg};
    for (size_t i = 0; i < sp; ++i) {
      const int64_t k = uni(1, sp == 3 ? 2 : 3);
      c.strides.push_back(uni(1, 3));
      c.dilations.push_back(uni(1, 2));
      c.w.push_back(k);
      const int64_t ek = (k - 1) * c.dilations.back() + 1;
      c.x.push_back(ek + uni(0, sp == 3 ? 3 : 5));
    }
    for (size_t i = 0; i < 2 * sp; ++i) c.pads.push_back(uni(0, 2));
    c.bias = uni(0, 1) == 1;

    Tensor X = testing::random_float(c.x, seed);
    Tensor W = testing::random_float(c.w, seed + 1000);
    Tensor B = testing::random_float({c.w[0]}, seed + 2000);
    std::map<std::string, Attribute> attrs = {{"group", attr_int(c.group)},
                                              {"strides", attr_ints(c.strides)},
                                              {"dilations", attr_ints(c.dilations)},
                                              {"pads", attr_ints(c.pads)}};
    if (uni(0, 1)) attrs["kernel_shape"] = attr_ints(Shape(c.w.begin() + 2, c.w.end()));
    Node n = make_node(
        "Conv",
        c.bias ? std::vector<std::string>{"x", "w", "b"} : std::vector<std::string>{"x", "w"},
        {"y"}, attrs);
    Tensor got = c.bias ? run_op(n, {X, W, B})[0] : run_op(n, {X, W})[0];
    expect_near(got, naive_conv(c, X, W, c.bias ? &B : nullptr), 1e-4f);

    // The same case with auto_pad SAME_UPPER / SAME_LOWER: pads computed here from the spec.
    const bool upper = uni(0, 1) == 1;
    ConvCase s = c;
    for (size_t i = 0; i < sp; ++i) {
      const int64_t ek = (c.w[2 + i] - 1) * c.dilations[i] + 1;
      const int64_t out = (c.x[2 + i] + c.strides[i] - 1) / c.strides[i];
      const int64_t total = std::max<int64_t>(0, (out - 1) * c.strides[i] + ek - c.x[2 + i]);
      s.pads[i] = upper ? total / 2 : total - total / 2;
      s.pads[sp + i] = total - s.pads[i];
    }
    attrs.erase("pads");
    attrs["auto_pad"] = attr_string(upper ? "SAME_UPPER" : "SAME_LOWER");
    Node ns = make_node("Conv", {"x", "w"}, {"y"}, attrs);
    expect_near(run_op(ns, {X, W})[0], naive_conv(s, X, W, nullptr), 1e-4f);
    if (HasFatalFailure()) return;
  }
}

// ---- ConvTranspose ----

TEST(OpsNnConvTranspose, OnnxExample) {
  Tensor x = iota({1, 1, 3, 3}), w = filled({1, 2, 3, 3}, 1.f);
  Node n = make_node("ConvTranspose", {"x", "w"}, {"y"});
  std::vector<float> one = {0,  1,  3, 3,  2,  3,  8,  15, 12, 7,  9,  21, 36,
                            27, 15, 9, 20, 33, 24, 13, 6,  13, 21, 15, 8};
  std::vector<float> both = one;
  both.insert(both.end(), one.begin(), one.end());
  expect_near(run_op(n, {x, w})[0], Tensor::from_vector<float>({1, 2, 5, 5}, both));
}

TEST(OpsNnConvTranspose, StridesOutputPaddingAndOutputShape) {
  // 1-D: x = [1, 2], w = [1, 1, 1], stride 2 -> [1, 1, 3, 2, 2] (+ output_padding zeros).
  Tensor x = Tensor::from_vector<float>({1, 1, 2}, {1, 2});
  Tensor w = filled({1, 1, 3}, 1.f);
  Tensor b = Tensor::from_vector<float>({1}, {10});
  Node n = make_node("ConvTranspose", {"x", "w"}, {"y"}, {{"strides", attr_ints({2})}});
  expect_near(run_op(n, {x, w})[0], Tensor::from_vector<float>({1, 1, 5}, {1, 1, 3, 2, 2}));
  Node op = make_node("ConvTranspose", {"x", "w", "b"}, {"y"},
                      {{"strides", attr_ints({2})}, {"output_padding", attr_ints({1})}});
  expect_near(run_op(op, {x, w, b})[0],
              Tensor::from_vector<float>({1, 1, 6}, {11, 11, 13, 12, 12, 10}));
  // output_shape 6 needs total padding -1: clamped to 0, the extra output holds the bias.
  Node os = make_node("ConvTranspose", {"x", "w", "b"}, {"y"},
                      {{"strides", attr_ints({2})}, {"output_shape", attr_ints({6})}});
  expect_near(run_op(os, {x, w, b})[0],
              Tensor::from_vector<float>({1, 1, 6}, {11, 11, 13, 12, 12, 10}));
  // output_shape 3 -> total padding 2, one each side; pads attr equivalent.
  Node os3 = make_node("ConvTranspose", {"x", "w"}, {"y"},
                       {{"strides", attr_ints({2})}, {"output_shape", attr_ints({1, 1, 3})}});
  expect_near(run_op(os3, {x, w})[0], Tensor::from_vector<float>({1, 1, 3}, {1, 3, 2}));
  Node pads = make_node("ConvTranspose", {"x", "w"}, {"y"},
                        {{"strides", attr_ints({2})}, {"pads", attr_ints({1, 1})}});
  expect_near(run_op(pads, {x, w})[0], Tensor::from_vector<float>({1, 1, 3}, {1, 3, 2}));
  // SAME_UPPER: output = input * stride = 4, total padding 1 goes to the end.
  Node su = make_node("ConvTranspose", {"x", "w"}, {"y"},
                      {{"strides", attr_ints({2})}, {"auto_pad", attr_string("SAME_UPPER")}});
  expect_near(run_op(su, {x, w})[0], Tensor::from_vector<float>({1, 1, 4}, {1, 1, 3, 2}));
  Node sl = make_node("ConvTranspose", {"x", "w"}, {"y"},
                      {{"strides", attr_ints({2})}, {"auto_pad", attr_string("SAME_LOWER")}});
  expect_near(run_op(sl, {x, w})[0], Tensor::from_vector<float>({1, 1, 4}, {1, 3, 2, 2}));
}

// <ConvTranspose(x), z> == <x, Conv(z)> for the same W: ConvTranspose is Conv's adjoint.
TEST(OpsNnConvTranspose, RandomAdjointOfConv) {
  const uint32_t base_seed = 777000;
  for (uint32_t iter = 0; iter < 40; ++iter) {
    const uint32_t seed = base_seed + iter;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    const size_t sp = static_cast<size_t>(uni(1, 3));
    const int64_t group = uni(1, 2), cg = uni(1, 2), mg = uni(1, 3);
    Shape xs = {uni(1, 2), group * cg}, ws = {group * cg, mg};
    std::vector<int64_t> strides, dilations, pads(2 * sp);
    for (size_t i = 0; i < sp; ++i) {
      strides.push_back(uni(1, 3));
      dilations.push_back(uni(1, 2));
      ws.push_back(uni(1, 3));
      xs.push_back(uni(1, sp == 3 ? 3 : 4));
    }
    for (size_t i = 0; i < sp; ++i) {
      pads[i] = uni(0, 1);
      pads[sp + i] = uni(0, 1);
    }
    std::map<std::string, Attribute> attrs = {{"group", attr_int(group)},
                                              {"strides", attr_ints(strides)},
                                              {"dilations", attr_ints(dilations)},
                                              {"pads", attr_ints(pads)}};
    Tensor X = testing::random_float(xs, seed);
    Tensor W = testing::random_float(ws, seed + 1);
    Tensor Y;
    try {
      Y = run_op(make_node("ConvTranspose", {"x", "w"}, {"y"}, attrs), {X, W})[0];
    } catch (const Error&) {
      continue;  // pads larger than the output: not a valid case
    }
    ASSERT_EQ(Y.dim(1), group * mg);
    Tensor Z = testing::random_float(Y.shape(), seed + 2);
    Tensor CZ = run_op(make_node("Conv", {"z", "w"}, {"c"}, attrs), {Z, W})[0];
    ASSERT_EQ(CZ.shape(), X.shape());
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < Y.numel(); ++i) lhs += double(Y.data<float>()[i]) * Z.data<float>()[i];
    for (int64_t i = 0; i < X.numel(); ++i) rhs += double(X.data<float>()[i]) * CZ.data<float>()[i];
    ASSERT_NEAR(lhs, rhs, 1e-4 * (1 + std::fabs(lhs)));
  }
}

// ---- errors ----

void expect_fails(const Node& n, const std::vector<Tensor>& in, const std::string& needle) {
  try {
    run_op(n, in);
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(OpsNnConv, Errors) {
  Tensor x = iota({1, 4, 5, 5});
  expect_fails(make_node("Conv", {"x", "w"}, {"y"}), {x, filled({2, 3, 3, 3}, 1)},
               "4 channels but W expects 3");
  expect_fails(make_node("Conv", {"x", "w"}, {"y"}, {{"group", attr_int(3)}}),
               {x, filled({3, 1, 3, 3}, 1)}, "not divisible by group");
  expect_fails(make_node("Conv", {"x", "w"}, {"y"}, {{"group", attr_int(2)}}),
               {x, filled({3, 2, 3, 3}, 1)}, "output channels");
  expect_fails(make_node("Conv", {"x", "w"}, {"y"}), {x, filled({2, 4, 6, 3}, 1)},
               "larger than the padded input");
  expect_fails(make_node("Conv", {"x", "w"}, {"y"}, {{"strides", attr_ints({0, 1})}}),
               {x, filled({2, 4, 3, 3}, 1)}, "strides");
  expect_fails(make_node("Conv", {"x", "w"}, {"y"}, {{"pads", attr_ints({1, 1})}}),
               {x, filled({2, 4, 3, 3}, 1)}, "pads has 2 values");
  expect_fails(make_node("Conv", {"x", "w"}, {"y"}), {x, filled({2, 4, 3}, 1)}, "rank");
  expect_fails(make_node("Conv", {"x", "w"}, {"y"}, {{"kernel_shape", attr_ints({2, 2})}}),
               {x, filled({2, 4, 3, 3}, 1)}, "kernel_shape");
  expect_fails(make_node("Conv", {"x", "w"}, {"y"}, {{"auto_pad", attr_string("SAME")}}),
               {x, filled({2, 4, 3, 3}, 1)}, "auto_pad 'SAME'");
  expect_fails(make_node("Conv", {"x", "w", "b"}, {"y"}),
               {x, filled({2, 4, 3, 3}, 1), filled({3}, 0)}, "bias B has 3 elements");
  expect_fails(make_node("Conv", {"x", "w"}, {"y"}), {x, Tensor(DType::Float64, {2, 4, 3, 3})},
               "must match");
  expect_fails(make_node("Conv", {"x", "w"}, {"y"}),
               {Tensor(DType::Int32, {1, 1, 3, 3}), Tensor(DType::Int32, {1, 1, 1, 1})},
               "element type INT32");
  expect_fails(
      make_node("Conv", {"x", "w"}, {"y"}),
      {Tensor(DType::Float32, {1, 1, 2, 2, 2, 2}), Tensor(DType::Float32, {1, 1, 1, 1, 1, 1})},
      "not supported");
  expect_fails(make_node("ConvTranspose", {"x", "w"}, {"y"}), {x, filled({3, 1, 3, 3}, 1)},
               "W dim 0 is 3");
  expect_fails(make_node("ConvTranspose", {"x", "w"}, {"y"}, {{"pads", attr_ints({4, 4, 4, 4})}}),
               {x, filled({4, 1, 3, 3}, 1)}, "not positive");
}

}  // namespace
}  // namespace octet
