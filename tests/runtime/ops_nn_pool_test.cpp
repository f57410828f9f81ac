// MaxPool, AveragePool, GlobalAveragePool, GlobalMaxPool: the ONNX operator examples, edge rules
// (ceil_mode's last window, count_include_pad, SAME padding), a random sweep against a naive N-D
// loop written here, dtypes and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
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

Tensor iota(const Shape& s, float start = 1.f) {
  Tensor t(DType::Float32, s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = start + static_cast<float>(i);
  return t;
}

void expect_fails(const Node& n, const std::vector<Tensor>& in, const std::string& needle) {
  try {
    run_op(n, in);
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(OpsNnPool, MaxPoolPadsAndIndices) {
  Node n = make_node("MaxPool", {"x"}, {"y", "i"},
                     {{"kernel_shape", attr_ints({5, 5})}, {"pads", attr_ints({2, 2, 2, 2})}});
  auto out = run_op(n, {iota({1, 1, 5, 5})});
  expect_near(out[0], Tensor::from_vector<float>(
                          {1, 1, 5, 5}, {13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25,
                                         25, 25, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25}));
  expect_near(out[1], Tensor::from_vector<int64_t>(
                          {1, 1, 5, 5}, {12, 13, 14, 14, 14, 17, 18, 19, 19, 19, 22, 23, 24,
                                         24, 24, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24}));
  // Column-major indices (storage_order 1), strides 2; a second channel offsets by 25.
  Node cm = make_node("MaxPool", {"x"}, {"y", "i"},
                      {{"kernel_shape", attr_ints({2, 2})},
                       {"strides", attr_ints({2, 2})},
                       {"storage_order", attr_int(1)}});
  auto o2 = run_op(cm, {iota({1, 2, 5, 5})});
  expect_near(o2[0], Tensor::from_vector<float>({1, 2, 2, 2}, {7, 9, 17, 19, 32, 34, 42, 44}));
  expect_near(o2[1], Tensor::from_vector<int64_t>({1, 2, 2, 2}, {6, 16, 8, 18, 31, 41, 33, 43}));
}

TEST(OpsNnPool, MaxPoolCeilDilation1d3d) {
  Node ceil = make_node("MaxPool", {"x"}, {"y"},
                        {{"kernel_shape", attr_ints({3, 3})},
                         {"strides", attr_ints({2, 2})},
                         {"ceil_mode", attr_int(1)}});
  expect_near(run_op(ceil, {iota({1, 1, 4, 4})})[0],
              Tensor::from_vector<float>({1, 1, 2, 2}, {11, 12, 15, 16}));
  Node dil = make_node("MaxPool", {"x"}, {"y"},
                       {{"kernel_shape", attr_ints({2, 2})}, {"dilations", attr_ints({2, 2})}});
  expect_near(run_op(dil, {iota({1, 1, 4, 4})})[0],
              Tensor::from_vector<float>({1, 1, 2, 2}, {11, 12, 15, 16}));
  // ceil_mode never starts a window in the end padding: in 4, k 2, s 2, pads (0, 1) -> 2 not 3.
  Node last = make_node("MaxPool", {"x"}, {"y"},
                        {{"kernel_shape", attr_ints({2})},
                         {"strides", attr_ints({2})},
                         {"pads", attr_ints({0, 1})},
                         {"ceil_mode", attr_int(1)}});
  EXPECT_EQ(run_op(last, {iota({1, 1, 4})})[0].shape(), Shape({1, 1, 2}));
  Node one = make_node("MaxPool", {"x"}, {"y"}, {{"kernel_shape", attr_ints({2})}});
  expect_near(run_op(one, {Tensor::from_vector<float>({1, 1, 5}, {1, 3, 2, 5, 4})})[0],
              Tensor::from_vector<float>({1, 1, 4}, {3, 3, 5, 5}));
  Node three = make_node("MaxPool", {"x"}, {"y"}, {{"kernel_shape", attr_ints({2, 2, 2})}});
  expect_near(run_op(three, {iota({1, 1, 2, 2, 3})})[0],
              Tensor::from_vector<float>({1, 1, 1, 1, 2}, {11, 12}));
}

TEST(OpsNnPool, MaxPoolDtypes) {
  Node n = make_node("MaxPool", {"x"}, {"y"},
                     {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({2, 2})}});
  Tensor x = iota({1, 1, 4, 4});
  Tensor want = Tensor::from_vector<float>({1, 1, 2, 2}, {6, 8, 14, 16});
  for (DType t : {DType::Float64, DType::Float16, DType::BFloat16, DType::UInt8, DType::Int8})
    expect_near(run_op(n, {x.cast(t)})[0], want.cast(t));
  Tensor neg = Tensor::from_vector<int8_t>({1, 1, 1, 2}, {-128, -5});
  Node k = make_node("MaxPool", {"x"}, {"y"}, {{"kernel_shape", attr_ints({1, 2})}});
  EXPECT_EQ(run_op(k, {neg})[0].data<int8_t>()[0], -5);
}

TEST(OpsNnPool, AveragePoolPadsAndCeil) {
  Tensor x = iota({1, 1, 5, 5});
  std::map<std::string, Attribute> attrs = {{"kernel_shape", attr_ints({5, 5})},
                                            {"pads", attr_ints({2, 2, 2, 2})}};
  expect_near(
      run_op(make_node("AveragePool", {"x"}, {"y"}, attrs), {x})[0],
      Tensor::from_vector<float>(
          {1, 1, 5, 5}, {7,    7.5, 8,    8.5, 9,    9.5, 10,   10.5, 11,   11.5, 12,   12.5, 13,
                         13.5, 14,  14.5, 15,  15.5, 16,  16.5, 17,   17.5, 18,   18.5, 19}));
  attrs["count_include_pad"] = attr_int(1);
  expect_near(run_op(make_node("AveragePool", {"x"}, {"y"}, attrs), {x})[0],
              Tensor::from_vector<float>(
                  {1, 1, 5, 5}, {2.52f,  3.6f,  4.8f,  4.08f, 3.24f, 4.56f, 6.4f,  8.4f, 7.04f,
                                 5.52f,  7.2f,  10,    13,    10.8f, 8.4f,  6.96f, 9.6f, 12.4f,
                                 10.24f, 7.92f, 6.12f, 8.4f,  10.8f, 8.88f, 6.84f}),
              1e-5f);
  Node ceil = make_node("AveragePool", {"x"}, {"y"},
                        {{"kernel_shape", attr_ints({3, 3})},
                         {"strides", attr_ints({2, 2})},
                         {"ceil_mode", attr_int(1)}});
  expect_near(run_op(ceil, {iota({1, 1, 4, 4})})[0],
              Tensor::from_vector<float>({1, 1, 2, 2}, {6, 7.5, 12, 13.5}));
  // The ceil window beyond the explicit padding never counts, even with count_include_pad.
  Node ceil1 = make_node("AveragePool", {"x"}, {"y"},
                         {{"kernel_shape", attr_ints({2})},
                          {"strides", attr_ints({2})},
                          {"ceil_mode", attr_int(1)},
                          {"count_include_pad", attr_int(1)}});
  expect_near(run_op(ceil1, {iota({1, 1, 5})})[0],
              Tensor::from_vector<float>({1, 1, 3}, {1.5, 3.5, 5}));
}

TEST(OpsNnPool, AveragePoolSamePadding) {
  Tensor x = iota({1, 1, 4});
  auto run = [&](const char* mode, int include) {
    return run_op(make_node("AveragePool", {"x"}, {"y"},
                            {{"kernel_shape", attr_ints({2})},
                             {"auto_pad", attr_string(mode)},
                             {"count_include_pad", attr_int(include)}}),
                  {x})[0];
  };
  expect_near(run("SAME_UPPER", 0), Tensor::from_vector<float>({1, 1, 4}, {1.5, 2.5, 3.5, 4}));
  expect_near(run("SAME_LOWER", 0), Tensor::from_vector<float>({1, 1, 4}, {1, 1.5, 2.5, 3.5}));
  expect_near(run("SAME_UPPER", 1), Tensor::from_vector<float>({1, 1, 4}, {1.5, 2.5, 3.5, 2}));
  expect_near(run("VALID", 0), Tensor::from_vector<float>({1, 1, 3}, {1.5, 2.5, 3.5}));
  Tensor h = run_op(make_node("AveragePool", {"x"}, {"y"}, {{"kernel_shape", attr_ints({2})}}),
                    {x.cast(DType::Float16)})[0];
  expect_near(h, Tensor::from_vector<float>({1, 1, 3}, {1.5, 2.5, 3.5}).cast(DType::Float16));
}

// Naive N-D pooling: enumerates every tap of every window by multi-index.
Tensor naive_pool(bool is_max, bool include_pad, const Tensor& X, const std::vector<int64_t>& k,
                  const std::vector<int64_t>& s, const std::vector<int64_t>& d,
                  const std::vector<int64_t>& pads, const Shape& out_shape) {
  const size_t sp = k.size();
  Tensor Y(DType::Float32, out_shape);
  const std::vector<int64_t> xst = contiguous_strides(X.shape()),
                             yst = contiguous_strides(out_shape);
  const int64_t taps = shape_numel(k);
  const std::vector<int64_t> kst = contiguous_strides(k);
  for (int64_t f = 0; f < Y.numel(); ++f) {
    double best = -std::numeric_limits<double>::infinity(), sum = 0;
    int64_t valid = 0, in_padded = 0;
    for (int64_t t = 0; t < taps; ++t) {
      int64_t off = ((f / yst[0]) % out_shape[0]) * xst[0] + ((f / yst[1]) % out_shape[1]) * xst[1];
      bool inside = true, inside_padded = true;
      for (size_t i = 0; i < sp; ++i) {
        const int64_t o = (f / yst[2 + i]) % out_shape[2 + i];
        const int64_t pos = o * s[i] - pads[i] + ((t / kst[i]) % k[i]) * d[i];
        if (pos < 0 || pos >= X.dim(2 + i)) inside = false;
        if (pos < -pads[i] || pos >= X.dim(2 + i) + pads[sp + i]) inside_padded = false;
        off += pos * xst[2 + i];
      }
      in_padded += inside_padded;
      if (!inside) continue;
      ++valid;
      const double v = X.data<float>()[off];
      best = std::max(best, v);
      sum += v;
    }
    Y.data<float>()[f] =
        static_cast<float>(is_max ? best : sum / double(include_pad ? in_padded : valid));
  }
  return Y;
}

TEST(OpsNnPool, RandomAgainstNaive) {
  const uint32_t base_seed = 99100;
  for (uint32_t iter = 0; iter < 80; ++iter) {
    const uint32_t seed = base_seed + iter;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    const size_t sp = static_cast<size_t>(uni(1, 3));
    const bool is_max = uni(0, 1) == 1, include_pad = uni(0, 1) == 1, ceil = uni(0, 1) == 1;
    Shape xs = {uni(1, 2), uni(1, 3)};
    std::vector<int64_t> k, s, d, pads(2 * sp);
    for (size_t i = 0; i < sp; ++i) {
      k.push_back(uni(1, 3));
      s.push_back(uni(1, 3));
      d.push_back(uni(1, 2));
      pads[i] = uni(0, (k.back() - 1) * d.back());  // every window keeps an in-bounds tap
      pads[sp + i] = uni(0, (k.back() - 1) * d.back());
      xs.push_back((k.back() - 1) * d.back() + 1 + uni(0, 4));
    }
    Shape ys = {xs[0], xs[1]};
    for (size_t i = 0; i < sp; ++i) {
      const int64_t span = xs[2 + i] + pads[i] + pads[sp + i] - (k[i] - 1) * d[i] - 1;
      int64_t o = ceil ? (span + s[i] - 1) / s[i] + 1 : span / s[i] + 1;
      if (ceil && (o - 1) * s[i] >= xs[2 + i] + pads[i]) --o;
      ys.push_back(o);
    }
    Tensor X = testing::random_float(xs, seed);
    std::map<std::string, Attribute> attrs = {{"kernel_shape", attr_ints(k)},
                                              {"strides", attr_ints(s)},
                                              {"dilations", attr_ints(d)},
                                              {"pads", attr_ints(pads)},
                                              {"ceil_mode", attr_int(ceil)}};
    if (!is_max) attrs["count_include_pad"] = attr_int(include_pad);
    Node n = make_node(is_max ? "MaxPool" : "AveragePool", {"x"}, {"y"}, attrs);
    expect_near(run_op(n, {X})[0], naive_pool(is_max, include_pad, X, k, s, d, pads, ys), 1e-5f);
    if (HasFatalFailure()) return;
  }
}

TEST(OpsNnPool, GlobalPools) {
  Tensor x = Tensor::from_vector<float>({1, 2, 2, 2}, {1, 2, 3, 4, -1, -2, -3, -8});
  expect_near(run_op(make_node("GlobalAveragePool", {"x"}, {"y"}), {x})[0],
              Tensor::from_vector<float>({1, 2, 1, 1}, {2.5, -3.5}));
  expect_near(run_op(make_node("GlobalMaxPool", {"x"}, {"y"}), {x})[0],
              Tensor::from_vector<float>({1, 2, 1, 1}, {4, -1}));
  Tensor x1 = Tensor::from_vector<float>({1, 1, 3}, {1, 5, 3});
  expect_near(run_op(make_node("GlobalMaxPool", {"x"}, {"y"}), {x1.cast(DType::Float16)})[0],
              Tensor::from_vector<float>({1, 1, 1}, {5}).cast(DType::Float16));
  expect_near(run_op(make_node("GlobalAveragePool", {"x"}, {"y"}), {x1.cast(DType::Float64)})[0],
              Tensor::from_vector<float>({1, 1, 1}, {3}).cast(DType::Float64));
}

TEST(OpsNnPool, Errors) {
  Tensor x = iota({1, 1, 4, 4});
  expect_fails(make_node("MaxPool", {"x"}, {"y"}), {x}, "kernel_shape is required");
  expect_fails(make_node("MaxPool", {"x"}, {"y"}, {{"kernel_shape", attr_ints({2})}}), {x},
               "rank 4 but kernel_shape has 1");
  expect_fails(make_node("MaxPool", {"x"}, {"y"}, {{"kernel_shape", attr_ints({5, 5})}}), {x},
               "larger than the padded input");
  expect_fails(make_node("MaxPool", {"x"}, {"y"},
                         {{"kernel_shape", attr_ints({2, 2})}, {"strides", attr_ints({1, 0})}}),
               {x}, "strides");
  expect_fails(make_node("MaxPool", {"x"}, {"y"},
                         {{"kernel_shape", attr_ints({2, 2})}, {"storage_order", attr_int(2)}}),
               {x}, "storage_order");
  expect_fails(make_node("MaxPool", {"x"}, {"y"}, {{"kernel_shape", attr_ints({2, 2})}}),
               {x.cast(DType::Int32)}, "INT32");
  expect_fails(make_node("AveragePool", {"x"}, {"y"}, {{"kernel_shape", attr_ints({2, 2})}}),
               {x.cast(DType::UInt8)}, "UINT8");
  expect_fails(make_node("AveragePool", {"x"}, {"y"},
                         {{"kernel_shape", attr_ints({2, 2})}, {"pads", attr_ints({-1, 0, 0, 0})}}),
               {x}, "pads");
  expect_fails(make_node("GlobalAveragePool", {"x"}, {"y"}), {Tensor(DType::Float32, {3})},
               "rank >= 2");
}

}  // namespace
}  // namespace octet
