// Float Softmax (along contiguous rows), exact Gelu and LayerNormalization on AVX-512 F (zmm
// registers): the methods of the AVX2 kernels of kernels/avx2/act_avx2.h, whose header states
// them and their accuracy, with the same reference twins
// (softmax_ref, gelu_erf_ref, layernorm_ref).
//
// Why a second build: these are long chains of dependent multiply-adds per vector (Gelu's erfc
// fit, a division and an exp: about 45 instructions, 130 cycles of latency). On AMD Zen 4 the
// AVX2 loops ran one vector at a time, latency-bound (measured: 36 cycles per 8 floats of Gelu,
// and ten dependent FMAs per vector took 21 cycles where four vectors interleaved took 7). Here
// each step of the chain is issued for four zmm vectors (64 floats) before the next step, which
// fills the pipelines: Gelu 123 -> 62 us per 100,352 floats on that CPU.
//
// Results against the AVX2 kernels: Gelu and its exp are lane for lane the same operations, so the
// same bits. Softmax uses the same short exp but for arguments below -87.3 (2^n by vscalefps:
// subnormals where the AVX2 kernel gives 0; act_zmm.cpp) and sums over 16 lanes instead of 8:
// within the same bound of the exact value (the tests' 2e-6 + 1.2e-7 (max - x) relative), not the
// same bits.
// CPU: AVX-512 F, VL and BW; callers check first (the engine uses them where the INT8 GEMM takes its AVX-512
// VNNI loop, so OCTET_ISA=avx2 selects the AVX2 kernels for all of them).
#pragma once

#include <cstdint>

namespace octet::kernels {

// y[r * n + i] = exp(x[r*n+i] - max_r) / sum_j exp(x[r*n+j] - max_r) for r < rows. y may alias x.
void softmax_rows_f32_zmm(const float* x, int64_t rows, int64_t n, float* y);

// y[i] = Gelu(x[i]), approximate = "none". y may alias x.
void gelu_f32_zmm(const float* x, int64_t n, float* y);

// layernorm_f32_avx2's contract (act_avx2.h) on zmm registers: bit for bit as layernorm_ref, the
// striped partial sums in the lanes of one 16-float accumulator, 16 columns a step in the
// normalisation.
void layernorm_f32_zmm(int64_t rows, int64_t cols, const float* x, const float* scale, const float* bias,
                       double epsilon, float* y);

}  // namespace octet::kernels
