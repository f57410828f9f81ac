// Depthwise 3x3 INT8 with output pixels in the lanes (vpermb + vpdpbusd); see dwconv_vbmi.h.
#include "kernels/avx512/dwconv_vbmi.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "kernels/avx512/immintrin_avx512.h"  // before dw_requant_avx2.h, which includes <immintrin.h>
#include "kernels/avx2/dw_requant_avx2.h"

namespace octet::kernels {
namespace {

constexpr int64_t kLanes = 16;
constexpr int64_t kAlign = 64;

uint8_t* aligned(void* p) {
  const auto a = reinterpret_cast<uintptr_t>(p);
  return reinterpret_cast<uint8_t*>((a + kAlign - 1) / kAlign * kAlign);
}

// The largest window byte a vector reads: rows r < R of the vector, lanes j < min(out_w, 16).
int64_t reach(const DwConvParams& p, int64_t R, int64_t pitch) {
  const int64_t width = std::min(p.out_w, kLanes);
  return (R - 1) * p.stride_h * pitch + (width - 1) * p.stride_w + 2 * p.dilation_w;
}

}  // namespace

DwVbmiPlan dwconv3x3_vbmi_plan(const DwConvParams& p) {
  DwVbmiPlan plan;
  if (p.out_h <= 0 || p.out_w <= 0) return plan;
  plan.pitch = std::max(p.pad_left + p.in_w, (p.out_w - 1) * p.stride_w + 2 * p.dilation_w + 1);
  int64_t R = p.out_w <= kLanes ? std::min(kLanes / p.out_w, p.out_h) : 1;
  while (R > 1 && reach(p, R, plan.pitch) > 63) --R;
  if (reach(p, R, plan.pitch) > 63) return plan;
  plan.rows_per_vec = R;
  const int64_t width = std::min(p.out_w, kLanes);
  for (int64_t l = 0; l < kLanes; ++l) {
    const int64_t r = l / width, j = l % width;
    const int64_t at = r < R ? r * p.stride_h * plan.pitch + j * p.stride_w : 0;
    for (int64_t kw = 0; kw < 3; ++kw) plan.idx[4 * l + kw] = static_cast<uint8_t>(at + kw * p.dilation_w);
    plan.idx[4 * l + 3] = static_cast<uint8_t>(at);
  }
  // Rows read: every vector's R rows (also those past out_h in the last one) and their taps.
  const int64_t groups = (p.out_h + R - 1) / R;
  const int64_t last_row = ((groups - 1) * R + R - 1) * p.stride_h + 2 * p.dilation_h;
  plan.padded_rows = std::max(p.pad_top + p.in_h, last_row + 1);
  plan.ok = true;
  return plan;
}

size_t dwconv3x3_vbmi_scratch_size(const DwVbmiPlan& plan) {
  return static_cast<size_t>(plan.padded_rows * plan.pitch + 2 * kAlign);
}

bool dwconv3x3_vbmi_prepare(int32_t x_zp, const int8_t* w, int32_t w_zp, int32_t bias, const DwQOutput& out,
                            DwVbmiChannel* ch) {
  if (w_zp != 0 || (out.kind != DwQOutKind::U8 && out.kind != DwQOutKind::S8) || !std::isfinite(out.multiplier))
    return false;
  int64_t sum = 0;
  for (int k = 0; k < 9; ++k) sum += w[k];
  const int64_t base = static_cast<int64_t>(bias) - static_cast<int64_t>(x_zp) * sum;
  if (base > (int64_t{1} << 31) - (int64_t{1} << 20) || base < -(int64_t{1} << 31) + (int64_t{1} << 20)) return false;
  ch->base = static_cast<int32_t>(base);
  for (int kh = 0; kh < 3; ++kh) {
    const uint8_t b[4] = {static_cast<uint8_t>(w[3 * kh]), static_cast<uint8_t>(w[3 * kh + 1]),
                          static_cast<uint8_t>(w[3 * kh + 2]), 0};
    std::memcpy(&ch->rows[kh], b, 4);
  }
  ch->is_signed = out.kind == DwQOutKind::S8;
  ch->multiplier = out.multiplier;
  ch->zero_point = out.zero_point;
  ch->lo = std::min(std::max(out.qmin, out.lo), out.hi);  // the two clamps composed
  ch->hi = std::min(std::max(out.qmax, out.lo), out.hi);
  const int64_t most = std::abs(base) + 9 * 255 * 128;  // |acc| at most
  ch->small = avx2::rn_applies(out.multiplier, out.zero_point) && static_cast<double>(most) < avx2::kSmallAccBound;
  return true;
}

namespace {

// The plane's output vectors, kU at a time, each step for all of them before the next (one
// vector's chain of 3 dependent vpdpbusd and the requantization's dependent steps left the
// pipelines mostly idle): vector i reads its window at b[i] and stores lanes[i] bytes at out[i].
template <bool kSmall, bool kSigned>
struct Vectors {
  static constexpr int kU = 4;
  __m512i idx, w0, w1, w2, base;
  int64_t row1, row2;
  __m512 mult_s;
  __m256i zp16;  // small form: the zero point in int16 lanes
  __m128i lo8, hi8;
  __m512d mult_d, lo_d, hi_d;
  __m512i zp32;

  Vectors(const DwVbmiPlan& plan, const DwVbmiChannel& ch, int64_t r1, int64_t r2)
      : idx(_mm512_loadu_si512(plan.idx)), w0(_mm512_set1_epi32(ch.rows[0])), w1(_mm512_set1_epi32(ch.rows[1])),
        w2(_mm512_set1_epi32(ch.rows[2])), base(_mm512_set1_epi32(ch.base)), row1(r1), row2(r2),
        mult_s(_mm512_set1_ps(ch.multiplier)), zp16(_mm256_set1_epi16(static_cast<int16_t>(ch.zero_point))),
        lo8(_mm_set1_epi8(static_cast<char>(ch.lo))),
        hi8(_mm_set1_epi8(static_cast<char>(ch.hi))), mult_d(_mm512_set1_pd(static_cast<double>(ch.multiplier))),
        lo_d(_mm512_set1_pd(static_cast<double>(int64_t{ch.lo} - ch.zero_point))),
        hi_d(_mm512_set1_pd(static_cast<double>(int64_t{ch.hi} - ch.zero_point))),
        zp32(_mm512_set1_epi32(ch.zero_point)) {}

  // The double form: clamp(round(acc m), L - zp, H - zp) + zp, 8 lanes.
  __m256i requant8_d(__m256i acc) const {
    __m512d v = _mm512_mul_pd(_mm512_cvtepi32_pd(acc), mult_d);
    v = _mm512_roundscale_pd(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    return _mm512_cvtpd_epi32(_mm512_min_pd(_mm512_max_pd(v, lo_d), hi_d));
  }

  void run(int u, const uint8_t* const* b, const int64_t* lanes, uint8_t* const* out) const {
    __m512i acc[kU];
    for (int i = 0; i < kU; ++i)
      if (i < u) acc[i] = _mm512_dpbusd_epi32(base, _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(b[i])), w0);
    for (int i = 0; i < kU; ++i)
      if (i < u) acc[i] = _mm512_dpbusd_epi32(acc[i], _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(b[i] + row1)), w1);
    for (int i = 0; i < kU; ++i)
      if (i < u) acc[i] = _mm512_dpbusd_epi32(acc[i], _mm512_permutexvar_epi8(idx, _mm512_loadu_si512(b[i] + row2)), w2);
    __m128i bytes[kU];
    if constexpr (kSmall) {
      const __m512 c = _mm512_set1_ps(static_cast<float>(avx2::kSmallAccBound));
      __m512i r[kU];
      for (int i = 0; i < kU; ++i)  // round_half_even(acc m), or beyond int16 with its sign
        if (i < u)
          r[i] = _mm512_sub_epi32(_mm512_castps_si512(_mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[i]), mult_s, c)),
                                  _mm512_set1_epi32(0x4B400000));
      for (int i = 0; i < kU; ++i)
        if (i < u) {
          // sat16(sat16(r) + zp), then to 8 bits as packs / packus would (u8: negatives to 0 first)
          const __m256i h = _mm256_adds_epi16(_mm512_cvtsepi32_epi16(r[i]), zp16);
          bytes[i] = kSigned ? _mm256_cvtsepi16_epi8(h) : _mm256_cvtusepi16_epi8(_mm256_max_epi16(h, _mm256_setzero_si256()));
        }
    } else {
      for (int i = 0; i < kU; ++i)
        if (i < u) {
          const __m512i q = _mm512_add_epi32(
              _mm512_inserti64x4(_mm512_castsi256_si512(requant8_d(_mm512_castsi512_si256(acc[i]))),
                                 requant8_d(_mm512_extracti64x4_epi64(acc[i], 1)), 1),
              zp32);
          bytes[i] = _mm512_cvtepi32_epi8(q);
        }
    }
    for (int i = 0; i < kU; ++i)
      if (i < u) {
        __m128i v = bytes[i];
        if constexpr (kSmall) v = kSigned ? _mm_min_epi8(_mm_max_epi8(v, lo8), hi8) : _mm_min_epu8(_mm_max_epu8(v, lo8), hi8);
        _mm_mask_storeu_epi8(out[i], static_cast<__mmask16>((1u << lanes[i]) - 1u), v);
      }
  }
};

template <bool kSmall, bool kSigned>
void plane(const DwConvParams& p, const DwVbmiPlan& plan, const uint8_t* buf, const DwVbmiChannel& ch, uint8_t* yb) {
  const int64_t OH = p.out_h, OW = p.out_w, R = plan.rows_per_vec, pitch = plan.pitch;
  using V = Vectors<kSmall, kSigned>;
  const V vec(plan, ch, p.dilation_h * pitch, 2 * p.dilation_h * pitch);
  const uint8_t* b[V::kU];
  int64_t lanes[V::kU];
  uint8_t* out[V::kU];
  int u = 0;
  auto push = [&](const uint8_t* bi, int64_t li, uint8_t* oi) {
    b[u] = bi, lanes[u] = li, out[u] = oi;
    if (++u == V::kU) {
      vec.run(V::kU, b, lanes, out);
      u = 0;
    }
  };
  if (OW <= kLanes) {  // R whole output rows a vector: its lanes are contiguous in y
    for (int64_t oy0 = 0; oy0 < OH; oy0 += R)
      push(buf + oy0 * p.stride_h * pitch, std::min(R, OH - oy0) * OW, yb + oy0 * OW);
  } else {
    for (int64_t oy = 0; oy < OH; ++oy)
      for (int64_t ox0 = 0; ox0 < OW; ox0 += kLanes)
        push(buf + oy * p.stride_h * pitch + ox0 * p.stride_w, std::min(kLanes, OW - ox0), yb + oy * OW + ox0);
  }
  if (u > 0) vec.run(u, b, lanes, out);
}

}  // namespace

void dwconv3x3_u8s8_vbmi(const DwConvParams& p, const DwVbmiPlan& plan, const uint8_t* x, int32_t x_zp,
                         const DwVbmiChannel* ch, int64_t count, void* y, void* scratch) {
  // The padded plane: x_zp everywhere (once: the padding stays x_zp from plane to plane), then
  // each plane's input rows in place.
  uint8_t* buf = aligned(scratch);
  const int64_t pitch = plan.pitch;
  std::memset(buf, x_zp, static_cast<size_t>(plan.padded_rows * pitch + kAlign));
  const int64_t rows = std::min(p.in_h, plan.padded_rows - p.pad_top);
  const __mmask64 m = p.in_w >= 64 ? ~__mmask64{0} : (__mmask64{1} << p.in_w) - 1;
  for (int64_t c = 0; c < count; ++c) {
    const uint8_t* xc = x + c * p.in_h * p.in_w;
    if (p.in_w <= 64) {
      for (int64_t iy = 0; iy < rows; ++iy)
        _mm512_mask_storeu_epi8(buf + (p.pad_top + iy) * pitch + p.pad_left, m,
                                _mm512_maskz_loadu_epi8(m, xc + iy * p.in_w));
    } else {
      for (int64_t iy = 0; iy < rows; ++iy)
        std::memcpy(buf + (p.pad_top + iy) * pitch + p.pad_left, xc + iy * p.in_w, static_cast<size_t>(p.in_w));
    }
    uint8_t* yb = static_cast<uint8_t*>(y) + c * p.out_h * p.out_w;
    if (ch[c].small) {
      if (ch[c].is_signed) plane<true, true>(p, plan, buf, ch[c], yb);
      else plane<true, false>(p, plan, buf, ch[c], yb);
    } else {
      if (ch[c].is_signed) plane<false, true>(p, plan, buf, ch[c], yb);
      else plane<false, false>(p, plan, buf, ch[c], yb);
    }
  }
}

}  // namespace octet::kernels
