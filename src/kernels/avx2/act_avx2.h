// Float Softmax (along contiguous rows), exact Gelu and LayerNormalization for AVX2 + FMA, the
// transformer ops that are not matrix products. Reference twins: softmax_ref
// (kernels/ref/softmax_ref.h), gelu_erf_ref (kernels/ref/gelu_ref.h) and layernorm_ref
// (kernels/ref/norm_ref.h).
//
// LayerNormalization gives its twin's bits. Accuracy of the other two (not bit-identical to their
// twins; tests bound the difference):
//   exp: only for arguments at most about 0 (Softmax's x - m, Gelu's erfc argument): x = n ln2 + r
//     in one step, a degree-5 polynomial fitted to e^r on |r| <= ln2/2 for least relative error,
//     times 2^n built in the exponent bits; within 5e-7 of e^x; below -87.3 (where e^x < 1.2e-38)
//     it gives 0, so -inf gives 0; NaN stays NaN.
//   Softmax: row maximum m subtracted first (in float: x - m carries up to |x - m| 2^-24 of
//     rounding, which becomes that much relative error after exp), exp summed in float over 8
//     lanes, each value multiplied by 1/sum: within about 2e-6 + |x - m| 1.2e-7 relative of the
//     exact value for rows up to a few thousand.
//     A NaN in a row makes the row NaN; a row of only -inf gives NaN (as the reference).
//   Gelu (approximate = "none"): 0.5 x erfc(-x / sqrt 2) with erfc from the Chebyshev fit of
//     Numerical Recipes (erfc(z) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2), fractional error below
//     1.2e-7 for z >= 0; erfc(-z) = 2 - erfc(z)). Written with erfc rather than 1 + erf so that
//     the negative tail keeps its relative precision; the float z^2 costs up to z^2 2^-24 more
//     (about 5e-6 relative at x = -13, where Gelu is 1e-38).
// CPU: AVX2 + FMA; callers check first (fast_kernels_available()).
#pragma once

#include <cstdint>

namespace octet::kernels {

// y[r * n + i] = exp(x[r*n+i] - max_r) / sum_j exp(x[r*n+j] - max_r) for r < rows. y may alias x.
void softmax_rows_f32_avx2(const float* x, int64_t rows, int64_t n, float* y);

// y[i] = Gelu(x[i]), approximate = "none". y may alias x.
void gelu_f32_avx2(const float* x, int64_t n, float* y);

// Layer normalisation of `rows` rows of `cols` floats, bit for bit as layernorm_ref
// (kernels/ref/norm_ref.h): per row, in float (ONNX's default stash_type), the mean and the
// population variance summed in the twin's order (16 partial sums, element j into sum j % 16, in
// the lanes of two 8-float accumulators, folded pairwise), inv = 1 / sqrt(var + epsilon), and
// y[j] = ((x[j] - mean) * inv) * scale[j] + bias[j], eight columns a step. bias may be nullptr.
// y may alias x.
void layernorm_f32_avx2(int64_t rows, int64_t cols, const float* x, const float* scale, const float* bias,
                        double epsilon, float* y);

}  // namespace octet::kernels
