// The row loop shared by the LayerNormalization kernels (act_avx2.cpp, and its zmm build in
// kernels/avx512/act_zmm.cpp): rows in groups of 8, each step (sum, variance, square root,
// normalisation) for all rows of the group before the next, so that one row's chain of dependent
// steps overlaps the others'; a group's statistics are all taken before any of its rows is
// written (y may alias x). Everything in float, rounded as layernorm_ref (kernels/ref/norm_ref.h)
// rounds it. The ISA files supply the striped row sum and the row normalisation. Internal to
// those files: everything is in an anonymous namespace, each keeps its copy.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace octet::kernels {
namespace {

// row_sum(xr, cols, m, squares): layernorm_ref's striped sum of x (squares false) or of (x - m)^2;
// normalize(xr, cols, m, inv, scale, bias or nullptr, yr): y = ((x - m) inv) scale + bias.
template <class RowSum, class Normalize>
void layernorm_groups(int64_t rows, int64_t cols, const float* x, const float* scale, const float* bias,
                      double epsilon, float* y, RowSum row_sum, Normalize normalize) {
  if (cols <= 0) return;
  const float n = static_cast<float>(cols), eps = static_cast<float>(epsilon);
  constexpr int64_t G = 8;
  for (int64_t r0 = 0; r0 < rows; r0 += G) {
    const int64_t g = std::min(G, rows - r0);
    float m[G], inv[G];
    for (int64_t k = 0; k < g; ++k) m[k] = row_sum(x + (r0 + k) * cols, cols, 0.f, false) / n;
    for (int64_t k = 0; k < g; ++k) inv[k] = row_sum(x + (r0 + k) * cols, cols, m[k], true) / n;
    for (int64_t k = 0; k < g; ++k) inv[k] = 1.f / std::sqrt(inv[k] + eps);
    for (int64_t k = 0; k < g; ++k) normalize(x + (r0 + k) * cols, cols, m[k], inv[k], scale, bias, y + (r0 + k) * cols);
  }
}

}  // namespace
}  // namespace octet::kernels
