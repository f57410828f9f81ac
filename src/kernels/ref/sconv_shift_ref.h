// Reference twin of kernels/avx2/sconv_shift_avx2.h (the shifted-B stride-1 convolution): plain
// loops over an unpacked [M, K] weight matrix. For m in [0, M), q in [0, Q):
//   c[m * ldc + q] = clamp(bias[m] + sum_k a[m * K + k] * x[off[k] + q], lo, hi)
// summed in k order from 0 with each product and sum rounded to float, then the bias added; the
// clamp is max(lo, .) then min(hi, .), a NaN staying NaN.
#pragma once

#include <cstdint>

#include "kernels/avx2/sconv_shift_avx2.h"

namespace octet::kernels {

void sconv_shift_ref(const SconvShiftParams& p, const float* a, const float* x, float* c, int64_t ldc);

}  // namespace octet::kernels
