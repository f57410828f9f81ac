#include "passes/codebook_weights.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <set>

#include "ir/builder.h"
#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "quant/log_quant.h"
#include "runtime/executor.h"
#include "../test_util.h"
#include "zoo/zoo.h"
#include "../temp_dir.h"

namespace octet {
namespace {

std::string temp_dir() { return testing::make_temp_dir("octet_codebook_test"); }  // removed at exit

int64_t file_size(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return -1;
  return static_cast<int64_t>(st.st_size);
}

std::map<std::string, Tensor> run(const Model& m, const std::map<std::string, Tensor>& feeds) {
  return Executor(m).run(feeds);
}

void expect_same_outputs(const std::map<std::string, Tensor>& got,
                         const std::map<std::string, Tensor>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, t] : want) {
    ASSERT_TRUE(got.count(name)) << name;
    const Tensor& g = got.at(name);
    ASSERT_EQ(g.shape(), t.shape()) << name;
    for (int64_t i = 0; i < t.numel(); ++i)
      ASSERT_EQ(g.data<float>()[i], t.data<float>()[i]) << name << " element " << i;
  }
}

// The output-channel axis of weight `w` worked out here from its first consumer (independently of
// the pass): Conv 0, Gemm 0 with transB else 1, MatMul the last axis.
int64_t expected_axis(const Model& m, const std::string& w) {
  for (const auto& n : m.graph.nodes) {
    if (n->inputs.size() < 2 || n->inputs[1] != w) continue;
    if (n->op_type == "Conv") return 0;
    if (n->op_type == "Gemm") return n->attr_int("transB", 0) ? 0 : 1;
    if (n->op_type == "MatMul") return static_cast<int64_t>(m.graph.value(w).initializer->rank()) - 1;
  }
  ADD_FAILURE() << "no weight use of " << w;
  return -1;
}

// `original` with each rewritten weight replaced by the decoded codebook, computed here by calling
// the quantizer directly with the axis worked out above.
void substitute_decoded(Model& original, const CodebookReport& report, const CodebookOptions& opts) {
  for (const CodebookedWeight& r : report.weights) {
    Tensor& w = *original.graph.value(r.name).initializer;
    const int64_t axis = opts.per_channel ? expected_axis(original, r.name) : -1;
    EXPECT_EQ(r.axis, axis) << r.name;
    const quant::Codebook cb = opts.method == CodebookMethod::Pow2
                                   ? quant::pow2_codebook(w, opts.bits, axis, r.name)
                                   : quant::kmeans_codebook(w, opts.bits, axis, opts.seed, opts.max_iters, r.name);
    w = quant::decode(cb, w.shape());
  }
}

struct ZooCase {
  std::string model;
  CodebookMethod method;
  int bits;
  bool per_channel;
  bool allow_upgrade;
  std::string tag() const {
    return str_cat(model, "_", method == CodebookMethod::Pow2 ? "pow2" : "kmeans", "_", bits, "bit_",
                   per_channel ? "per_channel" : "per_tensor", allow_upgrade ? "" : "_no_upgrade");
  }
};

void PrintTo(const ZooCase& c, std::ostream* os) { *os << c.tag(); }

class CodebookZoo : public ::testing::TestWithParam<ZooCase> {};

TEST_P(CodebookZoo, SavedModelRunsAsTheDecodedWeights) {
  const ZooCase& c = GetParam();
  const uint32_t model_seed = 7, input_seed = 11;
  SCOPED_TRACE(::testing::Message() << c.tag() << " model seed " << model_seed << " input seed "
                                    << input_seed);
  CodebookOptions opts;
  opts.method = c.method;
  opts.bits = c.bits;
  opts.per_channel = c.per_channel;
  opts.allow_opset_upgrade = c.allow_upgrade;
  opts.seed = 3;

  Model m = zoo::make_model(c.model, model_seed);
  const int64_t opset_before = m.default_opset();
  const CodebookReport report = apply_codebook_weights(m, opts);
  ASSERT_FALSE(report.weights.empty());
  for (const auto& [name, why] : report.skipped) std::cout << "  kept " << name << ": " << why << "\n";

  const bool uint4 = c.bits <= 4 && c.allow_upgrade;  // every zoo model is opset 17..20
  EXPECT_EQ(report.opset_before, opset_before);
  EXPECT_EQ(report.opset_after, uint4 ? 21 : opset_before);
  EXPECT_EQ(m.default_opset(), report.opset_after);
  if (c.bits <= 4 && !c.allow_upgrade) {
    EXPECT_FALSE(report.opset_note.empty());
  }

  const std::string dir = temp_dir();
  const std::string path = join_path(dir, c.tag() + ".onnx");
  save_model(m, path);
  const Model reloaded = load_model(path);
  for (const CodebookedWeight& r : report.weights) {
    EXPECT_EQ(r.index_dtype, uint4 ? DType::UInt4 : DType::UInt8);
    EXPECT_FALSE(reloaded.graph.value(r.name).initializer.has_value()) << r.name;
    const Value* idx = reloaded.graph.find_value(r.name + "_cb_indices");
    ASSERT_TRUE(idx && idx->initializer) << r.name;
    EXPECT_EQ(idx->initializer->dtype(), r.index_dtype);
    EXPECT_EQ(idx->initializer->shape(), r.shape);
    const uint8_t* codes = idx->initializer->data<uint8_t>();
    for (int64_t i = 0; i < idx->initializer->numel(); ++i) ASSERT_LT(codes[i], 1 << c.bits);
    EXPECT_LT(r.codebook_bytes, r.float_bytes);
    EXPECT_GT(r.error.sqnr_db, 0.0);
  }

  Model original = zoo::make_model(c.model, model_seed);
  substitute_decoded(original, report, opts);
  const std::map<std::string, Tensor> feeds = {{"image", zoo::sample_input(2, input_seed)}};
  const auto got = run(reloaded, feeds);
  expect_same_outputs(got, run(original, feeds));

  // The float model, for the size comparison and onnxruntime's check (see the report).
  const std::string float_path = join_path(dir, c.model + "_float.onnx");
  save_model(zoo::make_model(c.model, model_seed), float_path);
  std::cout << "  " << c.tag() << ": " << report.weights.size() << " weights as codebooks, file "
            << file_size(float_path) << " -> " << file_size(path) << " bytes, opset "
            << report.opset_before << " -> " << report.opset_after << "\n";
  if (const char* export_dir = std::getenv("OCTET_CODEBOOK_EXPORT_DIR")) {
    save_model(reloaded, join_path(export_dir, c.tag() + ".onnx"));
    save_tensor_pb(feeds.at("image"), "image", join_path(export_dir, c.tag() + "_input.pb"));
    const std::string out_name = reloaded.graph.outputs.at(0);
    save_tensor_pb(got.at(out_name), out_name, join_path(export_dir, c.tag() + "_output.pb"));
  }
  std::remove(path.c_str());
  std::remove(float_path.c_str());
  rmdir(dir.c_str());
}

INSTANTIATE_TEST_SUITE_P(
    Zoo, CodebookZoo,
    ::testing::Values(ZooCase{"lenet", CodebookMethod::KMeans, 4, true, true},
                      ZooCase{"resnet8", CodebookMethod::KMeans, 4, true, true},
                      ZooCase{"lenet", CodebookMethod::KMeans, 8, true, true},
                      ZooCase{"resnet8", CodebookMethod::KMeans, 4, true, false},
                      ZooCase{"lenet", CodebookMethod::Pow2, 4, false, true},
                      ZooCase{"resnet8", CodebookMethod::Pow2, 3, true, true},
                      ZooCase{"mobilenetv2-tiny", CodebookMethod::KMeans, 4, true, true},
                      ZooCase{"vit-tiny", CodebookMethod::KMeans, 4, true, true}),
    [](const ::testing::TestParamInfo<ZooCase>& info) {
      std::string s = info.param.tag();
      for (char& ch : s)
        if (ch == '-') ch = '_';
      return s;
    });

TEST(CodebookWeights, LenetSelectsTheLargeWeights) {
  // LeNet's weights: conv1 [6,1,5,5] = 150 elements (below 256), conv2 2400, fc1 48000,
  // fc2 10080, fc3 840. Biases are not weight uses.
  Model m = zoo::make_model("lenet", 1);
  const CodebookReport r = apply_codebook_weights(m, CodebookOptions{});
  std::set<std::string> names;
  for (const auto& w : r.weights) names.insert(w.name);
  EXPECT_EQ(names, (std::set<std::string>{"conv2.weight", "fc1.weight", "fc2.weight", "fc3.weight"}));
  ASSERT_EQ(r.skipped.size(), 1u);
  EXPECT_EQ(r.skipped[0].first, "conv1.weight");
  // fc3 [10, 84], 4 bits per channel: 420 bytes of indices + 10 * 16 floats + 10 offsets.
  for (const auto& w : r.weights)
    if (w.name == "fc3.weight") {
      EXPECT_EQ(w.float_bytes, 3360);
      EXPECT_EQ(w.codebook_bytes, 420 + 640 + 40);
    }
}

// x [32,32] -> MatMul(W_shared) -> MatMul(W_shared) -> Gemm(W_t, transB=1) -> Gemm(W_n, transB=0)
// -> MatMul(W_mixed) -> Add(W_mixed) -> MatMul(W_skip) -> MatMul(W_small) ; W_out is also an output.
Model hand_model(int64_t opset) {
  GraphBuilder b("hand", opset);
  const std::string x = b.input("x", DType::Float32, {32, 32});
  const std::string clash = b.input("W_shared_cb_indices", DType::Float32, {1});
  auto w = [&](const std::string& name, Shape s, uint32_t seed) {
    return b.initializer(name, testing::random_float(s, seed));
  };
  std::string y = b.op("MatMul", {x, w("W_shared", {32, 32}, 1)});
  y = b.op("MatMul", {y, "W_shared"});
  y = b.op("Gemm", {y, w("W_t", {24, 32}, 2)}, {{"transB", GraphBuilder::i(1)}});  // [32,24]
  y = b.op("Gemm", {y, w("W_n", {24, 32}, 3)});                                    // [32,32]
  y = b.op("MatMul", {y, w("W_mixed", {32, 32}, 4)});
  y = b.op("Add", {y, "W_mixed"});
  y = b.op("MatMul", {y, w("W_skip", {32, 32}, 5)});
  y = b.op("MatMul", {y, w("W_small", {32, 4}, 6)});
  const std::string y2 = b.op("MatMul", {x, w("W_out", {32, 32}, 7)});
  b.output(y);
  b.output(y2);
  b.output("W_out");
  b.output(b.op("Identity", {clash}));
  return b.build();
}

TEST(CodebookWeights, HandGraphLayoutsAndSkips) {
  CodebookOptions opts;
  opts.skip = {"W_skip"};
  opts.seed = 9;
  Model m = hand_model(21);
  const CodebookReport r = apply_codebook_weights(m, opts);
  std::map<std::string, int64_t> axes;
  for (const auto& w : r.weights) {
    axes[w.name] = w.axis;
    EXPECT_EQ(w.index_dtype, DType::UInt4);
  }
  EXPECT_EQ(axes, (std::map<std::string, int64_t>{{"W_shared", 1}, {"W_t", 0}, {"W_n", 1}}));
  std::map<std::string, std::string> skipped(r.skipped.begin(), r.skipped.end());
  ASSERT_EQ(skipped.size(), 4u);
  EXPECT_NE(skipped["W_mixed"].find("Add"), std::string::npos) << skipped["W_mixed"];
  EXPECT_NE(skipped["W_skip"].find("skip list"), std::string::npos);
  EXPECT_NE(skipped["W_small"].find("128 elements"), std::string::npos) << skipped["W_small"];
  EXPECT_NE(skipped["W_out"].find("output"), std::string::npos);
  // The name taken by a graph input got a suffix; the per-channel offsets broadcast on the axis.
  ASSERT_TRUE(m.graph.find_value("W_shared_cb_indices_1"));
  EXPECT_EQ(m.graph.value("W_shared_cb_indices_1").initializer->dtype(), DType::UInt4);
  EXPECT_EQ(m.graph.value("W_n_cb_offsets").initializer->shape(), (Shape{1, 32}));
  EXPECT_EQ(m.graph.value("W_t_cb_offsets").initializer->shape(), (Shape{24, 1}));
  const int32_t* off = m.graph.value("W_t_cb_offsets").initializer->data<int32_t>();
  EXPECT_EQ(off[0], 0);
  EXPECT_EQ(off[23], 23 * 16);
  EXPECT_GE(m.ir_version, 10);  // UINT4 needs IR version 10

  const std::string dir = temp_dir();
  const std::string path = join_path(dir, "hand.onnx");
  save_model(m, path);
  const Model reloaded = load_model(path);
  Model original = hand_model(21);
  substitute_decoded(original, r, opts);
  const std::map<std::string, Tensor> feeds = {
      {"x", testing::random_float({32, 32}, 100)},
      {"W_shared_cb_indices", Tensor::from_vector<float>({1}, {0.5f})}};
  expect_same_outputs(run(reloaded, feeds), run(original, feeds));
  if (const char* export_dir = std::getenv("OCTET_CODEBOOK_EXPORT_DIR"))
    save_model(reloaded, join_path(export_dir, "hand.onnx"));
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

TEST(CodebookWeights, PerTensorHasNoOffsets) {
  CodebookOptions opts;
  opts.per_channel = false;
  opts.method = CodebookMethod::Pow2;
  Model m = hand_model(21);
  const CodebookReport r = apply_codebook_weights(m, opts);
  ASSERT_FALSE(r.weights.empty());
  for (const auto& w : r.weights) {
    EXPECT_EQ(w.axis, -1);
    EXPECT_FALSE(m.graph.find_value(w.name + "_cb_offsets"));
    EXPECT_EQ(m.graph.value(w.name + "_cb_codebook").initializer->numel(), 16);
  }
  Model original = hand_model(21);
  substitute_decoded(original, r, opts);
  const std::map<std::string, Tensor> feeds = {
      {"x", testing::random_float({32, 32}, 101)},
      {"W_shared_cb_indices", Tensor::from_vector<float>({1}, {0.5f})}};
  expect_same_outputs(run(m, feeds), run(original, feeds));
}

TEST(CodebookWeights, OpsetRaisedOnlyWhenSafe) {
  {
    Model m = hand_model(17);
    const int64_t ir = m.ir_version;
    const CodebookReport r = apply_codebook_weights(m, CodebookOptions{});
    EXPECT_EQ(r.opset_after, 21);
    EXPECT_EQ(m.default_opset(), 21);
    EXPECT_EQ(m.ir_version, std::max<int64_t>(ir, 10));
  }
  {
    Model m = hand_model(15);
    const CodebookReport r = apply_codebook_weights(m, CodebookOptions{});
    EXPECT_EQ(m.default_opset(), 15);
    EXPECT_NE(r.opset_note.find("below 17"), std::string::npos) << r.opset_note;
    for (const auto& w : r.weights) EXPECT_EQ(w.index_dtype, DType::UInt8);
  }
  {
    // ReduceMean with an `axes` attribute at opset 17 would be invalid at 21.
    GraphBuilder b("reduce", 17);
    const std::string x = b.input("x", DType::Float32, {4, 32});
    const std::string y = b.op("MatMul", {x, b.initializer("W", testing::random_float({32, 32}, 1))});
    b.output(b.op("ReduceMean", {y}, {{"axes", GraphBuilder::ints({1})}}, "mean"));
    Model m = b.build();
    const CodebookReport r = apply_codebook_weights(m, CodebookOptions{});
    EXPECT_EQ(m.default_opset(), 17);
    EXPECT_NE(r.opset_note.find("ReduceMean"), std::string::npos) << r.opset_note;
    ASSERT_EQ(r.weights.size(), 1u);
    EXPECT_EQ(r.weights[0].index_dtype, DType::UInt8);
    EXPECT_EQ(m.graph.value("W_cb_indices").initializer->dtype(), DType::UInt8);
  }
}

TEST(CodebookWeights, BadWeightOrOptionsLeaveTheModelUnchanged) {
  Model m = hand_model(21);
  m.graph.value("W_n").initializer->data<float>()[5] = NAN;
  const size_t nodes = m.graph.nodes.size();
  try {
    apply_codebook_weights(m, CodebookOptions{});
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("W_n"), std::string::npos) << e.what();
  }
  EXPECT_EQ(m.graph.nodes.size(), nodes);
  EXPECT_TRUE(m.graph.value("W_shared").initializer.has_value());
  EXPECT_EQ(m.default_opset(), 21);

  Model ok = hand_model(17);
  CodebookOptions o;
  o.bits = 9;
  EXPECT_THROW(apply_codebook_weights(ok, o), Error);
  o.bits = 1;
  o.method = CodebookMethod::Pow2;
  EXPECT_THROW(apply_codebook_weights(ok, o), Error);
  o = CodebookOptions{};
  o.op_types = {"ConvTranspose"};
  EXPECT_THROW(apply_codebook_weights(ok, o), Error);
  EXPECT_EQ(ok.default_opset(), 17);
  EXPECT_TRUE(ok.graph.value("W_shared").initializer.has_value());
}

TEST(CodebookWeights, PassWrapperReportsChange) {
  Model m = zoo::make_model("lenet", 2);
  PassManager pm;
  pm.add(std::make_unique<CodebookWeightsPass>(CodebookOptions{}));
  EXPECT_EQ(pm.run(m), (std::vector<std::string>{"codebook-weights"}));
  EXPECT_TRUE(pm.run(m).empty());  // nothing left to rewrite
}

}  // namespace
}  // namespace octet
