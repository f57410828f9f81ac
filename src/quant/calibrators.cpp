#include "quant/calibrators.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <system_error>

#include "ir/error.h"

namespace octet::quant {

namespace {

const char* const kValidMethods =
    "minmax, ema, ema:<decay in [0,1)>, percentile, percentile:<p in (0,100]>, entropy, mse";

// Shortest decimal that reads back as the same double.
std::string format_number(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  OCTET_CHECK(res.ec == std::errc(), "to_chars failed");
  return std::string(buf, res.ptr);
}

double parse_number(const std::string& text, const std::string& method) {
  double v = 0;
  const char* end = text.data() + text.size();
  const auto res = std::from_chars(text.data(), end, v);
  if (text.empty() || res.ec != std::errc() || res.ptr != end || !std::isfinite(v))
    throw Error(str_cat("calibration method '", method, "': '", text, "' is not a number"));
  return v;
}

void validate(const CalibrationMethod& m) {
  switch (m.kind) {
    case CalibrationMethod::MinMax:
      return;
    case CalibrationMethod::EmaMinMax:
      if (!(m.ema_decay >= 0 && m.ema_decay < 1))
        throw Error(str_cat("ema calibration: decay ", m.ema_decay, " is outside [0, 1)"));
      return;
    case CalibrationMethod::Percentile:
      if (!(m.percentile > 0 && m.percentile <= 100))
        throw Error(
            str_cat("percentile calibration: percentile ", m.percentile, " is outside (0, 100]"));
      break;
    case CalibrationMethod::Entropy:
      if (m.num_quant_bins < 1 || m.start_bin < 1)
        throw Error(str_cat("entropy calibration: num_quant_bins ", m.num_quant_bins,
                            " and start_bin ", m.start_bin, " must both be >= 1"));
      break;
    case CalibrationMethod::Mse:
      if (m.levels_positive < 1)
        throw Error(
            str_cat("mse calibration: levels_positive ", m.levels_positive, " must be >= 1"));
      break;
    default:
      throw Error(str_cat("calibration: unknown method kind ", static_cast<int>(m.kind)));
  }
  if (m.bins < 1 || m.bins > Histogram::kMaxBins)
    throw Error(str_cat(method_name(m), " calibration: bins ", m.bins, " is outside [1, ",
                        Histogram::kMaxBins, "]"));
}

// The observed values of a batch; Error unless FLOAT32 (finiteness: finite_batch checks it in the
// same pass as the batch's range).
const float* float_values(const Tensor& t, const std::string& tensor_name) {
  if (t.dtype() != DType::Float32)
    throw Error(str_cat("calibration: tensor '", tensor_name, "' has element type ",
                        dtype_name(t.dtype()), "; calibrators observe FLOAT (float32) values"));
  return t.data<float>();
}

// -0 reads as 0 in reports and compares equal anyway.
Range make_range(float lo, float hi) {
  Range r;
  r.min = lo + 0.f;
  r.max = hi + 0.f;
  r.degenerate = r.min == 0.f && r.max == 0.f;
  return r;
}

[[noreturn]] void throw_merge_mismatch(const Calibrator& into, const Calibrator& other) {
  throw Error(str_cat("calibration: cannot merge a '", other.method(), "' calibrator into a '",
                      into.method(), "' calibrator (kinds and settings must match)"));
}

}  // namespace

CalibrationMethod parse_method(const std::string& name) {
  const size_t colon = name.find(':');
  const std::string base = name.substr(0, colon);
  const bool has_arg = colon != std::string::npos;
  const std::string arg = has_arg ? name.substr(colon + 1) : std::string();
  CalibrationMethod m;
  if (base == "minmax" && !has_arg) {
    m.kind = CalibrationMethod::MinMax;
  } else if (base == "entropy" && !has_arg) {
    m.kind = CalibrationMethod::Entropy;
  } else if (base == "mse" && !has_arg) {
    m.kind = CalibrationMethod::Mse;
  } else if (base == "ema") {
    m.kind = CalibrationMethod::EmaMinMax;
    if (has_arg) m.ema_decay = parse_number(arg, name);
  } else if (base == "percentile") {
    m.kind = CalibrationMethod::Percentile;
    if (has_arg) m.percentile = parse_number(arg, name);
  } else {
    throw Error(str_cat("unknown calibration method '", name, "'; valid: ", kValidMethods));
  }
  validate(m);
  return m;
}

std::string method_name(const CalibrationMethod& m) {
  switch (m.kind) {
    case CalibrationMethod::MinMax: return "minmax";
    case CalibrationMethod::EmaMinMax: return "ema:" + format_number(m.ema_decay);
    case CalibrationMethod::Percentile: return "percentile:" + format_number(m.percentile);
    case CalibrationMethod::Entropy: return "entropy";
    case CalibrationMethod::Mse: return "mse";
  }
  return str_cat("method(", static_cast<int>(m.kind), ")");
}

Calibrator::~Calibrator() = default;

void Calibrator::observe(const Tensor& batch_values, const std::string& tensor_name) {
  const float* x = float_values(batch_values, tensor_name);
  const int64_t n = batch_values.numel();
  if (n == 0) return;
  observe(finite_batch(x, n, tensor_name, nullptr));
}

std::unique_ptr<Calibrator> make_calibrator(const CalibrationMethod& m) {
  validate(m);
  switch (m.kind) {
    case CalibrationMethod::MinMax: return std::make_unique<MinMaxCalibrator>();
    case CalibrationMethod::EmaMinMax: return std::make_unique<EmaMinMaxCalibrator>(m.ema_decay);
    default: return std::make_unique<HistogramCalibrator>(m);
  }
}

// ---------------------------------------------------------------------------------------------

void MinMaxCalibrator::observe(const FiniteBatch& b) {
  min_ = any_ ? std::min(min_, b.min) : b.min;
  max_ = any_ ? std::max(max_, b.max) : b.max;
  any_ = true;
}

Range MinMaxCalibrator::range() const { return make_range(min_, max_); }

void MinMaxCalibrator::merge(const Calibrator& other) {
  const auto* o = dynamic_cast<const MinMaxCalibrator*>(&other);
  if (!o) throw_merge_mismatch(*this, other);
  if (!o->any_) return;
  if (!any_) {
    *this = *o;
    return;
  }
  min_ = std::min(min_, o->min_);
  max_ = std::max(max_, o->max_);
}

// ---------------------------------------------------------------------------------------------

EmaMinMaxCalibrator::EmaMinMaxCalibrator(double decay) : decay_(decay) {
  CalibrationMethod m;
  m.kind = CalibrationMethod::EmaMinMax;
  m.ema_decay = decay;
  validate(m);
}

std::string EmaMinMaxCalibrator::method() const { return "ema:" + format_number(decay_); }

void EmaMinMaxCalibrator::observe(const FiniteBatch& b) {
  const float lo = b.min, hi = b.max;
  if (batches_ == 0) {
    ema_min_ = lo;
    ema_max_ = hi;
    true_min_ = lo;
    true_max_ = hi;
  } else {
    ema_min_ = decay_ * ema_min_ + (1 - decay_) * lo;
    ema_max_ = decay_ * ema_max_ + (1 - decay_) * hi;
    true_min_ = std::min(true_min_, lo);
    true_max_ = std::max(true_max_, hi);
  }
  ++batches_;
}

Range EmaMinMaxCalibrator::range() const {
  if (batches_ == 0) return Range{};
  // Clamping into the true range; the float conversion is monotone, so min <= max survives.
  const double lo = std::clamp(ema_min_, static_cast<double>(true_min_),
                               static_cast<double>(true_max_));
  const double hi = std::clamp(ema_max_, static_cast<double>(true_min_),
                               static_cast<double>(true_max_));
  return make_range(static_cast<float>(lo), static_cast<float>(hi));
}

void EmaMinMaxCalibrator::merge(const Calibrator& other) {
  const auto* o = dynamic_cast<const EmaMinMaxCalibrator*>(&other);
  if (!o || o->decay_ != decay_) throw_merge_mismatch(*this, other);
  if (o->batches_ == 0) return;
  if (batches_ == 0) {
    *this = *o;
    return;
  }
  const double wa = static_cast<double>(batches_), wb = static_cast<double>(o->batches_);
  ema_min_ = (wa * ema_min_ + wb * o->ema_min_) / (wa + wb);
  ema_max_ = (wa * ema_max_ + wb * o->ema_max_) / (wa + wb);
  true_min_ = std::min(true_min_, o->true_min_);
  true_max_ = std::max(true_max_, o->true_max_);
  batches_ += o->batches_;
}

// ---------------------------------------------------------------------------------------------

namespace {

const CalibrationMethod& checked_histogram_method(const CalibrationMethod& m) {
  if (m.kind != CalibrationMethod::Percentile && m.kind != CalibrationMethod::Entropy &&
      m.kind != CalibrationMethod::Mse)
    throw Error(str_cat("calibration: '", method_name(m),
                        "' does not use a histogram (percentile, entropy and mse do)"));
  validate(m);
  return m;
}

}  // namespace

HistogramCalibrator::HistogramCalibrator(const CalibrationMethod& m)
    : method_(checked_histogram_method(m)), histogram_(m.bins) {}

void HistogramCalibrator::observe(const FiniteBatch& b) { histogram_.add(b); }

void HistogramCalibrator::copy_histogram_from(const HistogramCalibrator& other) {
  if (other.histogram_.num_bins() != histogram_.num_bins())
    throw Error(str_cat("calibration: cannot copy a histogram of ", other.histogram_.num_bins(), " bins into '",
                        method(), "' with ", histogram_.num_bins(), " bins"));
  histogram_ = other.histogram_;
}

double HistogramCalibrator::threshold() const {
  switch (method_.kind) {
    case CalibrationMethod::Percentile:
      return percentile_threshold(histogram_, method_.percentile);
    case CalibrationMethod::Entropy:
      return entropy_threshold(histogram_, method_.num_quant_bins, method_.start_bin, /*flatten_zero_bin=*/true);
    default:
      return mse_threshold(histogram_, method_.levels_positive);
  }
}

Range HistogramCalibrator::range() const {
  if (histogram_.total_count() == 0) return Range{};
  const double t = threshold();
  const double mn = histogram_.min(), mx = histogram_.max();
  double lo = std::max(mn, -t), hi = std::min(mx, t);
  if (lo > hi) {  // one-signed data entirely beyond t: the observed extreme nearest to 0
    lo = hi = mn > 0 ? mn : mx;
  }
  // lo and hi are min/max themselves or +-t strictly inside (min, max), so the float conversion
  // cannot leave [min, max].
  return make_range(static_cast<float>(lo), static_cast<float>(hi));
}

void HistogramCalibrator::merge(const Calibrator& other) {
  const auto* o = dynamic_cast<const HistogramCalibrator*>(&other);
  if (!o) throw_merge_mismatch(*this, other);
  const CalibrationMethod& a = method_;
  const CalibrationMethod& b = o->method_;
  bool same = a.kind == b.kind && a.bins == b.bins;
  if (a.kind == CalibrationMethod::Percentile) same = same && a.percentile == b.percentile;
  if (a.kind == CalibrationMethod::Entropy)
    same = same && a.num_quant_bins == b.num_quant_bins && a.start_bin == b.start_bin;
  if (a.kind == CalibrationMethod::Mse) same = same && a.levels_positive == b.levels_positive;
  if (!same)
    throw Error(str_cat("calibration: cannot merge a '", o->method(), "' calibrator (", b.bins,
                        " bins) into a '", method(), "' calibrator (", a.bins,
                        " bins): kinds and settings must match"));
  histogram_.merge(o->histogram_);
}

}  // namespace octet::quant
