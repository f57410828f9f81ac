// `octet eval` end to end: runs the built binary on generated data sets and compares its accuracy
// with one computed here from the reference executor's outputs.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "io/npy.h"
#include "../temp_dir.h"
#include "ir/builder.h"
#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "runtime/executor.h"
#include "runtime/shape_inference.h"
#include "zoo/zoo.h"

namespace octet {
namespace {

const std::string kBinary = OCTET_BINARY_DIR "/octet";

std::string eval_temp_dir() { return testing::make_temp_dir("octet_eval_test"); }

struct CliResult {
  int status = -1;
  std::string out, err;
};

// Runs `octet <args>` with stdout and stderr captured (stderr is a file, so the progress bar
// prints its plain every-10% lines).
CliResult run_octet(const std::string& args, const std::string& env = "") {
  static std::string dir = eval_temp_dir();
  const std::string out = join_path(dir, "stdout"), err = join_path(dir, "stderr");
  const std::string cmd = env + " '" + kBinary + "' " + args + " > '" + out + "' 2> '" + err + "'";
  const int raw = std::system(cmd.c_str());
  CliResult r;
  r.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = read_file(out);
  r.err = read_file(err);
  return r;
}

void write_gz(const std::string& path, const std::string& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), int(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

void put_be32(std::string& s, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}

class EvalCli : public ::testing::Test {
 protected:
  static constexpr int64_t kImages = 20;

  void SetUp() override {
    if (!file_exists(kBinary)) GTEST_SKIP() << kBinary << " is not built (ninja octet)";
    dir_ = eval_temp_dir();
    model_path_ = join_path(dir_, "model.onnx");
    Model m = zoo::make_model("tiny-cnn", 1);
    infer_shapes(m);
    save_model(m, model_path_);

    // 20 random 28x28 images; the model's class ranking for each comes from the executor.
    const uint32_t seed = 4242;
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> dist(0, 255);
    pixels_.resize(kImages * 28 * 28);
    for (auto& p : pixels_) p = static_cast<uint8_t>(dist(rng));
    images_ = Tensor(DType::Float32, {kImages, 1, 28, 28});
    for (size_t i = 0; i < pixels_.size(); ++i) images_.data<float>()[i] = static_cast<float>(pixels_[i]) / 255.f;
    Model loaded = load_model(model_path_);
    infer_shapes(loaded);
    Executor exec(loaded);
    Tensor scores = exec.run({{loaded.graph.inputs[0], images_}}).at(loaded.graph.outputs[0]);
    ASSERT_EQ(scores.shape(), Shape({kImages, 10}));
    // Label image i with the class the model ranks (i % 7)-th, so top-1 and top-5 are known and
    // neither 0 nor 1.
    for (int64_t i = 0; i < kImages; ++i) {
      std::vector<int> order(10);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
        return scores.data<float>()[i * 10 + a] > scores.data<float>()[i * 10 + b];
      });
      labels_.push_back(order[static_cast<size_t>(i % 7)]);
      scores_.push_back(std::vector<float>(scores.data<float>() + i * 10, scores.data<float>() + i * 10 + 10));
    }
    SCOPED_TRACE("seed " + std::to_string(seed));
  }

  // Accuracy of the first n samples computed here: a label is top-k if fewer than k classes score
  // strictly higher.
  std::pair<double, double> expected_accuracy(int64_t n) const {
    int64_t top1 = 0, top5 = 0;
    for (int64_t i = 0; i < n; ++i) {
      const float s = scores_[i][static_cast<size_t>(labels_[i])];
      const auto higher = std::count_if(scores_[i].begin(), scores_[i].end(), [&](float v) { return v > s; });
      top1 += higher < 1;
      top5 += higher < 5;
    }
    return {double(top1) / double(n), double(top5) / double(n)};
  }

  std::string write_fashion_dir() const {
    std::string fm = join_path(dir_, "fashion");
    if (!is_directory(fm)) {
      EXPECT_EQ(::mkdir(fm.c_str(), 0755), 0);
      std::string img, lab;
      put_be32(img, 0x803);
      put_be32(img, kImages);
      put_be32(img, 28);
      put_be32(img, 28);
      img.append(pixels_.begin(), pixels_.end());
      put_be32(lab, 0x801);
      put_be32(lab, kImages);
      for (int64_t l : labels_) lab.push_back(static_cast<char>(l));
      write_gz(join_path(fm, "t10k-images-idx3-ubyte.gz"), img);
      write_gz(join_path(fm, "t10k-labels-idx1-ubyte.gz"), lab);
    }
    return fm;
  }

  // inputs.npy + labels.npy; classes.txt declares the class count (default: the 10 of the model), since
  // otherwise it would be inferred from the largest label.
  std::string write_npy_dir(const std::string& name, const Tensor& inputs,
                            const std::string& classes = "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n") const {
    std::string d = join_path(dir_, name);
    EXPECT_EQ(::mkdir(d.c_str(), 0755), 0);
    save_npy(inputs, join_path(d, "inputs.npy"));
    save_npy(Tensor::from_vector<int64_t>({inputs.dim(0)}, std::vector<int64_t>(labels_.begin(), labels_.begin() + inputs.dim(0))),
             join_path(d, "labels.npy"));
    write_file_atomic(join_path(d, "classes.txt"), classes);
    return d;
  }

  std::string dir_, model_path_;
  std::vector<uint8_t> pixels_;
  Tensor images_;
  std::vector<int64_t> labels_;
  std::vector<std::vector<float>> scores_;
};

TEST_F(EvalCli, JsonAccuracyMatchesTheExecutorOnFashionMnistFiles) {
  const std::string env = "OCTET_FASHION_MNIST_DIR='" + write_fashion_dir() + "'";
  CliResult r = run_octet("eval '" + model_path_ + "' --dataset fashion-mnist:test --batch 7 --json", env);
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  ASSERT_EQ(j.size(), 3u) << r.out;
  auto [top1, top5] = expected_accuracy(kImages);
  EXPECT_DOUBLE_EQ(top1, 3.0 / 20);  // ranks 0..6 repeat: ranks 0 at i = 0, 7, 14
  EXPECT_DOUBLE_EQ(top5, 15.0 / 20);
  EXPECT_DOUBLE_EQ(j.at("top1").get<double>(), top1) << r.out;
  EXPECT_DOUBLE_EQ(j.at("top5").get<double>(), top5) << r.out;
  EXPECT_EQ(j.at("samples").get<int64_t>(), kImages);
  EXPECT_EQ(r.out.rfind("{\"top1\":", 0), 0u) << r.out;  // keys in the documented order
  // stderr is not a terminal: plain progress lines, the last one complete.
  EXPECT_NE(r.err.find("eval: 7/20 35%"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("eval: 20/20 100%"), std::string::npos) << r.err;

  // --limit takes the first N samples; a batch of 64 covers them in one run.
  r = run_octet("eval '" + model_path_ + "' --dataset fashion-mnist --limit 13 --json", env);
  ASSERT_EQ(r.status, 0) << r.err;
  j = nlohmann::json::parse(r.out);
  auto [top1_13, top5_13] = expected_accuracy(13);
  EXPECT_DOUBLE_EQ(j.at("top1").get<double>(), top1_13);
  EXPECT_DOUBLE_EQ(j.at("top5").get<double>(), top5_13);
  EXPECT_EQ(j.at("samples").get<int64_t>(), 13);

  r = run_octet("eval '" + model_path_ + "' --dataset fashion-mnist --quiet", env);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("top-1:    0.1500 (3/20)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("top-5:    0.7500 (15/20)"), std::string::npos) << r.out;
  EXPECT_EQ(r.err, "");
}

TEST_F(EvalCli, NpyFolderGivesTheSameAccuracy) {
  std::string d = write_npy_dir("npy", images_);
  CliResult r = run_octet("eval '" + model_path_ + "' --dataset 'npy:" + d + "' --batch 3 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_DOUBLE_EQ(j.at("top1").get<double>(), 3.0 / 20);
  EXPECT_DOUBLE_EQ(j.at("top5").get<double>(), 15.0 / 20);
}

TEST_F(EvalCli, FixedBatchModelsPadTheLastBatch) {
  Model m = zoo::make_model("tiny-cnn", 1);
  m.graph.value(m.graph.inputs[0]).type.dims[0] = Dim::known(8);  // 20 = 8 + 8 + 4 (padded)
  infer_shapes(m);
  const std::string path = join_path(dir_, "fixed.onnx");
  save_model(m, path);
  std::string d = write_npy_dir("npy_fixed", images_);
  CliResult r = run_octet("eval '" + path + "' --dataset '" + d + "' --batch 5 --json");
  ASSERT_EQ(r.status, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_DOUBLE_EQ(j.at("top1").get<double>(), 3.0 / 20);
  EXPECT_DOUBLE_EQ(j.at("top5").get<double>(), 15.0 / 20);
  EXPECT_NE(r.err.find("fixed batch of 8"), std::string::npos) << r.err;
}

TEST_F(EvalCli, RejectsModelsThatDoNotFitTheDataSet) {
  // 12 classes in the data set, 10 scores from the model.
  std::string d12 = write_npy_dir("npy12", images_, "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n");
  CliResult r = run_octet("eval '" + model_path_ + "' --dataset '" + d12 + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(model_path_), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[N,10]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("12 classes"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("classes.txt"), std::string::npos) << r.err;  // the hint for npy folders
  EXPECT_EQ(r.out, "");

  // 14x14 samples for a 28x28 model.
  std::string small = write_npy_dir("npy_small", Tensor(DType::Float32, {kImages, 1, 14, 14}));
  r = run_octet("eval '" + model_path_ + "' --dataset '" + small + "' --json");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find(model_path_), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("FLOAT[N,1,28,28]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[1,14,14]"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");

  // Two inputs.
  {
    GraphBuilder b("two", 17);
    std::string x = b.input("x", DType::Float32, {-1, 10});
    std::string y = b.input("y", DType::Float32, {-1, 10});
    b.output(b.op("Add", {x, y}));
    Model m = b.build();
    save_model(m, join_path(dir_, "two.onnx"));
  }
  r = run_octet("eval '" + join_path(dir_, "two.onnx") + "' --dataset '" + d12 + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("two.onnx: eval needs a model with one input and one output; it has 2 inputs"),
            std::string::npos) << r.err;

  // NaN scores: Flatten -> Gemm whose weight for class 4 is NaN.
  {
    GraphBuilder b("nan", 17);
    std::string x = b.input("image", DType::Float32, {-1, 1, 28, 28});
    std::string f = b.op("Flatten", {x}, {{"axis", GraphBuilder::i(1)}});
    Tensor w(DType::Float32, {10, 784});
    w.data<float>()[4 * 784 + 100] = std::nanf("");
    std::string s = b.op("Gemm", {f, b.initializer("w", w)}, {{"transB", GraphBuilder::i(1)}});
    b.output(b.op("Identity", {s}, {}, "scores"));
    Model m = b.build();
    infer_shapes(m);
    save_model(m, join_path(dir_, "nan.onnx"));
  }
  std::string d10 = write_npy_dir("npy10", images_);
  r = run_octet("eval '" + join_path(dir_, "nan.onnx") + "' --dataset '" + d10 + "' --json");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("nan.onnx: output 'scores_out'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("NaN for sample 0 (class 4)"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");

  // Bad arguments and data sets.
  r = run_octet("eval '" + model_path_ + "' --dataset '" + d10 + "' --batch 0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--batch 0"), std::string::npos) << r.err;
  r = run_octet("eval '" + model_path_ + "' --dataset '" + d10 + "' --limit 0");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("--limit 0"), std::string::npos) << r.err;
  r = run_octet("eval '" + model_path_ + "' --dataset '" + join_path(dir_, "nothing") + "'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("nothing"), std::string::npos) << r.err;
}

TEST_F(EvalCli, PredictionsFileHoldsTheTopClassOfEverySample) {
  const std::string d10 = write_npy_dir("npy_pred", images_);
  const std::string pred = join_path(dir_, "pred.npy");
  CliResult r = run_octet("eval '" + model_path_ + "' --dataset '" + d10 + "' --json --predictions '" + pred + "'");
  ASSERT_EQ(r.status, 0) << r.err;
  const Tensor p = load_npy(pred);
  ASSERT_EQ(p.dtype(), DType::Int64);
  ASSERT_EQ(p.shape(), Shape({kImages}));
  for (int64_t i = 0; i < kImages; ++i) {
    const auto& sc = scores_[static_cast<size_t>(i)];
    EXPECT_EQ(p.data<int64_t>()[i], std::max_element(sc.begin(), sc.end()) - sc.begin()) << "sample " << i;
  }
  r = run_octet("eval '" + model_path_ + "' --dataset '" + d10 + "' --predictions '/nonexistent/dir/p.npy'");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("/nonexistent/dir/p.npy"), std::string::npos) << r.err;
}

// `octet train` (built with -DOCTET_TRAIN=ON) on the same small data: bad data, models that do
// not fit, and a missing checkpoint folder are clear errors that write nothing.
TEST_F(EvalCli, TrainRejectsBadDataAndModelsWithoutWritingOutput) {
  if (run_octet("--help").out.find("Train an ONNX classifier") == std::string::npos)
    GTEST_SKIP() << "octet was built without OCTET_TRAIN (no train command)";
  const std::string d10 = write_npy_dir("train10", images_);
  const std::string out = join_path(dir_, "trained.onnx");
  const std::string common = " --eval none --epochs 1 --batch 8 --quiet -o '" + out + "'";
  CliResult r = run_octet("train '" + model_path_ + "' --dataset '" + d10 + "'" + common);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(file_exists(out));
  std::filesystem::remove(out);

  r = run_octet("train '" + model_path_ + "' --dataset '" + join_path(dir_, "no_such_data") + "'" + common);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("no_such_data"), std::string::npos) << r.err;

  const std::string d12 = write_npy_dir("train12", images_, "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\nl\n");
  r = run_octet("train '" + model_path_ + "' --dataset '" + d12 + "'" + common);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("[N,12]"), std::string::npos) << r.err;

  // Image and label counts that disagree.
  const std::string bad = join_path(dir_, "train_counts");
  ASSERT_EQ(::mkdir(bad.c_str(), 0755), 0);
  save_npy(images_, join_path(bad, "inputs.npy"));
  save_npy(Tensor::from_vector<int64_t>({3}, {1, 2, 3}), join_path(bad, "labels.npy"));
  r = run_octet("train '" + model_path_ + "' --dataset '" + bad + "'" + common);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("train_counts"), std::string::npos) << r.err;

  r = run_octet("train '" + model_path_ + "' --dataset '" + d10 + "' --checkpoint-dir '" + join_path(dir_, "nockpt") + "'" +
                common);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("checkpoint folder does not exist"), std::string::npos) << r.err;

  r = run_octet("train '" + model_path_ + "' --dataset '" + d10 + "' --lr 1e30 --optimizer sgd" + common);
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.err.find("loss became"), std::string::npos) << r.err;
  EXPECT_FALSE(file_exists(out)) << "a failed run must not write the model";
}

}  // namespace
}  // namespace octet
