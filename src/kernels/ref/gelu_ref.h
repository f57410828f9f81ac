// Reference Gelu with approximate = "none": y = 0.5 x (1 + erf(x / sqrt 2)) evaluated in double
// and rounded once to float, what the Gelu op computes; the twin of gelu_f32_avx2.
#pragma once

#include <cstdint>

namespace octet::kernels {

void gelu_erf_ref(const float* x, int64_t n, float* y);

}  // namespace octet::kernels
