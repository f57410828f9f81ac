#include "kernels/avx2/pool_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <type_traits>

#include "kernels/avx2/transpose_avx2.h"

namespace octet::kernels {
namespace {

struct F32 {
  using T = float;
  using V = __m256;
  static constexpr int64_t kLanes = 8;
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  // p[0], p[2], ..., p[14]
  static V load_even(const T* p) {
    const V e = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(e), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  static V max(V v, V best) { return _mm256_max_ps(v, best); }  // v > best ? v : best
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
};

template <class Elem, bool kSigned>
struct Byte {
  using T = Elem;
  using V = __m256i;
  static constexpr int64_t kLanes = 32;
  static V load(const T* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  // p[0], p[2], ..., p[62]: the low byte of each 16-bit word of two loads, packed (the values are
  // 0..255 after the mask, so packus does not saturate; the bits are those of the bytes).
  static V load_even(const T* p) {
    const __m256i mask = _mm256_set1_epi16(0x00FF);
    const __m256i a = _mm256_and_si256(load(p), mask), b = _mm256_and_si256(load(p + 32), mask);
    return _mm256_permute4x64_epi64(_mm256_packus_epi16(a, b), _MM_SHUFFLE(3, 1, 2, 0));
  }
  static V max(V v, V best) { return kSigned ? _mm256_max_epi8(v, best) : _mm256_max_epu8(v, best); }
  static void store(T* p, V v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
};

// The reference's fold of one window: in-bounds taps in (row, column) order, first tap first,
// replaced only by a strictly greater one.
template <class T>
T fold_window(const MaxPool2dParams& p, const T* x, const int64_t* rows, int64_t nrows, int64_t ow) {
  bool found = false;
  T best = std::numeric_limits<T>::lowest();
  for (int64_t r = 0; r < nrows; ++r) {
    const T* row = x + rows[r] * p.in_w;
    for (int64_t j = 0; j < p.kernel_w; ++j) {
      const int64_t iw = ow * p.stride_w - p.pad_left + j * p.dilation_w;
      if (iw < 0 || iw >= p.in_w) continue;
      const T v = row[iw];
      if (!found || v > best) {
        best = v;
        found = true;
      }
    }
  }
  return best;
}

template <class Tr>
void maxpool_plane(const MaxPool2dParams& p, const typename Tr::T* x, typename Tr::T* y) {
  using T = typename Tr::T;
  constexpr int64_t L = Tr::kLanes;
  const int64_t sw = p.stride_w, span = (p.kernel_w - 1) * p.dilation_w;
  // Columns whose whole window is inside the row: ow * sw - pl >= 0 and ow * sw - pl + span < W.
  const int64_t ow_lo = std::min(p.out_w, (p.pad_left + sw - 1) / sw);
  const int64_t last = p.in_w - 1 + p.pad_left - span;  // ow * sw <= last
  const int64_t ow_hi = last < 0 ? ow_lo : std::clamp<int64_t>(last / sw + 1, ow_lo, p.out_w);
  // Vector chunks also read the element after each tap's last one when sw == 2.
  const bool vec = sw == 1 || sw == 2;
  const int64_t last_vec = last - (sw - 1);
  const int64_t ow_vec = !vec || last_vec < 0 ? ow_lo : std::clamp<int64_t>(last_vec / sw + 1, ow_lo, ow_hi);
  // The input rows of the current window (kernel_h of them at most). No std::vector here: a
  // template instantiated in this AVX2 file could be picked by the linker for other callers.
  int64_t rows[64];
  std::unique_ptr<int64_t[]> rows_heap;
  int64_t* rp = rows;
  if (p.kernel_h > 64) {
    rows_heap.reset(new int64_t[static_cast<size_t>(p.kernel_h)]);
    rp = rows_heap.get();
  }
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    int64_t nrows = 0;
    for (int64_t i = 0; i < p.kernel_h; ++i) {
      const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dilation_h;
      if (ih >= 0 && ih < p.in_h) rp[nrows++] = ih;
    }
    T* yr = y + oh * p.out_w;
    int64_t ow = 0;
    for (; ow < ow_lo; ++ow) yr[ow] = fold_window(p, x, rp, nrows, ow);
    auto chunk = [&](int64_t o) {  // columns [o, o + L)
      typename Tr::V best{};
      bool first = true;
      for (int64_t r = 0; r < nrows; ++r) {
        const T* src = x + rp[r] * p.in_w + o * sw - p.pad_left;
        for (int64_t j = 0; j < p.kernel_w; ++j, src += p.dilation_w) {
          const typename Tr::V v = sw == 1 ? Tr::load(src) : Tr::load_even(src);
          best = first ? v : Tr::max(v, best);
          first = false;
        }
      }
      Tr::store(yr + o, best);
    };
    if (nrows > 0) {
      for (; ow + L <= ow_vec; ow += L) chunk(ow);
      // The rest of the vector columns as one chunk ending at ow_vec, overlapping the last: it
      // writes the same values again (the same taps in the same order), instead of up to L - 1
      // scalar windows (most of a 56-column uint8 row).
      if (ow < ow_vec && ow_vec - ow_lo >= L) {
        chunk(ow_vec - L);
        ow = ow_vec;
      }
    }
    for (; ow < p.out_w; ++ow) yr[ow] = fold_window(p, x, rp, nrows, ow);
  }
}

// The 8-bit types, whose max is the same whatever the order of the taps: the window's rows are
// folded first, a whole input row at a time into a padded row buffer (the type's lowest value in
// the padding, which no tap loses to, as the reference skips those taps), then the columns, 32
// outputs at a time for strides 1 and 2, the row's last chunk overlapping the one before it. Per
// output row that is about a third of the vector work of maxpool_plane, with no scalar windows at
// the borders (ResNet-18's 3x3/2 pool on 112x112 planes: 0.26 -> 0.08 ms; see pool_avx2.h).
// Returns false where it does not apply (other strides, a row shorter than a vector, a buffer
// beyond its stack space); maxpool_plane runs then.
template <class Tr>
bool maxpool_plane_rows_first(const MaxPool2dParams& p, const typename Tr::T* x, typename Tr::T* y) {
  using T = typename Tr::T;
  constexpr int64_t L = Tr::kLanes;
  const int64_t sw = p.stride_w, span = (p.kernel_w - 1) * p.dilation_w;
  if ((sw != 1 && sw != 2) || p.in_w < L || p.out_w < L || p.kernel_h > 64) return false;
  // Buffer entry e holds column e - pad_left; the last chunk reads up to entry
  // (out_w - 1) * sw + span + 32 * (sw - 1) + 31 (load_even reads two vectors).
  const int64_t entries = (p.out_w - 1) * sw + span + L * sw + 1;
  constexpr int64_t kMaxEntries = 4096;
  if (p.pad_left > kMaxEntries || entries > kMaxEntries || p.in_w + p.pad_left > kMaxEntries) return false;
  alignas(32) T buf[kMaxEntries];
  const T lowest = std::numeric_limits<T>::lowest();
  std::fill(buf, buf + entries, lowest);
  T* row = buf + p.pad_left;
  const typename Tr::V low = Tr::load(buf);  // lowest in every lane (entries > L)
  for (int64_t oh = 0; oh < p.out_h; ++oh) {
    const T* rows[64];
    int64_t nrows = 0;
    for (int64_t i = 0; i < p.kernel_h; ++i) {
      const int64_t ih = oh * p.stride_h - p.pad_top + i * p.dilation_h;
      if (ih >= 0 && ih < p.in_h) rows[nrows++] = x + ih * p.in_w;
    }
    auto fold_rows = [&](int64_t c) {  // columns [c, c + L) of the window's rows
      typename Tr::V m = nrows > 0 ? Tr::load(rows[0] + c) : low;
      for (int64_t r = 1; r < nrows; ++r) m = Tr::max(Tr::load(rows[r] + c), m);
      Tr::store(row + c, m);
    };
    int64_t c = 0;
    for (; c + L <= p.in_w; c += L) fold_rows(c);
    if (c < p.in_w) fold_rows(p.in_w - L);
    T* yr = y + oh * p.out_w;
    auto fold_cols = [&](int64_t o) {  // outputs [o, o + L)
      const T* src = buf + o * sw;
      typename Tr::V m = sw == 1 ? Tr::load(src) : Tr::load_even(src);
      for (int64_t j = 1; j < p.kernel_w; ++j) {
        const T* t = src + j * p.dilation_w;
        m = Tr::max(sw == 1 ? Tr::load(t) : Tr::load_even(t), m);
      }
      Tr::store(yr + o, m);
    };
    int64_t o = 0;
    for (; o + L <= p.out_w; o += L) fold_cols(o);
    if (o < p.out_w) fold_cols(p.out_w - L);
  }
  return true;
}

}  // namespace

void maxpool2d_f32_avx2(const MaxPool2dParams& p, const float* x, float* y) { maxpool_plane<F32>(p, x, y); }
void maxpool2d_u8_avx2(const MaxPool2dParams& p, const uint8_t* x, uint8_t* y) {
  if (!maxpool_plane_rows_first<Byte<uint8_t, false>>(p, x, y)) maxpool_plane<Byte<uint8_t, false>>(p, x, y);
}
void maxpool2d_s8_avx2(const MaxPool2dParams& p, const int8_t* x, int8_t* y) {
  if (!maxpool_plane_rows_first<Byte<int8_t, true>>(p, x, y)) maxpool_plane<Byte<int8_t, true>>(p, x, y);
}

void global_avgpool_f32_avx2(int64_t channels, int64_t spatial, const float* x, float* y) {
  int64_t c = 0;
  if (spatial > 0 && 7 * spatial < (int64_t(1) << 31)) {
    const int32_t s = static_cast<int32_t>(spatial);
    const __m256i offs = _mm256_setr_epi32(0, s, 2 * s, 3 * s, 4 * s, 5 * s, 6 * s, 7 * s);
    const __m256d n = _mm256_set1_pd(static_cast<double>(spatial));
    for (; c + 8 <= channels; c += 8) {
      const float* base = x + c * spatial;
      __m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd();  // 0 + v == v exactly, as sum = 0
      auto add = [&](__m256 v) {  // element i of the 8 channels, in lane order
        lo = _mm256_add_pd(lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        hi = _mm256_add_pd(hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
      };
      int64_t i = 0;
      // 8 elements of each of the 8 planes, transposed in registers: each lane still adds its
      // plane's elements in index order (the reference's), with contiguous loads instead of a
      // gather per element.
      for (; i + 8 <= spatial; i += 8) {
        __m256 r[8];
        for (int k = 0; k < 8; ++k) r[k] = _mm256_loadu_ps(base + k * spatial + i);
        avx2::transpose8x8_ps(r);  // r[j]: element i + j of the 8 planes
        for (int j = 0; j < 8; ++j) add(r[j]);
      }
      for (; i < spatial; ++i) add(_mm256_i32gather_ps(base + i, offs, 4));
      // vcvtpd2ps rounds to nearest even, as static_cast<float>(double) does.
      const __m128 ylo = _mm256_cvtpd_ps(_mm256_div_pd(lo, n)), yhi = _mm256_cvtpd_ps(_mm256_div_pd(hi, n));
      _mm256_storeu_ps(y + c, _mm256_set_m128(yhi, ylo));
    }
  }
  for (; c < channels; ++c) {
    double sum = 0;
    for (int64_t i = 0; i < spatial; ++i) sum += static_cast<double>(x[c * spatial + i]);
    y[c] = static_cast<float>(spatial > 0 ? sum / static_cast<double>(spatial) : std::numeric_limits<double>::quiet_NaN());
  }
}

template <class X, class Y>
void qglobal_avgpool_avx2(int64_t channels, int64_t spatial, const X* x, const QGlobalAvgPoolParams& p, Y* y) {
  constexpr bool kSigned = std::is_same_v<X, int8_t>;
  if (spatial >= (int64_t(1) << 21) || !(p.x_scale >= std::numeric_limits<float>::min())) {
    qglobal_avgpool_ref(channels, spatial, x, p, y);  // the sum may be inexact: the reference's order
    return;
  }
  // DequantizeLinear's float(v - zp) * scale, computed as it is written: v - zp is exact in int32
  // and in float, and vmulps rounds the product as the scalar multiply does (no FMA here).
  const __m256i zpv = _mm256_set1_epi32(p.x_zp);
  const __m256 sc = _mm256_set1_ps(p.x_scale);
  // Four channels a step, their sums interleaved: one channel's chain of dependent adds alone
  // (spatial / 8 of them, then the lanes' fold) left the pipelines mostly idle.
  constexpr int64_t G = 4;
  for (int64_t c0 = 0; c0 < channels; c0 += G) {
    const int64_t g = std::min(G, channels - c0);
    __m256d lo[G], hi[G];
    for (int64_t k = 0; k < G; ++k) lo[k] = hi[k] = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= spatial; i += 8)
      for (int64_t k = 0; k < g; ++k) {
        const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + (c0 + k) * spatial + i));
        const __m256i q = kSigned ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
        const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(q, zpv)), sc);
        lo[k] = _mm256_add_pd(lo[k], _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
        hi[k] = _mm256_add_pd(hi[k], _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
      }
    for (int64_t k = 0; k < g; ++k) {
      const X* xc = x + (c0 + k) * spatial;
      double tail = 0;
      for (int64_t t = i; t < spatial; ++t)
        tail += static_cast<double>(static_cast<float>(static_cast<int32_t>(xc[t]) - p.x_zp) * p.x_scale);
      const __m256d s4 = _mm256_add_pd(lo[k], hi[k]);  // any order: the sum is exact
      const __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s4), _mm256_extractf128_pd(s4, 1));
      const double sum = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2))) + tail;
      y[c0 + k] = static_cast<Y>(qglobal_avgpool_finish(sum, spatial, p));
    }
  }
}

template void qglobal_avgpool_avx2(int64_t, int64_t, const uint8_t*, const QGlobalAvgPoolParams&, uint8_t*);
template void qglobal_avgpool_avx2(int64_t, int64_t, const uint8_t*, const QGlobalAvgPoolParams&, int8_t*);
template void qglobal_avgpool_avx2(int64_t, int64_t, const int8_t*, const QGlobalAvgPoolParams&, uint8_t*);
template void qglobal_avgpool_avx2(int64_t, int64_t, const int8_t*, const QGlobalAvgPoolParams&, int8_t*);

}  // namespace octet::kernels
