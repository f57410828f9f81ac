// How the tools run a model: on the engine by default (a Q/DQ model is lowered first, so its
// quantized layers run on the integer kernels), or on the reference executor with --reference
// (the model exactly as written, Q/DQ simulated in float: the oracle).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "runtime/engine.h"
#include "runtime/executor.h"

namespace octet::cli {

struct RunnerOptions {
  bool reference = false;
  int threads = 0;       // engine threads, <= 0 all cores
  bool profile = false;  // engine per-layer timing
  bool onednn = true;    // FP32 convolutions on oneDNN where built with it (EngineOptions::onednn)
  int64_t micro_batch = 0;  // EngineOptions::micro_batch: 0 automatic, > 0 samples per part, < 0 off
  bool batch_parallel = true;  // EngineOptions::batch_parallel: parts of a split batch run concurrently
  bool adaptive_threads = true;  // EngineOptions::adaptive_threads: one thread where that is faster
};

class ModelRunner {
 public:
  // `model` must have shapes inferred and outlive the runner.
  ModelRunner(const Model& model, const RunnerOptions& options);
  std::map<std::string, Tensor> run(const std::map<std::string, Tensor>& feeds, const RunOptions& options = {});
  Engine* engine() { return engine_.get(); }
  // Q/DQ patterns that stay in float on the engine ("node 'x' (Conv): why"); empty on --reference.
  const std::vector<std::string>& left_in_float() const { return left_in_float_; }
  // One line for stderr saying which runner and, for Q/DQ models, what was lowered.
  std::string describe() const { return description_; }

 private:
  Model lowered_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Executor> executor_;
  std::vector<std::string> left_in_float_;
  std::string description_;
};

// Prints the warning listing Q/DQ patterns the engine runs in float (nothing when none).
void warn_left_in_float(const ModelRunner& runner);

}  // namespace octet::cli
