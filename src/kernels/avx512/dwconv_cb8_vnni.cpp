// The 8-channel depthwise 3x3 INT8 output loop on AVX-512 VNNI; contract in dwconv_cb8_vnni.h.
// GCC 12 reports its own AVX-512 down-conversion intrinsics (_mm256_cvtepi32_epi8: an undefined
// pass-through vector by design) as maybe-uninitialized when inlined (GCC bug 105593); nothing
// here reads an uninitialized value.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "kernels/avx512/dwconv_cb8_vnni.h"

#include <immintrin.h>

#include <algorithm>

#include "kernels/avx2/dw_requant_avx2.h"
#include "kernels/avx2/dwconv_cb8_rows.h"

namespace octet::kernels {

// Why the bytes equal the AVX2 loop's (dw_add_bias, then dw_requant8_small):
// - The accumulators start at the bias and take the six pair products by vpdpwssd (each product
//   pair |x'| * |w'| <= 255 * 255 summed exactly, the adds wrapping). Without saturate_bias the
//   exact sum plus the bias fits int32, so the wrapped result is that value: what dw_add_bias's
//   plain add gives.
// - avx2::small_round8's FMA gives the bits 0x4B400000 + round_half_even(v) where |v| < 2^22 and a
//   difference of at least 2^22 with v's sign elsewhere; subtracting 0x4B400000 - zp adds the zero
//   point exactly (an integer add). One clamp to [L, H] (DwClamp's bounds, inside the type) then
//   equals rn_bytes' saturation to the type followed by the byte clamp, and vpmovdb only drops
//   zero bytes.
void dwconv_cb8_rows_vnni(const DwConvParams& p, int64_t rows, int64_t tcols, const void* pairs,
                          const DwCb8Prepared& prepared, const DwQOutput8& out, uint8_t* obuf) {
  __m256i w[6];
  for (int k = 0; k < 6; ++k) w[k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(prepared.pairs[k]));
  const __m256i bias = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(prepared.bias));
  const __m256 mult = _mm256_loadu_ps(out.multiplier);
  const __m256 c = _mm256_set1_ps(static_cast<float>(avx2::kSmallAccBound));
  const __m256i bits_zp = _mm256_set1_epi32(0x4B400000 - out.zero_point);
  const int32_t l = std::min(std::max(out.qmin, out.lo), out.hi), h = std::min(std::max(out.qmax, out.lo), out.hi);
  const __m256i lo = _mm256_set1_epi32(l), hi = _mm256_set1_epi32(h);
  const int64_t t2 = 2 * p.dilation_w;  // a row's third tap's pair entry, from its first
  dw_cb8_for_each_pixel(p, rows, tcols, static_cast<const __m256i*>(pairs), obuf,
                        [&](const __m256i* q0, const __m256i* q1, const __m256i* q2, uint8_t* o) {
                          // Two chains of three, so that consecutive pixels overlap less on
                          // vpdpwssd's latency.
                          __m256i a0 = _mm256_dpwssd_epi32(bias, q0[0], w[0]);
                          __m256i a1 = _mm256_madd_epi16(q1[t2], w[3]);
                          a0 = _mm256_dpwssd_epi32(a0, q0[t2], w[1]);
                          a1 = _mm256_dpwssd_epi32(a1, q2[0], w[4]);
                          a0 = _mm256_dpwssd_epi32(a0, q1[0], w[2]);
                          a1 = _mm256_dpwssd_epi32(a1, q2[t2], w[5]);
                          const __m256i acc = _mm256_add_epi32(a0, a1);
                          const __m256i bits =
                              _mm256_castps_si256(_mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), mult, c));
                          const __m256i q =
                              _mm256_min_epi32(_mm256_max_epi32(_mm256_sub_epi32(bits, bits_zp), lo), hi);
                          _mm_storel_epi64(reinterpret_cast<__m128i*>(o), _mm256_cvtepi32_epi8(q));
                        });
}

}  // namespace octet::kernels
