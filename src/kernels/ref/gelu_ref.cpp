#include "kernels/ref/gelu_ref.h"

#include <cmath>

namespace octet::kernels {

void gelu_erf_ref(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    y[i] = static_cast<float>(0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0))));
  }
}

}  // namespace octet::kernels
