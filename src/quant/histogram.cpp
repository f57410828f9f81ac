#include "quant/histogram.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "ir/error.h"
#include "kernels/avx2/eltwise_avx2.h"
#include "kernels/ref/reduce_ref.h"
#include "kernels/ref/round.h"
#include "runtime/thread_pool.h"

namespace octet::quant {

namespace {

// The smallest k with m < num_bins * 2^k, for finite m > 0. ldexp of an integer below 2^25 by any
// exponent a float needs is exact in double, so the comparisons are exact.
int smallest_covering_exponent(double m, int num_bins) {
  int e = 0;
  std::frexp(m, &e);  // m < 2^e
  int bits = 0;
  while ((int64_t{1} << bits) <= num_bins) ++bits;  // num_bins < 2^bits
  int k = e - bits;  // num_bins * 2^k < 2^e: an underestimate to walk up from
  while (std::ldexp(static_cast<double>(num_bins), k) <= m) ++k;
  while (std::ldexp(static_cast<double>(num_bins), k - 1) > m) --k;
  return k;
}

[[noreturn]] void throw_not_finite(float v, int64_t i, const std::string& tensor_name) {
  const char* what = std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
  throw Error(str_cat("tensor '", tensor_name, "' has ", what, " at element ", i,
                      " of this batch; calibration needs finite values"));
}

}  // namespace

void finite_range(const float* x, int64_t n, const std::string& tensor_name, float* lo, float* hi) {
  OCTET_CHECK(n >= 1, "finite_range of an empty batch");
  const int64_t bad = kernels::minmax_finite_f32_best(x, n, lo, hi);
  if (bad >= 0) throw_not_finite(x[bad], bad, tensor_name);
}

namespace {

// Values per piece below which a batch's per-value passes stay on one thread: the pool's wake-up
// costs about as much as a pass over this many floats.
constexpr int64_t kParallelGrain = 32 * 1024;

bool split(const ThreadPool* pool, int64_t n) { return pool && pool->size() > 1 && n >= 2 * kParallelGrain; }

// Adds floor(|x[i]| * inv_width) of each x[i] (finite, every bin index below num_bins) to
// counts[0, num_bins); returns how many x[i] are zero (counted in bin 0 as well).
// Four interleaved 32-bit sub-histograms (32 KiB at 2048 bins) take consecutive values, so that
// runs of values in one bin (a ReLU's zeros, a smooth activation) do not make each increment wait
// for the previous one's store; they are summed into counts every 2^30 values, before a 32-bit
// counter could overflow. Bigger histograms count straight into counts.
uint64_t count_bins(const float* x, int64_t n, double inv_width, uint64_t* counts, size_t num_bins) {
  const int64_t last = static_cast<int64_t>(num_bins) - 1;
  auto bin_of = [&](float v) {
    // |v| * 2^-k is exact in double (a float times a power of two within double's range), so the
    // truncation is floor(|v| / w) exactly; it is below 2^24, so int64 holds it.
    const int64_t b = static_cast<int64_t>(std::fabs(static_cast<double>(v)) * inv_width);
    OCTET_CHECK(b <= last, "histogram bin ", b, " out of range for |x| = ", std::fabs(static_cast<double>(v)));
    return b;
  };
  uint64_t zeros = 0;
  if (num_bins > 2048) {
    for (int64_t i = 0; i < n; ++i) {
      ++counts[bin_of(x[i])];
      zeros += x[i] == 0.f;
    }
    return zeros;
  }
  std::vector<uint32_t> sub(4 * num_bins, 0);
  uint32_t* s0 = sub.data();
  uint32_t* s1 = s0 + num_bins;
  uint32_t* s2 = s1 + num_bins;
  uint32_t* s3 = s2 + num_bins;
  constexpr int64_t kFlush = int64_t{1} << 30;
  for (int64_t b0 = 0; b0 < n; b0 += kFlush) {
    const int64_t b1 = std::min(n, b0 + kFlush);
    int64_t i = b0;
    for (; i + 4 <= b1; i += 4) {
      ++s0[bin_of(x[i])];
      ++s1[bin_of(x[i + 1])];
      ++s2[bin_of(x[i + 2])];
      ++s3[bin_of(x[i + 3])];
      zeros += static_cast<uint64_t>(x[i] == 0.f) + (x[i + 1] == 0.f) + (x[i + 2] == 0.f) + (x[i + 3] == 0.f);
    }
    for (; i < b1; ++i) {
      ++s0[bin_of(x[i])];
      zeros += x[i] == 0.f;
    }
    for (size_t j = 0; j < num_bins; ++j) {
      counts[j] += uint64_t{s0[j]} + s1[j] + s2[j] + s3[j];
      s0[j] = s1[j] = s2[j] = s3[j] = 0;
    }
  }
  return zeros;
}

}  // namespace

FiniteBatch finite_batch(const float* x, int64_t n, const std::string& tensor_name, ThreadPool* pool) {
  OCTET_CHECK(n >= 1, "finite_batch of an empty batch");
  FiniteBatch b{x, n, 0.f, 0.f, pool};
  if (!split(pool, n)) {
    finite_range(x, n, tensor_name, &b.min, &b.max);
    return b;
  }
  std::mutex mu;
  bool any = false;
  int64_t bad = -1;  // the smallest bad index over all pieces
  pool->parallel_for(n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    float lo, hi;
    const int64_t k = kernels::minmax_finite_f32_best(x + i0, i1 - i0, &lo, &hi);
    std::lock_guard<std::mutex> lock(mu);
    if (k >= 0) {
      if (bad < 0 || i0 + k < bad) bad = i0 + k;
    } else {
      b.min = any ? std::min(b.min, lo) : lo;
      b.max = any ? std::max(b.max, hi) : hi;
      any = true;
    }
  });
  if (bad >= 0) throw_not_finite(x[bad], bad, tensor_name);
  return b;
}

Histogram::Histogram(int num_bins) {
  if (num_bins < 1 || num_bins > kMaxBins)
    throw Error(str_cat("histogram: bin count ", num_bins, " is outside [1, ", kMaxBins, "]"));
  counts_.assign(static_cast<size_t>(num_bins), 0);
}

double Histogram::bin_width() const {
  return has_width_ ? std::ldexp(1.0, width_exponent_) : 0.0;
}

double Histogram::max_abs() const {
  return std::max(std::fabs(static_cast<double>(min_)), std::fabs(static_cast<double>(max_)));
}

int Histogram::used_bins() const {
  for (int b = num_bins(); b > 0; --b)
    if (counts_[static_cast<size_t>(b - 1)] != 0) return b;
  return 0;
}

void Histogram::cover(double max_abs) {
  const int k = smallest_covering_exponent(max_abs, num_bins());
  if (!has_width_) {
    // Only bin 0 can be non-zero (exact zeros), and it stays bin 0 at any width.
    has_width_ = true;
    width_exponent_ = k;
    return;
  }
  if (k <= width_exponent_) return;
  // Widening by d doublings maps bin b to b >> d, the same as d pairwise sums in a row.
  const int d = k - width_exponent_;
  const size_t nb = counts_.size();
  if (d >= 31) {  // every bin index (< 2^24) lands in bin 0
    uint64_t sum = 0;
    for (uint64_t c : counts_) sum += c;
    std::fill(counts_.begin(), counts_.end(), 0);
    counts_[0] = sum;
  } else {
    for (size_t b = 1; b < nb; ++b) {  // b >> d <= b, so ascending order reads before it writes
      const uint64_t c = counts_[b];
      counts_[b] = 0;
      counts_[b >> d] += c;
    }
  }
  width_exponent_ = k;
}

void Histogram::add(const float* x, int64_t n, const std::string& tensor_name) {
  if (n <= 0) return;
  add(finite_batch(x, n, tensor_name, nullptr));  // the range first: no state changes on an Error
}

void Histogram::add(const FiniteBatch& b) {
  if (b.n <= 0) return;
  if (total_ == 0) {
    min_ = b.min;
    max_ = b.max;
  } else {
    min_ = std::min(min_, b.min);
    max_ = std::max(max_, b.max);
  }
  total_ += static_cast<uint64_t>(b.n);
  const double batch_max_abs = std::max(std::fabs(static_cast<double>(b.min)), std::fabs(static_cast<double>(b.max)));
  if (batch_max_abs > 0) cover(batch_max_abs);

  // |x| < num_bins * w keeps every bin index in range (see count_bins).
  const double inv_width = has_width_ ? std::ldexp(1.0, -width_exponent_) : 0.0;
  // Pieces count into their own bins at the one width just set, summed here: the same counts.
  // Per-piece counters cost num_bins * 8 bytes each, so very fine histograms stay serial.
  if (!split(b.pool, b.n) || static_cast<int64_t>(counts_.size()) > b.n / 8) {
    zeros_ += count_bins(b.x, b.n, inv_width, counts_.data(), counts_.size());
    return;
  }
  std::mutex mu;
  b.pool->parallel_for(b.n, kParallelGrain, [&](int64_t i0, int64_t i1) {
    std::vector<uint64_t> local(counts_.size(), 0);
    const uint64_t zeros = count_bins(b.x + i0, i1 - i0, inv_width, local.data(), local.size());
    std::lock_guard<std::mutex> lock(mu);
    for (size_t j = 0; j < local.size(); ++j) counts_[j] += local[j];
    zeros_ += zeros;
  });
}

void Histogram::merge(const Histogram& other) {
  if (other.num_bins() != num_bins())
    throw Error(str_cat("histogram: cannot merge a histogram of ", other.num_bins(),
                        " bins into one of ", num_bins(), " bins"));
  if (other.total_ == 0) return;
  if (total_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  total_ += other.total_;
  zeros_ += other.zeros_;
  if (other.has_width_) cover(other.max_abs());
  if (!other.has_width_) {  // other holds only zeros, all in its bin 0
    counts_[0] += other.counts_[0];
    return;
  }
  // Both widths are the smallest covering their own max|x|, so ours (covering both) is >= other's.
  const int d = width_exponent_ - other.width_exponent_;
  OCTET_CHECK(d >= 0, "histogram merge: width exponent ", width_exponent_, " < ",
              other.width_exponent_);
  for (size_t b = 0; b < other.counts_.size(); ++b)
    counts_[d >= 31 ? 0 : (b >> d)] += other.counts_[b];
}

// ---------------------------------------------------------------------------------------------

double percentile_threshold(const Histogram& h, double percentile) {
  if (!(percentile > 0 && percentile <= 100))
    throw Error(str_cat("percentile calibration: percentile ", percentile,
                        " is outside (0, 100]"));
  if (!h.has_width()) return 0.0;
  const std::vector<uint64_t>& c = h.counts();
  // cum >= p/100 * total, compared as 100 * cum >= p * total in long double with a relative
  // slack of 1e-12: a decimal percentile has no exact binary value (0.1 is stored as
  // 0.1000000000000000055), and without the slack 0.1% of 1000 values would need 2 values.
  const long double need =
      static_cast<long double>(percentile) * h.total_count() * (1.0L - 1e-12L);
  long double cum = 0;
  const int u = h.used_bins();
  for (int b = 0; b < u; ++b) {
    cum += c[static_cast<size_t>(b)];
    if (100.0L * cum >= need) return std::ldexp(static_cast<double>(b + 1), h.width_exponent());
  }
  return std::ldexp(static_cast<double>(u), h.width_exponent());  // rounding guard, p == 100
}

namespace {

void check_entropy_args(int num_quant_bins, int start_bin) {
  if (num_quant_bins < 1)
    throw Error(str_cat("entropy calibration: num_quant_bins ", num_quant_bins, " must be >= 1"));
  if (start_bin < 1)
    throw Error(str_cat("entropy calibration: start_bin ", start_bin, " must be >= 1"));
}

}  // namespace

// KL(P || Q) per candidate from prefix sums over bins, O(num_quant_bins) per candidate. With
// T = total, S = sum(c[0..i-1]) and a_l = (sum of level l) / (non-empty bins of level l), a bin
// j < i-1 with c_j > 0 contributes (c_j / T) log((c_j / T) / (a_l / S)), so a whole level
// contributes (sum c_j log c_j - (sum c_j) log a_l + (sum c_j) log(S / T)) / T, all from prefix
// sums of c, c log c and the non-empty count. Bin i-1 (the last bin of the last level) carries
// the outliers in P and is added on its own.
std::vector<double> entropy_divergences(const Histogram& h, int num_quant_bins, int start_bin,
                                        bool flatten_zero_bin) {
  check_entropy_args(num_quant_bins, start_bin);
  std::vector<double> kl;
  const int u = h.used_bins();
  if (!h.has_width() || u <= start_bin) return kl;
  std::vector<uint64_t> c = h.counts();
  if (flatten_zero_bin && c.size() > 1) c[0] = c[1];
  std::vector<double> sum_c(static_cast<size_t>(u) + 1, 0.0), sum_clogc(sum_c), nonempty(sum_c);
  for (int j = 0; j < u; ++j) {
    const double cj = static_cast<double>(c[static_cast<size_t>(j)]);
    sum_c[j + 1] = sum_c[j] + cj;
    sum_clogc[j + 1] = sum_clogc[j] + (cj > 0 ? cj * std::log(cj) : 0.0);
    nonempty[j + 1] = nonempty[j] + (cj > 0 ? 1.0 : 0.0);
  }
  const double total = sum_c[u];
  const double inf = std::numeric_limits<double>::infinity();
  const int64_t levels = num_quant_bins;
  kl.reserve(static_cast<size_t>(u - start_bin + 1));
  for (int i = start_bin; i <= u; ++i) {
    const double kept = sum_c[i];
    const double outliers = total - kept;
    const double last = static_cast<double>(c[static_cast<size_t>(i - 1)]);
    if (kept == 0 || (last == 0 && outliers > 0)) {  // Q is 0 where P has mass
      kl.push_back(inf);
      continue;
    }
    const double log_s_over_t = std::log(kept / total);
    double sum = 0;
    double last_level_mean = 0;
    for (int64_t l = 0; l < levels; ++l) {
      // Bins j with floor(j * levels / i) == l: j in [ceil(l i / levels), ceil((l+1) i / levels)).
      const int64_t lo = (l * i + levels - 1) / levels;
      const int64_t hi = ((l + 1) * i + levels - 1) / levels;
      const double n = nonempty[hi] - nonempty[lo];
      if (n == 0) continue;
      double s = sum_c[hi] - sum_c[lo];
      double slogs = sum_clogc[hi] - sum_clogc[lo];
      const double mean = s / n;
      if (hi == i) {  // the level holding bin i-1: leave that bin out here
        last_level_mean = mean;
        s -= last;
        slogs -= last > 0 ? last * std::log(last) : 0.0;
      }
      if (s > 0) sum += slogs - s * std::log(mean) + s * log_s_over_t;
    }
    const double p_last = last + outliers;  // > 0: last == 0 && outliers == 0 would mean u < i
    if (p_last > 0) sum += p_last * (std::log(p_last) - std::log(last_level_mean) + log_s_over_t);
    // Rounding can leave a tiny negative value where P == Q; KL is never negative.
    kl.push_back(std::max(0.0, sum / total));
  }
  return kl;
}

double entropy_threshold(const Histogram& h, int num_quant_bins, int start_bin, bool flatten_zero_bin) {
  check_entropy_args(num_quant_bins, start_bin);
  if (!h.has_width()) return 0.0;
  const std::vector<double> kl = entropy_divergences(h, num_quant_bins, start_bin, flatten_zero_bin);
  if (kl.empty()) return h.max_abs();  // u <= start_bin: nothing to clip
  size_t best = 0;
  for (size_t k = 1; k < kl.size(); ++k)
    if (kl[k] <= kl[best]) best = k;  // <=: ties go to the larger i
  const double m = static_cast<double>(start_bin) + static_cast<double>(best);
  return std::min((m + 0.5) * h.bin_width(), h.max_abs());
}

// ---------------------------------------------------------------------------------------------

namespace {

// G(u) = integral over [-1/2, u] of (z - round(z))^2 dz, for u >= 0: n whole periods of 1/12 and
// the part of the current one, r = u - n in [-1/2, 1/2]. Continuous at the half-integers, so the
// tie rule of the rounding does not matter (round.h's is used for n).
double sawtooth_integral(double u) {
  const double n = kernels::round_half_even(u);
  const double r = u - n;
  return n / 12.0 + (r * r * r + 0.125) / 3.0;
}

// Expected squared error (in bin units, summed, not divided by the count) of the model of
// mse_expected_error, with t, the step and the bins all measured in bin widths.
double squared_error_in_bins(const std::vector<uint64_t>& c, uint64_t zeros, int used, double t,
                             int32_t levels) {
  const double step = t / levels;
  const double clip_from = t - step / 2;  // |x| >= this rounds to the top level t
  const double step3 = step * step * step;
  double err = 0;
  double g_at_a = sawtooth_integral(0.0);  // G at the current bin's lower edge, carried along
  for (int j = 0; j < used; ++j) {
    const double a = j, b = j + 1.0;  // the bin, uniform density `count` per unit length
    double g_at_hi = 0;
    if (a < clip_from) {  // evaluated for empty bins too: the next bin needs it
      g_at_hi = sawtooth_integral(std::min(b, clip_from) / step);
    }
    double count = static_cast<double>(c[static_cast<size_t>(j)]);
    if (j == 0) count -= static_cast<double>(zeros);  // exact zeros: error 0
    const double g_at_lo = g_at_a;
    g_at_a = g_at_hi;
    if (count <= 0) continue;
    double e = 0;
    if (a < clip_from) e += step3 * (g_at_hi - g_at_lo);
    if (b > clip_from) {
      const double lo = std::max(a, clip_from);
      e += ((b - t) * (b - t) * (b - t) - (lo - t) * (lo - t) * (lo - t)) / 3.0;
    }
    err += count * e;
  }
  return err;
}

void check_levels(int32_t levels_positive) {
  if (levels_positive < 1)
    throw Error(str_cat("mse calibration: levels_positive ", levels_positive, " must be >= 1"));
}

}  // namespace

double mse_expected_error(const Histogram& h, double t, int32_t levels_positive) {
  check_levels(levels_positive);
  if (!(t > 0) || !std::isfinite(t))
    throw Error(str_cat("mse calibration: threshold ", t, " must be positive and finite"));
  if (!h.has_width()) return 0.0;
  const double w = h.bin_width();
  const double err = squared_error_in_bins(h.counts(), h.zero_count(), h.used_bins(), t / w,
                                           levels_positive);
  return err / static_cast<double>(h.total_count()) * w * w;
}

double mse_threshold(const Histogram& h, int32_t levels_positive) {
  check_levels(levels_positive);
  if (!h.has_width()) return 0.0;
  const int u = h.used_bins();
  const double w = h.bin_width();
  // Candidates in bin units: the edges 1 .. u-1, then max|x| / w (exact: w is a power of two).
  const double max_in_bins = h.max_abs() / w;
  double best_t = max_in_bins;
  double best_err = std::numeric_limits<double>::infinity();
  for (int e = 1; e <= u; ++e) {
    const double t = e < u ? static_cast<double>(e) : max_in_bins;
    const double err = squared_error_in_bins(h.counts(), h.zero_count(), u, t, levels_positive);
    if (err < best_err) {  // strict: ties keep the smaller t
      best_err = err;
      best_t = t;
    }
  }
  return best_t * w;
}

}  // namespace octet::quant
