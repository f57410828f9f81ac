#include "kernels/ref/softmax_ref.h"

#include <cmath>

namespace octet::kernels {

template <class T>
void softmax_ref(const T* x, T* y, const SoftmaxParams& p) {
  const int64_t n = p.n, inner = p.inner;
  if (n <= 0) return;
  for (int64_t o = 0; o < p.outer; ++o) {
    for (int64_t i = 0; i < inner; ++i) {
      const T* px = x + o * n * inner + i;
      T* py = y + o * n * inner + i;
      // Row maximum; the first NaN wins (needed by Hardmax; Softmax turns NaN anyway).
      int64_t arg = 0;
      double m = static_cast<double>(px[0]);
      for (int64_t j = 1; j < n && !std::isnan(m); ++j) {
        const double v = static_cast<double>(px[j * inner]);
        if (v > m || std::isnan(v)) {
          m = v;
          arg = j;
        }
      }
      if (p.op == SoftmaxOp::Hardmax) {
        for (int64_t j = 0; j < n; ++j) py[j * inner] = static_cast<T>(j == arg ? 1 : 0);
        continue;
      }
      double sum = 0.0;
      for (int64_t j = 0; j < n; ++j) sum += std::exp(static_cast<double>(px[j * inner]) - m);
      if (p.op == SoftmaxOp::Softmax) {
        for (int64_t j = 0; j < n; ++j)
          py[j * inner] = static_cast<T>(std::exp(static_cast<double>(px[j * inner]) - m) / sum);
      } else {
        const double log_sum = std::log(sum);
        for (int64_t j = 0; j < n; ++j)
          py[j * inner] = static_cast<T>((static_cast<double>(px[j * inner]) - m) - log_sum);
      }
    }
  }
}

template void softmax_ref<float>(const float*, float*, const SoftmaxParams&);
template void softmax_ref<double>(const double*, double*, const SoftmaxParams&);

}  // namespace octet::kernels
