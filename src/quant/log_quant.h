// Non-linear weight quantization, part 2: power-of-two (logarithmic) quantization. Every weight
// becomes 0 or +-2^e, with e in a window of W = 2^(bits-1) - 1 consecutive exponents ending at the
// group's max_exponent. With bits b the 2^b codes hold W negative powers, zero and W positive powers
// (one sign bit, one code for zero); the one code left over is unused. The result is returned as a
// Codebook (quant/codebook.h) so it shares the ONNX form and decode() of the k-means quantizer:
// group g's table, ascending, is
//   [-2^emax, ..., -2^emin, 0, 2^emin, ..., 2^emax, 2^emax (spare, never indexed)]
// with emin = emax - W + 1 (W entries on each side, zero at index W).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "quant/codebook.h"

namespace octet::quant {

struct Pow2Params {
  int bits = 0;        // 2..8 (1 bit leaves no exponent: W = 0)
  int64_t axis = -1;   // -1: per tensor; else per channel on this axis
  // Per group (one entry per tensor, or one per channel), the largest exponent in the window.
  // An integer, since the values are exact powers of two; within [-149, 127] (2^-149 is the
  // smallest positive float; exponents of the window below it give 0, as std::ldexp does).
  std::vector<int32_t> max_exponent;

  int32_t window() const { return (int32_t{1} << (bits - 1)) - 1; }
};

// Picks max_exponent for each group. With m = max|w| over the group and c = ceil(log2 m) (exact,
// via frexp), the candidates are c (every |w| <= 2^c, so none saturates) and c - 1 (which buys one
// more small exponent at the price of rounding the largest weights down to 2^(c-1)); the one with
// the smaller squared error after encoding wins, c on a tie. An all-zero group gets 0. c is
// clamped to 127 (m above 2^127 would need 2^128, which is infinite in float).
// Throws Error naming `tensor_name` for bits outside 2..8, a bad axis, a non-FLOAT32 tensor or a
// NaN/Inf weight.
Pow2Params choose_pow2_params(const Tensor& w, int bits, int64_t axis,
                              const std::string& tensor_name = "weight");

// Encodes w with given parameters. Each weight goes to the nearest value of its group's set in the
// linear domain (not the log domain: rounding log2|w| would put the boundary between 2^e and
// 2^(e+1) at 2^(e+0.5) instead of their midpoint 1.5 * 2^e and add error), ties to the smaller
// magnitude so that encoding is symmetric (q(-x) = -q(x)); below 2^emin the choice is between 0
// and 2^emin. Weights beyond 2^emax saturate to +-2^emax.
// Throws Error if params do not fit w (group count, bits, axis) or on the input checks above.
Codebook pow2_codebook(const Tensor& w, const Pow2Params& params,
                       const std::string& tensor_name = "weight");

// choose_pow2_params then encode.
Codebook pow2_codebook(const Tensor& w, int bits, int64_t axis,
                       const std::string& tensor_name = "weight");

}  // namespace octet::quant
