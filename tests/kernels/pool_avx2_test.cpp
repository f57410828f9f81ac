// pool_avx2: the AVX2 max pool against its reference twin maxpool_nchw_ref, bit for bit, for
// float, uint8 and int8. Sweeps plane sizes, kernels, strides 1/2/3, dilations, paddings and
// ceil-mode-like output sizes whose last windows hang over the end; float planes hold NaNs, +0/-0
// and infinities (the reference's "first tap, then strictly greater" rule is what must match).
// Outputs sit between guard values so a write outside the plane is caught. The global average
// pool against global_avgpool_ref, bit for bit, on sums whose rounding depends on the order.
#include "kernels/avx2/pool_avx2.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <type_traits>
#include <vector>

#include "kernels/ref/pool_ref.h"

namespace octet::kernels {
namespace {

bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}

PoolParams ref_params(const MaxPool2dParams& p) {
  PoolParams r;  // 2-D: leading spatial dim 1
  r.in[1] = p.in_h, r.in[2] = p.in_w;
  r.kernel[1] = p.kernel_h, r.kernel[2] = p.kernel_w;
  r.out[1] = p.out_h, r.out[2] = p.out_w;
  r.stride[1] = p.stride_h, r.stride[2] = p.stride_w;
  r.dilation[1] = p.dilation_h, r.dilation[2] = p.dilation_w;
  r.pad_begin[1] = p.pad_top, r.pad_begin[2] = p.pad_left;
  return r;
}

// Output size with end padding `pe` (and one more window when `extra`, as ceil_mode can give),
// 0 when no window fits.
int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe, bool extra) {
  const int64_t eff = (k - 1) * d + 1;
  if (in + pb + pe < eff) return 0;
  int64_t o = (in + pb + pe - eff) / s + 1;
  // ONNX keeps a ceil-mode window only when it starts inside the input or the begin padding.
  if (extra && (o * s - pb) < in) ++o;
  return o;
}

template <class T>
std::vector<T> random_plane(std::mt19937& rng, int64_t n) {
  std::vector<T> x(static_cast<size_t>(n));
  if constexpr (std::is_same_v<T, float>) {
    std::uniform_int_distribution<int> special(0, 19), small(-3, 3);
    std::normal_distribution<float> nd;
    for (auto& v : x) {
      switch (special(rng)) {
        case 0: v = std::numeric_limits<float>::quiet_NaN(); break;
        case 1: v = 0.f; break;
        case 2: v = -0.f; break;
        case 3: v = -std::numeric_limits<float>::infinity(); break;
        case 4: v = static_cast<float>(small(rng)); break;  // ties
        default: v = nd(rng);
      }
    }
  } else {
    std::uniform_int_distribution<int> d(std::numeric_limits<T>::min(), std::numeric_limits<T>::max());
    for (auto& v : x) v = static_cast<T>(d(rng));
  }
  return x;
}

template <class T>
void kernel(const MaxPool2dParams& p, const T* x, T* y) {
  if constexpr (std::is_same_v<T, float>) maxpool2d_f32_avx2(p, x, y);
  else if constexpr (std::is_same_v<T, uint8_t>) maxpool2d_u8_avx2(p, x, y);
  else maxpool2d_s8_avx2(p, x, y);
}

// Runs both; returns the number of outputs whose bits differ (guards included).
template <class T>
int64_t compare(const MaxPool2dParams& p, std::mt19937& rng) {
  const std::vector<T> x = random_plane<T>(rng, p.in_h * p.in_w);
  const int64_t n = p.out_h * p.out_w, guard = 40;
  std::vector<T> ref(static_cast<size_t>(n)), got(static_cast<size_t>(n + 2 * guard), T(7));
  maxpool_nchw_ref(ref_params(p), x.data(), ref.data(), nullptr, false);
  kernel<T>(p, x.data(), got.data() + guard);
  int64_t bad = 0;
  for (int64_t i = 0; i < guard; ++i) bad += got[i] != T(7) || got[guard + n + i] != T(7);
  for (int64_t i = 0; i < n; ++i) bad += std::memcmp(&ref[i], &got[guard + i], sizeof(T)) != 0;
  return bad;
}

template <class T>
void sweep(const char* type) {
  std::mt19937 rng(1234);
  int64_t cases = 0;
  for (int64_t h : {1, 2, 3, 7, 8, 15, 17, 33, 56})
    for (int64_t w : {1, 2, 5, 16, 17, 31, 32, 33, 63, 64, 65, 112, 129})
      for (int64_t k : {1, 2, 3, 5})
        for (int64_t s : {1, 2, 3})
          for (int64_t d : {1, 2})
            for (int64_t pad : {0, 1, 2}) {
              if (pad >= k) continue;  // ONNX requires pads smaller than the kernel
              MaxPool2dParams p;
              p.in_h = h, p.in_w = w;
              p.kernel_h = k, p.kernel_w = (k == 5 ? 3 : k);
              p.stride_h = s, p.stride_w = s;
              p.dilation_h = d, p.dilation_w = d;
              p.pad_top = pad, p.pad_left = (pad + (w & 1)) % k;
              const bool extra = ((h + w + k) % 3) == 0;
              p.out_h = out_size(h, p.kernel_h, s, d, p.pad_top, pad, extra);
              p.out_w = out_size(w, p.kernel_w, s, d, p.pad_left, pad, extra);
              if (p.out_h < 1 || p.out_w < 1) continue;
              ASSERT_EQ(compare<T>(p, rng), 0)
                  << type << " h " << h << " w " << w << " k " << k << " s " << s << " d " << d << " pad " << pad;
              ++cases;
            }
  EXPECT_GT(cases, 1000);
}

TEST(MaxPoolAvx2, FloatEqualsReferenceBitForBit) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
  sweep<float>("float");
}

TEST(MaxPoolAvx2, Uint8EqualsReference) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
  sweep<uint8_t>("uint8");
}

TEST(MaxPoolAvx2, Int8EqualsReference) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
  sweep<int8_t>("int8");
}

// A NaN in the first tap of a window wins; a later NaN is skipped: the reference's rule, kept.
TEST(MaxPoolAvx2, NanFollowsTheReferenceRule) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
  MaxPool2dParams p;
  p.in_h = 1, p.in_w = 40, p.kernel_h = 1, p.kernel_w = 2, p.stride_h = 1, p.stride_w = 2;
  p.out_h = 1, p.out_w = 20;
  std::vector<float> x(40, 1.f), y(20);
  x[0] = std::nanf("");   // first tap of window 0
  x[3] = std::nanf("");   // second tap of window 1
  x[4] = 5.f;
  kernel<float>(p, x.data(), y.data());
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_EQ(y[1], 1.f);
  EXPECT_EQ(y[2], 5.f);
}

// Channel counts around the 8-lane blocks, spatial sizes from 0 (NaN) up; values of mixed
// magnitudes (1e8 next to 1e-8: the double sum's rounding depends on the order of the additions),
// NaN, infinities and signed zeros. Guards after y catch a write past the last channel.
TEST(GlobalAvgPoolAvx2, EqualsReferenceBitForBit) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
  std::mt19937 rng(4242);
  std::printf("[ seed     ] GlobalAvgPoolAvx2 seed 4242\n");
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int64_t channels : {1, 7, 8, 9, 16, 23}) {
    for (int64_t spatial : {0, 1, 2, 7, 49, 196}) {
      std::vector<float> x(static_cast<size_t>(channels * spatial));
      for (float& v : x) {
        const uint32_t k = rng() % 16;
        v = u(rng) * (k < 4 ? 1e8f : k < 8 ? 1e-8f : 1.f);
        if (k == 15) v = rng() % 2 ? -0.f : std::numeric_limits<float>::infinity();
        if (k == 14 && rng() % 8 == 0) v = std::nanf("");
      }
      std::vector<float> want(static_cast<size_t>(channels)), got(static_cast<size_t>(channels) + 8, 12345.f);
      global_avgpool_ref(channels, spatial, x.data(), want.data());
      global_avgpool_f32_avx2(channels, spatial, x.data(), got.data());
      for (int64_t c = 0; c < channels; ++c) {
        EXPECT_TRUE(std::memcmp(&got[c], &want[c], 4) == 0 || (std::isnan(got[c]) && std::isnan(want[c])))
            << "channels " << channels << " spatial " << spatial << " channel " << c << ": " << got[c] << " vs "
            << want[c];
      }
      for (size_t i = static_cast<size_t>(channels); i < got.size(); ++i) EXPECT_EQ(got[i], 12345.f) << "write past y";
    }
  }
}

// Sums whose double rounding depends on the order (1e8, -1e8, then 1e-8 gives 1e-8; in another
// order the 1e-8 is rounded to double's ulp of 1e8 first): the kernel must add each plane's
// elements in index order, wherever in a plane (and in a chunk of 8) they sit.
TEST(GlobalAvgPoolAvx2, AddsInIndexOrder) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
  for (int64_t spatial : {3, 8, 17, 49}) {
    const int64_t channels = 16;
    std::vector<float> x(static_cast<size_t>(channels * spatial), 0.f);
    for (int64_t c = 0; c < channels; ++c) {
      const int64_t j = c % (spatial - 2);
      float* p = x.data() + c * spatial + j;
      p[0] = c % 2 ? 1e8f : -1e8f;
      p[1] = -p[0];
      p[2] = 1e-8f;
    }
    std::vector<float> want(static_cast<size_t>(channels)), got(want.size());
    global_avgpool_ref(channels, spatial, x.data(), want.data());
    global_avgpool_f32_avx2(channels, spatial, x.data(), got.data());
    for (int64_t c = 0; c < channels; ++c)
      EXPECT_EQ(std::memcmp(&got[c], &want[c], 4), 0) << "spatial " << spatial << " channel " << c << ": " << got[c]
                                                     << " vs " << want[c];
  }
}

template <class X, class Y>
void check_qglobal_avgpool(std::mt19937& rng, int64_t channels, int64_t spatial, const QGlobalAvgPoolParams& p) {
  std::vector<X> x(static_cast<size_t>(channels * spatial));
  std::uniform_int_distribution<int> byte(std::numeric_limits<X>::min(), std::numeric_limits<X>::max());
  for (X& v : x) v = static_cast<X>(byte(rng));
  std::vector<Y> want(static_cast<size_t>(channels)), got(static_cast<size_t>(channels) + 4, Y(77));
  qglobal_avgpool_ref(channels, spatial, x.data(), p, want.data());
  qglobal_avgpool_avx2(channels, spatial, x.data(), p, got.data());
  for (int64_t c = 0; c < channels; ++c)
    ASSERT_EQ(int(got[c]), int(want[c])) << "channels " << channels << " spatial " << spatial << " channel " << c
                                         << " x_scale " << p.x_scale << " x_zp " << p.x_zp << " y_scale "
                                         << p.y_scale << " y_zp " << p.y_zp;
  for (size_t i = static_cast<size_t>(channels); i < got.size(); ++i) ASSERT_EQ(int(got[i]), 77) << "write past y";
}

template <class X, class Y>
void sweep_qglobal_avgpool(std::mt19937& rng) {
  constexpr bool kYSigned = std::is_same_v<Y, int8_t>;
  std::uniform_real_distribution<float> log_scale(-6.f, 1.f);
  std::uniform_int_distribution<int> x_zp(std::numeric_limits<X>::min(), std::numeric_limits<X>::max());
  std::uniform_int_distribution<int> y_zp(std::numeric_limits<Y>::min(), std::numeric_limits<Y>::max());
  for (int64_t channels : {1, 3, 17}) {
    for (int64_t spatial : {0, 1, 7, 8, 9, 49, 196, 1001}) {
      for (int trial = 0; trial < 6; ++trial) {
        QGlobalAvgPoolParams p;
        p.x_scale = std::pow(10.f, log_scale(rng));
        p.x_zp = x_zp(rng);
        // The output scale near the input's, so averages land on every step and on ties.
        p.y_scale = trial % 2 ? p.x_scale : p.x_scale * std::pow(10.f, log_scale(rng) / 4.f);
        p.y_zp = y_zp(rng);
        if (trial == 4) p.x_scale = 3e37f;   // 255 * x_scale overflows: infinite terms
        if (trial == 5) p.x_scale = 1e-40f;  // subnormal: the reference's loop
        p.qmin = kYSigned ? -128 : 0;
        p.qmax = kYSigned ? 127 : 255;
        check_qglobal_avgpool<X, Y>(rng, channels, spatial, p);
      }
    }
  }
}

// Every u8/s8 input and output mix against qglobal_avgpool_ref: channel counts, plane sizes around
// the 8-byte steps and their tails, random scales and zero points, scales whose terms overflow to
// infinity, a subnormal scale and a plane of 2^21 elements (both on the reference's loop).
TEST(QGlobalAvgPoolAvx2, EqualsReferenceForEveryTypeCombination) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
  std::mt19937 rng(977);
  std::printf("[ seed     ] QGlobalAvgPoolAvx2 seed 977\n");
  sweep_qglobal_avgpool<uint8_t, uint8_t>(rng);
  sweep_qglobal_avgpool<uint8_t, int8_t>(rng);
  sweep_qglobal_avgpool<int8_t, uint8_t>(rng);
  sweep_qglobal_avgpool<int8_t, int8_t>(rng);
  QGlobalAvgPoolParams p;
  p.x_scale = 0.37f;
  p.y_scale = 0.41f;
  check_qglobal_avgpool<uint8_t, uint8_t>(rng, 1, (int64_t(1) << 21) + 3, p);
}

// Worked by hand: means of 1.5 and 0.5 round half to even (2 and 0), zero points on both sides,
// saturation at the output type's ends.
TEST(QGlobalAvgPoolAvx2, HandWorkedValues) {
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2";
  QGlobalAvgPoolParams p;  // scales 1, zero points 0, uint8 output
  const std::vector<uint8_t> x = {1, 2, 0, 1, 0, 255, 128, 1, 200, 200, 250, 254};
  uint8_t ref[4], fast[4];
  qglobal_avgpool_ref(int64_t(4), int64_t(3), x.data(), p, ref);
  const std::vector<uint8_t> pairs = {1, 2, 0, 1, 0, 255, 200, 202};
  qglobal_avgpool_avx2(int64_t(4), int64_t(2), pairs.data(), p, fast);
  EXPECT_EQ(fast[0], 2);    // 1.5 -> 2
  EXPECT_EQ(fast[1], 0);    // 0.5 -> 0
  EXPECT_EQ(fast[2], 128);  // 127.5 -> 128
  EXPECT_EQ(fast[3], 201);
  EXPECT_EQ(ref[0], 1);    // (1 + 2 + 0) / 3
  EXPECT_EQ(ref[1], 85);   // 256 / 3 = 85.33
  EXPECT_EQ(ref[2], 110);  // 329 / 3 = 109.67
  EXPECT_EQ(ref[3], 235);  // 704 / 3 = 234.67
  p.x_zp = 100;            // (x - 100) * 1
  p.y_zp = 10;
  p.y_scale = 0.5f;        // mean / 0.5 + 10
  int8_t s[4];
  p.qmin = -128;
  p.qmax = 127;
  qglobal_avgpool_avx2(int64_t(4), int64_t(2), pairs.data(), p, s);
  EXPECT_EQ(s[0], -128);  // (1.5 - 100) * 2 + 10 = -187 -> saturates
  EXPECT_EQ(s[3], 127);   // (201 - 100) * 2 + 10 = 212 -> saturates
  EXPECT_EQ(s[2], 65);    // (127.5 - 100) * 2 + 10
}

}  // namespace
}  // namespace octet::kernels
