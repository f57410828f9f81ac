// The nn family as a whole: every op is registered with a run and an infer function, and shape
// inference computes output types (symbolic batch dims pass through) and rejects inconsistent
// shapes. Numeric behaviour is tested per sub-family in ops_nn_{conv,gemm,pool,norm}_test.cpp.
#include <gtest/gtest.h>

#include "../test_util.h"

namespace octet {
namespace {

using testing::attr_int;
using testing::attr_ints;
using testing::attr_string;
using testing::make_node;

Dim N() { return Dim::symbol("N"); }
Dim K(int64_t v) { return Dim::known(v); }

TensorType tt(DType t, std::vector<Dim> dims) {
  TensorType r;
  r.dtype = t;
  r.has_shape = true;
  r.dims = std::move(dims);
  return r;
}
TensorType f32(std::vector<Dim> dims) { return tt(DType::Float32, std::move(dims)); }

// Runs the op's infer function; an input whose dtype is Undefined is treated as absent.
std::vector<TensorType> infer(const Node& n, const std::vector<TensorType>& in,
                              int64_t opset = 21) {
  const OpDef* def = OpRegistry::global().find(n.op_type);
  if (!def || !def->infer) throw Error("no infer function for " + n.op_type);
  InferContext ctx{n, opset, {}, {}, {}};
  for (const TensorType& t : in) ctx.inputs.push_back(t.dtype == DType::Undefined ? nullptr : &t);
  ctx.constants.assign(in.size(), nullptr);
  ctx.outputs.resize(n.outputs.size());
  def->infer(ctx);
  return ctx.outputs;
}

void expect_infer_fails(const Node& n, const std::vector<TensorType>& in,
                        const std::string& needle) {
  try {
    infer(n, in);
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(OpsNn, AllRegisteredWithInfer) {
  for (const char* op :
       {"Conv", "ConvTranspose", "Gemm", "MatMul", "MaxPool", "AveragePool", "GlobalAveragePool",
        "GlobalMaxPool", "BatchNormalization", "InstanceNormalization", "LayerNormalization"}) {
    const OpDef* def = OpRegistry::global().find(op);
    ASSERT_NE(def, nullptr) << op;
    EXPECT_TRUE(def->run) << op;
    EXPECT_TRUE(def->infer) << op;
  }
}

TEST(OpsNn, InferConv) {
  Node n = make_node("Conv", {"x", "w", "b"}, {"y"},
                     {{"strides", attr_ints({2, 2})}, {"pads", attr_ints({3, 3, 3, 3})}});
  auto out =
      infer(n, {f32({N(), K(3), K(224), K(224)}), f32({K(64), K(3), K(7), K(7)}), f32({K(64)})});
  EXPECT_EQ(out[0].str(), "FLOAT[N,64,112,112]");
  Node same = make_node("Conv", {"x", "w"}, {"y"},
                        {{"strides", attr_ints({2, 2})}, {"auto_pad", attr_string("SAME_UPPER")}});
  EXPECT_EQ(infer(same, {f32({N(), K(3), Dim{}, K(7)}), f32({K(8), K(3), K(3), K(3)})})[0].str(),
            "FLOAT[N,8,?,4]");
  // Unknown X rank: rank and output channels come from W.
  TensorType unknown;
  unknown.dtype = DType::Float32;
  EXPECT_EQ(infer(same, {unknown, f32({K(8), K(3), K(3), K(3)})})[0].str(), "FLOAT[?,8,?,?]");
  expect_infer_fails(n, {f32({N(), K(4), K(9), K(9)}), f32({K(8), K(3), K(3), K(3)}), f32({K(8)})},
                     "4 channels but W expects 3");
  expect_infer_fails(make_node("Conv", {"x", "w"}, {"y"}, {{"group", attr_int(3)}}),
                     {f32({N(), K(4), K(9), K(9)}), f32({K(6), K(1), K(3), K(3)})},
                     "not divisible by group");
  expect_infer_fails(make_node("Conv", {"x", "w"}, {"y"}),
                     {f32({N(), K(3), K(2), K(9)}), f32({K(6), K(3), K(3), K(3)})},
                     "larger than the padded input");
  Node ct = make_node("ConvTranspose", {"x", "w"}, {"y"},
                      {{"strides", attr_ints({2, 2})},
                       {"output_padding", attr_ints({1, 1})},
                       {"group", attr_int(2)}});
  EXPECT_EQ(infer(ct, {f32({N(), K(4), K(5), K(6)}), f32({K(4), K(3), K(3), K(3)})})[0].str(),
            "FLOAT[N,6,12,14]");
  Node cts = make_node("ConvTranspose", {"x", "w"}, {"y"},
                       {{"output_shape", attr_ints({10, 8})}, {"strides", attr_ints({3, 2})}});
  EXPECT_EQ(infer(cts, {f32({N(), K(1), K(3), K(3)}), f32({K(1), K(2), K(3), K(3)})})[0].str(),
            "FLOAT[N,2,10,8]");
}

TEST(OpsNn, InferGemmMatMul) {
  Node g = make_node("Gemm", {"a", "b", "c"}, {"y"}, {{"transB", attr_int(1)}});
  EXPECT_EQ(infer(g, {f32({N(), K(512)}), f32({K(10), K(512)}), f32({K(10)})})[0].str(),
            "FLOAT[N,10]");
  expect_infer_fails(g, {f32({N(), K(512)}), f32({K(10), K(256)}), f32({K(10)})},
                     "inner dims do not match");
  expect_infer_fails(g, {f32({N(), K(512)}), f32({K(10), K(512)}), f32({K(3)})},
                     "cannot be broadcast");
  Node m = make_node("MatMul", {"a", "b"}, {"y"});
  EXPECT_EQ(infer(m, {f32({N(), K(1), K(4), K(8)}), f32({K(3), K(8), K(2)})})[0].str(),
            "FLOAT[N,3,4,2]");
  EXPECT_EQ(infer(m, {f32({K(8)}), f32({K(8)})})[0].str(), "FLOAT[]");
  EXPECT_EQ(infer(m, {f32({N(), K(8)}), f32({K(8)})})[0].str(), "FLOAT[N]");
  EXPECT_EQ(infer(m, {tt(DType::Int64, {K(2), K(3)}), tt(DType::Int64, {K(3), K(5)})})[0].str(),
            "INT64[2,5]");
  expect_infer_fails(m, {f32({K(2), K(3)}), f32({K(4), K(5)})}, "inner dims do not match");
  expect_infer_fails(m, {f32({K(2), K(2), K(3)}), f32({K(3), K(3), K(5)})}, "cannot be broadcast");
}

TEST(OpsNn, InferPools) {
  Node mp = make_node("MaxPool", {"x"}, {"y", "i"},
                      {{"kernel_shape", attr_ints({3, 3})},
                       {"strides", attr_ints({2, 2})},
                       {"pads", attr_ints({1, 1, 1, 1})}});
  auto out = infer(mp, {f32({N(), K(64), K(112), K(112)})});
  EXPECT_EQ(out[0].str(), "FLOAT[N,64,56,56]");
  EXPECT_EQ(out[1].str(), "INT64[N,64,56,56]");
  Node ap = make_node(
      "AveragePool", {"x"}, {"y"},
      {{"kernel_shape", attr_ints({3})}, {"strides", attr_ints({2})}, {"ceil_mode", attr_int(1)}});
  EXPECT_EQ(infer(ap, {f32({N(), K(2), K(6)})})[0].str(), "FLOAT[N,2,3]");
  expect_infer_fails(ap, {f32({N(), K(2), K(6), K(6)})}, "rank 4 but kernel_shape has 1");
  expect_infer_fails(ap, {tt(DType::Int8, {N(), K(2), K(6)})}, "INT8");
  EXPECT_EQ(
      infer(make_node("GlobalAveragePool", {"x"}, {"y"}), {f32({N(), K(2048), K(7), K(7)})})[0]
          .str(),
      "FLOAT[N,2048,1,1]");
  EXPECT_EQ(infer(make_node("GlobalMaxPool", {"x"}, {"y"}), {f32({N(), K(3), Dim{}})})[0].str(),
            "FLOAT[N,3,1]");
}

TEST(OpsNn, InferNorms) {
  Node bn = make_node("BatchNormalization", {"x", "s", "b", "m", "v"}, {"y", "rm", "rv"},
                      {{"training_mode", attr_int(1)}});
  TensorType c = f32({K(16)});
  auto out = infer(bn, {f32({N(), K(16), K(8), K(8)}), c, c, c, c});
  EXPECT_EQ(out[0].str(), "FLOAT[N,16,8,8]");
  EXPECT_EQ(out[1].str(), "FLOAT[16]");
  expect_infer_fails(bn, {f32({N(), K(16), K(8), K(8)}), f32({K(8)}), c, c, c},
                     "scale has 8 elements but X has 16 channels");
  Node in = make_node("InstanceNormalization", {"x", "s", "b"}, {"y"});
  EXPECT_EQ(infer(in, {f32({N(), K(4), K(5)}), f32({K(4)}), f32({K(4)})})[0].str(), "FLOAT[N,4,5]");
  Node ln = make_node("LayerNormalization", {"x", "s", "b"}, {"y", "mean", "inv"},
                      {{"axis", attr_int(-2)}});
  auto lo = infer(ln, {tt(DType::Float16, {N(), K(5), K(8)}), tt(DType::Float16, {K(5), K(8)}),
                       tt(DType::Float16, {K(8)})});
  EXPECT_EQ(lo[0].str(), "FLOAT16[N,5,8]");
  EXPECT_EQ(lo[1].str(), "FLOAT[N,1,1]");
  EXPECT_EQ(lo[2].str(), "FLOAT[N,1,1]");
  expect_infer_fails(ln, {f32({N(), K(5), K(8)}), f32({K(4), K(8)}), f32({K(8)})},
                     "cannot be broadcast");
}

}  // namespace
}  // namespace octet
