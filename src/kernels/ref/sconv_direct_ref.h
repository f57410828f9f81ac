// Reference twin of kernels/avx2/sconv_direct_avx2.h (the channels-in-lanes direct convolution):
// plain loops over an unpacked [M, K] weight matrix. For m in [0, M), q in [0, Q):
//   c[m * ldc + q] = clamp(bias[m] + sum_k w[m * K + k] * x[off[k] + base(q)], lo, hi),
//   base(q) = (q / OW) * row_step + (q % OW) * col_step,
// summed in k order from 0 with each product and sum rounded to float, then the bias added; the
// clamp is max(lo, .) then min(hi, .), a NaN staying NaN.
#pragma once

#include <cstdint>

#include "kernels/avx2/sconv_direct_avx2.h"

namespace octet::kernels {

void sconv_direct_ref(const SconvDirectParams& p, const float* w, const float* x, float* c, int64_t ldc);

}  // namespace octet::kernels
