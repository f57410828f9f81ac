#include "kernels/ref/sconv_direct_ref.h"

namespace octet::kernels {

void sconv_direct_ref(const SconvDirectParams& p, const SconvDirectBand* bands, int64_t nbands, const float* w,
                      float* c, int64_t ldc) {
  for (int64_t bi = 0; bi < nbands; ++bi) {
    const SconvDirectBand& b = bands[bi];
    for (int64_t m = 0; m < p.M; ++m)
      for (int64_t i = 0; i < b.rows; ++i)
        for (int64_t j = 0; j < b.cols; ++j) {
          const float* xq = b.x + i * p.row_step + j * p.col_step;
          float s = 0.f;
          for (int64_t k = 0; k < b.K; ++k) s += w[m * p.packed_K + (b.w_off ? b.w_off[k] / 16 : k)] * xq[b.off[k]];
          if (p.bias) s += p.bias[m];
          if (p.sum) s += p.sum[m * ldc + b.out + i * p.ldo + j];
          s = p.lo > s ? p.lo : s;
          s = p.hi < s ? p.hi : s;
          c[m * ldc + b.out + i * p.ldo + j] = s;
        }
  }
}

}  // namespace octet::kernels
