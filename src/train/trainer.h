// Supervised training of an ONNX graph through the libtorch bridge: cross-entropy on the graph's
// [N, classes] output, SGD (momentum, Nesterov) or Adam, optional cosine learning-rate decay,
// checkpoints after every epoch that are written atomically and can be resumed, and the same
// result for the same seed (data order and initialisation are drawn from it; libtorch runs
// deterministic CPU kernels at a fixed thread count).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "data/dataset.h"
#include "ir/graph.h"

namespace octet::train {

struct TrainConfig {
  int epochs = 10;
  double lr = 1e-3;
  int64_t batch = 64;
  uint32_t seed = 1;
  std::string optimizer = "adam";  // "adam" or "sgd"
  double momentum = 0.9;           // sgd only
  double weight_decay = 0.0;
  bool cosine = true;              // cosine decay from lr to 0 over all steps
  int threads = 0;                 // libtorch intra-op threads; 0: all cores
  // Image augmentation of [N,C,H,W] training batches: each sample is flipped left-right with
  // probability 1/2 and shifted by up to `shift` pixels in each direction (zero fill); drawn from
  // (seed, epoch, step), so a resumed run sees the same augmented batches. 0 with no flip: off.
  bool flip = false;
  int64_t shift = 0;
  int64_t limit = 0;               // > 0: use only the first `limit` samples per epoch (smoke tests)
  std::string checkpoint_dir;      // empty: no checkpoints
  bool resume = false;             // continue from checkpoint_dir if it holds one
};

struct TrainProgress {
  int epoch = 0;           // 1-based
  int64_t step = 0;        // steps done in this epoch
  int64_t steps_per_epoch = 0;
  double loss = 0;         // running mean over the epoch so far
  double accuracy = 0;     // running top-1 over the epoch so far
  bool epoch_done = false;
  double test_accuracy = -1;  // set at epoch end when an evaluation set is given
};

using ProgressFn = std::function<void(const TrainProgress&)>;

struct TrainResult {
  int epochs_run = 0;       // in this call (after a resume, fewer than config.epochs)
  double final_loss = 0;
  double final_train_accuracy = 0;
  double final_test_accuracy = -1;
  double seconds = 0;       // wall time of this call
};

// Trains `model` in place (its float initializers are updated). `eval` (may be null) is scored
// with the graph in inference mode after every epoch. Throws Error when the data does not fit
// the model (output not [N, classes]), when the loss becomes NaN or infinite (naming the epoch
// and step; the last good checkpoint stays as it was), or for a checkpoint that does not match.
TrainResult train_classifier(Model& model, const data::Dataset& train_set, const data::Dataset* eval,
                             const TrainConfig& config, const ProgressFn& progress = {});

}  // namespace octet::train
