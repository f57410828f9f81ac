#include "quant/codebook.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "kernels/ref/round.h"
#include "quant/log_quant.h"

namespace octet::quant {

namespace {

void check_bits(int bits, int lo, const std::string& tensor_name, const char* what) {
  if (bits < lo || bits > 8)
    throw Error(str_cat(what, " of tensor '", tensor_name, "': bits is ", bits, ", must be in ", lo,
                        "..8"));
}

// The elements of each group, gathered in element order.
std::vector<std::vector<float>> split_groups(const Tensor& w, const ChannelLayout& layout) {
  std::vector<std::vector<float>> groups(static_cast<size_t>(layout.channels));
  const int64_t per_group = layout.channels > 0 ? w.numel() / layout.channels : 0;
  for (auto& g : groups) g.reserve(static_cast<size_t>(per_group));
  const float* x = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) groups[static_cast<size_t>(layout.group_of(i))].push_back(x[i]);
  return groups;
}

// A uniform double in [0, 1) from two raw mt19937 outputs (53 random bits). Written out rather than
// std::uniform_real_distribution, whose algorithm differs between standard libraries.
double uniform01(std::mt19937& rng) {
  const uint64_t hi = rng() >> 5;  // 27 bits
  const uint64_t lo = rng() >> 6;  // 26 bits
  return static_cast<double>((hi << 26) | lo) * (1.0 / 9007199254740992.0);
}

// x is at least as close to lo as to hi (lo <= hi): the boundary predicate of nearest_index.
inline bool closer_to_lower(double x, double lo, double hi) { return x - lo <= hi - x; }

// Sorted distinct values of one group and how often each occurs, with prefix sums for O(1)
// cluster means: count_prefix[j] = sum of counts of values [0, j), sum_prefix likewise of count*v.
struct WeightedValues {
  std::vector<float> value;
  std::vector<double> count;
  std::vector<double> count_prefix;
  std::vector<double> sum_prefix;
};

WeightedValues distinct_values(std::vector<float> xs) {
  std::sort(xs.begin(), xs.end());
  WeightedValues wv;
  for (float x : xs) {
    if (!wv.value.empty() && wv.value.back() == x) wv.count.back() += 1;
    else { wv.value.push_back(x); wv.count.push_back(1); }
  }
  const size_t n = wv.value.size();
  wv.count_prefix.assign(n + 1, 0);
  wv.sum_prefix.assign(n + 1, 0);
  for (size_t j = 0; j < n; ++j) {
    wv.count_prefix[j + 1] = wv.count_prefix[j] + wv.count[j];
    wv.sum_prefix[j + 1] = wv.sum_prefix[j] + wv.count[j] * static_cast<double>(wv.value[j]);
  }
  return wv;
}

// k-means++ seeding: K distinct centroids drawn from the values, the first with probability
// proportional to the count, each next proportional to count * (distance to nearest chosen)^2.
// Requires value.size() > K, so a value not yet chosen always has a positive weight.
std::vector<float> kmeanspp_seed(const WeightedValues& wv, int64_t k, std::mt19937& rng) {
  const size_t n = wv.value.size();
  std::vector<float> centroids;
  centroids.reserve(static_cast<size_t>(k));
  std::vector<double> d2(n, std::numeric_limits<double>::infinity());
  std::vector<double> weight_prefix(n + 1, 0);
  auto draw = [&](const std::vector<double>& prefix) {
    const double target = uniform01(rng) * prefix[n];
    // First j with prefix[j + 1] > target: value j's interval [prefix[j], prefix[j+1]) holds it.
    size_t j = static_cast<size_t>(std::upper_bound(prefix.begin() + 1, prefix.end(), target) -
                                   (prefix.begin() + 1));
    if (j >= n) j = n - 1;
    while (prefix[j + 1] == prefix[j] && j > 0) --j;  // never land on a zero-weight value
    return j;
  };
  size_t chosen = draw(wv.count_prefix);
  for (int64_t c = 0; c < k; ++c) {
    const float cval = wv.value[chosen];
    centroids.push_back(cval);
    if (c + 1 == k) break;
    for (size_t j = 0; j < n; ++j) {
      const double d = static_cast<double>(wv.value[j]) - cval;
      d2[j] = std::min(d2[j], d * d);
      weight_prefix[j + 1] = weight_prefix[j] + wv.count[j] * d2[j];
    }
    chosen = draw(weight_prefix);
    OCTET_CHECK(d2[chosen] > 0, "k-means++ drew an existing centroid");
  }
  std::sort(centroids.begin(), centroids.end());
  return centroids;
}

// cluster_end[k] = one past the last value assigned to centroid k (centroids ascending); values are
// assigned by the nearest_index rule, so cluster k is the run where the boundary predicate with
// centroid k+1 holds and the one with centroid k does not.
std::vector<size_t> cluster_ends(const WeightedValues& wv, const std::vector<float>& centroids) {
  const size_t k = centroids.size();
  std::vector<size_t> ends(k);
  for (size_t c = 0; c + 1 < k; ++c) {
    const double lo = centroids[c], hi = centroids[c + 1];
    ends[c] = static_cast<size_t>(
        std::partition_point(wv.value.begin(), wv.value.end(),
                             [&](float v) { return closer_to_lower(v, lo, hi); }) -
        wv.value.begin());
  }
  ends[k - 1] = wv.value.size();
  return ends;
}

// Lloyd iterations on sorted weighted values (more distinct values than centroids).
std::vector<float> lloyd(const WeightedValues& wv, std::vector<float> centroids, int max_iters) {
  const size_t k = centroids.size();
  std::vector<size_t> prev_ends;
  for (int it = 0; it < max_iters; ++it) {
    const std::vector<size_t> ends = cluster_ends(wv, centroids);
    if (ends == prev_ends) break;  // assignment unchanged: converged
    std::vector<size_t> empty;
    size_t begin = 0;
    for (size_t c = 0; c < k; ++c) {
      const size_t end = std::max(ends[c], begin);  // ends are non-decreasing; guard anyway
      const double cnt = wv.count_prefix[end] - wv.count_prefix[begin];
      if (cnt > 0) centroids[c] = static_cast<float>((wv.sum_prefix[end] - wv.sum_prefix[begin]) / cnt);
      else empty.push_back(c);
      begin = end;
    }
    if (!empty.empty()) {
      // Re-seed each empty cluster at the value contributing most to the squared error under the
      // assignment just made (with the updated centroids), skipping values already picked.
      std::vector<double> contribution(wv.value.size());
      begin = 0;
      for (size_t c = 0; c < k; ++c) {
        for (size_t j = begin; j < ends[c]; ++j) {
          const double d = static_cast<double>(wv.value[j]) - centroids[c];
          contribution[j] = wv.count[j] * d * d;
        }
        begin = std::max(begin, ends[c]);
      }
      for (size_t c : empty) {
        const size_t j = static_cast<size_t>(
            std::max_element(contribution.begin(), contribution.end()) - contribution.begin());
        OCTET_CHECK(contribution[j] > 0, "no value left to re-seed an empty cluster");
        centroids[c] = wv.value[j];
        contribution[j] = 0;
      }
      std::sort(centroids.begin(), centroids.end());
    }
    prev_ends = ends;
  }
  return centroids;
}

// The table of one group, exactly K entries, ascending.
std::vector<float> fit_group(const std::vector<float>& xs, int64_t k, uint32_t seed, int max_iters) {
  if (xs.empty()) return std::vector<float>(static_cast<size_t>(k), 0.f);
  const WeightedValues wv = distinct_values(xs);
  std::vector<float> table;
  if (static_cast<int64_t>(wv.value.size()) <= k) {
    table = wv.value;  // every distinct value gets its own entry: exact
  } else {
    std::mt19937 rng(seed);
    table = lloyd(wv, kmeanspp_seed(wv, k, rng), max_iters);
  }
  table.resize(static_cast<size_t>(k), table.back());  // pad with the largest value
  return table;
}

double sum_squares(const Tensor& t) {
  double s = 0;
  const float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) s += static_cast<double>(p[i]) * p[i];
  return s;
}

}  // namespace

ChannelLayout channel_layout(const Shape& shape, int64_t axis, const std::string& what) {
  ChannelLayout l;
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (axis == -1) {
    l.inner = shape_numel(shape);
    return l;
  }
  if (axis < 0 || axis >= rank)
    throw Error(str_cat(what, ": axis ", axis, " is out of range for shape ", shape_str(shape),
                        " (must be -1 for one group, or in [0, ", rank, "))"));
  for (int64_t d = 0; d < axis; ++d) l.outer *= shape[static_cast<size_t>(d)];
  l.channels = shape[static_cast<size_t>(axis)];
  for (int64_t d = axis + 1; d < rank; ++d) l.inner *= shape[static_cast<size_t>(d)];
  return l;
}

void check_codebook_input(const Tensor& w, int64_t axis, const std::string& tensor_name) {
  if (w.dtype() != DType::Float32)
    throw Error(str_cat("tensor '", tensor_name, "' is ", dtype_name(w.dtype()),
                        "; codebook quantization needs FLOAT"));
  channel_layout(w.shape(), axis, str_cat("tensor '", tensor_name, "'"));
  const float* x = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i)
    if (!std::isfinite(x[i]))
      throw Error(str_cat("tensor '", tensor_name, "' holds ", x[i], " at element ", i,
                          "; weights to quantize must be finite"));
}

int64_t nearest_index(const float* table, int64_t n, float x) {
  // Smallest k in [0, n-1) where x is at least as close to table[k] as to table[k+1]; else n-1.
  int64_t lo = 0, hi = n - 1;
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (closer_to_lower(x, table[mid], table[mid + 1])) hi = mid;
    else lo = mid + 1;
  }
  while (lo > 0 && table[lo - 1] == table[lo]) --lo;  // equal entries: the first one
  return lo;
}

Codebook kmeans_codebook(const Tensor& w, int bits, int64_t axis, uint32_t seed, int max_iters,
                         const std::string& tensor_name) {
  check_bits(bits, 1, tensor_name, "k-means codebook");
  if (max_iters < 0)
    throw Error(str_cat("k-means codebook of tensor '", tensor_name, "': max_iters is ", max_iters,
                        ", must be >= 0"));
  check_codebook_input(w, axis, tensor_name);
  const ChannelLayout layout = channel_layout(w.shape(), axis, tensor_name);
  const int64_t k = int64_t{1} << bits;

  Codebook cb;
  cb.bits = bits;
  cb.axis = axis;
  cb.centroids.reserve(static_cast<size_t>(layout.channels * k));
  for (const auto& xs : split_groups(w, layout)) {
    const std::vector<float> table = fit_group(xs, k, seed, max_iters);
    cb.centroids.insert(cb.centroids.end(), table.begin(), table.end());
  }
  // Indices against the final tables (nearest, ties lower), independent of how Lloyd ended.
  // Padding copies sit above the last used entry and equal it, so ties never pick them.
  cb.indices.resize(static_cast<size_t>(w.numel()));
  const float* x = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float* table = cb.centroids.data() + layout.group_of(i) * k;
    cb.indices[static_cast<size_t>(i)] = static_cast<uint8_t>(nearest_index(table, k, x[i]));
  }
  return cb;
}

Tensor decode(const Codebook& cb, const Shape& shape) {
  if (cb.bits < 1 || cb.bits > 8)
    throw Error(str_cat("codebook: bits is ", cb.bits, ", must be in 1..8"));
  const ChannelLayout layout = channel_layout(shape, cb.axis, "codebook");
  const int64_t k = cb.codes_per_group();
  Tensor out(DType::Float32, shape);
  if (static_cast<int64_t>(cb.indices.size()) != out.numel())
    throw Error(str_cat("codebook: ", cb.indices.size(), " indices for shape ", shape_str(shape),
                        " of ", out.numel(), " elements"));
  if (static_cast<int64_t>(cb.centroids.size()) != layout.channels * k)
    throw Error(str_cat("codebook: ", cb.centroids.size(), " centroids, expected ", layout.channels,
                        " group(s) of ", k, " for axis ", cb.axis, " of shape ", shape_str(shape)));
  float* y = out.data<float>();
  for (int64_t i = 0; i < out.numel(); ++i) {
    const int64_t idx = cb.indices[static_cast<size_t>(i)];
    if (idx >= k)
      throw Error(str_cat("codebook: index ", idx, " at element ", i, " is not below ", k,
                          " (2^", cb.bits, ")"));
    y[i] = cb.centroids[static_cast<size_t>(layout.group_of(i) * k + idx)];
  }
  return out;
}

WeightErrorReport weight_error(const Tensor& w, const Tensor& w_hat) {
  if (w.dtype() != DType::Float32 || w_hat.dtype() != DType::Float32)
    throw Error(str_cat("weight_error: tensors are ", dtype_name(w.dtype()), " and ",
                        dtype_name(w_hat.dtype()), "; both must be FLOAT"));
  if (w.shape() != w_hat.shape())
    throw Error(str_cat("weight_error: shapes ", shape_str(w.shape()), " and ",
                        shape_str(w_hat.shape()), " differ"));
  const float* a = w.data<float>();
  const float* b = w_hat.data<float>();
  double err2 = 0, max_abs = 0;
  for (int64_t i = 0; i < w.numel(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    err2 += d * d;
    max_abs = std::max(max_abs, std::fabs(d));
  }
  const double signal2 = sum_squares(w);
  WeightErrorReport r;
  r.mse = w.numel() > 0 ? err2 / static_cast<double>(w.numel()) : 0.0;
  r.max_abs = max_abs;
  if (err2 == 0) r.sqnr_db = std::numeric_limits<double>::infinity();
  else if (signal2 == 0) r.sqnr_db = -std::numeric_limits<double>::infinity();
  else r.sqnr_db = 10.0 * std::log10(signal2 / err2);
  return r;
}

Tensor linear_symmetric_fake_quant(const Tensor& w, int bits, int64_t axis,
                                   const std::string& tensor_name) {
  check_bits(bits, 2, tensor_name, "linear symmetric quantization");
  check_codebook_input(w, axis, tensor_name);
  const ChannelLayout layout = channel_layout(w.shape(), axis, tensor_name);
  const int32_t qmax = (int32_t{1} << (bits - 1)) - 1;
  const float* x = w.data<float>();
  std::vector<float> max_abs(static_cast<size_t>(layout.channels), 0.f);
  for (int64_t i = 0; i < w.numel(); ++i) {
    float& m = max_abs[static_cast<size_t>(layout.group_of(i))];
    m = std::max(m, std::fabs(x[i]));
  }
  std::vector<float> scale(max_abs.size());
  for (size_t c = 0; c < scale.size(); ++c) {
    float s = max_abs[c] == 0.f ? 1.f : max_abs[c] / static_cast<float>(qmax);
    if (!(s > 0.f)) s = std::numeric_limits<float>::denorm_min();  // underflow of a tiny max
    scale[c] = s;
  }
  Tensor out(DType::Float32, w.shape());
  float* y = out.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) {
    const float s = scale[static_cast<size_t>(layout.group_of(i))];
    y[i] = static_cast<float>(kernels::quantize_value(x[i], s, 0, -qmax, qmax)) * s;
  }
  return out;
}

WeightQuantizerComparison compare_weight_quantizers(const Tensor& w, int bits, int64_t axis,
                                                    uint32_t seed, const std::string& tensor_name) {
  check_bits(bits, 2, tensor_name, "weight quantizer comparison");
  WeightQuantizerComparison r;
  r.bits = bits;
  r.axis = axis;
  r.linear = weight_error(w, linear_symmetric_fake_quant(w, bits, axis, tensor_name));
  r.kmeans = weight_error(w, decode(kmeans_codebook(w, bits, axis, seed, 50, tensor_name), w.shape()));
  r.pow2 = weight_error(w, decode(pow2_codebook(w, bits, axis, tensor_name), w.shape()));
  return r;
}

}  // namespace octet::quant
