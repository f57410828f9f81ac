// Gemm and MatMul: hand-computed cases, numpy broadcasting and 1-D rules, integer wrap-around,
// a random batched MatMul against a naive loop, and error cases.
#include <gtest/gtest.h>

#include <random>

#include "../test_util.h"

namespace octet {
namespace {

using testing::attr_float;
using testing::attr_int;
using testing::expect_near;
using testing::make_node;
using testing::run_op;

void expect_fails(const Node& n, const std::vector<Tensor>& in, const std::string& needle) {
  try {
    run_op(n, in);
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

Tensor A23() { return Tensor::from_vector<float>({2, 3}, {1, 2, 3, 4, 5, 6}); }
Tensor B32() { return Tensor::from_vector<float>({3, 2}, {1, 0, 0, 1, 1, 1}); }
// A23 x B32 = [[4, 5], [10, 11]]

TEST(OpsNnGemm, PlainAndBias) {
  Node n = make_node("Gemm", {"a", "b"}, {"y"});
  expect_near(run_op(n, {A23(), B32()})[0], Tensor::from_vector<float>({2, 2}, {4, 5, 10, 11}));
  Node c = make_node("Gemm", {"a", "b", "c"}, {"y"});
  expect_near(run_op(c, {A23(), B32(), Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4})})[0],
              Tensor::from_vector<float>({2, 2}, {5, 7, 13, 15}));
  // Row vector, column, scalar and single-element biases broadcast.
  expect_near(run_op(c, {A23(), B32(), Tensor::from_vector<float>({2}, {1, 2})})[0],
              Tensor::from_vector<float>({2, 2}, {5, 7, 11, 13}));
  expect_near(run_op(c, {A23(), B32(), Tensor::from_vector<float>({2, 1}, {1, 2})})[0],
              Tensor::from_vector<float>({2, 2}, {5, 6, 12, 13}));
  expect_near(run_op(c, {A23(), B32(), Tensor::scalar<float>(1)})[0],
              Tensor::from_vector<float>({2, 2}, {5, 6, 11, 12}));
  expect_near(run_op(c, {A23(), B32(), Tensor::from_vector<float>({1}, {1})})[0],
              Tensor::from_vector<float>({2, 2}, {5, 6, 11, 12}));
}

TEST(OpsNnGemm, TransposesAlphaBeta) {
  Tensor at = Tensor::from_vector<float>({3, 2}, {1, 4, 2, 5, 3, 6});  // A23 transposed
  Tensor bt = Tensor::from_vector<float>({2, 3}, {1, 0, 1, 0, 1, 1});  // B32 transposed
  Node n = make_node("Gemm", {"a", "b", "c"}, {"y"},
                     {{"transA", attr_int(1)},
                      {"transB", attr_int(1)},
                      {"alpha", attr_float(2.f)},
                      {"beta", attr_float(-1.f)}});
  expect_near(run_op(n, {at, bt, Tensor::from_vector<float>({2}, {1, 2})})[0],
              Tensor::from_vector<float>({2, 2}, {7, 8, 19, 20}));
}

TEST(OpsNnGemm, Dtypes) {
  Node n = make_node("Gemm", {"a", "b", "c"}, {"y"}, {{"alpha", attr_float(0.5f)}});
  Tensor c = Tensor::from_vector<float>({2}, {1, 2});
  Tensor want = Tensor::from_vector<float>({2, 2}, {3, 4.5f, 6, 7.5f});
  for (DType t : {DType::Float64, DType::Float16, DType::BFloat16})
    expect_near(run_op(n, {A23().cast(t), B32().cast(t), c.cast(t)})[0], want.cast(t));
  // Integers: alpha * AB + beta * C in double, truncated toward zero.
  Tensor yi =
      run_op(n, {A23().cast(DType::Int32), B32().cast(DType::Int32), c.cast(DType::Int32)})[0];
  expect_near(yi, Tensor::from_vector<int32_t>({2, 2}, {3, 4, 6, 7}));
}

TEST(OpsNnGemm, Errors) {
  Node n = make_node("Gemm", {"a", "b", "c"}, {"y"});
  expect_fails(make_node("Gemm", {"a", "b"}, {"y"}), {A23(), A23()}, "inner dims do not match");
  expect_fails(n, {A23(), B32(), Tensor(DType::Float32, {3})}, "cannot be broadcast");
  expect_fails(n, {A23(), B32(), Tensor(DType::Float32, {1, 2, 2})}, "rank <= 2");
  expect_fails(make_node("Gemm", {"a", "b"}, {"y"}), {Tensor(DType::Float32, {6}), B32()},
               "must be 2-D");
  expect_fails(make_node("Gemm", {"a", "b"}, {"y"}), {A23(), B32().cast(DType::Float64)},
               "must match");
  expect_fails(make_node("Gemm", {"a", "b"}, {"y"}),
               {Tensor(DType::Int8, {2, 2}), Tensor(DType::Int8, {2, 2})}, "INT8");
}

TEST(OpsNnMatMul, VectorRules) {
  Node n = make_node("MatMul", {"a", "b"}, {"y"});
  Tensor v = Tensor::from_vector<float>({3}, {1, 2, 3});
  // 1-D x 1-D: a scalar.
  expect_near(run_op(n, {v, v})[0], Tensor::scalar<float>(14));
  // 1-D x 2-D: [3] x [3, 2] -> [2]
  expect_near(run_op(n, {v, B32()})[0], Tensor::from_vector<float>({2}, {4, 5}));
  // 2-D x 1-D: [2, 3] x [3] -> [2]
  expect_near(run_op(n, {A23(), v})[0], Tensor::from_vector<float>({2}, {14, 32}));
  // 1-D x batched: [3] x [2, 3, 2] -> [2, 2]
  Tensor bb = Tensor::from_vector<float>({2, 3, 2}, {1, 0, 0, 1, 1, 1, 2, 0, 0, 2, 2, 2});
  expect_near(run_op(n, {v, bb})[0], Tensor::from_vector<float>({2, 2}, {4, 5, 8, 10}));
}

TEST(OpsNnMatMul, BatchBroadcast) {
  Node n = make_node("MatMul", {"a", "b"}, {"y"});
  // [2, 1, 1, 2] x [3, 2, 1] -> [2, 3, 1, 1]
  Tensor a = Tensor::from_vector<float>({2, 1, 1, 2}, {1, 2, 3, 4});
  Tensor b = Tensor::from_vector<float>({3, 2, 1}, {1, 1, 1, 0, 0, 1});
  expect_near(run_op(n, {a, b})[0], Tensor::from_vector<float>({2, 3, 1, 1}, {3, 1, 2, 7, 3, 4}));
  // Zero-size batch and K = 0.
  EXPECT_EQ(run_op(n, {Tensor(DType::Float32, {0, 2, 3}), B32()})[0].shape(), Shape({0, 2, 2}));
  expect_near(run_op(n, {Tensor(DType::Float32, {2, 0}), Tensor(DType::Float32, {0, 2})})[0],
              Tensor(DType::Float32, {2, 2}));
}

TEST(OpsNnMatMul, IntegersWrap) {
  Node n = make_node("MatMul", {"a", "b"}, {"y"});
  Tensor a = Tensor::from_vector<int32_t>({1, 2}, {2147483647, 1});
  Tensor b = Tensor::from_vector<int32_t>({2, 1}, {1, 1});
  EXPECT_EQ(run_op(n, {a, b})[0].data<int32_t>()[0], -2147483647 - 1);
  Tensor a8 = Tensor::from_vector<uint8_t>({1, 2}, {200, 100});
  Tensor b8 = Tensor::from_vector<uint8_t>({2, 1}, {1, 1});
  EXPECT_EQ(run_op(n, {a8, b8})[0].data<uint8_t>()[0], 44);
  Tensor a64 = Tensor::from_vector<int64_t>({2, 2}, {1, -2, 3, 4});
  Tensor b64 = Tensor::from_vector<int64_t>({2, 1}, {5, 6});
  expect_near(run_op(n, {a64, b64})[0], Tensor::from_vector<int64_t>({2, 1}, {-7, 39}));
  Tensor h = run_op(n, {A23().cast(DType::Float16), B32().cast(DType::Float16)})[0];
  expect_near(h, Tensor::from_vector<float>({2, 2}, {4, 5, 10, 11}).cast(DType::Float16));
}

TEST(OpsNnMatMul, RandomBatchedAgainstNaive) {
  const uint32_t base_seed = 4242;
  for (uint32_t iter = 0; iter < 30; ++iter) {
    const uint32_t seed = base_seed + iter;
    SCOPED_TRACE(::testing::Message() << "seed " << seed);
    std::mt19937 rng(seed);
    auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    const int64_t M = uni(1, 5), K = uni(1, 6), N = uni(1, 5);
    // batch dims of a and b: each dim either equal, or 1 on one side.
    const int nb = uni(0, 3);
    Shape ba, bb;
    for (int i = 0; i < nb; ++i) {
      const int64_t d = uni(1, 3);
      const int kind = uni(0, 2);
      ba.push_back(kind == 1 ? 1 : d);
      bb.push_back(kind == 2 ? 1 : d);
    }
    if (uni(0, 1) && !ba.empty()) ba.erase(ba.begin());  // rank difference
    Shape as = ba, bs = bb;
    as.insert(as.end(), {M, K});
    bs.insert(bs.end(), {K, N});
    Tensor A = testing::random_float(as, seed), B = testing::random_float(bs, seed + 7);
    Tensor Y = run_op(make_node("MatMul", {"a", "b"}, {"y"}), {A, B})[0];
    // Naive: walk output multi-indices, map to a and b by right-aligned broadcasting.
    const Shape& ys = Y.shape();
    ASSERT_EQ(ys.size(), std::max(as.size(), bs.size()));
    for (int64_t f = 0; f < Y.numel(); ++f) {
      std::vector<int64_t> idx(ys.size());
      int64_t rem = f;
      for (size_t d = ys.size(); d-- > 0;) idx[d] = rem % ys[d], rem /= ys[d];
      auto offset = [&](const Shape& s, int64_t row, int64_t col) {
        int64_t off = 0;
        const size_t lead = ys.size() - s.size();
        for (size_t d = 0; d + 2 < s.size(); ++d)
          off = off * s[d] + (s[d] == 1 ? 0 : idx[lead + d]);
        return (off * s[s.size() - 2] + row) * s.back() + col;
      };
      const int64_t i = idx[ys.size() - 2], j = idx.back();
      double acc = 0;
      for (int64_t k = 0; k < K; ++k)
        acc += double(A.data<float>()[offset(as, i, k)]) * B.data<float>()[offset(bs, k, j)];
      ASSERT_NEAR(Y.data<float>()[f], acc, 1e-5) << "at " << f;
    }
  }
}

TEST(OpsNnMatMul, Errors) {
  Node n = make_node("MatMul", {"a", "b"}, {"y"});
  expect_fails(n, {A23(), A23()}, "inner dims do not match");
  expect_fails(n, {Tensor(DType::Float32, {2, 2, 3}), Tensor(DType::Float32, {3, 3, 2})},
               "cannot be broadcast");
  expect_fails(n, {Tensor::scalar<float>(1), B32()}, "rank >= 1");
  expect_fails(n, {Tensor(DType::Bool, {2, 2}), Tensor(DType::Bool, {2, 2})}, "BOOL");
  expect_fails(n, {A23(), B32().cast(DType::Int32)}, "must match");
}

}  // namespace
}  // namespace octet
