#include "onnx/model_io.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#include "ir/builder.h"
#include "ir/file_util.h"
#include "../temp_dir.h"

namespace octet {
namespace {

std::string temp_dir() { return testing::make_temp_dir("octet_model_io"); }  // removed at exit

Model small_model() {
  GraphBuilder b("small", 17);
  std::string x = b.input("x", DType::Float32, {-1, 4});
  Tensor w(DType::Float32, {4, 4});
  for (int i = 0; i < 16; ++i) w.data<float>()[i] = static_cast<float>(i) * 0.5f;
  std::string y = b.op("MatMul", {x, b.initializer("w", w)}, {}, "mm");
  Tensor q(DType::Int4, {5});
  for (int i = 0; i < 5; ++i) q.data<int8_t>()[i] = static_cast<int8_t>(i - 3);
  b.initializer("q4", q);
  std::string z = b.op("Relu", {y}, {{"unused", GraphBuilder::f(1.5f)}}, "relu");
  b.output(z);
  return b.build();
}

TEST(ModelIo, RoundTripKeepsGraphAndData) {
  std::string dir = temp_dir();
  std::string path = join_path(dir, "m.onnx");
  save_model(small_model(), path);
  Model m = load_model(path);
  ASSERT_EQ(m.graph.nodes.size(), 2u);
  EXPECT_EQ(m.graph.nodes[0]->name, "mm");
  EXPECT_EQ(m.graph.nodes[1]->attr_float("unused", 0), 1.5f);
  EXPECT_EQ(m.default_opset(), 17);
  ASSERT_EQ(m.graph.inputs, std::vector<std::string>{"x"});
  const TensorType& xt = m.graph.value("x").type;
  ASSERT_EQ(xt.dims.size(), 2u);
  EXPECT_EQ(xt.dims[0].param, "N");
  EXPECT_EQ(xt.dims[1].value, 4);
  EXPECT_EQ(m.graph.value("w").initializer->data<float>()[15], 7.5f);
  const Tensor& q = *m.graph.value("q4").initializer;
  EXPECT_EQ(q.dtype(), DType::Int4);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(q.data<int8_t>()[i], i - 3);
}

TEST(ModelIo, ExternalDataIsWrittenAndRead) {
  std::string dir = temp_dir();
  std::string path = join_path(dir, "ext.onnx");
  SaveOptions opts;
  opts.external_data_threshold = 0;
  save_model(small_model(), path, opts);
  EXPECT_TRUE(file_exists(path + ".data"));
  Model m = load_model(path);
  EXPECT_EQ(m.graph.value("w").initializer->data<float>()[3], 1.5f);
  // A truncated data file is an error naming it, not a crash.
  std::string data = read_file(path + ".data");
  write_file_atomic(path + ".data", data.substr(0, data.size() / 2));
  try {
    load_model(path);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ext.onnx.data"), std::string::npos) << e.what();
  }
}

TEST(ModelIo, CorruptAndTruncatedFilesAreErrorsNamingTheFile) {
  std::string dir = temp_dir();
  std::string path = join_path(dir, "m.onnx");
  save_model(small_model(), path);
  std::string bytes = read_file(path);
  for (size_t cut : {size_t{0}, size_t{1}, bytes.size() / 3, bytes.size() / 2, bytes.size() - 1}) {
    try {
      load_model_from_bytes(bytes.substr(0, cut), "cut.onnx");
      ADD_FAILURE() << "no error for a file cut at " << cut;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("cut.onnx"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(load_model_from_bytes("this is a text file, not a model\n", "t.txt"), Error);
  EXPECT_THROW(load_model(join_path(dir, "absent.onnx")), Error);
  EXPECT_THROW(load_model(dir), Error);
}

TEST(ModelIo, SaveLeavesNoFileWhenItFails) {
  std::string dir = temp_dir();
  Model m = small_model();
  Node bad;
  bad.name = "bad";
  bad.op_type = "If";
  Attribute g;
  g.kind = Attribute::Kind::Graph;
  bad.attrs["then_branch"] = g;
  bad.inputs = {"x"};
  bad.outputs = {"y2"};
  m.graph.add_node(std::move(bad));
  std::string path = join_path(dir, "never.onnx");
  EXPECT_THROW(save_model(m, path), Error);
  EXPECT_FALSE(file_exists(path));
}

TEST(ModelIo, TensorPbRoundTrip) {
  std::string dir = temp_dir();
  Tensor t = Tensor::from_vector<int32_t>({2, 2}, {1, -2, 3, -4});
  save_tensor_pb(t, "t", join_path(dir, "t.pb"));
  std::string name;
  Tensor u = load_tensor_pb(join_path(dir, "t.pb"), &name);
  EXPECT_EQ(name, "t");
  EXPECT_EQ(u.shape(), t.shape());
  EXPECT_EQ(u.data<int32_t>()[3], -4);
}

}  // namespace
}  // namespace octet
