// The exact int32 -> 8-bit epilogue of the depthwise INT8 kernels (dwconv_avx2, the per-plane one,
// and dwconv_cb8_avx2, the 8-channel one): bias with int32 saturation, then requantize_value bit for
// bit and the fused lo/hi clamp. Its short form for multipliers in [0, 1] (rn_round4, rn_bytes) is
// the INT8 GEMM's too (qgemm_tiles.inc), and so is the single-precision one (small_round8).
// Header-only, for translation units compiled with -mavx2 -mfma.
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <limits>

namespace octet::kernels::avx2 {

// True when |bias| plus the largest |sum| of `taps` products (x - x_zp)(w - w_zp) of 8-bit
// operands can exceed INT32_MAX, i.e. when adding the bias needs the saturating path.
inline bool dw_bias_may_overflow(int64_t taps, int32_t x_zp, int32_t w_zp, int32_t bias) {
  const int64_t x_max = std::max<int64_t>(x_zp, 255 - x_zp);
  const int64_t w_max = std::max<int64_t>(std::abs(-128 - w_zp), std::abs(127 - w_zp));
  return std::abs(static_cast<int64_t>(bias)) + taps * x_max * w_max > std::numeric_limits<int32_t>::max();
}

// sum + bias, saturated to int32 when `saturate` (sum itself is exact).
inline __attribute__((always_inline)) __m256i dw_add_bias(__m256i sum, __m256i bias, bool saturate) {
  const __m256i r = _mm256_add_epi32(sum, bias);
  if (!saturate) return r;
  // Overflow iff sum and bias share a sign that r does not have.
  const __m256i ovf = _mm256_andnot_si256(_mm256_xor_si256(sum, bias), _mm256_xor_si256(sum, r));
  const __m256i limit =  // INT32_MIN for a negative sum, INT32_MAX otherwise
      _mm256_xor_si256(_mm256_srai_epi32(sum, 31), _mm256_set1_epi32(INT32_MAX));
  return _mm256_blendv_epi8(r, limit, _mm256_srai_epi32(ovf, 31));
}

// The clamp requant4 applies: [L - zp, H - zp] as doubles, with L = clamp(qmin, lo, hi) and
// H = clamp(qmax, lo, hi) (the two clamps composed into one).
// rn_bytes' form of the same: the zero point in int16 lanes, L and H in byte lanes.
struct DwClamp {
  __m256d lo_d, hi_d;
  __m128i zp;
  __m128i zp16, lo8, hi8;
};
inline DwClamp dw_clamp(int32_t qmin, int32_t qmax, int32_t lo, int32_t hi, int32_t zero_point) {
  const int32_t l = std::min(std::max(qmin, lo), hi), h = std::min(std::max(qmax, lo), hi);
  return {_mm256_set1_pd(static_cast<double>(int64_t(l) - zero_point)),
          _mm256_set1_pd(static_cast<double>(int64_t(h) - zero_point)),
          _mm_set1_epi32(zero_point),
          _mm_set1_epi16(static_cast<int16_t>(zero_point)),
          _mm_set1_epi8(static_cast<char>(l)),
          _mm_set1_epi8(static_cast<char>(h))};
}

// Whether the short form (rn_round4, rn_bytes) applies: a multiplier in [0, 1] (false for NaN) and
// |zero point| <= 255.
inline bool rn_applies(float multiplier, int32_t zero_point) {
  return multiplier >= 0.f && multiplier <= 1.f && std::abs(zero_point) <= 255;
}

// The short form of requantize_value + the lo/hi clamp, equal bit for bit where rn_applies:
//   rn_round4: the same IEEE product double(acc) * double(multiplier), rounded half to even by
//     vcvtpd2dq (MXCSR's default mode, which all of octet's floating-point results, the reference's
//     products included, assume). |product| <= |acc| <= 2^31, so the integer fits int32 (-2^31
//     only for acc = INT32_MIN), never the conversion's out-of-range value.
//   rn_bytes (after vpackssdw of the rounded values): the zero point and the saturation to the type
//     are saturating int16 adds and packs: sat8(sat16(sat16(r) + zp)) = min(max(r + zp, qmin),
//     qmax) whenever |zp| <= 255, because a value beyond int16 stays beyond 8 bits after adding
//     such a zp; the clamp to [L, H] (both in the type) is vpmax/vpmin on the bytes.
// 21 vector operations per 16 outputs where the vroundpd form (requant4 and the GEMM's requant8)
// takes 33.
inline __attribute__((always_inline)) __m128i rn_round4(__m128i acc, __m256d mult) {
  return _mm256_cvtpd_epi32(_mm256_mul_pd(_mm256_cvtepi32_pd(acc), mult));
}
// w0, w1: 8 int16 each (the packed rn_round4 results) -> 16 bytes, w0's first.
template <bool kSigned>
inline __attribute__((always_inline)) __m128i rn_bytes(__m128i w0, __m128i w1, __m128i zp16, __m128i lo8,
                                                       __m128i hi8) {
  w0 = _mm_adds_epi16(w0, zp16);
  w1 = _mm_adds_epi16(w1, zp16);
  if constexpr (kSigned) return _mm_min_epi8(_mm_max_epi8(_mm_packs_epi16(w0, w1), lo8), hi8);
  else return _mm_min_epu8(_mm_max_epu8(_mm_packus_epi16(w0, w1), lo8), hi8);
}

// The single-precision short form, for accumulators with |acc| < kSmallAccBound = 1.5 * 2^23
// (which the caller bounds from the weights, the input range and the bias) and a multiplier m in
// [0, 1] (rn_applies): round_half_even(double(acc) * double(m)) in int32, equal bit for bit, or a
// value beyond int16 of the same sign where |product| >= 2^22 (which rn_bytes saturates as the
// exact value would). Why: float(acc) is exact (|acc| < 2^24), so the FMA's exact intermediate
// float(acc) * m + C, C = 1.5 * 2^23, is the reference's exact double product v (24 by 24 bits)
// plus C, rounded once. Where |v| < 2^22, v + C lies in [2^23, 2^24), where the floats are the
// integers, so the rounding (to nearest, ties to the even mantissa: the even integer) gives
// C + round_half_even(v), whose bits are 0x4B400000 + round_half_even(v). Elsewhere the difference
// is >= 2^22 or <= -2^22 with v's sign (|v| <= |acc| < C keeps v + C positive, so the bits stay a
// positive float's). 3 vector operations per 8 values where rn_round4 takes 5 instructions (7
// micro-ops here) per 4.
constexpr double kSmallAccBound = 12582912.0;
inline __attribute__((always_inline)) __m256i small_round8(__m256i acc, __m256 mult) {
  const __m256 c = _mm256_set1_ps(static_cast<float>(kSmallAccBound));
  return _mm256_sub_epi32(_mm256_castps_si256(_mm256_fmadd_ps(_mm256_cvtepi32_ps(acc), mult, c)),
                          _mm256_set1_epi32(0x4B400000));
}

// dw_requant8_rn's bytes through small_round8 (every channel's |acc| below kSmallAccBound).
template <bool kSigned>
inline __attribute__((always_inline)) __m128i dw_requant8_small(__m256i acc, __m256 mult, const DwClamp& c) {
  const __m256i r = small_round8(acc, mult);
  const __m128i h16 = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  return rn_bytes<kSigned>(h16, h16, c.zp16, c.lo8, c.hi8);
}

// 4 accumulators -> 4 int32 results of requantize_value + the lo/hi clamp (vcvtdq2pd, vmulpd by
// double(multiplier), vroundpd to nearest-even, clamp, vcvttpd2dq, + zero point). Clamping the
// rounded product to [L - zp, H - zp] and adding zp equals clamping round(v) + zp to [qmin, qmax]
// and then to [lo, hi], because the values are integers (a product beyond 2^53 saturates either
// way). mult must be finite.
inline __attribute__((always_inline)) __m128i dw_requant4(__m128i acc, __m256d mult, const DwClamp& c) {
  __m256d v = _mm256_mul_pd(_mm256_cvtepi32_pd(acc), mult);
  v = _mm256_round_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  v = _mm256_min_pd(_mm256_max_pd(v, c.lo_d), c.hi_d);
  return _mm_add_epi32(_mm256_cvttpd_epi32(v), c.zp);
}

// 8 accumulators (channels 0-3 by mult_lo, 4-7 by mult_hi) -> the 8 bytes of two dw_requant4, their
// packs and nothing else, in the low half, where rn_applies (the short form above).
template <bool kSigned>
inline __attribute__((always_inline)) __m128i dw_requant8_rn(__m256i acc, __m256d mult_lo, __m256d mult_hi,
                                                             const DwClamp& c) {
  const __m128i h16 = _mm_packs_epi32(rn_round4(_mm256_castsi256_si128(acc), mult_lo),
                                      rn_round4(_mm256_extracti128_si256(acc, 1), mult_hi));
  return rn_bytes<kSigned>(h16, h16, c.zp16, c.lo8, c.hi8);
}

}  // namespace octet::kernels::avx2
