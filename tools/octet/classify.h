// Scoring a classifier on a labelled data set, on the engine (or the reference executor): shared by `octet eval`
// and `octet quantize` (FP32 against INT8 accuracy, --compare-methods).
#pragma once

#include <cstdint>
#include <string>

#include "data/dataset.h"
#include "ir/graph.h"

namespace octet::cli {

struct ClassifyOptions {
  int64_t batch = 64;
  bool batch_given = false;  // --batch was given (a fixed-batch model overrides it with a note)
  int64_t limit = -1;        // > 0: only the first `limit` samples
  bool keep_predictions = false;
  bool progress = true;      // progress bar on stderr
  std::string label = "eval";
  bool reference = false;  // reference executor instead of the engine
  int threads = 0;         // engine threads (<= 0: all cores)
};

struct ClassifyResult {
  int64_t samples = 0;
  int64_t top1 = 0, top5 = 0;  // correct counts
  int64_t batch = 0;           // batch size used
  double seconds = 0;
  Tensor predictions;  // int64 [samples], top-1 class (first of equal maxima); if keep_predictions
  double top1_rate() const { return samples ? static_cast<double>(top1) / static_cast<double>(samples) : 0; }
  double top5_rate() const { return samples ? static_cast<double>(top5) / static_cast<double>(samples) : 0; }
};

// `model` must have shapes inferred. Errors (naming `model_path`, the input/output and the data
// set): unlabelled data, not one input and one output, an input that does not take the samples,
// an output that is not [N, classes], NaN scores.
ClassifyResult classify(const Model& model, const std::string& model_path, const data::Dataset& ds,
                        const ClassifyOptions& options);

}  // namespace octet::cli
