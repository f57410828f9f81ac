// octet eval MODEL --dataset SPEC [--batch 64] [--limit N] [--json] [--predictions FILE.npy] [--quiet]
// Top-1 and top-5 accuracy of a classifier on a labelled data set, on the engine (--reference: the
// reference executor);
// optionally the top-1 class of every sample, for comparing runtimes sample by sample.
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <iomanip>
#include <iostream>

#include "data/dataset.h"
#include "io/npy.h"
#include "ir/file_util.h"
#include "onnx/model_io.h"
#include "runtime/executor.h"
#include "runtime/shape_inference.h"
#include "tools/octet/classify.h"
#include "tools/octet/commands.h"
#include "tools/octet/progress.h"

namespace octet::cli {

namespace {

struct EvalArgs {
  std::string model;
  std::string dataset;
  int64_t batch = 64;
  bool batch_given = false;
  int64_t limit = -1;
  bool json = false;
  bool quiet = false;
  std::string predictions;  // .npy of int64 [n]: the top-1 class of each sample
  bool reference = false;
  int threads = 0;
};

int run_eval(const EvalArgs& a) {
  if (a.batch < 1 || a.batch > 65536) throw Error(str_cat("--batch ", a.batch, " must be in 1..65536"));
  if (a.threads < 0 || a.threads > 1024) throw Error(str_cat("--threads ", a.threads, " must be in 0..1024"));
  if (a.limit == 0 || a.limit < -1) throw Error(str_cat("--limit ", a.limit, " must be at least 1"));

  if (!a.predictions.empty() && !is_directory(dirname_of(a.predictions)))
    throw Error(str_cat(a.predictions, ": the folder for --predictions does not exist"));
  Model m = load_model(a.model);
  infer_shapes(m);
  auto ds = data::open_dataset(a.dataset);
  if (!ds->labelled())
    throw Error(str_cat(ds->name(), ": the data set has no labels; eval needs labelled samples"));
  ClassifyOptions opts;
  opts.batch = a.batch;
  opts.batch_given = a.batch_given;
  opts.limit = a.limit;
  opts.keep_predictions = !a.predictions.empty();
  opts.progress = !a.quiet;
  opts.reference = a.reference;
  opts.threads = a.threads;
  const ClassifyResult r = classify(m, a.model, *ds, opts);
  if (!a.predictions.empty()) save_npy(r.predictions, a.predictions);
  const int64_t n = r.samples, top1 = r.top1, top5 = r.top5, batch = r.batch, classes = ds->num_classes();
  const double seconds = r.seconds;
  const double acc1 = static_cast<double>(top1) / static_cast<double>(n);
  const double acc5 = static_cast<double>(top5) / static_cast<double>(n);
  if (a.json) {
    nlohmann::ordered_json j;
    j["top1"] = acc1;
    j["top5"] = acc5;
    j["samples"] = n;
    std::cout << j.dump() << "\n";
    return 0;
  }
  std::cout << "model:    " << a.model << "\n"
            << "data set: " << ds->name() << " (" << n << " of " << ds->size() << " samples, shape "
            << shape_str(ds->sample_shape()) << ", " << classes << " classes)\n"
            << std::fixed << std::setprecision(4) << "top-1:    " << acc1 << " (" << top1 << "/" << n << ")\n"
            << "top-5:    " << acc5 << " (" << top5 << "/" << n << ")" << (classes <= 5 ? " (<= 5 classes: always 1)" : "")
            << "\n"
            << std::setprecision(1) << "time:     " << seconds << " s (" << std::setprecision(0) << n / std::max(seconds, 1e-9)
            << " samples/s, batch " << batch << ")\n";
  return 0;
}

}  // namespace

void add_eval(CLI::App& app, Command& out) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* sub = app.add_subcommand("eval", "Top-1/top-5 accuracy of a classifier on a labelled data set");
  sub->add_option("model", args->model, "ONNX model: one input taking the data set's samples, one [N,C] output")
      ->required();
  sub->add_option("--dataset,-d", args->dataset,
                  "fashion-mnist[:train|:test] (test by default), npy:DIR or DIR (a folder of .npy samples)")
      ->required();
  CLI::Option* batch = sub->add_option("--batch,-b", args->batch, "Samples per executor run (default 64)");
  sub->add_option("--limit", args->limit, "Evaluate only the first N samples");
  sub->add_flag("--json", args->json, "Print only {\"top1\": ..., \"top5\": ..., \"samples\": ...} to stdout");
  sub->add_option("--predictions", args->predictions,
                  "Write the top-1 class of every sample to this .npy file (int64 [N], data set order)");
  sub->add_flag("--quiet,-q", args->quiet, "No progress line on stderr");
  sub->add_flag("--reference", args->reference,
                "Run on the reference executor (the model as written, Q/DQ simulated in float) instead of the engine");
  sub->add_option("--threads,-t", args->threads, "Engine threads (default: all cores)");
  sub->callback([args, batch, &out] {
    args->batch_given = batch->count() > 0;
    out = [args] { return run_eval(*args); };
  });
}

}  // namespace octet::cli
