// Calibrators for post-training quantization of activations: streaming observers that see a
// tensor's values batch after batch and produce the range [min, max] to quantize it with.
//
//   auto cal = make_calibrator(parse_method("entropy"));
//   for (each batch) cal->observe(values_of("conv1_out"), "conv1_out");
//   Range r = cal->range();   // -> quant_math's params_from_range(r.min, r.max, ...)
//
// Memory: every calibrator holds O(bins) state (MinMax and EMA a few scalars, the histogram ones
// one Histogram of `bins` 8-byte counters), fixed at construction and independent of the number
// of batches or values observed. Weights do not go through these: see quant_math's
// weight_params / weight_params_mse.
//
// Observed values must be FLOAT32 and finite: NaN or Inf is an Error naming the tensor and the
// first bad element (a NaN activation means a broken model or input, and a range computed around
// it would be meaningless). Empty batches are ignored.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ir/tensor.h"
#include "quant/histogram.h"

namespace octet::quant {

// A calibrated range. min <= max always, and it lies inside the [min, max] of the values observed.
// degenerate: min == max == 0 (nothing observed, or every value observed was zero), so even after
// widening to include 0 there is nothing to derive a scale from; callers warn and quantize with a
// safe scale (quant_math's params_from_range does exactly that for a zero range).
struct Range {
  float min = 0.f;
  float max = 0.f;
  bool degenerate = true;
};

struct CalibrationMethod {
  enum Kind { MinMax, EmaMinMax, Percentile, Entropy, Mse } kind = MinMax;
  double percentile = 99.99;      // Percentile: in (0, 100]
  double ema_decay = 0.9;         // EmaMinMax: in [0, 1); weight of the running value
  int bins = Histogram::kDefaultBins;  // Percentile, Entropy, Mse: histogram bins, [1, 2^24]
  int num_quant_bins = 128;       // Entropy: quantization levels of |x| (128 for int8)
  int start_bin = 128;            // Entropy: fewest kept bins tried
  int32_t levels_positive = 127;  // Mse: positive levels of the symmetric grid (127 for int8)
};

// Parses a method name, the other settings keeping their defaults:
//   "minmax", "ema", "ema:<decay>" (e.g. "ema:0.99"), "percentile" (99.99),
//   "percentile:<p>" (e.g. "percentile:99.9"), "entropy", "mse".
// Error listing the valid names for anything else, or naming the bad number (not a number, or
// outside the range CalibrationMethod documents).
CalibrationMethod parse_method(const std::string& name);

// The canonical spelling of m's kind and main parameter, which parse_method reads back:
// "minmax", "ema:0.9", "percentile:99.99", "entropy", "mse" (numbers in the shortest form that
// round-trips).
std::string method_name(const CalibrationMethod& m);

class Calibrator {
 public:
  virtual ~Calibrator();
  // Observes one batch of the tensor's values (FLOAT32, any shape). tensor_name is for messages.
  // Errors (state unchanged): not FLOAT32; NaN or Inf (see finite_range in histogram.h).
  void observe(const Tensor& batch_values, const std::string& tensor_name);
  // The same for a batch already checked by finite_batch (histogram.h), whose range pass is then
  // shared by every calibrator of the tensor; per-value work may run on batch.pool.
  virtual void observe(const FiniteBatch& batch) = 0;
  // The range from everything observed so far (cheap for MinMax/EMA; a threshold search over the
  // histogram for the others, see HistogramCalibrator).
  virtual Range range() const = 0;
  // Adds what `other` observed. other must be the same kind with the same settings (Error
  // otherwise). Exact for MinMax and the histogram calibrators: the result is bit-identical to
  // one calibrator that observed both batch streams; EMA is order-dependent, see there.
  virtual void merge(const Calibrator& other) = 0;
  // method_name() of the method this calibrator was made with.
  virtual std::string method() const = 0;
};

// Error if m's settings are outside the ranges CalibrationMethod documents.
std::unique_ptr<Calibrator> make_calibrator(const CalibrationMethod& m);

// Running min and max of all values: range() = [min, max].
class MinMaxCalibrator : public Calibrator {
 public:
  using Calibrator::observe;
  void observe(const FiniteBatch& batch) override;
  Range range() const override;
  void merge(const Calibrator& other) override;
  std::string method() const override { return "minmax"; }

 private:
  bool any_ = false;
  float min_ = 0.f, max_ = 0.f;
};

// Moving-average min/max, as TensorFlow's and PyTorch's moving-average observers: the first
// non-empty batch sets min and max to its own; each later batch updates
//   min = decay * min + (1 - decay) * batch_min   (max likewise)
// computed in double (PyTorch writes min + (1 - decay) * (batch_min - min), the same value up to
// rounding). The result is also clamped to the running true [min, max], which the average can
// leave only by rounding.
// merge(): EMA depends on batch order, so no merge equals observing both streams; merge takes the
// average of the two states weighted by their batch counts (exact when both saw one batch each or
// both saw the same values), and the true min/max of both. Documented approximation.
class EmaMinMaxCalibrator : public Calibrator {
 public:
  explicit EmaMinMaxCalibrator(double decay);  // Error unless 0 <= decay < 1
  using Calibrator::observe;
  void observe(const FiniteBatch& batch) override;
  Range range() const override;
  void merge(const Calibrator& other) override;
  std::string method() const override;
  int64_t batches() const { return batches_; }

 private:
  double decay_;
  int64_t batches_ = 0;
  double ema_min_ = 0, ema_max_ = 0;
  float true_min_ = 0.f, true_max_ = 0.f;
};

// Percentile, Entropy and Mse: a Histogram of |x| and a symmetric threshold t on it
// (percentile_threshold, entropy_threshold, mse_threshold of histogram.h). The range is the
// observed [min, max] intersected with [-t, t]:
//   range() = [max(min, -t), min(max, t)]
// If that is empty (one-signed data with t below the smallest magnitude: percentile and entropy
// thresholds never are, mse can be by less than a bin), it is the observed extreme nearest to 0:
// [min, min] for positive data, [max, max] for negative data. Asymmetric data:
// the threshold is searched on |x|, i.e. the negative and positive tails are treated as one
// distribution of magnitudes and clipped at the same t. Non-negative activations (ReLU) thus get
// [min, t] (min usually 0), and the signed observed extremes are never exceeded. A tensor whose
// two tails differ a lot (e.g. [-0.1, 50]) is clipped as its larger tail dictates; the smaller
// side keeps its observed extreme. range() runs the threshold search each call (entropy
// O(bins * num_quant_bins), mse O(bins^2)); callers take it once per tensor.
class HistogramCalibrator : public Calibrator {
 public:
  // m.kind must be Percentile, Entropy or Mse (Error otherwise, or for bad settings).
  explicit HistogramCalibrator(const CalibrationMethod& m);
  using Calibrator::observe;
  void observe(const FiniteBatch& batch) override;
  Range range() const override;
  void merge(const Calibrator& other) override;
  std::string method() const override { return method_name(method_); }

  // Makes this calibrator's histogram a copy of other's. The histogram is a function of the values
  // seen only (histogram.h), so calibrators of one tensor that have been fed the same batches need
  // one binning between them: CalibrationSession bins for the first histogram method of a tensor
  // and copies into the others. Error if the bin counts differ.
  void copy_histogram_from(const HistogramCalibrator& other);

  // The clipping threshold t on |x| (0 when nothing non-zero was observed).
  double threshold() const;
  const Histogram& histogram() const { return histogram_; }
  const CalibrationMethod& settings() const { return method_; }

 private:
  CalibrationMethod method_;
  Histogram histogram_;
};

}  // namespace octet::quant
