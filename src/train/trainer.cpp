#include "train/trainer.h"

#include <dlfcn.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <random>
#include <thread>
#include <sstream>

#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "train/torch_graph.h"

namespace octet::train {

namespace {

// Checkpoint layout in `dir`: epoch-NNNN.onnx (the graph with the weights after epoch NNNN),
// epoch-NNNN.optim (libtorch's serialized optimizer state), and state.txt, written last and
// atomically, naming the epoch whose files are complete. A crash between writes leaves state.txt
// pointing at the previous complete pair.
struct CheckpointState {
  int epoch = 0;
  uint32_t seed = 0;
  std::string optimizer;
  int64_t batch = 0;
};

std::string epoch_file(const std::string& dir, int epoch, const char* ext) {
  char name[64];
  std::snprintf(name, sizeof name, "epoch-%04d.%s", epoch, ext);
  return join_path(dir, name);
}

bool read_state(const std::string& dir, CheckpointState* st) {
  const std::string path = join_path(dir, "state.txt");
  if (!file_exists(path)) return false;
  std::istringstream in(read_file(path));
  std::string key;
  bool have_epoch = false;
  while (in >> key) {
    if (key == "epoch") have_epoch = static_cast<bool>(in >> st->epoch);
    else if (key == "seed") in >> st->seed;
    else if (key == "optimizer") in >> st->optimizer;
    else if (key == "batch") in >> st->batch;
    else throw Error(str_cat(path, ": unknown key '", key, "'"));
  }
  if (!have_epoch || st->epoch < 1) throw Error(str_cat(path, ": no valid 'epoch' line"));
  return true;
}

void write_checkpoint(const std::string& dir, int epoch, const Model& model, torch::optim::Optimizer& opt,
                      const TrainConfig& cfg, int previous_epoch) {
  save_model(model, epoch_file(dir, epoch, "onnx"));
  std::ostringstream optim_bytes;
  torch::serialize::OutputArchive archive;
  opt.save(archive);
  archive.save_to(optim_bytes);
  write_file_atomic(epoch_file(dir, epoch, "optim"), optim_bytes.str());
  write_file_atomic(join_path(dir, "state.txt"),
                    str_cat("epoch ", epoch, "\nseed ", cfg.seed, "\noptimizer ", cfg.optimizer, "\nbatch ",
                            cfg.batch, "\n"));
  if (previous_epoch > 0) {  // the older pair is no longer referenced
    std::remove(epoch_file(dir, previous_epoch, "onnx").c_str());
    std::remove(epoch_file(dir, previous_epoch, "optim").c_str());
  }
}

// Copies the float initializers of `from` into `to` (same graph, newer weights).
void copy_weights(const Model& from, Model& to) {
  for (const auto& name : from.graph.initializer_names()) {
    Value* v = to.graph.find_value(name);
    if (!v || !v->initializer || v->initializer->shape() != from.graph.value(name).initializer->shape() ||
        v->initializer->dtype() != from.graph.value(name).initializer->dtype())
      throw Error(str_cat("checkpoint initializer '", name, "' does not match the model being trained"));
    v->initializer = from.graph.value(name).initializer->clone();
  }
}

// Flips and shifts each sample of the [N,C,H,W] batch `x` as TrainConfig::flip and ::shift say.
torch::Tensor augment(const torch::Tensor& x, const TrainConfig& cfg, int epoch, int64_t step) {
  if (x.dim() != 4)
    throw Error(str_cat("augmentation needs image batches [N,C,H,W]; the samples are ", x.sizes()));
  std::mt19937_64 rng(cfg.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(epoch) * 1000003ull +
                      static_cast<uint64_t>(step));
  const int64_t s = cfg.shift, h = x.size(2), w = x.size(3);
  std::uniform_int_distribution<int64_t> offset(0, 2 * s);
  torch::Tensor padded = s > 0 ? torch::constant_pad_nd(x, {s, s, s, s}, 0.0) : x;
  std::vector<torch::Tensor> out;
  out.reserve(static_cast<size_t>(x.size(0)));
  for (int64_t i = 0; i < x.size(0); ++i) {
    const bool flip = cfg.flip && (rng() & 1);
    const int64_t dy = s > 0 ? offset(rng) : 0, dx = s > 0 ? offset(rng) : 0;
    torch::Tensor xi = padded[i].slice(1, dy, dy + h).slice(2, dx, dx + w);
    out.push_back(flip ? xi.flip({2}) : xi);
  }
  return torch::stack(out);
}

double evaluate(TorchGraph& g, const data::Dataset& set) {
  torch::NoGradGuard no_grad;
  const int64_t n = set.size(), batch = 256;
  int64_t correct = 0;
  for (int64_t start = 0; start < n; start += batch) {
    std::vector<int64_t> idx(static_cast<size_t>(std::min(batch, n - start)));
    std::iota(idx.begin(), idx.end(), start);
    data::Batch b = set.get(idx);
    torch::Tensor logits = g.forward_one(to_torch(b.inputs), /*training=*/false);
    torch::Tensor labels = to_torch(b.labels);
    correct += logits.argmax(1).eq(labels).sum().item<int64_t>();
  }
  return n ? static_cast<double>(correct) / static_cast<double>(n) : 0.0;
}

}  // namespace

TrainResult train_classifier(Model& model, const data::Dataset& train_set, const data::Dataset* eval,
                             const TrainConfig& cfg, const ProgressFn& progress) {
  if (cfg.epochs < 1) throw Error(str_cat("epochs must be at least 1, got ", cfg.epochs));
  if (cfg.batch < 1) throw Error(str_cat("batch size must be at least 1, got ", cfg.batch));
  if (!(cfg.lr > 0) || !std::isfinite(cfg.lr)) throw Error(str_cat("learning rate must be positive, got ", cfg.lr));
  if (cfg.shift < 0 || cfg.shift > 64) throw Error(str_cat("shift must be in 0..64 pixels, got ", cfg.shift));
  if (cfg.optimizer != "adam" && cfg.optimizer != "sgd")
    throw Error(str_cat("optimizer must be 'adam' or 'sgd', got '", cfg.optimizer, "'"));
  if (!train_set.labelled())
    throw Error(str_cat(train_set.name(), ": the data set has no labels; training needs labelled samples"));
  if (eval && !eval->labelled())
    throw Error(str_cat(eval->name(), ": the evaluation data set has no labels"));
  const auto t0 = std::chrono::steady_clock::now();
  torch::set_num_threads(cfg.threads > 0 ? cfg.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  // OpenBLAS (Debian's libopenblas0-pthread, which libtorch's BLAS calls resolve to) runs its own
  // thread pool that waits by spinning on sched_yield. libtorch already parallelises convolution
  // over the batch, and a BLAS pool inside those threads oversubscribes the cores: on a busy
  // 2-core machine a lenet epoch ran several times slower. OCTET_BLAS_THREADS=N overrides the 1.
  if (auto set_blas_threads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) {
    const char* env = std::getenv("OCTET_BLAS_THREADS");
    set_blas_threads(env ? std::max(1, std::atoi(env)) : 1);
  }
  torch::manual_seed(cfg.seed);

  int start_epoch = 1;
  CheckpointState st;
  const bool have_ckpt = !cfg.checkpoint_dir.empty() && cfg.resume && read_state(cfg.checkpoint_dir, &st);
  if (have_ckpt) {
    if (st.seed != cfg.seed || st.optimizer != cfg.optimizer || st.batch != cfg.batch)
      throw Error(str_cat(cfg.checkpoint_dir, ": checkpoint was made with seed ", st.seed, ", optimizer ",
                          st.optimizer, ", batch ", st.batch, "; resume with the same settings"));
    copy_weights(load_model(epoch_file(cfg.checkpoint_dir, st.epoch, "onnx")), model);
    start_epoch = st.epoch + 1;
  }
  if (!cfg.checkpoint_dir.empty() && !is_directory(cfg.checkpoint_dir))
    throw Error(str_cat(cfg.checkpoint_dir, ": checkpoint folder does not exist"));

  TorchGraph graph(model);
  std::vector<torch::Tensor> params = graph.parameters();
  if (params.empty()) throw Error("the model has no float initializers to train");
  std::unique_ptr<torch::optim::Optimizer> opt;
  if (cfg.optimizer == "adam")
    opt = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(cfg.lr).weight_decay(cfg.weight_decay));
  else
    opt = std::make_unique<torch::optim::SGD>(
        params, torch::optim::SGDOptions(cfg.lr).momentum(cfg.momentum).nesterov(cfg.momentum > 0).weight_decay(cfg.weight_decay));
  if (have_ckpt) {
    torch::serialize::InputArchive archive;
    std::istringstream in(read_file(epoch_file(cfg.checkpoint_dir, st.epoch, "optim")));
    try {
      archive.load_from(in);
      opt->load(archive);
    } catch (const c10::Error& e) {
      throw Error(str_cat(epoch_file(cfg.checkpoint_dir, st.epoch, "optim"), ": cannot read optimizer state"));
    }
  }

  const int64_t n = cfg.limit > 0 ? std::min(cfg.limit, train_set.size()) : train_set.size();
  if (n == 0) throw Error(str_cat(train_set.name(), ": the data set is empty"));
  const int64_t steps_per_epoch = (n + cfg.batch - 1) / cfg.batch;
  const int64_t total_steps = steps_per_epoch * cfg.epochs;
  const int64_t classes = train_set.num_classes();

  TrainResult result;
  int previous_epoch = have_ckpt ? st.epoch : 0;
  for (int epoch = start_epoch; epoch <= cfg.epochs; ++epoch) {
    // The order of an epoch depends only on (seed, epoch), so a resumed run sees the same data.
    std::vector<int64_t> order(static_cast<size_t>(train_set.size()));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(cfg.seed * 1000003ull + static_cast<uint64_t>(epoch));
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(static_cast<size_t>(n));

    TrainProgress p;
    p.epoch = epoch;
    p.steps_per_epoch = steps_per_epoch;
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t s = 0; s < steps_per_epoch; ++s) {
      const int64_t global_step = (epoch - 1) * steps_per_epoch + s;
      if (cfg.cosine) {
        const double lr = cfg.lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(global_step) / total_steps));
        for (auto& group : opt->param_groups()) group.options().set_lr(lr);
      }
      std::vector<int64_t> idx(order.begin() + s * cfg.batch,
                               order.begin() + std::min<int64_t>((s + 1) * cfg.batch, n));
      data::Batch b = train_set.get(idx);
      torch::Tensor x = to_torch(b.inputs), y = to_torch(b.labels);
      if (cfg.flip || cfg.shift > 0) x = augment(x, cfg, epoch, s);
      torch::Tensor logits = graph.forward_one(x, /*training=*/true);
      if (logits.dim() != 2 || logits.size(0) != x.size(0) || logits.size(1) != classes)
        throw Error(str_cat(model.source_path.empty() ? "model" : model.source_path, ": output has shape ",
                            logits.sizes(), " but the data set '", train_set.name(), "' needs [N,", classes, "]"));
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits, y);
      const double lv = loss.item<double>();
      if (!std::isfinite(lv))
        throw Error(str_cat("the loss became ", lv, " at epoch ", epoch, " step ", s + 1,
                            "; lower the learning rate (the last checkpoint, if any, is unchanged)"));
      opt->zero_grad();
      loss.backward();
      opt->step();
      loss_sum += lv * static_cast<double>(idx.size());
      correct += logits.argmax(1).eq(y).sum().item<int64_t>();
      seen += static_cast<int64_t>(idx.size());
      p.step = s + 1;
      p.loss = loss_sum / static_cast<double>(seen);
      p.accuracy = static_cast<double>(correct) / static_cast<double>(seen);
      if (progress) progress(p);
    }
    graph.write_back(model);
    if (eval) p.test_accuracy = evaluate(graph, *eval);
    p.epoch_done = true;
    if (progress) progress(p);
    if (!cfg.checkpoint_dir.empty()) {
      write_checkpoint(cfg.checkpoint_dir, epoch, model, *opt, cfg, previous_epoch);
      previous_epoch = epoch;
    }
    result.epochs_run++;
    result.final_loss = p.loss;
    result.final_train_accuracy = p.accuracy;
    result.final_test_accuracy = p.test_accuracy;
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace octet::train
