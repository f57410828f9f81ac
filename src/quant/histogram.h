// A streaming histogram of |x| for calibration, and the clipping-threshold searches run on it
// (percentile, TensorRT's KL-divergence "entropy" method, expected squared error).
//
// Bins. Bin b covers [b * w, (b + 1) * w) of |x|, b = 0 .. num_bins - 1, where the bin width
// w = 2^k for an integer k (any k a float's exponent range needs; it is held as the exponent).
// k is always the SMALLEST integer with max|x| < num_bins * 2^k over all data seen so far: it is
// chosen on the first non-zero value and, when a later batch exceeds the covered range, increased
// to the new smallest k, every increase by one summing adjacent bins pairwise (2j, 2j+1 -> j).
// Why powers of two: binning at width 2^(k+1) is exactly floor(floor(|x| / 2^k) / 2), so a widened
// histogram is bit-identical to one built at the wider width from the start, and because k is a
// function of max|x| only, the whole histogram is a function of the multiset of values seen, not
// of their order or batching. merge() is therefore exact: histograms of parts, merged in any order,
// have the same counts as one histogram of all the data. The cost is resolution: the data span
// between half and all of the bins (max|x| >= num_bins * w / 2), never fewer than half.
// |x| / w is computed in double by multiplying with 2^-k, which is exact for every finite float.
//
// Exact zeros (+0 and -0) are counted in bin 0, which holds [0, w) whatever w is, and also in
// zero_count(), so searches can tell them from small non-zero values. While every value seen is
// zero there is no width (has_width() is false, bin_width() is 0): all counts sit in bin 0 and
// every threshold search returns 0 (a zero range; calibrators report it as degenerate).
//
// Memory: num_bins counters of 8 bytes plus a few scalars, fixed at construction; it does not
// grow with the number of values or batches observed. add() also takes, for its duration, four
// 32-bit sub-histograms (num_bins <= 2048) and, when split over threads, num_bins 8-byte
// counters per piece.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace octet {
class ThreadPool;
}

namespace octet::quant {

// The smallest and largest element of x[0, n) (n >= 1; a zero result is +0), in one pass that
// also checks every element is finite, on the AVX2 kernel where the CPU has it
// (kernels::minmax_finite_f32_avx2). Throws octet::Error if x holds a NaN or an infinity, naming
// the tensor, the kind of value and the first bad index: "tensor 'conv1_out' has NaN at element
// 17 of this batch".
void finite_range(const float* x, int64_t n, const std::string& tensor_name, float* lo, float* hi);

// A batch of float values checked finite, with their range: what finite_batch returns and
// Histogram::add and the calibrators (calibrators.h) take, so that the range pass runs once per
// batch however many calibrators observe it. pool (may be null) is where the per-value work of
// those calibrators may run: split into contiguous pieces, one per thread, whose results combine
// exactly (min/max of the pieces; histogram counts at one width), so the result does not depend on
// the number of threads.
struct FiniteBatch {
  const float* x = nullptr;
  int64_t n = 0;  // >= 1
  float min = 0.f, max = 0.f;
  ThreadPool* pool = nullptr;
};

// finite_range of x[0, n) (n >= 1) as a FiniteBatch, the pass split over pool's threads when pool
// is non-null and n is large enough to pay for it. Same result and the same Error as
// finite_range, naming the FIRST bad index of the whole batch.
FiniteBatch finite_batch(const float* x, int64_t n, const std::string& tensor_name, ThreadPool* pool);

class Histogram {
 public:
  static constexpr int kDefaultBins = 2048;
  // Largest accepted bin count (16 M bins, 128 MiB of counters); larger is an Error.
  static constexpr int kMaxBins = 1 << 24;

  // Error if num_bins is outside [1, kMaxBins].
  explicit Histogram(int num_bins = kDefaultBins);

  // Adds the |x[i]| to the histogram. NaN or Inf anywhere in x: Error naming tensor_name and the
  // first bad index (see finite_range); the histogram is then left unchanged. n == 0 is a
  // no-op.
  void add(const float* x, int64_t n, const std::string& tensor_name);
  // The same for a batch already checked (finite_batch), binned on b.pool's threads when it has
  // one; the counts are those of add(b.x, b.n, ...).
  void add(const FiniteBatch& b);

  // Adds other's data as if it had been add()ed here: counts are bit-identical to one histogram
  // of both data sets (see the top of this file). Error if num_bins differ.
  void merge(const Histogram& other);

  int num_bins() const { return static_cast<int>(counts_.size()); }
  // False while no non-zero value has been seen (including the empty histogram).
  bool has_width() const { return has_width_; }
  // k of w = 2^k. Only meaningful when has_width() (0 otherwise).
  int width_exponent() const { return width_exponent_; }
  // w = 2^k, or 0 when !has_width().
  double bin_width() const;
  // counts()[b] = number of values with |x| in bin b (exact zeros in bin 0). Size num_bins().
  const std::vector<uint64_t>& counts() const { return counts_; }
  uint64_t total_count() const { return total_; }
  uint64_t zero_count() const { return zeros_; }
  // Signed extremes of the values seen; 0 when the histogram is empty.
  float min() const { return min_; }
  float max() const { return max_; }
  // max(|min|, |max|); 0 when empty or all zero.
  double max_abs() const;
  // Index of the last non-empty bin plus one; 0 when empty. With a width it lies in
  // (num_bins / 2, num_bins] because max|x| >= num_bins * w / 2.
  int used_bins() const;

 private:
  // Moves to the smallest exponent that covers max_abs (> 0), summing bins as needed.
  void cover(double max_abs);

  std::vector<uint64_t> counts_;
  bool has_width_ = false;
  int width_exponent_ = 0;
  uint64_t total_ = 0;
  uint64_t zeros_ = 0;
  float min_ = 0.f;
  float max_ = 0.f;
};

// ---------------------------------------------------------------------------------------------
// Threshold searches. Each returns a clipping threshold t for |x| in the units of x: t > 0, or
// exactly 0 when the histogram has no width (empty or all zero). They read the histogram only.

// The smallest bin upper edge (b + 1) * w such that at least `percentile`% of all values (exact
// zeros included) have |x| below it, i.e. sum(counts[0..b]) >= percentile / 100 * total. No
// interpolation inside the bin: t overestimates the exact percentile of |x| by less than one bin
// width, and 100 gives the upper edge of the last non-empty bin (>= max|x|). The fraction is
// compared with a relative slack of 1e-12, so that e.g. 0.1% of 1000 values means 1 value although
// the double 0.1 is slightly above 0.1.
// Error unless 0 < percentile <= 100.
double percentile_threshold(const Histogram& h, double percentile);

// TensorRT's KL-divergence calibration (GTC 2017, S7310, "8-bit Inference with TensorRT"), with
// i counting KEPT BINS. Let u = used_bins() and c = counts(). For each candidate
// i = start_bin .. u (inclusive):
//   P = c[0 .. i-1] with the outliers sum(c[i .. u-1]) added to P[i-1];
//   Q = c[0 .. i-1] WITHOUT the outliers (as the slides and NVIDIA's pytorch-quantization do),
//       bin j belonging to level floor(j * num_quant_bins / i) (pytorch-quantization's
//       linspace/digitize split: levels get floor or ceil of i / num_quant_bins bins); each
//       level's total is spread evenly over its NON-EMPTY bins, empty bins stay 0;
//   P and Q are normalised to sum 1; KL(P || Q) = sum over j with P[j] > 0 of P[j] log(P[j]/Q[j]).
// Empty bins: Q[j] > 0 wherever c[j] > 0, so Q[j] == 0 < P[j] happens only at j = i-1 when bin
// i-1 is empty and there are outliers (or when all mass lies beyond i). That KL is +infinity
// (scipy.stats.entropy's value, which pytorch-quantization uses; no smoothing): such a candidate
// would map real data onto a level that holds none. The candidate i = u has no outliers, so a
// finite minimum always exists. Ties go to the larger i (less clipping; pytorch-quantization
// takes the last argmin too).
// Threshold: min((m + 0.5) * w, max|x|) for the best i = m, TensorRT's "(m + 0.5) * bin width"
// (pytorch-quantization takes the edge m * w instead; they differ by half a bin). Capped at max|x|
// because i = u means "no clipping".
// Candidates stop at u rather than at num_bins: TensorRT's histogram spans exactly [0, max|x|],
// ours spans up to twice that (power-of-two width), and the bins past u are empty padding.
// Searching i <= u is TensorRT's search over a histogram whose top edge is the last non-empty bin.
// If u <= start_bin there is nothing to search: t = max|x|.
// Exact zeros stay in bin 0 as TensorRT describes it (pytorch-quantization instead overwrites
// bin 0 with bin 1 to hide ReLU's zero spike; octet does not).
// Cost O(u * num_quant_bins). Error unless num_quant_bins >= 1 and start_bin >= 1.
// flatten_zero_bin: count bin 0 as holding what bin 1 holds (NVIDIA's pytorch-quantization does the
// same). The exact zeros of a ReLU output (often over half the values) otherwise dominate both
// distributions, and the search then prefers the smallest candidate: measured on the trained
// resnet8, every ReLU threshold fell to about 11% of its maximum and test top-1 to 21.5%.
double entropy_threshold(const Histogram& h, int num_quant_bins = 128, int start_bin = 128,
                         bool flatten_zero_bin = false);

// The KL divergence of every candidate of entropy_threshold: element i - start_bin is KL(P || Q)
// for i kept bins, i = start_bin .. used_bins() (empty when used_bins() <= start_bin). +inf where
// Q is 0 under mass of P. For reports and tests.
std::vector<double> entropy_divergences(const Histogram& h, int num_quant_bins = 128,
                                        int start_bin = 128, bool flatten_zero_bin = false);

// The threshold t minimising mse_expected_error(h, t, levels_positive) over the candidates
// t = (b + 1) * w for b = 0 .. used_bins() - 2 (every bin upper edge below the last non-empty bin)
// and t = max|x| (no clipping). Ties go to the smaller t. E.g. levels_positive = 127 for int8
// symmetric. Cost O(used_bins()^2). Error unless levels_positive >= 1.
double mse_threshold(const Histogram& h, int32_t levels_positive);

// The expected squared error per value of symmetric uniform quantization of the histogram's data
// with clipping threshold t > 0 and levels_positive positive levels (step s = t / levels):
//   Q(x) = s * min(round_half_even(|x| / s), levels)   (sign restored; the error is symmetric)
// Model: exact zeros have error 0; every other value is spread uniformly over its bin (bin 0's
// non-zero values over [0, w)). The error is integrated exactly under that model: the rounding
// sawtooth (x - s*round(x/s))^2 below t - s/2 and the clipping error (x - t)^2 above it. This is
// better than either evaluating the error at bin centres (which aliases when the step is a few
// bins wide: all values of a bin would round the same way) or the step^2/12 approximation (wrong
// for the sparse tail bins that decide the clip). Returns 0 for a histogram without width.
// Error if t is not positive and finite or levels_positive < 1.
double mse_expected_error(const Histogram& h, double t, int32_t levels_positive);

}  // namespace octet::quant
