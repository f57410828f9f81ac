// octet bench MODEL [--batch N] [--threads T] [--warmup W] [--iterations I] [--min-seconds S]
//                   [--profile] [--reference] [--json]
// Latency and throughput of a model on the engine (or the reference executor), on random input;
// --profile adds a per-layer table: time, share, precision, kernel and fused nodes.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <random>

#include "onnx/model_io.h"
#include "runtime/shape_inference.h"
#include "tools/octet/commands.h"
#include "tools/octet/runner.h"

namespace octet::cli {

namespace {

struct BenchArgs {
  std::string model;
  int64_t batch = 1;
  int threads = 0;
  bool fixed_threads = false;
  int64_t warmup = 5;
  int64_t iterations = 0;  // 0: as many as fit in min_seconds (at least 10)
  double min_seconds = 2.0;
  bool profile = false;
  bool reference = false;
  bool no_onednn = false;
  int64_t micro_batch = 0;
  bool no_batch_parallel = false;
  bool json = false;
  uint32_t seed = 1;
};

// A random feed for every graph input: unknown or symbolic first dims become the batch; floats
// uniform in [0, 1), integers 0.
std::map<std::string, Tensor> random_feeds(const Model& m, int64_t batch, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  std::map<std::string, Tensor> feeds;
  for (const auto& name : m.graph.inputs) {
    const TensorType& t = m.graph.value(name).type;
    if (!t.has_shape) throw Error(str_cat("input '", name, "' has no known rank; bench needs input shapes"));
    Shape s;
    for (size_t d = 0; d < t.dims.size(); ++d) {
      if (t.dims[d].is_known()) s.push_back(t.dims[d].value);
      else if (d == 0) s.push_back(batch);
      else throw Error(str_cat("input '", name, "' has an unknown dimension ", d, " (", t.str(), "); bench needs it known"));
    }
    Tensor x(t.dtype == DType::Undefined ? DType::Float32 : t.dtype, s);
    if (x.dtype() == DType::Float32)
      for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
    feeds[name] = std::move(x);
  }
  return feeds;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double pos = p / 100.0 * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - static_cast<double>(lo));
}

int run_bench(const BenchArgs& a) {
  if (a.batch < 1 || a.batch > 65536) throw Error(str_cat("--batch ", a.batch, " must be in 1..65536"));
  if (a.threads < 0 || a.threads > 1024) throw Error(str_cat("--threads ", a.threads, " must be in 0..1024"));
  if (a.warmup < 0 || a.iterations < 0 || !(a.min_seconds >= 0))
    throw Error("--warmup, --iterations and --min-seconds must not be negative");
  Model m = load_model(a.model);
  infer_shapes(m);
  RunnerOptions ro;
  ro.reference = a.reference;
  ro.threads = a.threads;
  ro.profile = a.profile;
  ro.onednn = !a.no_onednn;
  ro.micro_batch = a.micro_batch;
  ro.batch_parallel = !a.no_batch_parallel;
  ro.adaptive_threads = !a.fixed_threads;
  ModelRunner runner(m, ro);
  warn_left_in_float(runner);
  const auto feeds = random_feeds(m, a.batch, a.seed);

  using Clock = std::chrono::steady_clock;
  for (int64_t i = 0; i < a.warmup; ++i) runner.run(feeds);
  if (runner.engine()) runner.engine()->reset_profile();
  const int64_t one0 = runner.engine() ? runner.engine()->one_thread_runs() : 0;
  std::vector<double> ms;
  const auto start = Clock::now();
  for (int64_t i = 0;; ++i) {
    if (a.iterations > 0 ? i >= a.iterations
                         : (i >= 10 && std::chrono::duration<double>(Clock::now() - start).count() >= a.min_seconds))
      break;
    const auto t0 = Clock::now();
    runner.run(feeds);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const double mean = std::accumulate(ms.begin(), ms.end(), 0.0) / static_cast<double>(ms.size());
  // Timed runs that the engine gave one thread (EngineOptions::adaptive_threads).
  const int64_t one_runs = runner.engine() ? runner.engine()->one_thread_runs() - one0 : 0;
  const double throughput = static_cast<double>(a.batch) * 1000.0 / mean;
  const std::vector<EngineLayer> layers = runner.engine() && a.profile ? runner.engine()->layers() : std::vector<EngineLayer>{};
  double layer_total = 0;
  for (const auto& l : layers) layer_total += l.total_ms;

  const Engine::BatchPlan plan = runner.engine() ? runner.engine()->batch_plan(a.batch) : Engine::BatchPlan{a.batch, 1, false};
  if (a.json) {
    nlohmann::ordered_json j;
    j["model"] = a.model;
    j["runner"] = a.reference ? "reference" : "engine";
    j["threads"] = runner.engine() ? runner.engine()->threads() : 1;
    j["batch_part"] = plan.part;
    j["batch_parts_concurrent"] = plan.concurrent;
    j["one_thread_runs"] = one_runs;
    j["batch"] = a.batch;
    j["iterations"] = ms.size();
    j["latency_ms"] = {{"mean", mean}, {"p50", percentile(ms, 50)}, {"p90", percentile(ms, 90)},
                       {"p99", percentile(ms, 99)}, {"min", *std::min_element(ms.begin(), ms.end())}};
    j["throughput_per_s"] = throughput;
    if (!layers.empty()) {
      nlohmann::ordered_json arr = nlohmann::ordered_json::array();
      for (const auto& l : layers)
        arr.push_back({{"node", l.node}, {"op", l.op_type}, {"kernel", l.kernel}, {"precision", l.precision},
                       {"fused", l.fused}, {"ms", l.calls ? l.total_ms / static_cast<double>(l.calls) : 0.0},
                       {"share", layer_total > 0 ? l.total_ms / layer_total : 0.0}});
      j["layers"] = arr;
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  const std::string parts =
      plan.part < a.batch ? str_cat(" (run in ", plan.parts, " parts of up to ", plan.part, " samples",
                                    plan.concurrent ? ", one per thread at a time)" : ", one after another)")
                          : "";
  const std::string adaptive =
      one_runs > 0 ? str_cat(" (", one_runs, " of ", ms.size(), " timed runs on one thread: adaptive threads)") : "";
  std::cout << "model:      " << a.model << "\n"
            << "runner:     " << runner.describe() << adaptive << "\n"
            << "batch:      " << a.batch << parts << ", " << ms.size() << " timed runs after " << a.warmup
            << " warm-up\n"
            << std::fixed << std::setprecision(3) << "latency ms: mean " << mean << "  p50 " << percentile(ms, 50)
            << "  p90 " << percentile(ms, 90) << "  p99 " << percentile(ms, 99) << "  min "
            << *std::min_element(ms.begin(), ms.end()) << "\n"
            << std::setprecision(1) << "throughput: " << throughput << " samples/s\n";
  if (!layers.empty()) {
    int kernel_w = 36;  // wide enough for every kernel name, with a space after it
    for (const auto& l : layers) kernel_w = std::max(kernel_w, static_cast<int>(l.kernel.size()) + 1);
    std::cout << "\n" << std::left << std::setw(28) << "layer" << std::setw(20) << "op" << std::setw(kernel_w) << "kernel"
              << std::setw(10) << "precision" << std::right << std::setw(10) << "ms" << std::setw(8) << "share"
              << "  fused\n";
    for (const auto& l : layers) {
      std::string fused;
      for (const auto& f : l.fused) fused += (fused.empty() ? "" : ",") + f;
      std::cout << std::left << std::setw(28) << l.node.substr(0, 27) << std::setw(20) << l.op_type.substr(0, 19)
                << std::setw(kernel_w) << l.kernel << std::setw(10) << l.precision << std::right << std::setw(10)
                << std::setprecision(4) << (l.calls ? l.total_ms / static_cast<double>(l.calls) : 0.0)
                << std::setw(7) << std::setprecision(1) << (layer_total > 0 ? 100.0 * l.total_ms / layer_total : 0.0)
                << "%  " << fused << "\n";
    }
  }
  return 0;
}

}  // namespace

void add_bench(CLI::App& app, Command& out) {
  auto args = std::make_shared<BenchArgs>();
  CLI::App* sub = app.add_subcommand("bench", "Latency and throughput of a model on the engine, with a per-layer profile");
  sub->add_option("model", args->model, "ONNX model file")->required();
  sub->add_option("--batch,-b", args->batch, "Batch size for inputs whose first dim is not fixed (default 1)");
  sub->add_option("--threads,-t", args->threads, "Engine threads (default: all cores)");
  sub->add_option("--warmup", args->warmup, "Untimed runs first (default 5)");
  sub->add_option("--iterations,-n", args->iterations, "Timed runs (default: as many as fit in --min-seconds, at least 10)");
  sub->add_option("--min-seconds", args->min_seconds, "Time budget when --iterations is not given (default 2)");
  sub->add_flag("--profile", args->profile, "Per-layer table: time, share, precision, kernel, fused nodes");
  sub->add_flag("--reference", args->reference, "Run on the reference executor (the model as written)");
  sub->add_flag("--no-onednn", args->no_onednn, "FP32 convolutions on octet's own kernels, not oneDNN's");
  sub->add_flag("--fixed-threads", args->fixed_threads,
                "Every run on all --threads (default: a run of the whole batch takes one thread where the engine "
                "has measured that to be faster)");
  sub->add_option("--micro-batch", args->micro_batch,
                  "Samples per pass when the engine splits a batch (0: sized to the caches, the default; -1: never split)");
  sub->add_flag("--no-batch-parallel", args->no_batch_parallel,
               "Run the parts of a split batch one after another, each layer split across the threads "
               "(default: one part per thread at a time)");
  sub->add_flag("--json", args->json, "Print the results as JSON");
  sub->add_option("--seed", args->seed, "Seed of the random input (default 1)");
  sub->callback([args, &out] { out = [args] { return run_bench(*args); }; });
}

}  // namespace octet::cli
