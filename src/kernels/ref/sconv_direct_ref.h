// Reference twin of kernels/avx2/sconv_direct_avx2.h (the channels-in-lanes direct convolution):
// plain loops over an unpacked [M, packed_K] weight matrix. For m in [0, M) and pixel (i, j) of
// each band b:
//   c[m * ldc + b.out + i * ldo + j] =
//       clamp(bias[m] + sum_k w[m * packed_K + row(k)] * b.x[b.off[k] + i * row_step + j * col_step]
//             + sum[m * ldc + b.out + i * ldo + j], lo, hi),
//   row(k) = b.w_off ? b.w_off[k] / 16 : k,
// summed in k order from 0 with each product and sum rounded to float, then the bias added, then
// the residual p.sum (when not null, in c's layout); the
// clamp is max(lo, .) then min(hi, .), a NaN staying NaN.
#pragma once

#include <cstdint>

#include "kernels/avx2/sconv_direct_avx2.h"

namespace octet::kernels {

void sconv_direct_ref(const SconvDirectParams& p, const SconvDirectBand* bands, int64_t nbands, const float* w,
                      float* c, int64_t ldc);

}  // namespace octet::kernels
