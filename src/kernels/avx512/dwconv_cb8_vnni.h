// The output loop of the 8-channel depthwise 3x3 INT8 kernel (kernels/avx2/dwconv_cb8_avx2.h)
// built for AVX-512 VNNI (ymm registers, AVX512VL): vpdpwssd adds a pair of taps into the int32
// accumulators in one instruction where the AVX2 loop takes vpmaddwd and vpaddd, and the
// single-precision requantization ends in an int32 clamp and vpmovdb instead of int16 packs.
// Internal to dwconv_cb8_avx2.cpp, which prepares the pair rows and scatters the outputs; it calls
// this only where DwCb8Prepared::vnni is set (see there).
#pragma once

#include <cstdint>

#include "kernels/avx2/dwconv_cb8_avx2.h"

namespace octet::kernels {

// Output rows [0, rows) of a strip whose first pair row is `pairs` (rows of tcols 32-byte
// entries, the layout dwconv_cb8_avx2.cpp documents) into out, 8 channel bytes per pixel, pixel-
// major: the same bytes as the AVX2 loop's Small form. Preconditions: prepared.form is the Small
// form (every multiplier in [0, 1], every |acc| below kSmallAccBound) and !prepared.saturate_bias.
void dwconv_cb8_rows_vnni(const DwConvParams& p, int64_t rows, int64_t tcols, const void* pairs,
                          const DwCb8Prepared& prepared, const DwQOutput8& out, uint8_t* obuf);

}  // namespace octet::kernels
