// Calibration: runs a float model over calibration batches on the engine (runtime/engine.h) and
// feeds the values of every requested tensor to calibrators, one per (tensor, method), so that
// several methods are calibrated from a single pass over the data (octet quantize
// --compare-methods). Each tensor is observed as soon as the engine computes it: its range and
// finiteness are taken once (finite_batch) for all its calibrators, on the engine's threads. A
// tensor that only reorders or reshapes another (a Transpose's output) is observed as that other
// one, whose elements are the same, so that the engine may fold the data movement away.
//
// Memory: the calibrators are fixed-size (calibrators.h); the engine holds only the tensors a
// batch still needs, as in any run. Neither grows with the number of calibration samples.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "data/dataset.h"
#include "ir/graph.h"
#include "quant/calibrators.h"
#include "runtime/engine.h"
#include "runtime/executor.h"

namespace octet::quant {

class CalibrationSession {
 public:
  // `tensors`: values of `model` to calibrate (graph inputs or node outputs, FLOAT32). Error for
  // an unknown or repeated name or an empty method list. `model` must outlive the session.
  CalibrationSession(const Model& model, std::vector<std::string> tensors,
                     std::vector<CalibrationMethod> methods);

  // Runs the model on one batch and observes every tensor with every method. Errors (naming the
  // tensor) for NaN or Inf values, which a calibrated range cannot represent. Tensors are observed
  // as they are computed, so after an Error the tensors computed before it have seen the batch and
  // the others have not: discard the session (octet quantize stops).
  void observe(const std::map<std::string, Tensor>& feeds);

  // Observes `count` batches, batch(i) giving batch i's feeds, with the ranges observe() over
  // them in order would give. Where no method is EMA (whose moving average depends on the order
  // of the batches) and there are at least kMinBatchesPerShard batches per engine thread, the
  // batches run on concurrent shards, one per thread, each a single-threaded engine with its own
  // calibrators that takes the next batch; the shards' calibrators are then merged into the
  // session's, which is exact for MinMax and the histogram methods (calibrators.h), so the ranges
  // do not depend on which shard saw which batch. A shard's layers need no synchronisation
  // between threads and its activations stay in its core's cache, where one engine on all
  // threads splits every layer of a whole batch (resnet8, 4,096 images: see the README).
  // batch() and done(i) (batch i observed) are called one at a time, from the shards' threads (so
  // a data set's loading is not concurrent). An exception from the engine, batch() or done()
  // stops the run: the one of the lowest batch index is thrown (the one observe() in order would
  // have thrown); discard the session then, as after observe()'s.
  using Feeds = std::map<std::string, Tensor>;
  void observe_batches(int64_t count, const std::function<Feeds(int64_t)>& batch,
                       const std::function<void(int64_t)>& done = {});
  // Whether observe_batches(count, ...) runs on shards.
  bool sharded(int64_t count) const;
  static constexpr int64_t kMinBatchesPerShard = 2;

  // The calibrated range of every tensor for methods[method_index].
  std::map<std::string, Range> ranges(size_t method_index) const;

  const Model& model() const { return model_; }
  const std::vector<std::string>& tensors() const { return tensors_; }
  const std::vector<CalibrationMethod>& methods() const { return methods_; }
  int64_t batches() const { return batches_; }

 private:
  // calibrators[t][m]: tensor tensors_[t], method methods_[m].
  using Calibrators = std::vector<std::vector<std::unique_ptr<Calibrator>>>;
  Calibrators make_calibrators() const;
  // One batch on `engine` into `calibrators` (the session's, or a shard's).
  void run_batch(Engine& engine, Calibrators& calibrators, const Feeds& feeds) const;

  const Model& model_;
  // The values the engine observes -> the tensors (indices in tensors_) whose elements they hold:
  // a calibrated tensor made from another by data movement only (a Reshape, a Transpose) is
  // observed as that other value (calibrate.cpp, element_source), which has the same elements.
  // Before engine_, whose observed values are its keys.
  std::map<std::string, std::vector<size_t>> by_source_;
  Engine engine_;  // the fast engine, with every calibrated tensor kept observable
  std::vector<std::string> tensors_;
  std::vector<CalibrationMethod> methods_;
  Calibrators calibrators_;
  std::map<std::string, size_t> index_;  // tensor name -> its index in tensors_
  // Per method: the earlier method whose histogram it copies each batch, or -1 (it observes).
  std::vector<int> binned_by_;
  int64_t batches_ = 0;
};

// Feeds the samples `indices` of `data`, in batches of `batch`, to the model's single input,
// through observe_batches. batch 0 picks kShardBatch where that many run on shards and kWholeBatch
// otherwise (resnet8 on 4,096 images, 2 threads: on shards 0.40-0.41 s at 8 or 16 samples, 0.43-0.45
// at 64, with 45-54 MiB of peak memory against 96; one engine on both threads 0.53-0.64 s at 64,
// 0.69-0.72 at 8 or 16). The ranges do not depend on the batch size, except EMA's.
// Checks that the input accepts the samples' shape (Error naming the data set, the input and
// both shapes) and that float32 is what it takes. `progress(done, total)` is called after
// each batch.
constexpr int64_t kShardBatch = 16, kWholeBatch = 64;
void calibrate_on_dataset(CalibrationSession& session, const data::Dataset& data,
                          const std::vector<int64_t>& indices, int64_t batch,
                          const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace octet::quant
