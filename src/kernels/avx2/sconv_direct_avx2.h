// FP32 direct convolution with output channels in the vector lanes, for AVX2 + FMA. Reference
// twin: sconv_direct_ref (kernels/ref/sconv_direct_ref.h).
//
// Why: the shifted-B kernel (sconv_shift_avx2.h) puts output pixels in the lanes, so it computes
// the kw - 1 wrap-around columns of every padded row, rounds each row band up to 16 pixels and
// its 6-row weight panels up to 6 channels (16 channels cost 18), and loads 16 floats from the
// input at an arbitrary offset per tap, mostly across cache lines. Here a register tile is 6
// output pixels x 16 output channels: per tap it broadcasts one input float per pixel (a 4-byte
// load, never split) and loads 16 packed weights (contiguous), then issues 12 FMAs. The 6 pixels may
// lie on different output rows, so only valid pixels are computed, and the tile is transposed in
// registers on the way out so the output stays NCHW.
//
// Input: zero-padded planes, any stride: output pixel q = r * OW + ow of a band reads tap k at
// x[off[k] + r * row_step + ow * col_step] (row_step = sh * the planes' row pitch, col_step = sw;
// dilation and channel are in off[k]).
// Weights: packed by sconv_direct_pack_avx2 into blocks of 16 channels, [M / 16 rounded up][K][16],
// the channels past M zero.
//
// Computes, for channels m in [m0, m1) and pixels q in [0, Q):
//   c[(m - m0) * ldc + q] = clamp(sum_k w(m, k) * x[off[k] + base(q)] + bias[m], lo, hi),
//   base(q) = (q / OW) * row_step + (q % OW) * col_step
// (bias may be null; NaN propagates through the clamp; the clamp is skipped when lo = -inf and
// hi = +inf). Accumulation: float32, one FMA per product (one rounding), each element summing its
// K products in k order from 0, then the bias added. Against sconv_direct_ref (product and sum
// rounded separately) results differ by rounding only: both are within (K + 1) * 2^-24 *
// sum_k |w x| of the exact value. An element's arithmetic does not depend on m0, m1 or Q.
//
// Preconditions (not checked): m0 is a multiple of 16, 0 <= m0 <= m1 <= M; x is readable at
// off[k] + base(q) for every k and q < Q; OW >= 1; ldc >= Q and c has
// m1 - m0 rows of ldc floats; c aliases nothing else. CPU: AVX2 + FMA (sgemm_avx2_supported()).
#pragma once

#include <cmath>
#include <cstdint>

namespace octet::kernels {

struct SconvDirectParams {
  int64_t M = 0;                  // output channels
  int64_t K = 0;                  // taps: input channels x kh x kw
  int64_t Q = 0;                  // output pixels computed
  int64_t OW = 1;                 // output row length
  int64_t row_step = 1, col_step = 1;  // input floats between output rows, between output columns
  const int32_t* off = nullptr;   // [K] offsets of each tap into x
  const float* bias = nullptr;    // [M] or null
  float lo = -INFINITY, hi = INFINITY;
};

constexpr int64_t kSconvDirectMR = 16;  // output channels per weight block (two ymm)
constexpr int64_t kSconvDirectPR = 6;   // output pixels per register tile

// Floats of the packed weights of an M x K matrix.
inline int64_t sconv_direct_packed_floats(int64_t M, int64_t K) {
  return (M + kSconvDirectMR - 1) / kSconvDirectMR * kSconvDirectMR * K;
}
// Packs w (row m, tap k at w[m * ldw + k]) into blocks of 16 channels, [block][k][16], zeros past M.
void sconv_direct_pack_avx2(int64_t M, int64_t K, const float* w, int64_t ldw, float* packed);

void sconv_direct_avx2(const SconvDirectParams& p, const float* packed_w, const float* x, float* c, int64_t ldc,
                       int64_t m0, int64_t m1);

}  // namespace octet::kernels
