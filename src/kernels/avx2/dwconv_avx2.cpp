// Depthwise 2-D convolution, one plane, AVX2 + FMA. Contracts are in dwconv_avx2.h; this file
// states the scratch layout and the why of each step.
//
// Scratch layout (after aligning the caller's pointer up to 64 bytes), each part 64-byte aligned:
//   tags   int64[R]          which input row each ring slot holds (-1: none); reset every call
//   tapoff int32[kernel_w]   per tap (FP32) or tap pair (INT8): element offset inside a row slot
//   wtab   int32[kh * kw]    INT8 only: the weight pairs, see below
//   rows   ptr[kernel_h]     per output row: the slot of each kernel row (or zero row / null)
//   stage  stage_len * 4 B   the padded input row, for the rare strides > 2 (and INT8 stride 2
//                            with dilation > 1), which are then split into phases element-wise
//   zero   row_bytes         an all-zero row slot, for kernel rows outside x in the 3x3 path
//   slots  R * row_bytes     the ring of prepared input rows; row ih lives in slot ih & (R - 1)
// R is the power of two >= (kernel_h - 1) * dilation_h + 1: the rows one output row needs span
// fewer than R consecutive rows, so they never share a slot, and as output rows advance a slot is
// only overwritten once its row is behind (tags make any re-use safe regardless).
// A row slot holds stride_w phase rows of nstride entries; entry j of phase r stands for padded
// column c = r + stride_w * j (input column c - pad_left, 0 outside x). n = (out_w rounded up to
// 8) + (kernel_w - 1) * dilation_w / stride_w + 1 entries are written, so the last, partial block
// of 8 outputs reads only prepared entries (its extra lanes are computed and not stored).
// Rows are prepared straight from x with vector moves in the middle and scalar code only at the
// padded ends; a staging copy first would be simpler but its unaligned re-reads of fresh stores
// miss store-to-load forwarding and cost more than the scalar ends (measured).
//
// FP32 entry: the float. INT8 entry: an int16 PAIR (xp(c), xp(c + dilation_w)) with
// xp = x - x_zp (0 in the padding), so one vpmaddwd against the broadcast weight pair
// (w'[kh][2m], w'[kh][2m + 1]) (w' = w - w_zp; 0 for the missing partner of an odd kernel_w)
// adds two taps for 8 outputs into int32. For stride 2, dilation 1 the pair (xp(c), xp(c + 1)) at
// c = r + 2j is just the plain int16 row read from element c, so that case stores the plain row
// once (no interleave) and the phase/pair offset of tap t is simply t.
#include "kernels/avx2/dwconv_avx2.h"

#include "kernels/avx2/dw_requant_avx2.h"
#include "kernels/avx2/store_lanes.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <type_traits>

#include "kernels/ref/quantize_ref.h"
#include "kernels/short_copy.h"

namespace octet::kernels {
namespace {

#define DW_INLINE inline __attribute__((always_inline))

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
size_t align64(size_t v) { return (v + 63) & ~size_t(63); }

// Calls f(j) for j = lo, lo + step, ... while j <= hi, then f(hi) once more if that stopped short
// of hi + step: an overlapping last chunk instead of a scalar tail (f must be idempotent).
// Returns the first index not covered: hi + step, or lo when hi < lo (nothing done).
template <class F>
DW_INLINE int64_t vector_chunks(int64_t lo, int64_t hi, int64_t step, F&& f) {
  if (hi < lo) return lo;
  int64_t j = lo;
  for (; j <= hi; j += step) f(j);
  if (j < hi + step) f(hi);
  return hi + step;
}

// a / s and a % s for a >= 0, without a division for the common strides 1 and 2.
struct DivMod {
  int64_t q, r;
};
DW_INLINE DivMod divmod(int64_t a, int64_t s) {
  if (s == 1) return {a, 0};
  if (s == 2) return {a >> 1, a & 1};
  return {a / s, a % s};
}

struct Layout {
  int64_t ring = 0;       // R
  int64_t n = 0;          // entries needed per phase row
  int64_t nstride = 0;    // entries between phase rows: n rounded up to 16, plus 16 of slack
  int64_t stage_len = 0;  // elements of the staging row
  size_t row_bytes = 0;
  size_t tags = 0, tapoff = 0, wtab = 0, rows = 0, stage = 0, zero = 0, slots = 0, total = 0;
};

Layout make_layout(const DwConvParams& p) {
  Layout l;
  // A power of two >= the span, so the slot is ih & (ring - 1), not a division.
  l.ring = 1;
  while (l.ring < (p.kernel_h - 1) * p.dilation_h + 1) l.ring *= 2;
  l.n = round_up(std::max<int64_t>(p.out_w, 0), 8) +
        divmod((p.kernel_w - 1) * p.dilation_w, p.stride_w).q + 1;
  l.nstride = round_up(l.n, 16) + 16;
  l.stage_len = p.stride_w * l.nstride + p.dilation_w + 64;
  l.row_bytes = static_cast<size_t>(p.stride_w * l.nstride) * 4;  // 4 = float or int16 pair
  size_t o = 0;
  l.tags = o;
  o += align64(sizeof(int64_t) * static_cast<size_t>(l.ring));
  l.tapoff = o;
  o += align64(sizeof(int32_t) * static_cast<size_t>(p.kernel_w));
  l.wtab = o;
  o += align64(sizeof(int32_t) * static_cast<size_t>(p.kernel_h * p.kernel_w));
  l.rows = o;
  o += align64(sizeof(void*) * static_cast<size_t>(p.kernel_h));
  l.stage = o;
  o += align64(4 * static_cast<size_t>(l.stage_len));
  l.zero = o;
  o += l.row_bytes;  // a multiple of 64
  l.slots = o;
  o += l.row_bytes * static_cast<size_t>(l.ring);
  l.total = o;
  return l;
}

// Per-call state over the scratch, shared by the FP32 and INT8 drivers.
struct Ctx {
  const DwConvParams& p;
  Layout l;
  char* base;
  int32_t* tapoff;
  int32_t* wtab;
  uint64_t phase_mask = 0;  // bit r: phase r is read by some tap (phases >= 64: always prepared)

  // tap_step: 1 when every tap reads its own entry (FP32), 2 when entries are tap pairs (INT8).
  Ctx(const DwConvParams& p_, void* scratch, int64_t tap_step) : p(p_), l(make_layout(p_)) {
    const uintptr_t a = reinterpret_cast<uintptr_t>(scratch);
    base = static_cast<char*>(scratch) + ((64 - (a & 63)) & 63);
    tapoff = reinterpret_cast<int32_t*>(base + l.tapoff);
    wtab = reinterpret_cast<int32_t*>(base + l.wtab);
    std::fill_n(reinterpret_cast<int64_t*>(base + l.tags), l.ring, int64_t(-1));
    std::memset(base + l.zero, 0, l.row_bytes);
    for (int64_t c = 0; c < p.kernel_w; c += tap_step) {
      const int64_t r = divmod(c * p.dilation_w, p.stride_w).r;
      if (r < 64) phase_mask |= uint64_t(1) << r;
    }
  }
  bool phase_read(int64_t r) const { return r >= 64 || ((phase_mask >> r) & 1); }
  template <class T>
  const T* zero_row() const {
    return reinterpret_cast<const T*>(base + l.zero);
  }

  // Prepares (when not already in the ring) the input rows output row oh needs and returns the
  // kernel_h row pointers; kernel rows outside x get `missing`.
  template <class T, class Prep>
  const T* const* gather(int64_t oh, const T* missing, Prep&& prep) {
    int64_t* tags = reinterpret_cast<int64_t*>(base + l.tags);
    const T** rows = reinterpret_cast<const T**>(base + l.rows);
    for (int64_t k = 0; k < p.kernel_h; ++k) {
      const int64_t ih = oh * p.stride_h - p.pad_top + k * p.dilation_h;
      if (ih < 0 || ih >= p.in_h) {
        rows[k] = missing;
        continue;
      }
      const int64_t slot = ih & (l.ring - 1);
      T* dst = reinterpret_cast<T*>(base + l.slots + static_cast<size_t>(slot) * l.row_bytes);
      if (tags[slot] != ih) {
        prep(ih, dst);
        tags[slot] = ih;
      }
      rows[k] = dst;
    }
    return rows;
  }
};

// Lambdas carry always_inline: GCC otherwise may outline them and reload every captured pointer
// and weight from memory per block.
#define DW_LAMBDA_INLINE __attribute__((always_inline))

// Stores the first count (< 8 allowed) lanes of v.
template <class T, class V>
DW_INLINE void store_first(T* y, V v, int64_t count) {
  alignas(32) T t[32 / sizeof(T)];
  std::memcpy(t, &v, sizeof(V));
  if (sizeof(T) == 1 && count >= 4) {  // bytes 0..3 and count-4..count-1: two moves, overlapping
    std::memcpy(y, t, 4);
    std::memcpy(y + count - 4, t + count - 4, 4);
    return;
  }
  for (int64_t i = 0; i < count; ++i) y[i] = t[i];
}

// Clamp written so that a NaN passes through, as std::min(std::max(v, lo), hi) does:
// vmaxps/vminps return their second operand when either is NaN.
DW_INLINE __m256 clamp_ps(__m256 v, __m256 lo, __m256 hi) {
  return _mm256_min_ps(hi, _mm256_max_ps(lo, v));
}

DW_INLINE void store_f32(float* y, __m256 v, int64_t count) {
  avx2::store_first_ps(y, v, std::min<int64_t>(count, 8));
}

// Copies count elements with unaligned vector moves, the last one overlapping the previous
// (inline: a memcpy call costs more than the copy for the short rows of late layers).
DW_INLINE void copy_row(const float* src, int64_t count, float* dst) {
  if (count < 8) {
    for (int64_t i = 0; i < count; ++i) dst[i] = src[i];
    return;
  }
  vector_chunks(0, count - 8, 8, [&](int64_t i) DW_LAMBDA_INLINE {
    _mm256_storeu_ps(dst + i, _mm256_loadu_ps(src + i));
  });
}
DW_INLINE void copy_row(const uint8_t* src, int64_t count, uint8_t* dst) {
  if (count < 16) {
    copy_under16(dst, src, static_cast<size_t>(count));
    return;
  }
  vector_chunks(0, count - 16, 16, [&](int64_t i) DW_LAMBDA_INLINE {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i),
                     _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
  });
}

// Writes len elements of the padded input row: st[c] = xrow[c - pad] inside x, `fill`
// elsewhere. The fill after the row is written 32 bytes at a time and may run up to 31 bytes
// past len (the layout leaves that slack).
DW_INLINE void stage_row(const float* xrow, int64_t in_w, int64_t pad, int64_t len, float* st) {
  const int64_t a = std::min(pad, len), b = std::min(len, pad + in_w);
  for (int64_t c = 0; c < a; ++c) st[c] = 0.f;
  if (b > a) copy_row(xrow, b - a, st + a);
  for (int64_t c = b; c < len; c += 8) _mm256_storeu_ps(st + c, _mm256_setzero_ps());
}
DW_INLINE void stage_row(const uint8_t* xrow, int64_t in_w, int64_t pad, uint8_t fill, int64_t len,
                         uint8_t* st) {
  const int64_t a = std::min(pad, len), b = std::min(len, pad + in_w);
  for (int64_t c = 0; c < a; ++c) st[c] = fill;
  if (b > a) copy_row(xrow, b - a, st + a);
  const __m256i f = _mm256_set1_epi8(static_cast<char>(fill));
  for (int64_t c = b; c < len; c += 32) _mm256_storeu_si256(reinterpret_cast<__m256i*>(st + c), f);
}

// ---------------------------------------------------------------------------------------------
// FP32

// Phase row r, entry j = padded column r + s*j. Stride 1: the padded row itself, copied in place.
// Stride 2: 16 inputs -> the 8 of one phase with one shuffle and one permute, straight from x.
// Larger strides: element by element from the staging row.
void prep_row_f32(const Ctx& c, const float* xrow, float* dst) {
  const int64_t s = c.p.stride_w, pl = c.p.pad_left, in_w = c.p.in_w, n = c.l.n;
  if (s == 1) return stage_row(xrow, in_w, pl, n, dst);
  if (s == 2) {
    for (int64_t r = 0; r < 2; ++r) {
      if (!c.phase_read(r)) continue;
      float* d = dst + r * c.l.nstride;
      // Entry j is input column r + 2j - pl, inside x for j in [ja, jb).
      const int64_t ja = std::min(n, std::max<int64_t>(0, (pl - r + 1) >> 1));
      const int64_t jb = std::max(ja, std::min(n, (in_w + pl - r + 1) >> 1));
      for (int64_t j = 0; j < ja; ++j) d[j] = 0.f;
      // 16 inputs -> the 8 of this phase, while all 16 lie inside x.
      const int64_t j = vector_chunks(
          ja, std::min(jb - 8, (in_w - 16 + pl - r) >> 1), 8, [&](int64_t i) DW_LAMBDA_INLINE {
            const float* q = xrow + (r + 2 * i - pl);
            const __m256 a = _mm256_loadu_ps(q), b = _mm256_loadu_ps(q + 8);
            const __m256 e = _mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0));  // a0 a2 b0 b2|..
            _mm256_storeu_ps(d + i, _mm256_castpd_ps(_mm256_permute4x64_pd(
                                        _mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0))));
          });
      for (int64_t i = j; i < jb; ++i) d[i] = xrow[r + 2 * i - pl];
      for (int64_t i = jb; i < n; ++i) d[i] = 0.f;
    }
    return;
  }
  float* st = reinterpret_cast<float*>(c.base + c.l.stage);
  stage_row(xrow, in_w, pl, s * n, st);
  for (int64_t r = 0; r < s; ++r) {
    if (!c.phase_read(r)) continue;
    float* d = dst + r * c.l.nstride;
    for (int64_t j = 0; j < n; ++j) d[j] = st[r + s * j];
  }
}

struct F32Epilogue {
  __m256 bias, lo, hi;
};

// 3x3, any stride/dilation: 9 taps unrolled, weights held in registers for the whole plane.
void plane_f32_3x3(Ctx& c, const float* x, const float* w, const F32Epilogue& e, float* y) {
  const DwConvParams& p = c.p;
  const __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(w[1]), w2 = _mm256_set1_ps(w[2]);
  const __m256 w3 = _mm256_set1_ps(w[3]), w4 = _mm256_set1_ps(w[4]), w5 = _mm256_set1_ps(w[5]);
  const __m256 w6 = _mm256_set1_ps(w[6]), w7 = _mm256_set1_ps(w[7]), w8 = _mm256_set1_ps(w[8]);
  const int64_t t0 = c.tapoff[0], t1 = c.tapoff[1], t2 = c.tapoff[2], out_w = p.out_w;
  auto prep = [&](int64_t ih, float* dst) { prep_row_f32(c, x + ih * p.in_w, dst); };
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    const float* const* rows = c.gather(oh, c.zero_row<float>(), prep);
    const float *a0 = rows[0] + t0, *a1 = rows[0] + t1, *a2 = rows[0] + t2;
    const float *b0 = rows[1] + t0, *b1 = rows[1] + t1, *b2 = rows[1] + t2;
    const float *c0 = rows[2] + t0, *c1 = rows[2] + t1, *c2 = rows[2] + t2;
    float* yr = y + oh * out_w;
    auto block = [&](int64_t ow) DW_LAMBDA_INLINE {  // bias, then the taps in (kh, kw) order
      __m256 acc = _mm256_fmadd_ps(_mm256_loadu_ps(a0 + ow), w0, e.bias);
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(a1 + ow), w1, acc);
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(a2 + ow), w2, acc);
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(b0 + ow), w3, acc);
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(b1 + ow), w4, acc);
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(b2 + ow), w5, acc);
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(c0 + ow), w6, acc);
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(c1 + ow), w7, acc);
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(c2 + ow), w8, acc);
      return clamp_ps(acc, e.lo, e.hi);
    };
    int64_t ow = 0;
    for (; ow + 16 <= out_w; ow += 16) {
      const __m256 u = block(ow), v = block(ow + 8);
      _mm256_storeu_ps(yr + ow, u);
      _mm256_storeu_ps(yr + ow + 8, v);
    }
    for (; ow < out_w; ow += 8) store_f32(yr + ow, block(ow), out_w - ow);
  }
}

// Any kernel: rows[k] null for kernel rows outside x.
void row_f32_general(const Ctx& c, const float* const* rows, const float* w, const F32Epilogue& e,
                     float* y) {
  const int64_t kh = c.p.kernel_h, kw = c.p.kernel_w;
  const int32_t* tapoff = c.tapoff;
  const int64_t out_w = c.p.out_w;
  int64_t ow = 0;
  for (; ow + 16 <= out_w; ow += 16) {
    __m256 a0 = e.bias, a1 = e.bias;
    for (int64_t k = 0; k < kh; ++k) {
      if (!rows[k]) continue;
      const float* r = rows[k] + ow;
      for (int64_t t = 0; t < kw; ++t) {
        const __m256 wv = _mm256_set1_ps(w[k * kw + t]);
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r + tapoff[t]), wv, a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r + tapoff[t] + 8), wv, a1);
      }
    }
    _mm256_storeu_ps(y + ow, clamp_ps(a0, e.lo, e.hi));
    _mm256_storeu_ps(y + ow + 8, clamp_ps(a1, e.lo, e.hi));
  }
  for (; ow < out_w; ow += 8) {
    __m256 a = e.bias;
    for (int64_t k = 0; k < kh; ++k) {
      if (!rows[k]) continue;
      const float* r = rows[k] + ow;
      for (int64_t t = 0; t < kw; ++t)
        a = _mm256_fmadd_ps(_mm256_loadu_ps(r + tapoff[t]), _mm256_set1_ps(w[k * kw + t]), a);
    }
    store_f32(y + ow, clamp_ps(a, e.lo, e.hi), out_w - ow);
  }
}

// ---------------------------------------------------------------------------------------------
// INT8

// Stride 2, dilation 1: the pair rows are views into one plain int16 row (see the file comment).
bool u8_plain_row(const DwConvParams& p) { return p.stride_w == 2 && p.dilation_w == 1; }

// Stride 1: 16 pairs (xp(j), xp(j + dw)) per step (two widening loads, unpack, lane fix-up);
// stride 2, dilation 1: the plain int16 row, 16 columns per step; both straight from x, scalar
// only at the padded ends. Other strides/dilations: pair by pair from the staging row.
void prep_row_u8(const Ctx& c, const uint8_t* xrow, int32_t x_zp, int16_t* dst) {
  const DwConvParams& p = c.p;
  const int64_t s = p.stride_w, dw = p.dilation_w, pl = p.pad_left, in_w = p.in_w, n = c.l.n;
  if (s > 2 || (s == 2 && dw != 1)) {  // rare: stage the padded row, then pair by pair
    uint8_t* st = reinterpret_cast<uint8_t*>(c.base + c.l.stage);
    stage_row(xrow, in_w, pl, static_cast<uint8_t>(x_zp), s * n + dw, st);
    for (int64_t r = 0; r < s; ++r) {
      if (!c.phase_read(r)) continue;
      int16_t* d = dst + r * 2 * c.l.nstride;
      for (int64_t j = 0; j < n; ++j) {
        d[2 * j] = static_cast<int16_t>(st[r + s * j] - x_zp);
        d[2 * j + 1] = static_cast<int16_t>(st[r + s * j + dw] - x_zp);
      }
    }
    return;
  }
  auto xp = [&](int64_t col) -> int16_t {  // padded column col, minus the zero point
    const int64_t i = col - pl;
    return (i >= 0 && i < in_w) ? static_cast<int16_t>(xrow[i] - x_zp) : int16_t(0);
  };
  const __m256i zp16 = _mm256_set1_epi16(static_cast<int16_t>(x_zp));
  // 16 bytes from q, zero-extended to int16, minus x_zp: exact, in [-255, 255].
  auto widen16 = [&](const uint8_t* q) DW_LAMBDA_INLINE {
    return _mm256_sub_epi16(
        _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q))), zp16);
  };
  auto widen8 = [&](const uint8_t* q) DW_LAMBDA_INLINE {  // the same for 8 bytes
    return _mm_sub_epi16(_mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q))),
                         _mm256_castsi256_si128(zp16));
  };
  if (in_w < 32) {
    // Short rows (late layers): the vector chunks below would barely start, leaving nearly every
    // entry to the scalar ends. Stage the padded row (zero point in the padding, so it widens to
    // 0) and widen it 8 entries at a time from there, all in bounds.
    uint8_t* st = reinterpret_cast<uint8_t*>(c.base + c.l.stage);
    if (s == 2) {  // dst[col] = xp(col), col in [0, 2n + 1)
      const int64_t len = round_up(2 * n + 1, 8);
      stage_row(xrow, in_w, pl, static_cast<uint8_t>(x_zp), len, st);
      for (int64_t k = 0; k < len; k += 8) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + k), widen8(st + k));
      return;
    }
    const int64_t n8 = round_up(n, 8);  // pairs (xp(j), xp(j + dw)), j in [0, n)
    stage_row(xrow, in_w, pl, static_cast<uint8_t>(x_zp), n8 + dw + 8, st);
    for (int64_t k = 0; k < n8; k += 8) {
      const __m128i a = widen8(st + k), b = widen8(st + k + dw);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * k), _mm_unpacklo_epi16(a, b));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * k + 8), _mm_unpackhi_epi16(a, b));
    }
    return;
  }
  if (s == 2) {
    // Stride 2, dilation 1: dst[col] = xp(col) for col in [0, 2n + 1); phase r's pair j is
    // dst[r + 2j], dst[r + 2j + 1]. 16 columns per chunk while they lie inside x, then 8.
    const int64_t len = 2 * n + 1;
    int64_t i = 0;
    for (const int64_t i0 = std::min(len, pl); i < i0; ++i) dst[i] = 0;
    i = vector_chunks(i, std::min(len - 16, in_w + pl - 16), 16, [&](int64_t k) DW_LAMBDA_INLINE {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), widen16(xrow + (k - pl)));
    });
    i = vector_chunks(i, std::min(len - 8, in_w + pl - 8), 8, [&](int64_t k) DW_LAMBDA_INLINE {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + k), widen8(xrow + (k - pl)));
    });
    for (; i < len; ++i) dst[i] = xp(i);
    return;
  }
  // Stride 1: 16 pairs (xp(j), xp(j + dw)) per chunk while both 16-byte loads lie inside x, then
  // 8 pairs per chunk (the rows of late layers are narrower than 16).
  int64_t j = 0;
  for (const int64_t j0 = std::min(n, pl); j < j0; ++j) {
    dst[2 * j] = 0;
    dst[2 * j + 1] = xp(j + dw);
  }
  j = vector_chunks(j, std::min(n - 16, in_w + pl - dw - 16), 16, [&](int64_t k) DW_LAMBDA_INLINE {
    const __m256i a = widen16(xrow + (k - pl)), b = widen16(xrow + (k - pl + dw));
    const __m256i lo = _mm256_unpacklo_epi16(a, b);  // pairs k+0..3 | k+8..11
    const __m256i hi = _mm256_unpackhi_epi16(a, b);  // pairs k+4..7 | k+12..15
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * k),
                        _mm256_permute2x128_si256(lo, hi, 0x20));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 2 * k + 16),
                        _mm256_permute2x128_si256(lo, hi, 0x31));
  });
  j = vector_chunks(j, std::min(n - 8, in_w + pl - dw - 8), 8, [&](int64_t k) DW_LAMBDA_INLINE {
    const __m128i a = widen8(xrow + (k - pl)), b = widen8(xrow + (k - pl + dw));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * k), _mm_unpacklo_epi16(a, b));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 2 * k + 8), _mm_unpackhi_epi16(a, b));
  });
  for (; j < n; ++j) {
    dst[2 * j] = xp(j);
    dst[2 * j + 1] = xp(j + dw);
  }
}

struct QEpilogue {
  __m256i bias;
  bool saturate_bias;  // |bias| + the largest possible |sum| can exceed INT32_MAX
  bool finite;         // multiplier finite: the vector requantization applies
  bool rn;             // and avx2::rn_applies: its shorter form
  __m256d mult;        // double(multiplier)
  avx2::DwClamp clamp;
  __m256 scale, fbias, f_lo, f_hi;
  const DwQOutput* out;
};

// Finishes 8 sums (count < 8: only the first count are stored) into output kind K.
template <DwQOutKind K>
DW_INLINE void finish8(const QEpilogue& e, __m256i sum, void* yrow, int64_t ow, int64_t count) {
  const __m256i acc = avx2::dw_add_bias(sum, e.bias, e.saturate_bias);
  if constexpr (K == DwQOutKind::S32) {
    int32_t* y = static_cast<int32_t*>(yrow) + ow;
    avx2::store_first_epi32(y, acc, std::min<int64_t>(count, 8));
  } else if constexpr (K == DwQOutKind::F32) {
    const __m256 f = _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(acc), e.scale), e.fbias);
    store_f32(static_cast<float*>(yrow) + ow, clamp_ps(f, e.f_lo, e.f_hi), count);
  } else {
    using Q = std::conditional_t<K == DwQOutKind::U8, uint8_t, int8_t>;
    Q* y = static_cast<Q*>(yrow) + ow;
    const int64_t m = std::min<int64_t>(count, 8);
    if (!e.finite) {  // NaN/inf products: the reference function itself, element by element
      alignas(32) int32_t a[8];
      _mm256_store_si256(reinterpret_cast<__m256i*>(a), acc);
      const DwQOutput& o = *e.out;
      for (int64_t i = 0; i < m; ++i) {
        const int32_t q = requantize_value(a[i], o.multiplier, o.zero_point, o.qmin, o.qmax);
        y[i] = static_cast<Q>(std::min(std::max(q, o.lo), o.hi));
      }
      return;
    }
    __m128i b;
    if (e.rn) {
      b = avx2::dw_requant8_rn<K == DwQOutKind::S8>(acc, e.mult, e.mult, e.clamp);
    } else {
      const __m128i lo = avx2::dw_requant4(_mm256_castsi256_si128(acc), e.mult, e.clamp);
      const __m128i hi = avx2::dw_requant4(_mm256_extracti128_si256(acc, 1), e.mult, e.clamp);
      const __m128i h16 = _mm_packs_epi32(lo, hi);  // values are in Q's range: no saturation
      b = K == DwQOutKind::U8 ? _mm_packus_epi16(h16, h16) : _mm_packs_epi16(h16, h16);
    }
    if (m == 8)
      _mm_storel_epi64(reinterpret_cast<__m128i*>(y), b);
    else
      store_first(y, b, m);
  }
}

DW_INLINE __m256i load_pairs(const int16_t* a) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a));
}

constexpr size_t elem_bytes(DwQOutKind k) {
  return k == DwQOutKind::U8 || k == DwQOutKind::S8 ? 1 : 4;
}

// 3x3, any stride/dilation: per kernel row the tap pairs (kw 0, 1) and (kw 2, -), 6 vpmaddwd per
// 8 outputs, weight pairs held in registers for the whole plane. Integer sums: any order is exact.
template <DwQOutKind K>
void plane_u8s8_3x3(Ctx& c, const uint8_t* x, int32_t x_zp, const QEpilogue& e, void* y) {
  const DwConvParams& p = c.p;
  const __m256i w0 = _mm256_set1_epi32(c.wtab[0]), w1 = _mm256_set1_epi32(c.wtab[1]);
  const __m256i w2 = _mm256_set1_epi32(c.wtab[2]), w3 = _mm256_set1_epi32(c.wtab[3]);
  const __m256i w4 = _mm256_set1_epi32(c.wtab[4]), w5 = _mm256_set1_epi32(c.wtab[5]);
  const int64_t t0 = c.tapoff[0], t1 = c.tapoff[1], out_w = p.out_w;
  auto prep = [&](int64_t ih, int16_t* dst) { prep_row_u8(c, x + ih * p.in_w, x_zp, dst); };
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    const int16_t* const* rows = c.gather(oh, c.zero_row<int16_t>(), prep);
    const int16_t *a0 = rows[0] + t0, *a1 = rows[0] + t1, *b0 = rows[1] + t0;
    const int16_t *b1 = rows[1] + t1, *c0 = rows[2] + t0, *c1 = rows[2] + t1;
    void* yr = static_cast<char*>(y) + static_cast<size_t>(oh * out_w) * elem_bytes(K);
    auto block = [&](int64_t ow) DW_LAMBDA_INLINE {
      const int64_t o = 2 * ow;
      const __m256i s0 = _mm256_add_epi32(_mm256_madd_epi16(load_pairs(a0 + o), w0),
                                          _mm256_madd_epi16(load_pairs(a1 + o), w1));
      const __m256i s1 = _mm256_add_epi32(_mm256_madd_epi16(load_pairs(b0 + o), w2),
                                          _mm256_madd_epi16(load_pairs(b1 + o), w3));
      const __m256i s2 = _mm256_add_epi32(_mm256_madd_epi16(load_pairs(c0 + o), w4),
                                          _mm256_madd_epi16(load_pairs(c1 + o), w5));
      return _mm256_add_epi32(_mm256_add_epi32(s0, s1), s2);
    };
    int64_t ow = 0;
    for (; ow + 16 <= out_w; ow += 16) {
      const __m256i u = block(ow), v = block(ow + 8);
      finish8<K>(e, u, yr, ow, 8);
      finish8<K>(e, v, yr, ow + 8, 8);
    }
    for (; ow < out_w; ow += 8) finish8<K>(e, block(ow), yr, ow, out_w - ow);
  }
}

// Any kernel: rows[k] null for kernel rows outside x; mpairs = ceil(kernel_w / 2) tap pairs.
template <DwQOutKind K>
void row_u8s8_general(const Ctx& c, const int16_t* const* rows, const QEpilogue& e, void* y) {
  const int64_t kh = c.p.kernel_h, mpairs = (c.p.kernel_w + 1) / 2;
  const int32_t *tapoff = c.tapoff, *wtab = c.wtab;
  const int64_t out_w = c.p.out_w;
  int64_t ow = 0;
  for (; ow + 16 <= out_w; ow += 16) {
    __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
    for (int64_t k = 0; k < kh; ++k) {
      if (!rows[k]) continue;
      const int16_t* r = rows[k] + 2 * ow;
      for (int64_t m = 0; m < mpairs; ++m) {
        const __m256i wv = _mm256_set1_epi32(wtab[k * mpairs + m]);
        a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(load_pairs(r + tapoff[m]), wv));
        a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(load_pairs(r + tapoff[m] + 16), wv));
      }
    }
    finish8<K>(e, a0, y, ow, 8);
    finish8<K>(e, a1, y, ow + 8, 8);
  }
  for (; ow < out_w; ow += 8) {
    __m256i a = _mm256_setzero_si256();
    for (int64_t k = 0; k < kh; ++k) {
      if (!rows[k]) continue;
      const int16_t* r = rows[k] + 2 * ow;
      for (int64_t m = 0; m < mpairs; ++m)
        a = _mm256_add_epi32(a, _mm256_madd_epi16(load_pairs(r + tapoff[m]),
                                                  _mm256_set1_epi32(wtab[k * mpairs + m])));
    }
    finish8<K>(e, a, y, ow, out_w - ow);
  }
}

template <DwQOutKind K>
void run_u8s8(Ctx& c, const uint8_t* x, int32_t x_zp, const QEpilogue& e, void* y) {
  const DwConvParams& p = c.p;
  if (p.kernel_h == 3 && p.kernel_w == 3) return plane_u8s8_3x3<K>(c, x, x_zp, e, y);
  auto prep = [&](int64_t ih, int16_t* dst) { prep_row_u8(c, x + ih * p.in_w, x_zp, dst); };
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    const int16_t* const* rows = c.gather(oh, static_cast<const int16_t*>(nullptr), prep);
    row_u8s8_general<K>(c, rows, e,
                        static_cast<char*>(y) + static_cast<size_t>(oh * p.out_w) * elem_bytes(K));
  }
}

}  // namespace

size_t dwconv_avx2_scratch_size(const DwConvParams& p) { return make_layout(p).total + 63; }

void dwconv_f32_avx2(const DwConvParams& p, const float* x, const float* w, float bias, float lo,
                     float hi, float* y, void* scratch) {
  if (p.out_h <= 0 || p.out_w <= 0) return;
  Ctx c(p, scratch, 1);
  for (int64_t t = 0; t < p.kernel_w; ++t) {
    const DivMod d = divmod(t * p.dilation_w, p.stride_w);
    c.tapoff[t] = static_cast<int32_t>(d.r * c.l.nstride + d.q);
  }
  const F32Epilogue e{_mm256_set1_ps(bias), _mm256_set1_ps(lo), _mm256_set1_ps(hi)};
  if (p.kernel_h == 3 && p.kernel_w == 3) return plane_f32_3x3(c, x, w, e, y);
  auto prep = [&](int64_t ih, float* dst) { prep_row_f32(c, x + ih * p.in_w, dst); };
  for (int64_t oh = 0; oh < p.out_h; ++oh)
    row_f32_general(c, c.gather(oh, static_cast<const float*>(nullptr), prep), w, e,
                    y + oh * p.out_w);
}

void dwconv_u8s8_avx2(const DwConvParams& p, const uint8_t* x, int32_t x_zp, const int8_t* w,
                      int32_t w_zp, int32_t bias, const DwQOutput& out, void* y, void* scratch) {
  if (p.out_h <= 0 || p.out_w <= 0) return;
  Ctx c(p, scratch, 2);
  // Tap pair m covers kernel columns 2m and 2m + 1; its first tap is t = 2m * dilation_w.
  const int64_t mpairs = (p.kernel_w + 1) / 2;
  const bool plain = u8_plain_row(p);
  for (int64_t m = 0; m < mpairs; ++m) {
    const int64_t t = 2 * m * p.dilation_w;
    const DivMod d = divmod(t, p.stride_w);
    c.tapoff[m] = static_cast<int32_t>(plain ? t : d.r * 2 * c.l.nstride + 2 * d.q);  // int16 units
  }
  // Weight pair (w'[k][2m], w'[k][2m + 1]) as one int32: the first tap in the low half, which
  // vpmaddwd multiplies with the first (lower-address) int16 of the input pair.
  for (int64_t k = 0; k < p.kernel_h; ++k)
    for (int64_t m = 0; m < mpairs; ++m) {
      const int64_t col = 2 * m;
      const int32_t w0 = w[k * p.kernel_w + col] - w_zp;
      const int32_t w1 = col + 1 < p.kernel_w ? w[k * p.kernel_w + col + 1] - w_zp : 0;
      c.wtab[k * mpairs + m] = static_cast<int32_t>((static_cast<uint32_t>(w0) & 0xffffu) |
                                                    (static_cast<uint32_t>(w1) << 16));
    }

  QEpilogue e;
  e.bias = _mm256_set1_epi32(bias);
  e.saturate_bias = avx2::dw_bias_may_overflow(p.kernel_h * p.kernel_w, x_zp, w_zp, bias);
  e.finite = std::isfinite(out.multiplier);
  e.rn = avx2::rn_applies(out.multiplier, out.zero_point);
  e.mult = _mm256_set1_pd(static_cast<double>(out.multiplier));
  e.clamp = avx2::dw_clamp(out.qmin, out.qmax, out.lo, out.hi, out.zero_point);
  e.scale = _mm256_set1_ps(out.scale);
  e.fbias = _mm256_set1_ps(out.fbias);
  e.f_lo = _mm256_set1_ps(out.f_lo);
  e.f_hi = _mm256_set1_ps(out.f_hi);
  e.out = &out;

  switch (out.kind) {
    case DwQOutKind::U8:
      return run_u8s8<DwQOutKind::U8>(c, x, x_zp, e, y);
    case DwQOutKind::S8:
      return run_u8s8<DwQOutKind::S8>(c, x, x_zp, e, y);
    case DwQOutKind::S32:
      return run_u8s8<DwQOutKind::S32>(c, x, x_zp, e, y);
    case DwQOutKind::F32:
      return run_u8s8<DwQOutKind::F32>(c, x, x_zp, e, y);
  }
}

}  // namespace octet::kernels

#undef DW_LAMBDA_INLINE
#undef DW_INLINE
