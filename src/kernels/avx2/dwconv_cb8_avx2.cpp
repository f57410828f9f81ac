// Depthwise 3x3 over 8 channels in the vector lanes, AVX2. Contract in dwconv_cb8_avx2.h; this
// file states the scratch layout and the why of each step.
//
// Scratch (after aligning the caller's pointer up to 64 bytes), each part 64-byte aligned:
//   pairs  rows_p * tcols * 32 B  padded pixel (r, c) -> 8 channels x int16 pair
//                                  (xp(r, c), xp(r, c + dilation_w)), channel ch in int32 lane ch
//                                  (only every pair_step-th column written: those compute() reads)
//   prow   (ucols + 8) * 16 B      one padded input row as 8 channels x int16 xp per pixel
//   out    ceil8(strip*out_w) * 8  a strip's requantized outputs, pixel-major (8 channel bytes each)
//   stage  64 B                    8 x 8 bytes for a row end of a plane under 8 bytes
// rows_p = (strip - 1) * stride_h + 2 * dilation_h + 1 padded rows are the ones a strip's taps reach,
// tcols = (out_w - 1) * stride_w + 2 * dilation_w + 1 the columns a tap pair starts at, and
// ucols = tcols + dilation_w the columns those pairs read. Padded row r is input row
// r - pad_top, padded column c input column c - pad_left; outside x the entry is 0.
// Output rows go in strips (all of a small plane at once): a strip's pair rows are all prepared
// before its outputs are computed, so its working set (27 KiB for a 28x28 stride-2 layer) stays
// in L1/L2 and the compute loop needs no ring bookkeeping; the 2 * dilation_h rows two strips
// share are prepared twice.
#include "kernels/avx2/dwconv_cb8_avx2.h"

#include "kernels/avx2/dw_requant_avx2.h"
#include "kernels/avx2/dwconv_cb8_rows.h"
#include "kernels/avx2/qgemm_avx2.h"
#include "kernels/avx2/store_lanes.h"
#include "kernels/avx2/transpose_avx2.h"
#include "kernels/avx512/dwconv_cb8_vnni.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace octet::kernels {
namespace {

#define CB8_INLINE inline __attribute__((always_inline))

size_t align64(size_t v) { return (v + 63) & ~size_t(63); }

struct Layout {
  int64_t strip = 0;               // output rows per strip
  int64_t rows_p = 0, tcols = 0, ucols = 0;  // rows_p: padded rows one strip reaches
  size_t pairs = 0, prow = 0, out = 0, stage = 0, total = 0;
};

// Pair rows of a strip are kept near kStripBytes so that a strip's working set stays in L1/L2
// for wide planes too; small planes (the target) are one strip.
constexpr int64_t kStripBytes = 32 * 1024;

// Padded rows the taps of `rows` consecutive output rows reach.
int64_t strip_span(const DwConvParams& p, int64_t rows) { return (rows - 1) * p.stride_h + 2 * p.dilation_h + 1; }

// Output rows per strip, so that the strip's prepared rows of `row_bytes` each stay near
// kStripBytes (at least 1, at most the plane).
int64_t strip_rows(const DwConvParams& p, int64_t row_bytes) {
  return std::clamp<int64_t>((kStripBytes / row_bytes - strip_span(p, 1)) / p.stride_h + 1, 1, p.out_h);
}

// The scratch buffer's first 64-byte aligned address (the sizes reserve 63 bytes for it).
char* align_scratch(void* scratch) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(scratch);
  return static_cast<char*>(scratch) + ((64 - (a & 63)) & 63);
}

// Prepares the padded rows of the strip of `rows` output rows from oh0: zero(r) for a row in the
// padding, prep(r, ih) for input row ih, r counting from the strip's first padded row.
template <class Zero, class Prep>
CB8_INLINE void prepare_strip(const DwConvParams& p, int64_t oh0, int64_t rows, Zero zero, Prep prep) {
  const int64_t r0 = oh0 * p.stride_h, nrows = strip_span(p, rows);
  for (int64_t r = 0; r < nrows; ++r) {
    const int64_t ih = r0 + r - p.pad_top;
    if (ih < 0 || ih >= p.in_h) zero(r);
    else prep(r, ih);
  }
}

Layout make_layout(const DwConvParams& p) {
  Layout l;
  l.tcols = (p.out_w - 1) * p.stride_w + 2 * p.dilation_w + 1;
  l.ucols = l.tcols + p.dilation_w;
  const int64_t row_bytes = l.tcols * 32;
  l.strip = strip_rows(p, row_bytes);
  l.rows_p = strip_span(p, l.strip);
  size_t o = 0;
  l.pairs = o;
  o += align64(static_cast<size_t>(l.rows_p * row_bytes));
  l.prow = o;
  o += align64(static_cast<size_t>(l.ucols + 8) * 16);
  l.out = o;
  o += align64(static_cast<size_t>((l.strip * p.out_w + 7) / 8 * 8) * 8);
  l.stage = o;
  o += 64;
  l.total = o;
  return l;
}

// 8 x 8 bytes: r[i] holds row i in its low 8 bytes; c[j] gets column 2j in its low 8 bytes and
// column 2j + 1 in its high 8 bytes.
CB8_INLINE void transpose8x8_u8(const __m128i r[8], __m128i c[4]) {
  const __m128i a0 = _mm_unpacklo_epi8(r[0], r[1]), a1 = _mm_unpacklo_epi8(r[2], r[3]);
  const __m128i a2 = _mm_unpacklo_epi8(r[4], r[5]), a3 = _mm_unpacklo_epi8(r[6], r[7]);
  const __m128i b0 = _mm_unpacklo_epi16(a0, a1), b1 = _mm_unpackhi_epi16(a0, a1);  // rows 0-3
  const __m128i b2 = _mm_unpacklo_epi16(a2, a3), b3 = _mm_unpackhi_epi16(a2, a3);  // rows 4-7
  c[0] = _mm_unpacklo_epi32(b0, b2);
  c[1] = _mm_unpackhi_epi32(b0, b2);
  c[2] = _mm_unpacklo_epi32(b1, b3);
  c[3] = _mm_unpackhi_epi32(b1, b3);
}

// Padded row of input row ih into prow: entry c = 8 int16 (channel ch: x[ch][ih][c - pad_left] -
// x_zp, 0 outside x), for c in [0, ucols). Reads 8 bytes per channel per block straight from the
// planes. A block whose 8-byte read would leave a plane reads the plane's last 8 bytes instead
// and shifts them down into place (planes of fewer than 8 bytes go through the stage, zero point
// filled): a copy through memory there cost a store-forwarding stall per channel, 7% of the
// kernel on mobilenetv2-tiny. Bytes read past the row's end (zeros from the shift, or the next
// row) land in right-padding entries, which are zeroed last.
void prep_row(const DwConvParams& p, const Layout& l, const uint8_t* x, int64_t ih, int32_t x_zp,
              int16_t* prow, uint8_t* stage) {
  const int64_t plane = p.in_h * p.in_w, ucols = l.ucols;
  const __m256i zp16 = _mm256_set1_epi16(static_cast<int16_t>(x_zp));
  const int64_t pl = std::min(p.pad_left, ucols);
  for (int64_t c = 0; c < pl; ++c) _mm_storeu_si128(reinterpret_cast<__m128i*>(prow + 8 * c), _mm_setzero_si128());
  for (int64_t iw0 = 0; iw0 < p.in_w && p.pad_left + iw0 < ucols; iw0 += 8) {
    const int64_t off = ih * p.in_w + iw0;
    __m128i r[8], t[4];
    if (off + 8 <= plane) {
      for (int ch = 0; ch < 8; ++ch)
        r[ch] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + ch * plane + off));
    } else if (plane >= 8) {
      const __m128i bits = _mm_cvtsi64_si128(8 * (off + 8 - plane));  // the shift, 8-56 bits
      for (int ch = 0; ch < 8; ++ch)
        r[ch] = _mm_srl_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + ch * plane + plane - 8)), bits);
    } else {
      std::memset(stage, x_zp, 64);
      for (int ch = 0; ch < 8; ++ch) {
        std::memcpy(stage + 8 * ch, x + ch * plane + off, static_cast<size_t>(plane - off));
        r[ch] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(stage + 8 * ch));
      }
    }
    transpose8x8_u8(r, t);
    int16_t* d = prow + 8 * (p.pad_left + iw0);
    for (int j = 0; j < 4; ++j)  // pixels 2j, 2j + 1: 16 bytes widened to 16 int16, minus x_zp
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(d + 16 * j),
                          _mm256_sub_epi16(_mm256_cvtepu8_epi16(t[j]), zp16));
  }
  for (int64_t c = std::max(p.pad_left + p.in_w, pl); c < ucols; ++c)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(prow + 8 * c), _mm_setzero_si128());
}

// Pair row from a padded row: entry c = per channel (xp(c), xp(c + dw)); channels 0-3 in the low
// 128 bits, 4-7 in the high, as vpmaddwd's int32 lanes 0-7. Only every step-th entry is made
// (pair_step: the others are never read).
void make_pairs(const int16_t* prow, int64_t tcols, int64_t dw, int64_t step, __m256i* dst) {
  for (int64_t c = 0; c < tcols; c += step) {
    const __m128i u0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(prow + 8 * c));
    const __m128i u1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(prow + 8 * (c + dw)));
    _mm256_store_si256(dst + c, _mm256_set_m128i(_mm_unpackhi_epi16(u0, u1), _mm_unpacklo_epi16(u0, u1)));
  }
}

// The pair entries compute() reads are c = ow * stride_w and c + 2 * dilation_w: when the stride
// divides 2 * dilation_w (stride 2 with any dilation, stride 4 with dilation 2, ...), only the
// multiples of the stride, which halves make_pairs' work on stride-2 layers; else every entry.
int64_t pair_step(const DwConvParams& p) {
  return p.stride_w > 1 && (2 * p.dilation_w) % p.stride_w == 0 ? p.stride_w : 1;
}

struct Epilogue {
  __m256i bias;
  bool saturate_bias;  // some channel's |bias| + its largest possible |sum| exceeds INT32_MAX
  __m256d mult_lo, mult_hi;  // double(multiplier) of channels 0-3 and 4-7
  __m256 mult;               // the 8 multipliers (the Small form)
  avx2::DwClamp clamp;
};

// The epilogue's form, for all 8 channels: the double one (dw_requant4), the short one where every
// multiplier passes rn_applies (dw_requant8_rn), and its single-precision variant where besides
// every |acc| stays below avx2::kSmallAccBound (dw_requant8_small).
enum class Form { Double, Rn, Small };
static_assert(static_cast<int>(Form::Rn) == 1 && static_cast<int>(Form::Small) == 2, "DwCb8Prepared::form");

// Output rows [0, rows) of a strip whose first pair row is `pairs` (padded row oh0 * stride_h).
template <bool Signed, Form kForm>
void compute(const DwConvParams& p, const Layout& l, int64_t rows, const __m256i* pairs, const __m256i w[6],
             const Epilogue& e, uint8_t* out) {
  const int64_t t2 = 2 * p.dilation_w;  // a row's third tap's pair entry, from its first
  dw_cb8_for_each_pixel(p, rows, l.tcols, pairs, out,
                        [&](const __m256i* r0, const __m256i* r1, const __m256i* r2, uint8_t* o) {
                          const __m256i s0 =
                              _mm256_add_epi32(_mm256_madd_epi16(r0[0], w[0]), _mm256_madd_epi16(r0[t2], w[1]));
                          const __m256i s1 =
                              _mm256_add_epi32(_mm256_madd_epi16(r1[0], w[2]), _mm256_madd_epi16(r1[t2], w[3]));
                          const __m256i s2 =
                              _mm256_add_epi32(_mm256_madd_epi16(r2[0], w[4]), _mm256_madd_epi16(r2[t2], w[5]));
                          const __m256i acc = avx2::dw_add_bias(_mm256_add_epi32(_mm256_add_epi32(s0, s1), s2),
                                                                e.bias, e.saturate_bias);
                          __m128i b;
                          if constexpr (kForm == Form::Small) {
                            b = avx2::dw_requant8_small<Signed>(acc, e.mult, e.clamp);
                          } else if constexpr (kForm == Form::Rn) {
                            b = avx2::dw_requant8_rn<Signed>(acc, e.mult_lo, e.mult_hi, e.clamp);
                          } else {
                            const __m128i q0 = avx2::dw_requant4(_mm256_castsi256_si128(acc), e.mult_lo, e.clamp);
                            const __m128i q1 = avx2::dw_requant4(_mm256_extracti128_si256(acc, 1), e.mult_hi, e.clamp);
                            const __m128i h16 = _mm_packs_epi32(q0, q1);  // in the output type's range: no saturation
                            b = Signed ? _mm_packs_epi16(h16, h16) : _mm_packus_epi16(h16, h16);
                          }
                          _mm_storel_epi64(reinterpret_cast<__m128i*>(o), b);
                        });
}

// n pixel-major outputs (8 channel bytes per pixel) to the 8 planes y + ch * plane.
void scatter_planes(const uint8_t* out, int64_t n, int64_t plane, uint8_t* y) {
  for (int64_t p0 = 0; p0 < n; p0 += 8) {
    __m128i r[8], t[4];
    for (int i = 0; i < 8; ++i) r[i] = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(out + 8 * (p0 + i)));
    transpose8x8_u8(r, t);
    const int64_t m = std::min<int64_t>(8, n - p0);
    for (int j = 0; j < 4; ++j) {
      uint8_t* y0 = y + 2 * j * plane + p0;
      uint8_t* y1 = y0 + plane;
      if (m == 8) {
        _mm_storel_epi64(reinterpret_cast<__m128i*>(y0), t[j]);
        _mm_storel_epi64(reinterpret_cast<__m128i*>(y1), _mm_unpackhi_epi64(t[j], t[j]));  // unaligned-safe
      } else {
        alignas(16) uint8_t b[16];
        _mm_store_si128(reinterpret_cast<__m128i*>(b), t[j]);
        std::memcpy(y0, b, static_cast<size_t>(m));
        std::memcpy(y1, b + 8, static_cast<size_t>(m));
      }
    }
  }
}

}  // namespace

size_t dwconv_cb8_avx2_scratch_size(const DwConvParams& p) {
  if (p.out_h <= 0 || p.out_w <= 0) return 64;
  return make_layout(p).total + 63;
}

void dwconv3x3_u8s8_cb8_prepare(int32_t x_zp, const int8_t* w, const int32_t* w_zp, const int32_t* bias,
                                const DwQOutput8& out, DwCb8Prepared* prepared) {
  DwCb8Prepared& d = *prepared;
  // Weight pairs per channel lane: (w'[kh][0], w'[kh][1]) and (w'[kh][2], 0), the first tap in the
  // low half (vpmaddwd multiplies it with the lower-address int16 of the input pair).
  for (int k = 0; k < 3; ++k)
    for (int ch = 0; ch < 8; ++ch) {
      const int8_t* wc = w + ch * 9 + k * 3;
      const uint32_t w0 = static_cast<uint32_t>(wc[0] - w_zp[ch]) & 0xffffu;
      const uint32_t w1 = static_cast<uint32_t>(wc[1] - w_zp[ch]) & 0xffffu;
      d.pairs[2 * k][ch] = static_cast<int32_t>(w0 | (w1 << 16));
      d.pairs[2 * k + 1][ch] = static_cast<int32_t>(static_cast<uint32_t>(wc[2] - w_zp[ch]) & 0xffffu);
    }
  d.saturate_bias = false;
  bool rn = true, small = true;
  for (int ch = 0; ch < 8; ++ch) {
    d.bias[ch] = bias ? bias[ch] : 0;
    d.saturate_bias |= avx2::dw_bias_may_overflow(9, x_zp, w_zp[ch], d.bias[ch]);
    rn &= avx2::rn_applies(out.multiplier[ch], out.zero_point);
    // |acc| <= sum_taps |w - w_zp| * max |x - x_zp| + |bias| (the bias added with saturation
    // only where this is far larger).
    double wsum = 0;
    for (int k = 0; k < 9; ++k) wsum += std::abs(static_cast<double>(w[ch * 9 + k] - w_zp[ch]));
    const double x_max = std::max(std::abs(static_cast<double>(x_zp)), std::abs(255.0 - x_zp));
    small &= wsum * x_max + std::abs(static_cast<double>(d.bias[ch])) < avx2::kSmallAccBound;
  }
  d.form = static_cast<int>(!rn ? Form::Double : small ? Form::Small : Form::Rn);
  d.vnni = d.form == static_cast<int>(Form::Small) && !d.saturate_bias &&
           qgemm_default_isa() == QgemmIsa::Avx512Vnni;  // the INT8 GEMM's choice, OCTET_ISA included
}

void dwconv3x3_u8s8_cb8_avx2(const DwConvParams& p, const uint8_t* x, int32_t x_zp, const int8_t* w,
                             const int32_t* w_zp, const int32_t* bias, const DwQOutput8& out, void* y,
                             void* scratch) {
  DwCb8Prepared prepared;
  dwconv3x3_u8s8_cb8_prepare(x_zp, w, w_zp, bias, out, &prepared);
  dwconv3x3_u8s8_cb8_avx2(p, x, x_zp, prepared, out, y, scratch);
}

void dwconv3x3_u8s8_cb8_avx2(const DwConvParams& p, const uint8_t* x, int32_t x_zp, const DwCb8Prepared& prepared,
                             const DwQOutput8& out, void* y, void* scratch) {
  if (p.out_h <= 0 || p.out_w <= 0) return;
  const Layout l = make_layout(p);
  char* base = align_scratch(scratch);
  auto* pairs = reinterpret_cast<__m256i*>(base + l.pairs);
  auto* prow = reinterpret_cast<int16_t*>(base + l.prow);
  auto* obuf = reinterpret_cast<uint8_t*>(base + l.out);
  auto* stage = reinterpret_cast<uint8_t*>(base + l.stage);
  __m256i wv[6];
  for (int k = 0; k < 6; ++k) wv[k] = _mm256_load_si256(reinterpret_cast<const __m256i*>(prepared.pairs[k]));
  Epilogue e;
  e.bias = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(prepared.bias));
  e.saturate_bias = prepared.saturate_bias;
  e.mult_lo = _mm256_cvtps_pd(_mm_loadu_ps(out.multiplier));  // float -> double is exact
  e.mult_hi = _mm256_cvtps_pd(_mm_loadu_ps(out.multiplier + 4));
  e.mult = _mm256_loadu_ps(out.multiplier);
  e.clamp = avx2::dw_clamp(out.qmin, out.qmax, out.lo, out.hi, out.zero_point);
  const Form form = static_cast<Form>(prepared.form);

  const int64_t plane_out = p.out_h * p.out_w, step = pair_step(p);
  for (int64_t oh0 = 0; oh0 < p.out_h; oh0 += l.strip) {
    const int64_t rows = std::min(l.strip, p.out_h - oh0);
    prepare_strip(
        p, oh0, rows,
        [&](int64_t r) { std::memset(static_cast<void*>(pairs + r * l.tcols), 0, static_cast<size_t>(l.tcols) * 32); },
        [&](int64_t r, int64_t ih) {
          prep_row(p, l, x, ih, x_zp, prow, stage);
          make_pairs(prow, l.tcols, p.dilation_w, step, pairs + r * l.tcols);
        });
    if (prepared.vnni) {
      dwconv_cb8_rows_vnni(p, rows, l.tcols, pairs, prepared, out, obuf);
    } else if (out.is_signed) {
      if (form == Form::Small) compute<true, Form::Small>(p, l, rows, pairs, wv, e, obuf);
      else if (form == Form::Rn) compute<true, Form::Rn>(p, l, rows, pairs, wv, e, obuf);
      else compute<true, Form::Double>(p, l, rows, pairs, wv, e, obuf);
    } else {
      if (form == Form::Small) compute<false, Form::Small>(p, l, rows, pairs, wv, e, obuf);
      else if (form == Form::Rn) compute<false, Form::Rn>(p, l, rows, pairs, wv, e, obuf);
      else compute<false, Form::Double>(p, l, rows, pairs, wv, e, obuf);
    }
    scatter_planes(obuf, rows * p.out_w, plane_out, static_cast<uint8_t*>(y) + oh0 * p.out_w);
  }
}

// ---- FP32 ------------------------------------------------------------------------------------
// Scratch: rows  rows_p * ucols * 32 B  padded pixel (r, c) -> the 8 channels' floats (0 outside x)
//          out   ceil8(strip * out_w) * 32 B  a strip's outputs, pixel-major
//          stage 8 * 8 floats  for a row end of a plane under 8 floats
// Taps read padded column ow * stride_w + kw * dilation_w directly (no pairs).

namespace {

struct LayoutF32 {
  int64_t strip = 0, rows_p = 0, ucols = 0;
  size_t rows = 0, out = 0, stage = 0, total = 0;
};

LayoutF32 make_layout_f32(const DwConvParams& p) {
  LayoutF32 l;
  l.ucols = (p.out_w - 1) * p.stride_w + 2 * p.dilation_w + 1;
  const int64_t row_bytes = l.ucols * 32;
  l.strip = strip_rows(p, row_bytes);
  l.rows_p = strip_span(p, l.strip);
  size_t o = 0;
  l.rows = o;
  o += align64(static_cast<size_t>(l.rows_p * row_bytes) + 8 * 32);  // + a block's spill past ucols
  l.out = o;
  o += align64(static_cast<size_t>((l.strip * p.out_w + 7) / 8 * 8) * 32);
  l.stage = o;
  o += 256;
  l.total = o;
  return l;
}

using avx2::transpose8x8_ps;

// Padded row of input row ih: entry c = the 8 channels' x[ch][ih][c - pad_left] (0 outside x).
void prep_row_f32(const DwConvParams& p, const LayoutF32& l, const float* x, int64_t ih, __m256* dst,
                  float* stage) {
  const int64_t plane = p.in_h * p.in_w, ucols = l.ucols;
  const int64_t pl = std::min(p.pad_left, ucols);
  for (int64_t c = 0; c < pl; ++c) dst[c] = _mm256_setzero_ps();
  for (int64_t iw0 = 0; iw0 < p.in_w && p.pad_left + iw0 < ucols; iw0 += 8) {
    const int64_t off = ih * p.in_w + iw0;
    __m256 r[8];
    if (off + 8 <= plane) {
      for (int ch = 0; ch < 8; ++ch) r[ch] = _mm256_loadu_ps(x + ch * plane + off);
    } else if (plane >= 8) {
      // The plane's last 8 floats rotated into place (prep_row shifts; a rotation is one permute
      // here): the lanes past the row's end hold earlier values of the plane, which land in
      // right-padding entries that are zeroed below.
      const int32_t s = static_cast<int32_t>(off + 8 - plane);
      const __m256i idx = _mm256_add_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(s));
      for (int ch = 0; ch < 8; ++ch) r[ch] = _mm256_permutevar8x32_ps(_mm256_loadu_ps(x + ch * plane + plane - 8), idx);
    } else {
      std::memset(stage, 0, 256);
      for (int ch = 0; ch < 8; ++ch) {
        std::memcpy(stage + 8 * ch, x + ch * plane + off, static_cast<size_t>(plane - off) * 4);
        r[ch] = _mm256_load_ps(stage + 8 * ch);
      }
    }
    transpose8x8_ps(r);
    __m256* d = dst + p.pad_left + iw0;
    for (int j = 0; j < 8; ++j) _mm256_storeu_ps(reinterpret_cast<float*>(d + j), r[j]);
  }
  for (int64_t c = std::max(p.pad_left + p.in_w, pl); c < ucols; ++c) dst[c] = _mm256_setzero_ps();
}

// n pixel-major outputs (8 channel floats per pixel) to the 8 planes y + ch * plane.
void scatter_planes_f32(const float* out, int64_t n, int64_t plane, float* y) {
  for (int64_t p0 = 0; p0 < n; p0 += 8) {
    __m256 r[8];
    for (int i = 0; i < 8; ++i) r[i] = _mm256_load_ps(out + 8 * (p0 + i));
    transpose8x8_ps(r);
    const int64_t m = std::min<int64_t>(8, n - p0);
    for (int ch = 0; ch < 8; ++ch) avx2::store_first_ps(y + ch * plane + p0, r[ch], m);
  }
}

}  // namespace

size_t dwconv_cb8_f32_avx2_scratch_size(const DwConvParams& p) {
  if (p.out_h <= 0 || p.out_w <= 0) return 64;
  return make_layout_f32(p).total + 63;
}

void dwconv3x3_f32_cb8_avx2(const DwConvParams& p, const float* x, const float* w, const float* bias, float lo,
                            float hi, float* y, void* scratch) {
  if (p.out_h <= 0 || p.out_w <= 0) return;
  const LayoutF32 l = make_layout_f32(p);
  char* base = align_scratch(scratch);
  auto* rows = reinterpret_cast<__m256*>(base + l.rows);
  auto* obuf = reinterpret_cast<float*>(base + l.out);
  auto* stage = reinterpret_cast<float*>(base + l.stage);
  // Built in registers: 4-byte stores read back as one vector would stall store forwarding.
  __m256 wv[9];
  for (int k = 0; k < 9; ++k)
    wv[k] = _mm256_setr_ps(w[k], w[9 + k], w[18 + k], w[27 + k], w[36 + k], w[45 + k], w[54 + k], w[63 + k]);
  const __m256 vb = _mm256_loadu_ps(bias), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
  const int64_t plane_out = p.out_h * p.out_w, dw = p.dilation_w, uc = l.ucols;
  for (int64_t oh0 = 0; oh0 < p.out_h; oh0 += l.strip) {
    const int64_t nout = std::min(l.strip, p.out_h - oh0);
    prepare_strip(
        p, oh0, nout,
        [&](int64_t r) {
          for (int64_t c = 0; c < uc; ++c) rows[r * uc + c] = _mm256_setzero_ps();
        },
        [&](int64_t r, int64_t ih) { prep_row_f32(p, l, x, ih, rows + r * uc, stage); });
    dw_cb8_for_each_pixel(p, nout, uc, rows, obuf, [&](const __m256* q0, const __m256* q1, const __m256* q2, float* o) {
      __m256 acc = vb;  // bias, then the taps in (kh, kw) order, one FMA each
      acc = _mm256_fmadd_ps(q0[0], wv[0], acc);
      acc = _mm256_fmadd_ps(q0[dw], wv[1], acc);
      acc = _mm256_fmadd_ps(q0[2 * dw], wv[2], acc);
      acc = _mm256_fmadd_ps(q1[0], wv[3], acc);
      acc = _mm256_fmadd_ps(q1[dw], wv[4], acc);
      acc = _mm256_fmadd_ps(q1[2 * dw], wv[5], acc);
      acc = _mm256_fmadd_ps(q2[0], wv[6], acc);
      acc = _mm256_fmadd_ps(q2[dw], wv[7], acc);
      acc = _mm256_fmadd_ps(q2[2 * dw], wv[8], acc);
      // min(hi, max(lo, acc)) with the NaN of acc kept, as dwconv_f32_avx2's clamp
      _mm256_store_ps(o, _mm256_min_ps(vhi, _mm256_max_ps(vlo, acc)));
    });
    scatter_planes_f32(obuf, nout * p.out_w, plane_out, y + oh0 * p.out_w);
  }
}

}  // namespace octet::kernels

#undef CB8_INLINE
