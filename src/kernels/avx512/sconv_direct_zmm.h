// The k loop of the FP32 direct convolution (kernels/avx2/sconv_direct_avx2.h) for a run of
// consecutive pixels of one output row, built for AVX-512 (zmm registers: 16 channels each, and 32
// of them). Internal to sconv_direct_avx2.cpp, which calls it for the rows of a band at least
// kSconvZmmMinRun pixels wide whose column step (the stride along rows) is 1 or 2, where the INT8
// GEMM runs its VNNI loop (qgemm_default_isa(); this loop needs AVX-512 F only, so a CPU without
// VNNI takes the AVX2 tiles, at the same bits).
//
// Why: the AVX2 tile is 6 pixels x 16 channels (12 of the 16 ymm registers), so a tile does 6 x 16
// multiply-adds per tap and pays its set-up (pixel pointers, a call) every 6 pixels. Here a run of
// up to 24 pixels x 16 channels, or up to 12 pixels x 32 channels (two weight blocks), keeps its
// 24 accumulators in zmm registers; the pixels are neighbours in a row, so their input floats
// are one base pointer at displacements 4 step r, and per tap one offset, one or two weight vectors
// and W broadcasts feed W (or 2 W) FMAs. Each element's FMAs are those of the AVX2 loops, in the
// same k order, one rounding each: the same bits.
#pragma once

#include <cstdint>

namespace octet::kernels {

constexpr int64_t kSconvZmmMinRun = 4;   // shorter runs stay on the AVX2 tiles
constexpr int64_t kSconvZmmMaxRun1 = 24;  // pixels per run, one weight block
constexpr int64_t kSconvZmmMaxRun2 = 12;  // pixels per run, two weight blocks

// Pixels r < W (kSconvZmmMinRun <= W <= kSconvZmmMaxRun1, or kSconvZmmMaxRun2 with two blocks)
// read tap k at x[off[k] + step * r] (step 1 or 2: the convolution's stride along rows); block
// b's (b < blocks, blocks 1 or 2) 16 weights of tap k are at w + b * block + (w_off ? w_off[k] :
// 16 k), and pixel r's sums for block b go to out[b] + 16 r.
void sconv_direct_run_zmm(int64_t W, int64_t step, int64_t blocks, int64_t K, const float* w, int64_t block,
                          const int32_t* w_off, const int32_t* off, const float* x, float* const out[2]);

}  // namespace octet::kernels
