// train_classifier end to end on a small generated problem: the same seed gives the same model, a
// run interrupted after an epoch and resumed equals an uninterrupted one, a loss that turns NaN
// leaves the last checkpoint untouched, and models or settings that do not fit are clear errors.
#include "train/trainer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "ir/builder.h"
#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "runtime/shape_inference.h"

namespace octet::train {
namespace {

using B = GraphBuilder;
namespace fs = std::filesystem;

struct Interrupt {};  // thrown from a progress callback to stop a run midway, like a kill

// A folder removed at the end of the test.
struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/octet_trainer_test_XXXXXX";
    const char* d = mkdtemp(tmpl);
    if (!d) throw std::runtime_error("mkdtemp failed");
    path = d;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string sub(const std::string& name) const {
    const std::string p = join_path(path, name);
    fs::create_directory(p);
    return p;
  }
};

// 10 classes of 8x8 single-channel images: class c is a bright bar at row c % 8 (columns for
// c >= 8) plus noise, so a small CNN learns it in a few epochs.
data::InMemoryDataset bars(int64_t n, uint32_t seed, bool with_nan = false) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> noise(0.f, 0.3f);
  Tensor x(DType::Float32, {n, 1, 8, 8});
  std::vector<int64_t> labels(static_cast<size_t>(n));
  float* p = x.data<float>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = i % 10;
    labels[static_cast<size_t>(i)] = c;
    for (int64_t r = 0; r < 8; ++r)
      for (int64_t k = 0; k < 8; ++k) {
        const bool on = c < 8 ? r == c : k == (c - 8) * 4 + 2;
        p[i * 64 + r * 8 + k] = (on ? 0.7f : 0.f) + noise(rng);
      }
  }
  if (with_nan) p[5] = std::nanf("");
  std::vector<std::string> names;
  for (int c = 0; c < 10; ++c) names.push_back(std::to_string(c));
  return data::InMemoryDataset("bars", std::move(x), std::move(labels), std::move(names));
}

// Conv 3x3 -> BatchNormalization (running statistics are buffers that a resume must restore)
// -> Relu -> Flatten -> Gemm to `classes` outputs.
Model small_cnn(uint32_t seed, int64_t classes = 10) {
  B b("small_cnn", 17);
  const std::string x = b.input("image", DType::Float32, {-1, 1, 8, 8});
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.f, 0.3f);
  auto rnd = [&](const Shape& s) {
    Tensor t(DType::Float32, s);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = dist(rng);
    return t;
  };
  b.initializer("conv.w", rnd({4, 1, 3, 3}));
  b.initializer("bn.scale", Tensor::from_vector<float>({4}, {1.f, 1.f, 1.f, 1.f}));
  b.initializer("bn.bias", Tensor(DType::Float32, {4}));
  b.initializer("bn.mean", Tensor(DType::Float32, {4}));
  b.initializer("bn.var", Tensor::from_vector<float>({4}, {1.f, 1.f, 1.f, 1.f}));
  b.initializer("fc.w", rnd({classes, 4 * 8 * 8}));
  b.initializer("fc.b", Tensor(DType::Float32, {classes}));
  std::string y = b.op("Conv", {x, "conv.w"}, {{"pads", B::ints({1, 1, 1, 1})}});
  y = b.op("BatchNormalization", {y, "bn.scale", "bn.bias", "bn.mean", "bn.var"});
  y = b.op("Flatten", {b.op("Relu", {y})});
  b.output(b.op("Gemm", {y, "fc.w", "fc.b"}, {{"transB", B::i(1)}}, "logits"));
  Model m = b.build();
  infer_shapes(m);
  return m;
}

TrainConfig config(int epochs) {
  TrainConfig c;
  c.epochs = epochs;
  c.lr = 0.01;
  c.batch = 16;
  c.seed = 7;
  c.threads = 1;
  return c;
}

// Every initializer, bit for bit.
void expect_same_weights(const Model& a, const Model& b) {
  const auto names = a.graph.initializer_names();
  ASSERT_EQ(names, b.graph.initializer_names());
  for (const auto& n : names) {
    const Tensor& x = *a.graph.value(n).initializer;
    const Tensor& y = *b.graph.value(n).initializer;
    ASSERT_EQ(x.shape(), y.shape()) << n;
    ASSERT_EQ(0, std::memcmp(x.raw(), y.raw(), x.nbytes())) << "initializer " << n << " differs";
  }
}

bool same_weights(const Model& a, const Model& b) {
  for (const auto& n : a.graph.initializer_names()) {
    const Tensor& x = *a.graph.value(n).initializer;
    const Tensor& y = *b.graph.value(n).initializer;
    if (std::memcmp(x.raw(), y.raw(), x.nbytes()) != 0) return false;
  }
  return true;
}

TEST(Trainer, LearnsTheProblemAndTheSameSeedGivesTheSameModel) {
  const auto train = bars(200, 1), test = bars(100, 2);
  Model a = small_cnn(3), b = small_cnn(3), c = small_cnn(3);
  const TrainResult ra = train_classifier(a, train, &test, config(3));
  EXPECT_EQ(ra.epochs_run, 3);
  EXPECT_GT(ra.final_test_accuracy, 0.9) << "the bars problem should be learnt in three epochs";
  train_classifier(b, train, &test, config(3));
  expect_same_weights(a, b);
  TrainConfig other = config(3);
  other.seed = 8;  // another data order
  train_classifier(c, train, &test, other);
  EXPECT_FALSE(same_weights(a, c)) << "a different seed should shuffle the data differently";
}

TEST(Trainer, AugmentationIsSeededAndChangesTraining) {
  const auto train = bars(100, 1), test = bars(100, 2);
  // Left-right flips keep the bars problem learnable (row bars stay, column bars move to columns
  // no other class uses); shifts do not (a row bar shifted by one looks like the next class), so
  // they are checked for determinism only.
  TrainConfig flip = config(6);
  flip.flip = true;
  Model f = small_cnn(3);
  EXPECT_GT(train_classifier(f, train, &test, flip).final_test_accuracy, 0.8);
  TrainConfig aug = config(2);
  aug.flip = true;
  aug.shift = 1;
  Model a = small_cnn(3), b = small_cnn(3), plain = small_cnn(3);
  train_classifier(a, train, &test, aug);
  train_classifier(b, train, &test, aug);
  expect_same_weights(a, b);
  train_classifier(plain, train, &test, config(2));
  EXPECT_FALSE(same_weights(a, plain)) << "flips and shifts should change what the model sees";
}

TEST(Trainer, AResumedRunEqualsAnUninterruptedOne) {
  for (const std::string optimizer : {"adam", "sgd"}) {
    SCOPED_TRACE(optimizer);
    TempDir tmp;
    const auto train = bars(100, 1);
    TrainConfig cfg = config(3);
    cfg.optimizer = optimizer;
    cfg.flip = true;
    cfg.shift = 1;

    Model whole = small_cnn(3);
    cfg.checkpoint_dir = tmp.sub("whole");
    train_classifier(whole, train, nullptr, cfg);

    // The second run is stopped at the first step of epoch 2, after epoch 1's checkpoint.
    Model first = small_cnn(3);
    cfg.checkpoint_dir = tmp.sub("interrupted");
    EXPECT_THROW(train_classifier(first, train, nullptr, cfg,
                                  [](const TrainProgress& p) {
                                    if (p.epoch == 2) throw Interrupt{};
                                  }),
                 Interrupt);
    EXPECT_TRUE(file_exists(join_path(cfg.checkpoint_dir, "epoch-0001.onnx")));
    EXPECT_TRUE(file_exists(join_path(cfg.checkpoint_dir, "epoch-0001.optim")));

    // Resumed on the untrained model, as `octet train --resume` does.
    Model resumed = small_cnn(3);
    cfg.resume = true;
    const TrainResult r = train_classifier(resumed, train, nullptr, cfg);
    EXPECT_EQ(r.epochs_run, 2);
    expect_same_weights(whole, resumed);
    // Only the newest checkpoint is kept.
    EXPECT_FALSE(file_exists(join_path(cfg.checkpoint_dir, "epoch-0001.onnx")));
    expect_same_weights(whole, load_model(join_path(cfg.checkpoint_dir, "epoch-0003.onnx")));
  }
}

TEST(Trainer, ANanLossIsAnErrorAndLeavesTheLastCheckpointIntact) {
  TempDir tmp;
  TrainConfig cfg = config(2);
  cfg.checkpoint_dir = tmp.sub("ckpt");
  Model m = small_cnn(3);
  EXPECT_THROW(train_classifier(m, bars(64, 1), nullptr, cfg,
                                [](const TrainProgress& p) {
                                  if (p.epoch == 2) throw Interrupt{};
                                }),
               Interrupt);
  auto snapshot = [&] {
    std::map<std::string, std::string> files;
    for (const auto& e : fs::directory_iterator(cfg.checkpoint_dir))
      files[e.path().filename().string()] = read_file(e.path().string());
    return files;
  };
  const auto before = snapshot();
  ASSERT_EQ(before.size(), 3u);  // epoch-0001.onnx, epoch-0001.optim, state.txt

  // Epoch 2 meets a NaN pixel: the loss is NaN at its first step.
  cfg.resume = true;
  Model resumed = small_cnn(3);
  try {
    train_classifier(resumed, bars(64, 1, /*with_nan=*/true), nullptr, cfg);
    ADD_FAILURE() << "a NaN loss must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("loss became nan at epoch 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(snapshot(), before) << "the checkpoint folder changed";
}

TEST(Trainer, RejectsModelsAndSettingsThatDoNotFit) {
  const auto train = bars(32, 1);
  auto expect_error = [](const std::function<void()>& f, const std::string& fragment) {
    try {
      f();
      ADD_FAILURE() << "no error; expected one mentioning " << fragment;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    }
  };
  expect_error([&] {
    Model m = small_cnn(3, /*classes=*/5);
    train_classifier(m, train, nullptr, config(1));
  }, "needs [N,10]");
  expect_error([&] {
    Model m = small_cnn(3);
    TrainConfig c = config(1);
    c.checkpoint_dir = "/nonexistent/octet-checkpoints";
    train_classifier(m, train, nullptr, c);
  }, "checkpoint folder does not exist");
  expect_error([&] {
    Model m = small_cnn(3);
    TrainConfig c = config(1);
    c.optimizer = "rmsprop";
    train_classifier(m, train, nullptr, c);
  }, "optimizer must be");
  expect_error([&] {
    Model m = small_cnn(3);
    TrainConfig c = config(0);
    train_classifier(m, train, nullptr, c);
  }, "epochs must be at least 1");
  expect_error([&] {
    // Augmentation of samples that are not images.
    B g("flat", 17);
    const std::string x = g.input("x", DType::Float32, {-1, 64});
    g.initializer("w", Tensor(DType::Float32, {10, 64}));
    g.output(g.op("Gemm", {x, "w"}, {{"transB", B::i(1)}}, "logits"));
    Model m = g.build();
    Tensor flat(DType::Float32, {20, 64});
    std::vector<int64_t> labels(20, 3);
    std::vector<std::string> names;
    for (int c = 0; c < 10; ++c) names.push_back(std::to_string(c));
    data::InMemoryDataset vectors("vectors", std::move(flat), labels, names);
    TrainConfig c = config(1);
    c.flip = true;
    train_classifier(m, vectors, nullptr, c);
  }, "augmentation needs image batches");

  // Resuming with other settings than the checkpoint's.
  TempDir tmp;
  TrainConfig c = config(1);
  c.checkpoint_dir = tmp.sub("ckpt");
  Model m = small_cnn(3);
  train_classifier(m, train, nullptr, c);
  c.epochs = 2;
  c.resume = true;
  c.batch = 8;
  expect_error([&] {
    Model again = small_cnn(3);
    train_classifier(again, train, nullptr, c);
  }, "resume with the same settings");
}

}  // namespace
}  // namespace octet::train
