// Reference twin of kernels/avx512/qconv_direct_vnni.h (the INT8 direct convolution with channels
// in the lanes), and the weight packing both read. Plain loops: for m in [m0, m1) and pixel (i, j)
// of each band b,
//   acc = b.rowterm[m] + sum_t sum_{c < 4 Cq} x(b.x + i * row_step + j * col_step + b.off[t] + c) * w(m, t, c)
//   y[(m - m0) * ldy + b.out + i * ldo + j] = min(max(requantize_value(acc, multiplier[m], zero_point, qmin, qmax), lo), hi)
// with w(m, t, c) the packed byte of channel m, quad c / 4, place c % 4 at b.w_off[t] of m's
// block, and acc summed in wrapping int32.
#pragma once

#include <cstdint>

#include "kernels/avx512/qconv_direct_vnni.h"

namespace octet::kernels {

// Packs w [M][C][taps] (a convolution's [M, C, kh, kw] weights) into blocks of 16 channels,
// [M / 16 rounded up][taps][Cq = ceil(C / 4)][16][4]: quad q of tap t holds channels 4q .. 4q + 3
// of each of the block's 16 channels; channels past C and past M are 0.
void qconv_direct_pack(int64_t M, int64_t C, int64_t taps, const int8_t* w, int8_t* packed);

void qconv_direct_ref(const QconvDirectParams& p, const QconvDirectBand* bands, int64_t nbands,
                      const int8_t* packed, int64_t m0, int64_t m1, uint8_t* y, int64_t ldy);

}  // namespace octet::kernels
