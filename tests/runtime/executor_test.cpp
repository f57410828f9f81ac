#include "runtime/executor.h"

#include <gtest/gtest.h>

#include "ir/builder.h"
#include "runtime/shape_inference.h"

namespace octet {
namespace {

Model add_relu_model() {
  GraphBuilder b("add_relu", 17);
  std::string x = b.input("x", DType::Float32, {-1, 3});
  std::string y = b.input("y", DType::Float32, {-1, 3});
  std::string s = b.op("Add", {x, y}, {}, "add");
  b.output(b.op("Relu", {s}, {}, "relu"));
  return b.build();
}

TEST(Executor, RunsAGraphAndFreesNothingItReturns) {
  Model m = add_relu_model();
  Executor ex(m);
  auto out = ex.run({{"x", Tensor::from_vector<float>({1, 3}, {1, -2, 3})},
                     {"y", Tensor::from_vector<float>({1, 3}, {1, 1, -5})}});
  ASSERT_EQ(out.size(), 1u);
  const Tensor& r = out.at("relu_out");
  EXPECT_EQ(r.data<float>()[0], 2.f);
  EXPECT_EQ(r.data<float>()[1], 0.f);
  EXPECT_EQ(r.data<float>()[2], 0.f);
  RunOptions keep;
  keep.keep_intermediates = true;
  auto all = ex.run({{"x", Tensor(DType::Float32, {2, 3})}, {"y", Tensor(DType::Float32, {2, 3})}}, keep);
  EXPECT_TRUE(all.count("add_out"));
}

TEST(Executor, RejectsBadFeedsNamingTheInput) {
  Model m = add_relu_model();
  Executor ex(m);
  auto expect_error = [&](const std::map<std::string, Tensor>& feeds, const std::string& fragment) {
    try {
      ex.run(feeds);
      ADD_FAILURE() << "no error, expected: " << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  Tensor ok(DType::Float32, {2, 3});
  expect_error({{"x", ok}}, "missing input 'y'");
  expect_error({{"x", ok}, {"y", ok}, {"z", ok}}, "input 'z' is not an input");
  expect_error({{"x", ok}, {"y", Tensor(DType::Int32, {2, 3})}}, "input 'y' has element type INT32");
  expect_error({{"x", ok}, {"y", Tensor(DType::Float32, {2, 4})}}, "input 'y' has shape [2,4]");
  expect_error({{"x", ok}, {"y", Tensor(DType::Float32, {3, 3})}}, "binds dimension 'N'");
}

TEST(Executor, UnsupportedOpsAreListedWithANode) {
  GraphBuilder b("custom", 17);
  std::string x = b.input("x", DType::Float32, {2});
  b.output(b.op("NoSuchOp", {x}, {}, "mystery"));
  Model m = b.build();
  try {
    Executor ex(m);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NoSuchOp (node 'mystery')"), std::string::npos) << e.what();
  }
}

TEST(ShapeInference, PropagatesSymbolicBatchAndCatchesMismatch) {
  Model m = add_relu_model();
  infer_shapes(m);
  EXPECT_EQ(m.graph.value("relu_out").type.str(), "FLOAT[N,3]");

  GraphBuilder b("bad", 17);
  std::string x = b.input("x", DType::Float32, {3, 4});
  std::string y = b.input("y", DType::Float32, {5});
  b.output(b.op("Add", {x, y}, {}, "add"));
  Model bad = b.build();
  EXPECT_THROW(infer_shapes(bad), Error);

  Model declared = add_relu_model();
  declared.graph.value("add_out").type = TensorType::of(DType::Float32, {7, 4});
  try {
    infer_shapes(declared);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("inconsistent shapes: tensor 'add_out'"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace octet
