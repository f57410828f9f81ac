// FP32 stride-1 convolution as a GEMM whose activation operand is never built ("shifted B"),
// for AVX2 + FMA. Reference twin: sconv_shift_ref (kernels/ref/sconv_shift_ref.h).
//
// Why: im2col copies every input value kh*kw times and the GEMM then packs that copy again; for
// the small channel counts of compact CNNs (16-64 output channels, K = 144-576) that copying costs
// as much as the multiply-adds. Here the caller zero-pads the input once and flattens its rows at
// the padded width Wp. Output pixel q = oh * Wp + ow then reads, for tap k = (c * kh + i) * kw + j,
//   x[(c * Hp + oh + i) * Wp + ow + j] = x[off[k] + q],   off[k] = (c * Hp + i) * Wp + j,
// so column q of the GEMM's B operand is x shifted by q and 16 consecutive columns are 16
// consecutive floats: the microkernel loads them straight from the padded input. Columns with
// ow >= OW (the kw - 1 wrap-around columns of each row) are computed and left for the caller to
// skip.
//
// Computes, for rows m in [m0, m1) and columns q in [0, round_up(Q, 16)):
//   c[(m - m0) * ldc + q] = clamp(sum_k a(m, k) * x[off[k] + q] + bias[m], lo, hi)
// (bias may be null; NaN propagates through the clamp; the clamp is skipped when lo = -inf and
// hi = +inf). a is packed in sgemm_pack_a_avx2's layout (6-row panels, k-major).
// Accumulation: float32, one FMA per product (one rounding), each element summing its K products
// in k order from 0, then the bias added. Against sconv_shift_ref (product and sum rounded
// separately) results differ by rounding only: both are within (K + 1) * 2^-24 * sum_k |a x| of
// the exact value. An element's arithmetic does not depend on m0, m1 or Q.
//
// Preconditions (not checked): m0 is a multiple of 6, 0 <= m0 <= m1 <= M; x is readable at
// off[k] + q for every k and every q < round_up(Q, 16) (the caller leaves slack after the padded
// input); ldc >= round_up(Q, 16) and c has (m1 - m0) rows of ldc floats; c aliases nothing else.
// CPU: AVX2 + FMA (check sgemm_avx2_supported()).
#pragma once

#include <cmath>
#include <cstdint>

namespace octet::kernels {

struct SconvShiftParams {
  int64_t M = 0;                  // rows of a (output channels)
  int64_t K = 0;                  // taps: input channels x kh x kw
  int64_t Q = 0;                  // columns computed (output pixels on the padded-width grid)
  const int32_t* off = nullptr;   // [K] offsets of each tap into x
  const float* bias = nullptr;    // [M] or null
  float lo = -INFINITY, hi = INFINITY;
};

constexpr int64_t kSconvShiftNR = 16;  // columns per register tile; c rows hold whole tiles

void sconv_shift_avx2(const SconvShiftParams& p, const float* packed_a, const float* x, float* c,
                      int64_t ldc, int64_t m0, int64_t m1);

}  // namespace octet::kernels
