#include "kernels/ref/sconv_direct_ref.h"

namespace octet::kernels {

void sconv_direct_ref(const SconvDirectParams& p, const float* w, const float* x, float* c, int64_t ldc) {
  for (int64_t m = 0; m < p.M; ++m)
    for (int64_t q = 0; q < p.Q; ++q) {
      const float* xq = x + (q / p.OW) * p.row_step + (q % p.OW) * p.col_step;
      float s = 0.f;
      for (int64_t k = 0; k < p.K; ++k) s += w[m * p.K + k] * xq[p.off[k]];
      if (p.bias) s += p.bias[m];
      s = p.lo > s ? p.lo : s;
      s = p.hi < s ? p.hi : s;
      c[m * ldc + q] = s;
    }
}

}  // namespace octet::kernels
