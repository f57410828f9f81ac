// Calibration: runs a float model over calibration batches on the engine (runtime/engine.h) and
// feeds the values of every requested tensor to calibrators, one per (tensor, method), so that
// several methods are calibrated from a single pass over the data (octet quantize
// --compare-methods). Each tensor is observed as soon as the engine computes it: its range and
// finiteness are taken once (finite_batch) for all its calibrators, on the engine's threads.
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

  // The calibrated range of every tensor for methods[method_index].
  std::map<std::string, Range> ranges(size_t method_index) const;

  const Model& model() const { return model_; }
  const std::vector<std::string>& tensors() const { return tensors_; }
  const std::vector<CalibrationMethod>& methods() const { return methods_; }
  int64_t batches() const { return batches_; }

 private:
  const Model& model_;
  Engine engine_;  // the fast engine, with every calibrated tensor kept observable
  std::vector<std::string> tensors_;
  std::vector<CalibrationMethod> methods_;
  // calibrators_[t][m]: tensor tensors_[t], method methods_[m].
  std::vector<std::vector<std::unique_ptr<Calibrator>>> calibrators_;
  std::map<std::string, size_t> index_;  // tensor name -> its index in tensors_
  // Per method: the earlier method whose histogram it copies each batch, or -1 (it observes).
  std::vector<int> binned_by_;
  int64_t batches_ = 0;
};

// Feeds the samples `indices` of `data`, in batches of `batch`, to the model's single input.
// Checks that the input accepts the samples' shape (Error naming the data set, the input and
// both shapes) and that float32 is what it takes. `progress(done, total)` is called after
// each batch.
void calibrate_on_dataset(CalibrationSession& session, const data::Dataset& data,
                          const std::vector<int64_t>& indices, int64_t batch,
                          const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace octet::quant
