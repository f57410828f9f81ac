// FP32 direct convolution with output channels in the vector lanes, for AVX2 + FMA. Reference
// twin: sconv_direct_ref (kernels/ref/sconv_direct_ref.h).
//
// Why: the shifted-B kernel (sconv_shift_avx2.h) puts output pixels in the lanes, so it computes
// the kw - 1 wrap-around columns of every padded row, rounds each row band up to 16 pixels and
// its 6-row weight panels up to 6 channels (16 channels cost 18), and loads 16 floats from the
// input at an arbitrary offset per tap, mostly across cache lines. Here a register tile is 6
// output pixels x 16 output channels: per tap it broadcasts one input float per pixel (a 4-byte
// load, never split) and loads 16 packed weights (contiguous), then issues 12 FMAs. The 6 pixels may
// lie on different output rows, so only valid pixels are computed; their sums go to a pixel-major
// scratch, which is transposed in registers 8 pixels at a time on the way out so the output stays
// NCHW.
//
// Input: bands, rectangles of output pixels whose taps lie at the same offsets (fast::plan_tap_bands
// cuts a padded convolution's output into its interior, edges and corners, so that the input is
// read as it is and the taps that fall in the padding are skipped). Pixel (i, j) of a band reads
// tap k at b.x[off[k] + i * row_step + j * col_step] (row_step = sh * the input's row pitch,
// col_step = sw; dilation and channel are in off) with the packed weight row w_off[k] / 16 (or k
// when w_off is null), and is output pixel out + i * ldo + j.
// Weights: packed by sconv_direct_pack_avx2 into blocks of 16 channels, [M / 16 rounded up][packed_K][16],
// the channels past M zero.
//
// Computes, for channels m in [m0, m1) and output pixels q in [0, Q), with q pixel (i, j) of band b:
//   c[(m - m0) * ldc + q] = clamp(sum_k w(m, row(k)) * b.x[b.off[k] + i * row_step + j * col_step] + bias[m]
//                                 + sum[(m - m0) * ldc + q], lo, hi)
// (bias and sum may be null; NaN propagates through the clamp; the clamp is skipped when lo = -inf
// and hi = +inf). Accumulation: float32, one FMA per product (one rounding), each element summing
// its band's K products in k order from 0, then the bias added, then sum's element (each addition
// rounded: what a Conv with bias followed by an Add node computes). Against sconv_direct_ref (product and
// sum rounded separately) results differ by rounding only: both are within (K + 1) * 2^-24 *
// sum_k |w x| of the exact value. An element's arithmetic depends on its band's taps only, not on
// m0, m1, Q or the band's size.
//
// Preconditions (not checked): m0 is a multiple of 16, 0 <= m0 <= m1 <= M; Q is a multiple of ldo
// and the bands cover every q in [0, Q) exactly once, each within ldo columns (b.out % ldo + b.cols
// <= ldo); each band's x is readable at off[k] + i * row_step + j * col_step;
// each w_off[k] is 16 * a row below packed_K, and without w_off K <= packed_K; ldc >= Q and c has
// m1 - m0 rows of ldc floats, and so has sum where given; scratch holds sconv_direct_scratch_floats(Q, ldo, m0, m1) floats, 32-byte
// aligned; c aliases nothing else. CPU: AVX2 + FMA (sgemm_avx2_supported()).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace octet::kernels {

struct SconvDirectBand {
  const float* x = nullptr;         // input of pixel (0, 0), its taps at x[off[k]]
  int64_t rows = 0, cols = 0;       // pixels
  int64_t out = 0;                  // output pixel of (0, 0)
  int64_t K = 0;                    // taps
  const int32_t* off = nullptr;     // [K] input offsets of the taps
  const int32_t* w_off = nullptr;   // [K] floats into a packed block of each tap's weights, or null: 16 k
};

struct SconvDirectParams {
  int64_t M = 0;                       // output channels
  int64_t packed_K = 0;                // rows of a packed block: the convolution's taps
  int64_t Q = 0;                       // output pixels [0, Q), each in one band
  int64_t ldo = 1;                     // output pixels between a band's rows
  int64_t row_step = 1, col_step = 1;  // input floats between a band's rows, between its columns
  const float* bias = nullptr;         // [M] or null
  // A residual in c's layout (element (m - m0) * ldc + q of the call's c is sum's at the same
  // offset), added after the bias and before the clamp: a Conv -> Add -> Relu block's Add. Or null.
  const float* sum = nullptr;
  float lo = -INFINITY, hi = INFINITY;
  bool allow_zmm = true;               // false: the AVX2 tiles even on an AVX-512 CPU (the same bits)
};

constexpr int64_t kSconvDirectMR = 16;  // output channels per weight block (two ymm)
constexpr int64_t kSconvDirectPR = 6;   // output pixels per register tile

// Floats of the packed weights of an M x K matrix.
inline int64_t sconv_direct_packed_floats(int64_t M, int64_t K) {
  return (M + kSconvDirectMR - 1) / kSconvDirectMR * kSconvDirectMR * K;
}
// Packs w (row m, tap k at w[m * ldw + k]) into blocks of 16 channels, [block][k][16], zeros past M.
void sconv_direct_pack_avx2(int64_t M, int64_t K, const float* w, int64_t ldw, float* packed);

// Output rows per pass: the kernel computes a task's rows a few at a time, so that a pass's
// accumulators (its pixels x the call's channels, pixel-major per 16-channel block) stay within
// about 128 KiB, still in L2 when the epilogue reads them back (ResNet-18's 112x112 stem at
// batch 1 would otherwise write and re-read 3 MiB).
constexpr int64_t kSconvDirectScratchBudget = 32768;  // floats
inline int64_t sconv_direct_pass_rows(int64_t Q, int64_t ldo, int64_t m0, int64_t m1) {
  const int64_t ch = (m1 - m0 + kSconvDirectMR - 1) / kSconvDirectMR * kSconvDirectMR;
  return std::max<int64_t>(1, std::min(Q / ldo, kSconvDirectScratchBudget / std::max<int64_t>(1, ldo * ch)));
}
// The scratch a call needs: one pass's pixels rounded up to 8, times the channels rounded up to 16.
inline size_t sconv_direct_scratch_floats(int64_t Q, int64_t ldo, int64_t m0, int64_t m1) {
  const int64_t pixels = sconv_direct_pass_rows(Q, ldo, m0, m1) * ldo;
  return static_cast<size_t>((pixels + 7) / 8 * 8 * ((m1 - m0 + kSconvDirectMR - 1) / kSconvDirectMR * kSconvDirectMR));
}

void sconv_direct_avx2(const SconvDirectParams& p, const SconvDirectBand* bands, int64_t nbands,
                       const float* packed_w, float* c, int64_t ldc, int64_t m0, int64_t m1, float* scratch);

}  // namespace octet::kernels
