#include "kernels/ref/sconv_shift_ref.h"

namespace octet::kernels {

void sconv_shift_ref(const SconvShiftParams& p, const float* a, const float* x, float* c, int64_t ldc) {
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t q = 0; q < p.Q; ++q) {
      float s = 0.f;
      for (int64_t k = 0; k < p.K; ++k) s += a[m * p.K + k] * x[p.off[k] + q];
      if (p.bias) s += p.bias[m];
      s = p.lo > s ? p.lo : s;
      s = p.hi < s ? p.hi : s;
      c[m * ldc + q] = s;
    }
}

}  // namespace octet::kernels
