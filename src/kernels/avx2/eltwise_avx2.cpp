#include "kernels/avx2/eltwise_avx2.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <type_traits>

#include "kernels/ref/reduce_ref.h"
#include "kernels/ref/round.h"

namespace octet::kernels {
namespace {

// 8 lanes of quantize_value: integer-valued floats already saturated to [qmin, qmax].
inline __m256 quantize8(__m256 x, __m256 scale, __m256 zp, __m256 qmin, __m256 qmax) {
  const __m256 v = _mm256_div_ps(x, scale);
  const __m256 ordered = _mm256_cmp_ps(v, v, _CMP_ORD_Q);
  __m256 q = _mm256_add_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zp);
  q = _mm256_and_ps(q, ordered);  // NaN -> 0
  return _mm256_min_ps(_mm256_max_ps(q, qmin), qmax);
}

template <class Q>
void quantize_impl(const float* x, int64_t n, float scale, int32_t zp, int32_t qmin, int32_t qmax, Q* y) {
  const __m256 vs = _mm256_set1_ps(scale), vz = _mm256_set1_ps(static_cast<float>(zp));
  const __m256 lo = _mm256_set1_ps(static_cast<float>(qmin)), hi = _mm256_set1_ps(static_cast<float>(qmax));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i q = _mm256_cvtps_epi32(quantize8(_mm256_loadu_ps(x + i), vs, vz, lo, hi));
    // Values are in the type's range: narrowing by packs is exact.
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i b = std::is_same<Q, uint8_t>::value ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), b);
  }
  for (; i < n; ++i) y[i] = static_cast<Q>(quantize_value(x[i], scale, zp, qmin, qmax));
}

template <class Q>
void dequantize_impl(const Q* x, int64_t n, float scale, int32_t zp, float* y) {
  const __m256 vs = _mm256_set1_ps(scale);
  const __m256i vz = _mm256_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x + i));
    const __m256i v = std::is_same<Q, uint8_t>::value ? _mm256_cvtepu8_epi32(raw) : _mm256_cvtepi8_epi32(raw);
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v, vz)), vs));
  }
  for (; i < n; ++i) y[i] = static_cast<float>(static_cast<int32_t>(x[i]) - zp) * scale;
}

}  // namespace

void quantize_f32_u8_avx2(const float* x, int64_t n, float scale, int32_t zp, int32_t qmin, int32_t qmax,
                          uint8_t* y) {
  quantize_impl(x, n, scale, zp, qmin, qmax, y);
}
void quantize_f32_s8_avx2(const float* x, int64_t n, float scale, int32_t zp, int32_t qmin, int32_t qmax,
                          int8_t* y) {
  quantize_impl(x, n, scale, zp, qmin, qmax, y);
}
void dequantize_u8_f32_avx2(const uint8_t* x, int64_t n, float scale, int32_t zp, float* y) {
  dequantize_impl(x, n, scale, zp, y);
}
void dequantize_s8_f32_avx2(const int8_t* x, int64_t n, float scale, int32_t zp, float* y) {
  dequantize_impl(x, n, scale, zp, y);
}

namespace {

template <class Q>
inline __m256i widen8(const Q* x) {  // 8 bytes -> 8 int32
  const __m128i raw = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(x));
  return std::is_same<Q, uint8_t>::value ? _mm256_cvtepu8_epi32(raw) : _mm256_cvtepi8_epi32(raw);
}

// The last rest < W elements of an element-wise kernel whose step computes W outputs: step(a, b,
// y) on copies of them padded with zeros, then the first rest outputs stored. The inputs are
// copied before anything is stored, so y may be a or b.
template <int W, class A, class B, class Y, class Step>
void padded_tail(const A* a, const B* b, int64_t rest, Y* y, Step step) {
  A ta[W] = {};
  B tb[W] = {};
  Y ty[W];
  std::memcpy(ta, a, static_cast<size_t>(rest) * sizeof(A));
  std::memcpy(tb, b, static_cast<size_t>(rest) * sizeof(B));
  step(ta, tb, ty);
  std::memcpy(y, ty, static_cast<size_t>(rest) * sizeof(Y));
}

}  // namespace

template <class A, class B, class Y>
void qadd_avx2(const QAddParams& p, const A* a, const B* b, int64_t n, Y* y) {
  const __m256 as = _mm256_set1_ps(p.a_scale), bs = _mm256_set1_ps(p.b_scale), ys = _mm256_set1_ps(p.y_scale);
  const __m256i az = _mm256_set1_epi32(p.a_zp), bz = _mm256_set1_epi32(p.b_zp);
  const __m256 yz = _mm256_set1_ps(static_cast<float>(p.y_zp));
  const __m256 lo = _mm256_set1_ps(p.lo), hi = _mm256_set1_ps(p.hi);
  const __m256 qmin = _mm256_set1_ps(static_cast<float>(p.qmin)), qmax = _mm256_set1_ps(static_cast<float>(p.qmax));
  auto step = [&](const A* a8, const B* b8, Y* y8) {  // 8 outputs
    const __m256 fa = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(widen8(a8), az)), as);
    const __m256 fb = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(widen8(b8), bz)), bs);
    // The clamp with the sum second: max/min return the second operand on NaN, so NaN stays.
    const __m256 s = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(fa, fb)));
    const __m256i q = _mm256_cvtps_epi32(quantize8(s, ys, yz, qmin, qmax));
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    const __m128i bytes = std::is_same<Y, uint8_t>::value ? _mm_packus_epi16(w, w) : _mm_packs_epi16(w, w);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(y8), bytes);
  };
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) step(a + i, b + i, y + i);
  // The tail on a padded copy: a fused residual add's channel rows are often 49 or 98 bytes, whose
  // tails one element at a time had cost as much as the rest.
  if (i < n) padded_tail<8>(a + i, b + i, n - i, y + i, step);
}

namespace {

// 8 outputs of qadd_recip_avx2 as int32 (not yet saturated).
template <class A, class B>
inline __m256i qadd_recip8(const A* a, const B* b, __m256i az, __m256i bz, __m256 as, __m256 bs, __m256 lo,
                           __m256 hi, __m256 r, __m256i yz) {
  const __m256 fa = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(widen8(a), az)), as);
  const __m256 fb = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(widen8(b), bz)), bs);
  const __m256 s = _mm256_min_ps(hi, _mm256_max_ps(lo, _mm256_add_ps(fa, fb)));
  return _mm256_add_epi32(_mm256_cvtps_epi32(_mm256_mul_ps(s, r)), yz);  // vcvtps2dq: nearest even
}

}  // namespace

template <class A, class B, class Y>
void qadd_recip_avx2(const QAddParams& p, const A* a, const B* b, int64_t n, Y* y) {
  const __m256 as = _mm256_set1_ps(p.a_scale), bs = _mm256_set1_ps(p.b_scale);
  const __m256 r = _mm256_set1_ps(1.f / p.y_scale);
  const __m256i az = _mm256_set1_epi32(p.a_zp), bz = _mm256_set1_epi32(p.b_zp), yz = _mm256_set1_epi32(p.y_zp);
  const __m256 lo = _mm256_set1_ps(p.lo), hi = _mm256_set1_ps(p.hi);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m256i q0 = qadd_recip8(a + i, b + i, az, bz, as, bs, lo, hi, r, yz);
    const __m256i q1 = qadd_recip8(a + i + 8, b + i + 8, az, bz, as, bs, lo, hi, r, yz);
    // Saturating packs: int32 -> int16 -> Y's range.
    const __m128i w0 = _mm_packs_epi32(_mm256_castsi256_si128(q0), _mm256_extracti128_si256(q0, 1));
    const __m128i w1 = _mm_packs_epi32(_mm256_castsi256_si128(q1), _mm256_extracti128_si256(q1, 1));
    const __m128i bytes = std::is_same<Y, uint8_t>::value ? _mm_packus_epi16(w0, w1) : _mm_packs_epi16(w0, w1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), bytes);
  }
  // The tail on a padded copy (this kernel is exact on every pair, padding included).
  if (i < n)
    padded_tail<16>(a + i, b + i, n - i, y + i, [&](const A* ta, const B* tb, Y* ty) { qadd_recip_avx2(p, ta, tb, 16, ty); });
}

template <class A, class B, class Y>
bool qadd_recip_exact(const QAddParams& p) {
  if (p.qmin != std::numeric_limits<Y>::min() || p.qmax != std::numeric_limits<Y>::max()) return false;
  constexpr int64_t kPairs = 256 * 256;
  // No std::vector in this AVX2 file (its inline templates could be picked by the linker for
  // callers compiled without AVX2); plain arrays as pool_avx2.cpp does.
  std::unique_ptr<A[]> a(new A[kPairs]);
  std::unique_ptr<B[]> b(new B[kPairs]);
  std::unique_ptr<Y[]> y(new Y[kPairs]);
  for (int64_t i = 0; i < kPairs; ++i) {
    a[i] = static_cast<A>(static_cast<uint8_t>(i >> 8));  // every byte pattern of each type
    b[i] = static_cast<B>(static_cast<uint8_t>(i & 255));
  }
  qadd_recip_avx2(p, a.get(), b.get(), kPairs, y.get());
  for (int64_t i = 0; i < kPairs; ++i)
    if (static_cast<int32_t>(y[i]) != qadd_value(a[i], b[i], p)) return false;
  return true;
}

#define OCTET_QADD(A, B, Y)                                                                      \
  template void qadd_avx2<A, B, Y>(const QAddParams&, const A*, const B*, int64_t, Y*);           \
  template void qadd_recip_avx2<A, B, Y>(const QAddParams&, const A*, const B*, int64_t, Y*);     \
  template bool qadd_recip_exact<A, B, Y>(const QAddParams&);
OCTET_QADD(uint8_t, uint8_t, uint8_t)
OCTET_QADD(uint8_t, uint8_t, int8_t)
OCTET_QADD(uint8_t, int8_t, uint8_t)
OCTET_QADD(uint8_t, int8_t, int8_t)
OCTET_QADD(int8_t, uint8_t, uint8_t)
OCTET_QADD(int8_t, uint8_t, int8_t)
OCTET_QADD(int8_t, int8_t, uint8_t)
OCTET_QADD(int8_t, int8_t, int8_t)
#undef OCTET_QADD

void add_clamp_f32_avx2(const float* a, const float* b, int64_t n, float lo, float hi, float* y) {
  const __m256 vl = _mm256_set1_ps(lo), vh = _mm256_set1_ps(hi);
  int64_t i = 0;
  // max(lo, v) as _mm256_max_ps(v, lo) would drop a NaN v: the second operand wins on NaN, so
  // put v second.
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(a + i);
    if (b) v = _mm256_add_ps(v, _mm256_loadu_ps(b + i));
    _mm256_storeu_ps(y + i, _mm256_min_ps(vh, _mm256_max_ps(vl, v)));
  }
  for (; i < n; ++i) {
    float v = b ? a[i] + b[i] : a[i];
    if (!std::isnan(v)) v = std::fmin(hi, std::fmax(lo, v));
    y[i] = v;
  }
}

namespace {

// One loop per operation, the operation a compile-time functor on both __m256 and float.
template <class F>
void scalar_loop(const float* a, int64_t n, float s, float* y, F f) {
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, f(_mm256_loadu_ps(a + i), vs));
  for (; i < n; ++i) {  // the tail through the same vector operation on one lane
    const __m256 r = f(_mm256_set1_ps(a[i]), vs);
    y[i] = _mm256_cvtss_f32(r);
  }
}

}  // namespace

void scalar_op_f32_avx2(const float* a, int64_t n, float s, ScalarOp op, float* y) {
  switch (op) {
    case ScalarOp::Add:
      return scalar_loop(a, n, s, y, [](__m256 x, __m256 c) { return _mm256_add_ps(x, c); });
    case ScalarOp::Sub:
      return scalar_loop(a, n, s, y, [](__m256 x, __m256 c) { return _mm256_sub_ps(x, c); });
    case ScalarOp::RSub:
      return scalar_loop(a, n, s, y, [](__m256 x, __m256 c) { return _mm256_sub_ps(c, x); });
    case ScalarOp::Mul:
      return scalar_loop(a, n, s, y, [](__m256 x, __m256 c) { return _mm256_mul_ps(x, c); });
    case ScalarOp::Div:
      return scalar_loop(a, n, s, y, [](__m256 x, __m256 c) { return _mm256_div_ps(x, c); });
    case ScalarOp::RDiv:
      return scalar_loop(a, n, s, y, [](__m256 x, __m256 c) { return _mm256_div_ps(c, x); });
  }
}

const char* scalar_op_kernel_name(ScalarOp op) {
  switch (op) {
    case ScalarOp::Add: return "add_scalar_f32_avx2";
    case ScalarOp::Sub: return "sub_scalar_f32_avx2";
    case ScalarOp::RSub: return "rsub_scalar_f32_avx2";
    case ScalarOp::Mul: return "mul_scalar_f32_avx2";
    case ScalarOp::Div: return "div_scalar_f32_avx2";
    case ScalarOp::RDiv: return "rdiv_scalar_f32_avx2";
  }
  return "?";
}

}  // namespace octet::kernels

namespace octet::kernels {

void convert_f16_f32_f16c(const uint16_t* x, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
  if (i < n) {  // the tail through a zero-padded vector
    alignas(16) uint16_t tail[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    alignas(32) float out[8];
    for (int64_t j = i; j < n; ++j) tail[j - i] = x[j];
    _mm256_store_ps(out, _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(tail))));
    for (int64_t j = i; j < n; ++j) y[j] = out[j - i];
  }
}

int64_t minmax_finite_f32_avx2(const float* x, int64_t n, float* lo, float* hi) {
  if (n < 32) return minmax_finite_f32(x, n, lo, hi);
  // A bad element (an infinity or a NaN) is the one whose v * 0 is NaN: each vector is added times
  // 0 into one of four sums (one FMA each), which stay +-0 while every element is finite and turn
  // NaN for good at the first bad one; looked at once at the end, where the reference finds the
  // first bad index.
  const __m256 zero = _mm256_setzero_ps();
  __m256 l0 = _mm256_loadu_ps(x), l1 = l0, l2 = l0, l3 = l0, h0 = l0, h1 = l0, h2 = l0, h3 = l0;
  __m256 z0 = zero, z1 = zero, z2 = zero, z3 = zero;
  auto step = [&](const float* p) {
    const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8), c = _mm256_loadu_ps(p + 16),
                 d = _mm256_loadu_ps(p + 24);
    l0 = _mm256_min_ps(l0, a);
    l1 = _mm256_min_ps(l1, b);
    l2 = _mm256_min_ps(l2, c);
    l3 = _mm256_min_ps(l3, d);
    h0 = _mm256_max_ps(h0, a);
    h1 = _mm256_max_ps(h1, b);
    h2 = _mm256_max_ps(h2, c);
    h3 = _mm256_max_ps(h3, d);
    z0 = _mm256_fmadd_ps(a, zero, z0);
    z1 = _mm256_fmadd_ps(b, zero, z1);
    z2 = _mm256_fmadd_ps(c, zero, z2);
    z3 = _mm256_fmadd_ps(d, zero, z3);
  };
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) step(x + i);
  if (i < n) step(x + n - 32);  // the last 32, overlapping: min and max do not mind repeats
  const __m256 z = _mm256_add_ps(_mm256_add_ps(z0, z1), _mm256_add_ps(z2, z3));
  if (_mm256_movemask_ps(_mm256_cmp_ps(z, z, _CMP_UNORD_Q)) != 0) return minmax_finite_f32(x, n, lo, hi);
  const __m256 l = _mm256_min_ps(_mm256_min_ps(l0, l1), _mm256_min_ps(l2, l3));
  const __m256 h = _mm256_max_ps(_mm256_max_ps(h0, h1), _mm256_max_ps(h2, h3));
  alignas(32) float lv[8], hv[8];
  _mm256_store_ps(lv, l);
  _mm256_store_ps(hv, h);
  float lm = lv[0], hm = hv[0];
  for (int k = 1; k < 8; ++k) {
    lm = std::min(lm, lv[k]);
    hm = std::max(hm, hv[k]);
  }
  *lo = lm == 0.f ? 0.f : lm;
  *hi = hm == 0.f ? 0.f : hm;
  return -1;
}

}  // namespace octet::kernels
