#include "zoo/zoo.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <set>

#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "runtime/executor.h"
#include "runtime/shape_inference.h"
#include "../temp_dir.h"

namespace octet {
namespace {

// What each training model must be, worked out by hand from its layer list (see the counts in
// src/zoo/zoo_<model>.cpp): trainable parameters (PyTorch's count: weights, biases, BN and LN
// scale/bias, position embedding), BatchNormalization running-statistic elements, and
// multiply-accumulates per image (Conv, Gemm and MatMul only).
struct Expected {
  std::string name;
  int64_t opset;
  int64_t trainable;
  int64_t bn_stats;
  int64_t macs;
};

const std::vector<Expected>& training_models() {
  static const std::vector<Expected> models = {
      // conv1 156, conv2 2416, fc1 48120, fc2 10164, fc3 850
      {"lenet", 17, 61706, 0, 117600 + 240000 + 48000 + 10080 + 840},
      // stem 144+32, stage1 4672, stage2 14528, stage3 57728, fc 650; BN channels 336
      {"resnet8", 17, 77754, 2 * 336, 112896 + 3612672 + 2809856 + 2809856 + 640},
      // stem 176, blocks 3440+5904+6688+9920+12000, head 6400, fc 1290; BN channels 1328
      {"mobilenetv2-tiny", 17, 45818, 2 * 1328,
       112896 + 1216768 + 1072512 + 644448 + 457856 + 558208 + 301056 + 1280},
      // patch 1088, pos 3136, 3 blocks x 33472, norm 128, head 650
      {"vit-tiny", 20, 105418, 0, 50176 + 3 * 1912960 + 640},
  };
  return models;
}

std::string temp_dir() { return testing::make_temp_dir("octet_zoo_test"); }  // removed at exit

Tensor run_model(const Model& m, const Tensor& input) {
  Executor ex(m);
  auto out = ex.run({{"image", input}});
  EXPECT_EQ(out.size(), 1u);
  return out.at(m.graph.outputs.at(0));
}

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() &&
         std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// Initializers that hold BatchNormalization running statistics (inputs 3 and 4).
std::set<std::string> bn_stat_names(const Model& m) {
  std::set<std::string> names;
  for (const auto& n : m.graph.nodes)
    if (n->op_type == "BatchNormalization") {
      names.insert(n->inputs.at(3));
      names.insert(n->inputs.at(4));
    }
  return names;
}

int64_t per_image(const TensorType& t) {
  int64_t n = 1;
  for (const Dim& d : t.dims)
    if (d.is_known()) n *= d.value;
  return n;
}

// Multiply-accumulates per image from the inferred shapes (the batch dim is symbolic).
int64_t count_macs(const Model& m) {
  int64_t macs = 0;
  for (const auto& n : m.graph.nodes) {
    const TensorType& out = m.graph.value(n->outputs[0]).type;
    if (n->op_type == "Conv") {
      const Shape& w = m.graph.value(n->inputs[1]).initializer->shape();
      macs += per_image(out) * w[1] * w[2] * w[3];
    } else if (n->op_type == "MatMul" || n->op_type == "Gemm") {
      const TensorType& a = m.graph.value(n->inputs[0]).type;
      macs += per_image(out) * a.dims.back().value;  // Gemm here never transposes A
    }
  }
  return macs;
}

TEST(Zoo, ListsEveryModelAndRejectsUnknownNames) {
  std::vector<std::string> want = {"tiny-cnn", "lenet", "resnet8", "mobilenetv2-tiny", "vit-tiny"};
  EXPECT_EQ(zoo::model_names(), want);
  try {
    zoo::make_model("resnet9", 1);
    ADD_FAILURE() << "no error for an unknown model";
  } catch (const Error& e) {
    for (const auto& name : want) EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
  }
}

TEST(Zoo, TinyCnnIsTheShippedModel) {
  // models/tiny-cnn/model.onnx was written by `octet zoo tiny-cnn` with seed 1: the zoo must still
  // make exactly that model.
  Model shipped = load_model(join_path(OCTET_SOURCE_DIR, "models/tiny-cnn/model.onnx"));
  Model made = zoo::make_model("tiny-cnn", 1);
  EXPECT_EQ(made.graph.outputs, std::vector<std::string>{"softmax_out"});
  ASSERT_EQ(made.graph.nodes.size(), shipped.graph.nodes.size());
  for (size_t i = 0; i < made.graph.nodes.size(); ++i) {
    EXPECT_EQ(made.graph.nodes[i]->op_type, shipped.graph.nodes[i]->op_type);
    EXPECT_EQ(made.graph.nodes[i]->inputs, shipped.graph.nodes[i]->inputs);
  }
  std::vector<std::string> names = made.graph.initializer_names();
  ASSERT_EQ(names, shipped.graph.initializer_names());
  for (const auto& name : names)
    EXPECT_TRUE(same_bytes(*made.graph.value(name).initializer, *shipped.graph.value(name).initializer)) << name;
}

class ZooModel : public ::testing::TestWithParam<Expected> {};

TEST_P(ZooModel, InputOutputContractAndShapes) {
  const Expected& e = GetParam();
  Model m = zoo::make_model(e.name, 1);
  EXPECT_EQ(m.default_opset(), e.opset);
  ASSERT_EQ(m.graph.inputs, std::vector<std::string>{"image"});
  ASSERT_EQ(m.graph.outputs, std::vector<std::string>{"logits"});
  EXPECT_EQ(m.graph.value("image").type.str(), "FLOAT[N,1,28,28]");
  infer_shapes(m);
  EXPECT_EQ(m.graph.value("logits").type.str(), "FLOAT[N,10]");
  for (const auto& n : m.graph.nodes) {
    if (n->outputs[0] == "logits") {
      EXPECT_EQ(n->op_type, "Gemm") << "logits must be raw class scores";
    }
    if (n->op_type == "Constant") continue;
    // Every intermediate keeps the symbolic batch: a Reshape with a fixed batch would lose it.
    const TensorType& t = m.graph.value(n->outputs[0]).type;
    ASSERT_TRUE(t.has_shape && !t.dims.empty()) << n->name << ": " << t.str();
    EXPECT_EQ(t.dims[0].param, "N") << n->name << " output " << t.str();
  }
}

TEST_P(ZooModel, NormalisesTheInputInsideTheGraph) {
  Model m = zoo::make_model(GetParam().name, 1);
  std::vector<const Node*> readers;
  for (const auto& n : m.graph.nodes)
    for (const auto& in : n->inputs)
      if (in == "image") readers.push_back(n.get());
  ASSERT_EQ(readers.size(), 1u);
  const Node& sub = *readers[0];
  ASSERT_EQ(sub.op_type, "Sub");
  const Node* mean = nullptr;
  const Node* div = nullptr;
  for (const auto& n : m.graph.nodes) {
    if (n->outputs[0] == sub.inputs[1]) mean = n.get();
    if (n->op_type == "Div" && n->inputs[0] == sub.outputs[0]) div = n.get();
  }
  ASSERT_TRUE(mean && mean->op_type == "Constant");
  EXPECT_FLOAT_EQ(mean->attr_tensor("value").data<float>()[0], 0.2860f);
  ASSERT_TRUE(div);
  for (const auto& n : m.graph.nodes)
    if (n->outputs[0] == div->inputs[1]) {
      EXPECT_FLOAT_EQ(n->attr_tensor("value").data<float>()[0], 0.3530f);
    }
}

TEST_P(ZooModel, ParameterAndComputeCounts) {
  const Expected& e = GetParam();
  Model m = zoo::make_model(e.name, 1);
  std::set<std::string> stats = bn_stat_names(m);
  int64_t trainable = 0, bn = 0;
  for (const auto& name : m.graph.initializer_names()) {
    const Tensor& t = *m.graph.value(name).initializer;
    if (t.dtype() != DType::Float32) continue;
    (stats.count(name) ? bn : trainable) += t.numel();
  }
  EXPECT_EQ(trainable, e.trainable);
  EXPECT_EQ(bn, e.bn_stats);
  infer_shapes(m);
  int64_t macs = count_macs(m);
  EXPECT_EQ(macs, e.macs);
  std::printf("[ zoo      ] %-17s %7lld trainable parameters, %4lld BN statistics, %.2f MMAC/image\n",
              e.name.c_str(), static_cast<long long>(trainable), static_cast<long long>(bn), macs / 1e6);
}

TEST_P(ZooModel, InitialisationFollowsTheContract) {
  Model m = zoo::make_model(GetParam().name, 1);
  auto init = [&](const std::string& name) -> const Tensor& {
    const Value& v = m.graph.value(name);
    if (!v.initializer) throw std::runtime_error(name + " is not an initializer");
    return *v.initializer;
  };
  auto expect_all = [&](const std::string& name, float want) {
    const Tensor& t = init(name);
    for (int64_t i = 0; i < t.numel(); ++i) ASSERT_EQ(t.data<float>()[i], want) << name << "[" << i << "]";
  };
  // He-normal: the sample standard deviation of every weight with enough elements to estimate it.
  auto expect_he = [&](const std::string& name, int64_t fan_in) {
    const Tensor& t = init(name);
    double sum = 0, sq = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      sum += t.data<float>()[i];
      sq += double(t.data<float>()[i]) * t.data<float>()[i];
    }
    double n = double(t.numel()), mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
    double want = std::sqrt(2.0 / double(fan_in));
    double tol = want * 4.0 / std::sqrt(2.0 * n);  // ~4 standard errors of a sample std
    EXPECT_NEAR(sd, want, tol) << name << " (" << t.numel() << " values, fan_in " << fan_in << ")";
    EXPECT_NEAR(mean, 0.0, want * 4.0 / std::sqrt(n)) << name;
  };
  int checked = 0;
  for (const auto& n : m.graph.nodes) {
    if (n->op_type == "BatchNormalization") {
      expect_all(n->inputs[1], 1.f);
      expect_all(n->inputs[2], 0.f);
      expect_all(n->inputs[3], 0.f);
      expect_all(n->inputs[4], 1.f);
    } else if (n->op_type == "LayerNormalization") {
      expect_all(n->inputs[1], 1.f);
      expect_all(n->inputs[2], 0.f);
    } else if (n->op_type == "Conv") {
      const Shape& w = init(n->inputs[1]).shape();
      expect_he(n->inputs[1], w[1] * w[2] * w[3]);
      ++checked;
    } else if (n->op_type == "Gemm") {
      EXPECT_EQ(n->attr_int("transB", 0), 1);
      expect_he(n->inputs[1], init(n->inputs[1]).shape()[1]);
      ++checked;
    } else if (n->op_type == "MatMul" && m.graph.value(n->inputs[1]).initializer) {
      expect_he(n->inputs[1], init(n->inputs[1]).shape()[0]);
      ++checked;
    }
  }
  EXPECT_GE(checked, 5);
}

TEST_P(ZooModel, SeedsGiveReproducibleWeights) {
  const std::string& name = GetParam().name;
  Model a = zoo::make_model(name, 7), b = zoo::make_model(name, 7), c = zoo::make_model(name, 8);
  std::vector<std::string> names = a.graph.initializer_names();
  ASSERT_EQ(names, b.graph.initializer_names());
  ASSERT_EQ(names, c.graph.initializer_names());
  int differ = 0, random_tensors = 0;
  for (const auto& n : names) {
    const Tensor& ta = *a.graph.value(n).initializer;
    EXPECT_TRUE(same_bytes(ta, *b.graph.value(n).initializer)) << n;
    bool constant_init = ta.dtype() != DType::Float32;
    if (!constant_init) {
      float first = ta.data<float>()[0];
      constant_init = true;
      for (int64_t i = 1; i < ta.numel() && constant_init; ++i) constant_init = ta.data<float>()[i] == first;
      if (ta.numel() == 1) constant_init = false;
    }
    if (constant_init) continue;  // BN/LN statistics and scales, shapes: the same for every seed
    ++random_tensors;
    if (!same_bytes(ta, *c.graph.value(n).initializer)) ++differ;
  }
  EXPECT_GT(random_tensors, 0);
  EXPECT_EQ(differ, random_tensors) << "every random tensor must change with the seed";
}

TEST_P(ZooModel, RunsOnTheExecutorWithAnyBatch) {
  const Expected& e = GetParam();
  Model m = zoo::make_model(e.name, 1);
  Tensor x = zoo::sample_input(3, 1001);
  auto t0 = std::chrono::steady_clock::now();
  Tensor y = run_model(m, x);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(y.dtype(), DType::Float32);
  ASSERT_EQ(y.shape(), (Shape{3, 10}));
  double spread = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(y.data<float>()[i])) << "logit " << i;
    spread = std::max(spread, std::fabs(double(y.data<float>()[i]) - y.data<float>()[0]));
  }
  EXPECT_GT(spread, 1e-3) << "logits do not depend on the class or the image";
  std::printf("[ zoo      ] %-17s reference executor: %.1f ms/image (batch 3)\n", e.name.c_str(), ms / 3);
  // Each image of the batch alone gives its own row: nothing mixes samples across the batch.
  for (int64_t i = 0; i < 3; ++i) {
    Tensor one(DType::Float32, {1, 1, 28, 28});
    std::memcpy(one.raw(), x.data<float>() + i * 784, 784 * sizeof(float));
    Tensor yi = run_model(m, one);
    ASSERT_EQ(yi.shape(), (Shape{1, 10}));
    for (int64_t j = 0; j < 10; ++j)
      EXPECT_NEAR(yi.data<float>()[j], y.data<float>()[i * 10 + j], 1e-4 * (1 + std::fabs(y.data<float>()[i * 10 + j])))
          << "image " << i << " class " << j;
  }
}

TEST_P(ZooModel, SaveAndReloadGivesIdenticalOutputs) {
  const Expected& e = GetParam();
  Model m = zoo::make_model(e.name, 3);
  infer_shapes(m);
  std::string path = join_path(temp_dir(), "model.onnx");
  save_model(m, path);
  Model back = load_model(path);
  EXPECT_EQ(back.default_opset(), e.opset);
  ASSERT_EQ(back.graph.outputs, std::vector<std::string>{"logits"});
  Tensor x = zoo::sample_input(2, 5);
  EXPECT_TRUE(same_bytes(run_model(m, x), run_model(back, x)));
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(Models, ZooModel, ::testing::ValuesIn(training_models()),
                         [](const ::testing::TestParamInfo<Expected>& info) {
                           std::string s = info.param.name;
                           for (char& c : s)
                             if (c == '-') c = '_';
                           return s;
                         });

}  // namespace
}  // namespace octet
