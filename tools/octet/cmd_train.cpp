// octet train MODEL --dataset SPEC -o OUT.onnx [...]: trains an ONNX classifier (or a zoo model,
// "zoo:NAME") with libtorch and writes the trained graph. Part of the octet-train program only
// (train_main.cpp; `octet train` execs it, see commands.h).
#include <unistd.h>

#include <cstdio>
#include <iomanip>
#include <iostream>
#include <sstream>

#include "data/dataset.h"
#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "runtime/shape_inference.h"
#include "tools/octet/commands.h"
#include "tools/octet/progress.h"
#include "train/trainer.h"
#include "zoo/zoo.h"

namespace octet::cli {

namespace {

struct TrainArgs {
  std::string model;
  std::string dataset = "fashion-mnist:train";
  std::string eval = "fashion-mnist:test";
  std::string output;
  train::TrainConfig cfg;
  bool no_cosine = false;
  bool quiet = false;
};

std::string percent(double v) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(2) << 100.0 * v << "%";
  return os.str();
}

int run_train(TrainArgs& a) {
  a.cfg.cosine = !a.no_cosine;
  Model model;
  if (a.model.rfind("zoo:", 0) == 0) {
    model = zoo::make_model(a.model.substr(4), a.cfg.seed);
  } else {
    model = load_model(a.model);
  }
  infer_shapes(model);
  if (model.graph.inputs.size() != 1 || model.graph.outputs.size() != 1)
    throw Error(str_cat(a.model, ": training needs a model with one input and one output, it has ",
                        model.graph.inputs.size(), " and ", model.graph.outputs.size()));
  if (!a.output.empty() && !is_directory(dirname_of(a.output)))
    throw Error(str_cat(a.output, ": the output folder does not exist"));
  auto train_set = data::open_dataset(a.dataset);
  std::unique_ptr<data::Dataset> eval_set;
  if (!a.eval.empty() && a.eval != "none") eval_set = data::open_dataset(a.eval);

  std::unique_ptr<ProgressBar> bar;
  const bool terminal = ::isatty(STDERR_FILENO);
  auto on_progress = [&](const train::TrainProgress& p) {
    if (a.quiet) return;
    if (!bar) {
      bar = std::make_unique<ProgressBar>(str_cat("epoch ", p.epoch, "/", a.cfg.epochs), p.steps_per_epoch, "steps",
                                          std::cerr, terminal);
    }
    bar->set_note(str_cat("loss ", std::fixed, std::setprecision(4), p.loss, " acc ", percent(p.accuracy)));
    bar->update(p.step);
    if (p.epoch_done) {
      bar->finish();
      bar.reset();
      std::cerr << "epoch " << p.epoch << "/" << a.cfg.epochs << ": loss " << std::fixed << std::setprecision(4)
                << p.loss << ", train accuracy " << percent(p.accuracy);
      if (p.test_accuracy >= 0) std::cerr << ", test accuracy " << percent(p.test_accuracy);
      std::cerr << "\n";
    }
  };
  train::TrainResult r = train::train_classifier(model, *train_set, eval_set.get(), a.cfg, on_progress);
  if (!a.output.empty()) save_model(model, a.output);
  std::cout << "trained " << r.epochs_run << " epochs in " << std::fixed << std::setprecision(1) << r.seconds
            << " s: loss " << std::setprecision(4) << r.final_loss << ", train accuracy "
            << percent(r.final_train_accuracy);
  if (r.final_test_accuracy >= 0) std::cout << ", test accuracy " << percent(r.final_test_accuracy);
  std::cout << "\n";
  if (!a.output.empty()) std::cout << "wrote " << a.output << "\n";
  return 0;
}

}  // namespace

void add_train_options(CLI::App& app, Command& out) {
  auto a = std::make_shared<TrainArgs>();
  app.add_option("model", a->model, "ONNX model file, or zoo:NAME for a model defined in octet")->required();
  app.add_option("--dataset", a->dataset, "Training data (default fashion-mnist:train)");
  app.add_option("--eval", a->eval, "Data scored after each epoch (default fashion-mnist:test; 'none' to skip)");
  app.add_option("-o,--output", a->output, "Where to write the trained model");
  app.add_option("--epochs", a->cfg.epochs, "Epochs (default 10)");
  app.add_option("--lr", a->cfg.lr, "Learning rate (default 1e-3)");
  app.add_option("--batch", a->cfg.batch, "Batch size (default 64)");
  app.add_option("--seed", a->cfg.seed, "Seed for initial weights (zoo models) and data order (default 1)");
  app.add_option("--optimizer", a->cfg.optimizer, "adam (default) or sgd")->check(CLI::IsMember({"adam", "sgd"}));
  app.add_option("--momentum", a->cfg.momentum, "SGD momentum, Nesterov (default 0.9)");
  app.add_option("--weight-decay", a->cfg.weight_decay, "L2 weight decay (default 0)");
  app.add_flag("--no-cosine", a->no_cosine, "Keep the learning rate constant instead of cosine decay");
  app.add_flag("--flip", a->cfg.flip, "Augment: flip each training image left-right with probability 1/2");
  app.add_option("--shift", a->cfg.shift, "Augment: shift each training image by up to this many pixels (default 0)");
  app.add_option("--threads", a->cfg.threads, "libtorch threads (default: all cores)");
  app.add_option("--limit", a->cfg.limit, "Use only this many training samples per epoch (smoke tests)");
  app.add_option("--checkpoint-dir", a->cfg.checkpoint_dir, "Existing folder for per-epoch checkpoints");
  app.add_flag("--resume", a->cfg.resume, "Continue from the checkpoint in --checkpoint-dir");
  app.add_flag("--quiet,-q", a->quiet, "No progress output");
  app.final_callback([a, &out] { out = [a] { return run_train(*a); }; });
}

}  // namespace octet::cli
