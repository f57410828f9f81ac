// The row loop shared by the LayerNormalization kernels (act_avx2.cpp, and its zmm build in
// kernels/avx512/act_zmm.cpp): Scale and B converted to double once per call, then rows in groups
// of 8, each step (sum, variance, square root, normalisation) for all rows of the group before the
// next, so that one row's chain of dependent steps overlaps the others'; a group's statistics are
// all taken before any of its rows is written (y may alias x). The ISA files supply the striped
// row sum and the row normalisation. Internal to those files: everything is in an anonymous
// namespace, each keeps its copy.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace octet::kernels {
namespace {

// row_sum(xr, cols, m, squares): layernorm_ref's striped sum of x (squares false) or of (x - m)^2;
// normalize(xr, cols, m, inv, scale_d, bias_d or nullptr, yr): y = float(((x - m) inv) scale + b).
template <class RowSum, class Normalize>
void layernorm_groups(int64_t rows, int64_t cols, const float* x, const float* scale, const float* bias,
                      double epsilon, float* y, RowSum row_sum, Normalize normalize) {
  if (cols <= 0) return;
  std::vector<double> params(static_cast<size_t>(bias ? 2 * cols : cols));
  for (int64_t j = 0; j < cols; ++j) params[static_cast<size_t>(j)] = static_cast<double>(scale[j]);
  if (bias)
    for (int64_t j = 0; j < cols; ++j) params[static_cast<size_t>(cols + j)] = static_cast<double>(bias[j]);
  const double* sd = params.data();
  const double* bd = bias ? params.data() + cols : nullptr;
  const double n = static_cast<double>(cols);
  constexpr int64_t G = 8;
  for (int64_t r0 = 0; r0 < rows; r0 += G) {
    const int64_t g = std::min(G, rows - r0);
    double m[G], inv[G];
    for (int64_t k = 0; k < g; ++k) m[k] = row_sum(x + (r0 + k) * cols, cols, 0.0, false) / n;
    for (int64_t k = 0; k < g; ++k) inv[k] = row_sum(x + (r0 + k) * cols, cols, m[k], true) / n;
    for (int64_t k = 0; k < g; ++k) inv[k] = 1.0 / std::sqrt(inv[k] + epsilon);
    for (int64_t k = 0; k < g; ++k) normalize(x + (r0 + k) * cols, cols, m[k], inv[k], sd, bd, y + (r0 + k) * cols);
  }
}

}  // namespace
}  // namespace octet::kernels
