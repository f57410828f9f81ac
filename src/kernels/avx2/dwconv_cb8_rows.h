// The output-pixel walk of the 8-channel depthwise 3x3 kernels' output loops, shared by the AVX2
// INT8 and FP32 loops (dwconv_cb8_avx2.cpp) and the AVX-512 VNNI INT8 one
// (avx512/dwconv_cb8_vnni.cpp), which differ only in what they do per pixel. Header-only; each
// translation unit instantiates it with its own per-pixel step, compiled for its own instruction
// set.
#pragma once

#include <cstdint>

#include "kernels/avx2/dwconv_avx2.h"

namespace octet::kernels {

// For output rows [0, rows) of a strip whose first padded row is `first` (rows of `cols` entries
// of 8 channels: the INT8 loops' tap pairs or the FP32 loop's floats) and each output column ow:
// pixel(q0, q1, q2, o) with qi the entry of kernel row i at the pixel's first tap (the pixel's other
// taps lie at fixed offsets from it, which the step knows) and o where the pixel's 8 channel values
// go (out, pixel-major).
template <class Entry, class Out, class Pixel>
inline __attribute__((always_inline)) void dw_cb8_for_each_pixel(const DwConvParams& p, int64_t rows, int64_t cols,
                                                                 const Entry* first, Out* out, Pixel pixel) {
  for (int64_t oh = 0; oh < rows; ++oh) {
    const Entry* r0 = first + oh * p.stride_h * cols;
    const Entry* r1 = r0 + p.dilation_h * cols;
    const Entry* r2 = r1 + p.dilation_h * cols;
    Out* o = out + 8 * oh * p.out_w;
    const int64_t sw = p.stride_w;
    for (int64_t ow = 0; ow < p.out_w; ++ow, r0 += sw, r1 += sw, r2 += sw, o += 8) pixel(r0, r1, r2, o);
  }
}

}  // namespace octet::kernels
