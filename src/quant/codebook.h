// Non-linear weight quantization, part 1: codebooks. A codebook replaces each weight by a small
// index into a table of float values (its "centroids"). Two quantizers produce one:
//   - k-means (this file): the table is fitted to the weights by 1-D k-means (Lloyd iterations
//     after k-means++ seeding), which minimises the squared error for the table size;
//   - power of two (quant/log_quant.h): the table is {0, +-2^e} for a window of exponents.
// Both share the Codebook form, so the ONNX rewrite (passes/codebook_weights.h) and decode() treat
// them alike. This file also holds the error report used to compare them with linear quantization.
//
// Groups: with axis == -1 the whole tensor shares one table; with axis >= 0 every index c along
// that axis (a "channel", e.g. a Conv output channel) has its own table. Elements are numbered
// row-major as in the tensor; element i belongs to channel (i / inner) % channels, where the tensor
// is viewed as [outer, channels, inner] around the axis (see ChannelLayout).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace octet::quant {

struct Codebook {
  // Group g's table is centroids[g*K, (g+1)*K) with K = 2^bits, ascending within the group.
  // Slots no index refers to (a group with fewer distinct weights than K, the spare code of the
  // power-of-two form) hold a copy of the group's largest value, so the order stays ascending.
  std::vector<float> centroids;
  // One per weight element (row-major), each < K: the index into its group's table.
  std::vector<uint8_t> indices;
  int bits = 0;        // 1..8
  int64_t axis = -1;   // -1: one table for the tensor; else one table per index on this axis

  int64_t codes_per_group() const { return int64_t{1} << bits; }
  int64_t num_groups() const {
    return bits > 0 ? static_cast<int64_t>(centroids.size()) >> bits : 0;
  }
};

// The tensor viewed as [outer, channels, inner] around `axis`. Axis -1 (one group) gives
// outer = 1, channels = 1, inner = numel, so group_of() is 0 for every element.
struct ChannelLayout {
  int64_t outer = 1;
  int64_t channels = 1;
  int64_t inner = 1;
  int64_t group_of(int64_t element) const { return (element / inner) % channels; }
};
// Throws Error (naming `what`) unless axis is -1 or in [0, rank).
ChannelLayout channel_layout(const Shape& shape, int64_t axis, const std::string& what);

// Checks what every codebook quantizer needs of its input and throws Error naming `tensor_name`
// otherwise: FLOAT32, axis -1 or in [0, rank), and every element finite (the first NaN/Inf is
// named with its element index and value).
void check_codebook_input(const Tensor& w, int64_t axis, const std::string& tensor_name);

// Index of the entry of table[0, n) (ascending, n >= 1) nearest to x, ties to the lower index
// (also among equal entries, so padding copies at the end of a table are never chosen).
// Distances are compared in double: x belongs below the boundary between table[k] and table[k+1]
// when x - table[k] <= table[k+1] - x. That predicate is monotone in k, so this is a binary search.
int64_t nearest_index(const float* table, int64_t n, float x);

// k-means codebook of a FLOAT32 weight tensor, per tensor (axis -1) or per channel (axis >= 0).
// For each group with K = 2^bits:
//   - at most K distinct values: the table holds exactly those values (zero error);
//   - otherwise k-means++ seeding (D^2 sampling, each element weighted equally) from a
//     std::mt19937 seeded with `seed` (uniform doubles are formed from its raw 32-bit outputs, not
//     std::uniform_real_distribution, so the result is the same with every standard library),
//     then Lloyd iterations until the assignment stops changing or `max_iters` rounds ran.
//     Because the data are 1-D the work is done on the sorted distinct values with prefix sums: a
//     cluster is a contiguous run, found by binary search, and its mean costs O(1).
//     A cluster left empty is re-seeded at the distinct value contributing most to the squared
//     error (count * distance^2 to its own centroid; the lowest such value on ties).
//   Every group uses the same seed (a fresh generator per group), so the result depends only on the
//   group's values, the bits and the seed.
// Guarantees: each index is the nearest centroid of the returned table (nearest_index: ties to the
// lower centroid), whether or not Lloyd converged. Throws Error naming `tensor_name` for bits
// outside 1..8, max_iters < 0, a bad axis, a non-FLOAT32 tensor or a NaN/Inf weight.
Codebook kmeans_codebook(const Tensor& w, int bits, int64_t axis, uint32_t seed, int max_iters = 50,
                         const std::string& tensor_name = "weight");

// The FLOAT32 tensor of `shape` the codebook stands for: element i = its group's table[indices[i]].
// Throws Error if the codebook does not fit the shape (index count, table size, axis, an index >= K).
Tensor decode(const Codebook& cb, const Shape& shape);

// How far a quantized weight is from the original. Both FLOAT32 of one shape (else Error).
//   mse     = mean((w - w_hat)^2), accumulated in double
//   sqnr_db = 10 log10(sum w^2 / sum (w - w_hat)^2); +infinity when the error is zero (an exact
//             copy, including an empty or all-zero tensor), -infinity when w is all zero but w_hat
//             is not
//   max_abs = max |w - w_hat|
struct WeightErrorReport {
  double mse = 0;
  double sqnr_db = 0;
  double max_abs = 0;
};
WeightErrorReport weight_error(const Tensor& w, const Tensor& w_hat);

// Linear symmetric fake quantization (quantize then dequantize), per tensor (axis -1) or per
// channel: scale = max|w| / (2^(bits-1) - 1) over the group, q = quantize_value(x, scale, 0,
// -(2^(bits-1) - 1), 2^(bits-1) - 1) (round.h: half to even, saturate), w_hat = q * scale in float.
// An all-zero group uses scale 1 (w_hat = 0); a scale that underflows to 0 uses the smallest
// positive float instead, so no scale is zero. bits 2..8 (1 bit has no symmetric level but 0).
// Same input checks as kmeans_codebook.
Tensor linear_symmetric_fake_quant(const Tensor& w, int bits, int64_t axis,
                                   const std::string& tensor_name = "weight");

// The three weight quantizers at one bit width and granularity, each against the original: what
// `octet quantize` reports to show what k-means and power-of-two buy over linear. bits 2..8.
struct WeightQuantizerComparison {
  int bits = 0;
  int64_t axis = -1;
  WeightErrorReport linear;  // linear_symmetric_fake_quant
  WeightErrorReport kmeans;  // kmeans_codebook(w, bits, axis, seed)
  WeightErrorReport pow2;    // pow2_codebook(w, bits, axis), quant/log_quant.h
};
WeightQuantizerComparison compare_weight_quantizers(const Tensor& w, int bits, int64_t axis,
                                                    uint32_t seed,
                                                    const std::string& tensor_name = "weight");

}  // namespace octet::quant
