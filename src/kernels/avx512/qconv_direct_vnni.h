// INT8 direct convolution with output channels in the vector lanes, for AVX-512 VNNI. Reference
// twin: qconv_direct_ref (kernels/ref/qconv_direct_ref.h).
//
// Why: the shifted INT8 GEMM (qgemm_shift_avx2) puts 16 output pixels of a padded-width row band
// in the lanes of each accumulator, so it computes the wrap-around columns of every padded row and
// rounds the band up to 16 pixels: ResNet-18's 7x7 layers compute 64 columns for 49 pixels and
// their 3x3 taps in the padding besides (576 pixel-taps for 361), its 14x14 layers 224 for 196.
// Here an accumulator holds 16 output channels of one pixel: per channel quad of a tap, the 4
// input bytes of each of a tile's pixels are broadcast (one 4-byte load each), 16 x 4 packed
// weight bytes are loaded per 16 channels, and vpdpbusd adds their products. A tile is 4 weight
// blocks (64 channels) x up to 7 pixels, 3 x 8, 2 x 12 or 1 x 8 (at most 28 accumulators); its
// pixels may lie on different output rows, so only real pixels are computed, and the taps in the
// padding are skipped by bands (the engine cuts them, QConv::plan_direct in runtime/fast/
// qconv.cpp), whose per-channel row term carries the zero-point correction of the taps they read. Measured alone on Zen 4 (7x7, 512 -> 512 channels, every tap): 235 G multiply-adds/s
// per core, the vpdpbusd peak.
//
// Input: the image in HWC-quad layout, x(h, w, c) at byte (h * ldw + w) * C4 + c with C4 = 4 Cq
// (qconv_direct_hwc_vnni builds its rows from NCHW; channels past C hold 0 and weigh 0; the
// engine pads each row with the input zero point, so that a band may read taps in the padding
// columns, its row term then counting their weights too).
// Bands: pixel (i, j) of band b reads tap t's Cq quads at b.x + i * row_step + j * col_step +
// b.off[t] + 4 q, with the weights at byte b.w_off[t] + 64 q of each packed block, and is output
// pixel q = b.out + i * ldo + j.
// Weights: packed by qconv_direct_pack into blocks of 16 channels, [M / 16 rounded up][taps][Cq]
// [16][4] (channel-major quads, the channels past M zero); block_bytes = taps * Cq * 64.
//
// Computes, for channels m in [m0, m1) and output pixels q in [0, Q), q pixel (i, j) of band b:
//   acc = sum_t sum_c x(pixel, tap t, channel c) * w(m, t, c) + b.rowterm[m]   (int32, wrapping)
//   y[(m - m0) * ldy + q] = min(max(requantize_value(acc, multiplier[m], zero_point, qmin, qmax), lo), hi)
// as bytes (int8 results as their two's-complement bytes). The caller puts the zero-point terms in
// rowterm: with symmetric weights, bias[m] - x_zp * (the sum of the weights of the taps the band
// keeps), which makes acc the reference convolution's sum over every tap (a tap in the padding
// reads x_zp there and adds 0). The requantization: double(acc) * double(multiplier), clamped to
// [max(lo, qmin) - zp, min(hi, qmax) - zp], rounded to nearest even, + zp, as the INT8 GEMM's
// requant8_wide; equal to requantize_value for finite multipliers (the caller's precondition).
//
// Preconditions (not checked): the CPU has AVX-512 F, BW, VL and VNNI (qgemm_isa_supported(
// QgemmIsa::Avx512Vnni)); m0 and m1 are multiples of 16 and m0 <= m1 <= M; the bands cover each q in
// [0, Q) once; every read lies inside x; every multiplier[m] is finite and qmin <= lo <= hi <= qmax;
// the exact acc fits int32; scratch holds qconv_direct_scratch_bytes(Q, m0, m1) bytes.
#pragma once

#include <cstddef>
#include <cstdint>

namespace octet::kernels {

struct QconvDirectBand {
  const uint8_t* x = nullptr;        // input of pixel (0, 0), its taps at x + off[t]
  int64_t rows = 0, cols = 0;        // pixels
  int64_t out = 0;                   // output pixel of (0, 0)
  int64_t taps = 0;                  // the taps the band keeps
  const int32_t* off = nullptr;      // [taps] byte offsets of the taps
  const int32_t* w_off = nullptr;    // [taps] byte offsets of the taps' weights in a packed block
  const int32_t* rowterm = nullptr;  // [M] added to each channel's sum
  // [M / 16] or null: nonzero where block b's every |acc| < kQconvDirectSmallAcc and multiplier in [0, 1],
  // which the caller bounds (255 * sum |w| + |rowterm|); such blocks take the single-precision
  // epilogue, the same bits in 7 operations per 16 values instead of 14.
  const uint8_t* small = nullptr;
};

struct QconvDirectParams {
  int64_t M = 0;                     // output channels
  int64_t Cq = 0;                    // channel quads per tap
  int64_t block_bytes = 0;           // bytes of one packed 16-channel block
  int64_t ldo = 1;                   // output pixels between a band's rows
  int64_t row_step = 0, col_step = 0;  // input bytes between a band's rows, between its columns
  const float* multiplier = nullptr;   // [M], finite
  int32_t zero_point = 0, qmin = 0, qmax = 255, lo = 0, hi = 255;
};

constexpr int64_t kQconvDirectMR = 16;  // output channels per packed block
constexpr double kQconvDirectSmallAcc = 12582912.0;  // 1.5 * 2^23: QconvDirectBand::small's bound

// Bytes of the packed weights of M channels x taps x Cq quads.
inline int64_t qconv_direct_packed_bytes(int64_t M, int64_t taps, int64_t Cq) {
  return (M + kQconvDirectMR - 1) / kQconvDirectMR * taps * Cq * 64;
}
// Scratch of one call: the pixel-major bytes of its channels, transposed into y at the end.
inline size_t qconv_direct_scratch_bytes(int64_t Q, int64_t m0, int64_t m1) {
  return static_cast<size_t>((Q + 16) * (m1 - m0));
}

void qconv_direct_vnni(const QconvDirectParams& p, const QconvDirectBand* bands, int64_t nbands, int64_t Q,
                       const int8_t* packed, int64_t m0, int64_t m1, uint8_t* y, int64_t ldy, uint8_t* scratch);

// n pixels of C planes (pixel p of channel c at x[c * ldx + p]: a run of an image's NCHW input)
// into the HWC-quad layout: dst[p * C4 + c] for p < n, the bytes of channels C .. C4 - 1 set to 0.
void qconv_direct_hwc_vnni(const uint8_t* x, int64_t C, int64_t ldx, int64_t n, int64_t C4, uint8_t* dst);

}  // namespace octet::kernels
