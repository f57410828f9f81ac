#include "quant/calibrate.h"

#include <algorithm>
#include <exception>
#include <mutex>
#include <set>

namespace octet::quant {

namespace {

// Who makes and who reads each value.
struct Links {
  std::map<std::string, const Node*> made_by;
  std::map<std::string, std::vector<const Node*>> read_by;
};

Links links(const Graph& g) {
  Links out;
  for (const auto& n : g.nodes) {
    for (const auto& o : n->outputs)
      if (!o.empty()) out.made_by[o] = n.get();
    for (const auto& i : n->inputs)
      if (!i.empty()) out.read_by[i].push_back(n.get());
  }
  return out;
}

// The value whose elements are `t`'s, in another order or shape: `t` itself, or, back through
// Reshape, Flatten, Squeeze, Unsqueeze, Identity and Transpose nodes, the first value that no such
// node makes (a graph input or another node's output, never an initializer, which the engine
// does not hand to observers). A calibrator sees a batch only as a multiset of values (its range,
// its histogram), so observing that value gives the same ranges while the engine stays free to
// fold the data movement away. A Transpose is passed only where the engine folds it into the
// MatMul of two run-time operands that reads it (attention's head splits); another one stays
// observed at its output, which the engine can then write from the MatMul before it (the head
// merge; runtime/engine.cpp). Names not in the graph come back unchanged (the session reports
// them).
std::string element_source(const Graph& g, const Links& l, std::string t) {
  static const std::set<std::string> kMovement = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Identity"};
  for (;;) {
    const auto it = l.made_by.find(t);
    if (it == l.made_by.end()) return t;
    const Node& n = *it->second;
    if (!n.domain.empty() || !kMovement.count(n.op_type) || n.outputs.size() != 1 || n.inputs.empty() ||
        n.inputs[0].empty())
      return t;
    if (n.op_type == "Transpose") {
      const auto r = l.read_by.find(t);
      if (r == l.read_by.end() || r->second.size() != 1 || !runtime_matmul(g, *r->second[0])) return t;
    }
    const Value* v = g.find_value(n.inputs[0]);
    if (!v || v->initializer) return t;
    t = n.inputs[0];
  }
}

// tensors[i] grouped by their element_source: source -> the indices i.
std::map<std::string, std::vector<size_t>> by_element_source(const Graph& g, const std::vector<std::string>& tensors) {
  const Links l = links(g);
  std::map<std::string, std::vector<size_t>> out;
  for (size_t i = 0; i < tensors.size(); ++i) out[element_source(g, l, tensors[i])].push_back(i);
  return out;
}

// The engine options that keep `sources` observable.
EngineOptions observing(const std::map<std::string, std::vector<size_t>>& sources, int threads) {
  EngineOptions o;
  o.threads = threads;
  for (const auto& [source, calibrated] : sources) o.observe.insert(source);
  return o;
}

}  // namespace

CalibrationSession::CalibrationSession(const Model& model, std::vector<std::string> tensors,
                                       std::vector<CalibrationMethod> methods)
    : model_(model),
      by_source_(by_element_source(model.graph, tensors)),
      engine_(model, observing(by_source_, 0)),
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
  }
  calibrators_ = make_calibrators();
}

CalibrationSession::Calibrators CalibrationSession::make_calibrators() const {
  Calibrators cals;
  for (size_t t = 0; t < tensors_.size(); ++t) {
    std::vector<std::unique_ptr<Calibrator>> per_method;
    for (const CalibrationMethod& m : methods_) per_method.push_back(make_calibrator(m));
    cals.push_back(std::move(per_method));
  }
  return cals;
}

void CalibrationSession::observe(const std::map<std::string, Tensor>& feeds) {
  run_batch(engine_, calibrators_, feeds);
  ++batches_;
}

void CalibrationSession::run_batch(Engine& engine, Calibrators& calibrators,
                                   const std::map<std::string, Tensor>& feeds) const {
  // Each tensor is observed as the engine computes it, while it is still in cache, and is then
  // freed as in any run; the range pass and the histograms' binning run on the engine's threads.
  std::vector<int> seen(tensors_.size(), 0);
  auto on_value = [&](const std::string& name, const Tensor& v) {
    const auto it = by_source_.find(name);
    if (it == by_source_.end()) return;
    // Errors name the value read (a NaN's element index is in its layout).
    if (v.dtype() != DType::Float32)
      throw Error(str_cat("calibration: tensor '", name, "' is ", dtype_name(v.dtype()),
                          "; only float32 tensors are calibrated"));
    for (size_t t : it->second) ++seen[t];
    if (v.numel() == 0) return;
    const FiniteBatch b = finite_batch(v.data<float>(), v.numel(), name, &engine.pool());
    for (size_t t : it->second) {
      auto& cals = calibrators[t];
      for (size_t m = 0; m < cals.size(); ++m) {
        if (binned_by_[m] < 0) cals[m]->observe(b);
        else static_cast<HistogramCalibrator&>(*cals[m]).copy_histogram_from(
            static_cast<const HistogramCalibrator&>(*cals[static_cast<size_t>(binned_by_[m])]));
      }
    }
  };
  engine.run(feeds, RunOptions{}, on_value);
  for (size_t t = 0; t < tensors_.size(); ++t)
    if (seen[t] != 1)
      throw InternalError(str_cat("calibration: the engine handed over '", tensors_[t], "' ", seen[t],
                                  " times in one run (once expected)"));
}

bool CalibrationSession::sharded(int64_t count) const {
  const int threads = engine_.pool().size();
  const bool ema = std::any_of(methods_.begin(), methods_.end(),
                               [](const CalibrationMethod& m) { return m.kind == CalibrationMethod::EmaMinMax; });
  return threads > 1 && !ema && count >= kMinBatchesPerShard * threads;
}

void CalibrationSession::observe_batches(int64_t count, const std::function<Feeds(int64_t)>& batch,
                                         const std::function<void(int64_t)>& done) {
  if (!sharded(count)) {
    for (int64_t i = 0; i < count; ++i) {
      observe(batch(i));
      if (done) done(i);
    }
    return;
  }
  struct Shard {
    std::unique_ptr<Engine> engine;
    Calibrators calibrators;
  };
  std::vector<Shard> shards(static_cast<size_t>(engine_.pool().size()));
  for (Shard& sh : shards) {
    sh.engine = std::make_unique<Engine>(model_, observing(by_source_, 1));
    sh.calibrators = make_calibrators();
  }
  std::mutex mu;  // guards next, the error, batch() and done()
  int64_t next = 0, error_batch = count;
  std::exception_ptr error;
  auto fail = [&](int64_t i) {  // under mu
    if (i < error_batch) error_batch = i, error = std::current_exception();
  };
  engine_.pool().parallel_tasks(static_cast<int64_t>(shards.size()), [&](int64_t s) {
    Shard& sh = shards[static_cast<size_t>(s)];
    for (;;) {
      int64_t i;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (next >= error_batch) return;  // every batch taken, or one before it failed
        i = next++;
      }
      try {
        Feeds feeds;
        {
          std::lock_guard<std::mutex> lock(mu);
          feeds = batch(i);
        }
        run_batch(*sh.engine, sh.calibrators, feeds);
        std::lock_guard<std::mutex> lock(mu);
        if (done) done(i);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        fail(i);
        return;
      }
    }
  });
  if (error) std::rethrow_exception(error);
  for (const Shard& sh : shards)  // in shard order; exact for these methods, so any order would do
    for (size_t t = 0; t < tensors_.size(); ++t)
      for (size_t m = 0; m < methods_.size(); ++m) calibrators_[t][m]->merge(*sh.calibrators[t][m]);
  batches_ += count;
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
  if (batch < 0) throw Error(str_cat("calibration batch size must be at least 1 (0: automatic), got ", batch));
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
  const int64_t n = static_cast<int64_t>(indices.size());
  if (batch == 0)  // shards: batches whose activations stay in a core's cache; else kWholeBatch
    batch = session.sharded((n + kShardBatch - 1) / kShardBatch) ? kShardBatch : kWholeBatch;
  if (fixed_batch > 0) batch = fixed_batch;
  const int64_t count = (n + batch - 1) / batch;
  int64_t samples_done = 0;
  session.observe_batches(
      count,
      [&](int64_t i) {
        const int64_t start = i * batch;
        std::vector<int64_t> idx(indices.begin() + start, indices.begin() + std::min(n, start + batch));
        // A fixed-batch model gets its last, short batch padded by repeating samples; the repeats
        // are observed again, which leaves min/max unchanged and histograms slightly weighted.
        while (fixed_batch > 0 && static_cast<int64_t>(idx.size()) < fixed_batch) idx.push_back(idx.back());
        data::Batch b = data.get(idx);
        return CalibrationSession::Feeds{{input, b.inputs}};
      },
      [&](int64_t i) {
        samples_done += std::min(n, (i + 1) * batch) - i * batch;
        if (progress) progress(samples_done, n);
      });
}

}  // namespace octet::quant
