// The INT8 GEMM's tile loop built for AVX-512 VNNI (vpdpbusd on ymm registers, AVX512VL). The
// contract, layouts and epilogue are those of kernels/avx2/qgemm_avx2.h; only the multiply-add step
// differs (see qgemm_tiles.inc). Called by qgemm_packed_avx2 for matrices packed with
// QgemmIsa::Avx512Vnni, after it checked that the CPU has the instructions.
// GCC 12 reports its own AVX-512 conversion intrinsics (_mm512_cvtepi32_pd, ...: an undefined
// pass-through vector by design) as maybe-uninitialized when they are inlined here (GCC bug
// 105593); nothing in this file reads an uninitialized value.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "kernels/avx2/qgemm_avx2.h"
#include "kernels/avx2/dw_requant_avx2.h"
#include "kernels/avx2/qgemm_layout.h"
#include "kernels/ref/quantize_ref.h"

namespace octet::kernels {
namespace {

#define OCTET_QGEMM_STEP(acc, bv, av) acc = _mm256_dpbusd_epi32(acc, bv, av)
#define OCTET_QGEMM_WIDE 1
#include "kernels/avx2/qgemm_tiles.inc"
#undef OCTET_QGEMM_WIDE
#undef OCTET_QGEMM_STEP

}  // namespace

void qgemm_run_tiles_vnni(int64_t M, int64_t Kq, const uint8_t* abase, const void* res, const uint8_t* pbase,
                          const int32_t* qoff, int32_t b_zp, const QgemmOutput& out, int64_t m0, int64_t m1,
                          int64_t n0, int64_t n1) {
  const auto* r = static_cast<const ResEntry*>(res);
  if (qoff) run_tiles<true>(M, Kq, abase, r, BSource{pbase, qoff, b_zp}, out, m0, m1, n0, n1);
  else run_tiles<false>(M, Kq, abase, r, BSource{pbase, nullptr, 0}, out, m0, m1, n0, n1);
}

}  // namespace octet::kernels
