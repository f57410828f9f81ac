// StoreFp16Weights and expand_fp16_weights: which weights become FLOAT16 + Cast, the values they
// hold (round to nearest even), what is left float32 and why, and that expanding gives back float
// initializers the engine can pack, with outputs equal to the Cast graph's.
#include "passes/fp16_weights.h"

#include <gtest/gtest.h>

#include <cmath>

#include "../test_util.h"
#include "ir/builder.h"
#include "ir/half.h"
#include "runtime/executor.h"
#include "runtime/shape_inference.h"

namespace octet {
namespace {

using B = GraphBuilder;

Model net(float big = 0.f) {
  B b("fp16", 17);
  const std::string x = b.input("x", DType::Float32, {-1, 2, 6, 6});
  Tensor w = testing::random_float({4, 2, 3, 3}, 1, -0.5f, 0.5f);
  b.initializer("conv.w", w);
  b.initializer("conv.b", testing::random_float({4}, 2, -0.1f, 0.1f));
  Tensor fw = testing::random_float({3, 64}, 3, -0.3f, 0.3f);
  if (big != 0.f) fw.data<float>()[5] = big;
  b.initializer("fc.w", fw);
  std::string y = b.op("Conv", {x, "conv.w", "conv.b"}, {}, "conv");
  y = b.op("Flatten", {b.op("Relu", {y}, {}, "relu")}, {}, "flat");
  b.output(b.op("Gemm", {y, "fc.w"}, {{"transB", B::i(1)}}, "fc"));
  Model m = b.build();
  infer_shapes(m);
  return m;
}

TEST(Fp16Weights, StoresWeightsAsHalfBehindCastAndExpandsBack) {
  Model m = net();
  const Tensor conv_w = *m.graph.value("conv.w").initializer;
  const Fp16WeightsReport rep = store_fp16_weights(m);
  EXPECT_EQ(rep.converted, (std::vector<std::string>{"conv.w", "fc.w"}));
  EXPECT_TRUE(rep.kept.empty());
  EXPECT_EQ(rep.bytes_before, (72 + 192) * 4);
  EXPECT_EQ(rep.bytes_after, (72 + 192) * 2);
  EXPECT_EQ(m.graph.find_value("conv.w"), nullptr);
  const Tensor& h = *m.graph.value("conv.w_fp16").initializer;
  ASSERT_EQ(h.dtype(), DType::Float16);
  const auto* bits = reinterpret_cast<const uint16_t*>(h.raw());
  for (int64_t i = 0; i < h.numel(); ++i) EXPECT_EQ(bits[i], float_to_half_bits(conv_w.data<float>()[i]));
  EXPECT_EQ(m.graph.value("conv.b").initializer->dtype(), DType::Float32) << "biases stay float32";
  int casts = 0;
  for (const auto& n : m.graph.nodes) casts += n->op_type == "Cast";
  EXPECT_EQ(casts, 2);

  // Outputs: the Cast graph against the float graph (weights rounded to half: small difference),
  // and the expanded graph against the Cast graph (exactly the same weights: same bits).
  infer_shapes(m);
  const Tensor x = testing::random_float({2, 2, 6, 6}, 9, 0.f, 1.f);
  const Tensor ref = Executor(net()).run({{"x", x}}).at("fc_out");
  const Tensor cast = Executor(m).run({{"x", x}}).at("fc_out");
  for (int64_t i = 0; i < ref.numel(); ++i)
    EXPECT_NEAR(cast.data<float>()[i], ref.data<float>()[i], 2e-3 * (1 + std::fabs(ref.data<float>()[i])));
  Model e = clone_model(m);
  EXPECT_EQ(expand_fp16_weights(e), 2);
  for (const auto& n : e.graph.nodes) EXPECT_NE(n->op_type, "Cast");
  EXPECT_EQ(e.graph.find_value("conv.w_fp16"), nullptr);
  const Tensor expanded = Executor(e).run({{"x", x}}).at("fc_out");
  ASSERT_EQ(expanded.nbytes(), cast.nbytes());
  EXPECT_EQ(std::memcmp(expanded.raw(), cast.raw(), cast.nbytes()), 0);
}

TEST(Fp16Weights, KeepsOutOfRangeAndSharedWeightsFloat32) {
  Model m = net(70000.f);
  const Fp16WeightsReport rep = store_fp16_weights(m);
  EXPECT_EQ(rep.converted, (std::vector<std::string>{"conv.w"}));
  ASSERT_EQ(rep.kept.size(), 1u);
  EXPECT_NE(rep.kept[0].find("fc.w"), std::string::npos);
  EXPECT_NE(rep.kept[0].find("65504"), std::string::npos);

  // A weight that is also a graph output is not a weight only: left alone.
  Model s = net();
  s.graph.outputs.push_back("conv.w");
  const Fp16WeightsReport r2 = store_fp16_weights(s, {"conv"});
  EXPECT_TRUE(r2.converted.empty());
  ASSERT_EQ(r2.kept.size(), 1u);
  EXPECT_NE(r2.kept[0].find("conv.w"), std::string::npos);
}

}  // namespace
}  // namespace octet
