#include "quant/calibrate.h"

#include <algorithm>

namespace octet::quant {

CalibrationSession::CalibrationSession(const Model& model, std::vector<std::string> tensors,
                                       std::vector<CalibrationMethod> methods)
    : model_(model),
      engine_(model, [&] {
        EngineOptions o;
        o.observe.insert(tensors.begin(), tensors.end());
        return o;
      }()),
      tensors_(std::move(tensors)),
      methods_(std::move(methods)) {
  if (methods_.empty()) throw Error("calibration needs at least one method");
  // Every calibrator of a tensor sees the same batches, so a histogram method takes the histogram
  // of the first one with its bin count instead of binning again (--compare-methods has four).
  auto histogram_method = [](const CalibrationMethod& m) { return m.kind != CalibrationMethod::MinMax &&
                                                                  m.kind != CalibrationMethod::EmaMinMax; };
  binned_by_.assign(methods_.size(), -1);
  for (size_t m = 0; m < methods_.size(); ++m)
    for (size_t f = 0; f < m && histogram_method(methods_[m]); ++f)
      if (histogram_method(methods_[f]) && binned_by_[f] < 0 && methods_[f].bins == methods_[m].bins) {
        binned_by_[m] = static_cast<int>(f);
        break;
      }
  for (const std::string& t : tensors_) {
    if (!model_.graph.find_value(t)) throw Error(str_cat("calibration: the model has no tensor '", t, "'"));
    if (!index_.emplace(t, index_.size()).second)
      throw Error(str_cat("calibration: tensor '", t, "' is listed twice"));
    std::vector<std::unique_ptr<Calibrator>> per_method;
    for (const CalibrationMethod& m : methods_) per_method.push_back(make_calibrator(m));
    calibrators_.push_back(std::move(per_method));
  }
}

void CalibrationSession::observe(const std::map<std::string, Tensor>& feeds) {
  // Each tensor is observed as the engine computes it, while it is still in cache, and is then
  // freed as in any run; the range pass and the histograms' binning run on the engine's threads.
  std::vector<int> seen(tensors_.size(), 0);
  auto on_value = [&](const std::string& name, const Tensor& v) {
    const auto it = index_.find(name);
    if (it == index_.end()) return;
    if (v.dtype() != DType::Float32)
      throw Error(str_cat("calibration: tensor '", name, "' is ", dtype_name(v.dtype()),
                          "; only float32 tensors are calibrated"));
    ++seen[it->second];
    if (v.numel() == 0) return;
    const FiniteBatch b = finite_batch(v.data<float>(), v.numel(), name, &engine_.pool());
    auto& cals = calibrators_[it->second];
    for (size_t m = 0; m < cals.size(); ++m) {
      if (binned_by_[m] < 0) cals[m]->observe(b);
      else static_cast<HistogramCalibrator&>(*cals[m]).copy_histogram_from(
          static_cast<const HistogramCalibrator&>(*cals[static_cast<size_t>(binned_by_[m])]));
    }
  };
  engine_.run(feeds, RunOptions{}, on_value);
  for (size_t t = 0; t < tensors_.size(); ++t)
    if (seen[t] != 1)
      throw InternalError(str_cat("calibration: the engine handed over '", tensors_[t], "' ", seen[t],
                                  " times in one run (once expected)"));
  ++batches_;
}

std::map<std::string, Range> CalibrationSession::ranges(size_t method_index) const {
  OCTET_CHECK(method_index < methods_.size(), "calibration method index out of range");
  std::map<std::string, Range> out;
  for (size_t t = 0; t < tensors_.size(); ++t) out[tensors_[t]] = calibrators_[t][method_index]->range();
  return out;
}

void calibrate_on_dataset(CalibrationSession& session, const data::Dataset& data,
                          const std::vector<int64_t>& indices, int64_t batch,
                          const std::function<void(int64_t, int64_t)>& progress) {
  const Graph& g = session.model().graph;
  if (g.inputs.size() != 1)
    throw Error(str_cat("calibration with the data set '", data.name(), "' needs a model with one input; it has ",
                        g.inputs.size()));
  if (indices.empty()) throw Error(str_cat("calibration: no samples selected from '", data.name(), "'"));
  if (batch < 1) throw Error(str_cat("calibration batch size must be at least 1, got ", batch));
  const std::string& input = g.inputs[0];
  const TensorType& in = g.value(input).type;
  const Shape sample = data.sample_shape();
  if (in.dtype != DType::Undefined && in.dtype != DType::Float32)
    throw Error(str_cat("calibration: input '", input, "' is ", in.str(), "; the data set '", data.name(),
                        "' gives float32 samples"));
  int64_t fixed_batch = 0;
  if (in.has_shape) {
    bool ok = in.dims.size() == sample.size() + 1;
    for (size_t d = 1; ok && d < in.dims.size(); ++d)
      if (in.dims[d].is_known() && in.dims[d].value != sample[d - 1]) ok = false;
    if (!ok)
      throw Error(str_cat("calibration: input '", input, "' is ", in.str(), " but the samples of '", data.name(),
                          "' are ", shape_str(sample), " (batched: [B,", shape_str(sample).substr(1)));
    if (in.dims[0].is_known()) fixed_batch = in.dims[0].value;
  }
  if (fixed_batch > 0) batch = fixed_batch;
  const int64_t n = static_cast<int64_t>(indices.size());
  for (int64_t start = 0; start < n; start += batch) {
    std::vector<int64_t> idx(indices.begin() + start, indices.begin() + std::min(n, start + batch));
    // A fixed-batch model gets its last, short batch padded by repeating samples; the repeats
    // are observed again, which leaves min/max unchanged and histograms slightly weighted.
    while (fixed_batch > 0 && static_cast<int64_t>(idx.size()) < fixed_batch) idx.push_back(idx.back());
    data::Batch b = data.get(idx);
    session.observe({{input, b.inputs}});
    if (progress) progress(std::min(n, start + batch), n);
  }
}

}  // namespace octet::quant
