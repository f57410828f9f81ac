// dwconv_cb8_avx2, the 8-channel depthwise 3x3 kernels.
// FP32: against a plain-loop twin of its contract (bias, then one std::fma per tap in (kh, kw)
// order with padded taps as 0, then the clamp), bit for bit, and against the plane kernel
// dwconv_f32_avx2 (the same operations), bit for bit; shapes as the INT8 random test, NaN/inf
// inputs, clamps.
// INT8: against its reference twin,
// qconv_s32_ref with group == channels == 8 on the whole [1, 8, H, W] block (per-channel w_zp and
// bias), then requantize_value with each channel's multiplier and the lo/hi clamp, at 0 LSB.
// Sweeps: in_h, in_w in {1,2,3,5,7,8,9,14,15,16,17,28} x strides 1-3 x dilations 1-2 x six
// padding sets (symmetric and asymmetric, bottom/right different), then random shapes with
// independent H/W parameters up to 120 wide (several strips); extreme zero points, all-255 x with
// all-(-128) w, extreme biases (saturation), ties, reduced/ReLU clamps, both output types. The
// planes sit at the end of their buffer (a read past them faults under ASan), outputs between
// guard bytes, scratch at a random misalignment filled with garbage. Random tests print seeds.
#include "kernels/avx2/dwconv_cb8_avx2.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/avx2/qgemm_avx2.h"
#include "kernels/ref/qconv_ref.h"
#include "kernels/ref/quantize_ref.h"

namespace octet::kernels {
namespace {

bool cpu_has_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
#define SKIP_WITHOUT_AVX2() \
  if (!cpu_has_avx2()) GTEST_SKIP() << "this CPU has no AVX2"

constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();
constexpr size_t kGuard = 64;
constexpr uint8_t kGuardByte = 0xA5;

uint32_t announce_seed(uint32_t seed, const char* what) {
  std::printf("[ seed     ] DwConvCb8Avx2.%s seed %u\n", what, seed);
  return seed;
}

struct Case {
  DwConvParams p;
  std::vector<uint8_t> x;  // 8 planes
  std::vector<int8_t> w;   // 8 x 9
  int32_t x_zp = 0;
  int32_t w_zp[8] = {}, bias[8] = {};
  bool null_bias = false;  // pass no bias (bias[] is then all 0, which the reference adds)
  DwQOutput8 out;
};

std::string describe(const Case& c) {
  const DwConvParams& p = c.p;
  char b[256];
  std::snprintf(b, sizeof b, "in %lldx%lld out %lldx%lld s %lldx%lld d %lldx%lld pad_t %lld pad_l %lld x_zp %d %s",
                (long long)p.in_h, (long long)p.in_w, (long long)p.out_h, (long long)p.out_w, (long long)p.stride_h,
                (long long)p.stride_w, (long long)p.dilation_h, (long long)p.dilation_w, (long long)p.pad_top,
                (long long)p.pad_left, c.x_zp, c.out.is_signed ? "s8" : "u8");
  return b;
}

// The twin: the grouped reference on the 8-channel block, then each channel's requantization.
std::vector<int32_t> reference(const Case& c) {
  const DwConvParams& p = c.p;
  QConvParams q;
  q.batch = 1;
  q.in_channels = q.out_channels = q.group = 8;
  q.in_spatial = {p.in_h, p.in_w};
  q.out_spatial = {p.out_h, p.out_w};
  q.kernel = {3, 3};
  q.strides = {p.stride_h, p.stride_w};
  q.dilations = {p.dilation_h, p.dilation_w};
  q.pads_begin = {p.pad_top, p.pad_left};
  const int64_t P = p.out_h * p.out_w;
  std::vector<int32_t> acc(static_cast<size_t>(8 * P));
  qconv_s32_ref(q, c.x.data(), c.x_zp, c.w.data(), c.w_zp, 1, c.bias, acc.data());
  for (int64_t ch = 0; ch < 8; ++ch)
    for (int64_t i = 0; i < P; ++i) {
      int32_t& v = acc[ch * P + i];
      v = std::min(std::max(requantize_value(v, c.out.multiplier[ch], c.out.zero_point, c.out.qmin, c.out.qmax),
                            c.out.lo),
                   c.out.hi);
    }
  return acc;
}

// One run of the kernel on c's block through the loop `vnni` selects, checked against want.
void check_loop(const Case& c, size_t shift, bool vnni, const std::vector<int32_t>& want);

// The block through every output loop this CPU runs: the one prepare picks (the AVX-512 VNNI one
// on such a CPU, for the Small form without a saturating bias) and, where that is VNNI, the AVX2
// loop too, with the same prepared weights.
void check(const Case& c, size_t shift) {
  SCOPED_TRACE(describe(c));
  const std::vector<int32_t> want = reference(c);
  DwCb8Prepared prepared;
  dwconv3x3_u8s8_cb8_prepare(c.x_zp, c.w.data(), c.w_zp, c.null_bias ? nullptr : c.bias, c.out, &prepared);
  ASSERT_NO_FATAL_FAILURE(check_loop(c, shift, prepared.vnni, want));
  if (prepared.vnni) {
    ASSERT_NO_FATAL_FAILURE(check_loop(c, shift, false, want));
  }
}

void check_loop(const Case& c, size_t shift, bool vnni, const std::vector<int32_t>& want) {
  SCOPED_TRACE(vnni ? "avx512vnni loop" : "avx2 loop");
  const DwConvParams& p = c.p;
  DwCb8Prepared prepared;
  dwconv3x3_u8s8_cb8_prepare(c.x_zp, c.w.data(), c.w_zp, c.null_bias ? nullptr : c.bias, c.out, &prepared);
  prepared.vnni = vnni;
  // Input at the very end of its buffer: the kernel must not read past the last plane.
  std::vector<uint8_t> xbuf(c.x);
  const size_t ybytes = want.size();
  std::vector<uint8_t> ybuf(ybytes + 2 * kGuard, kGuardByte);
  const size_t sbytes = dwconv_cb8_avx2_scratch_size(p);
  std::vector<uint8_t> sbuf(sbytes + 64 + kGuard, 0x5A);
  const uintptr_t a = reinterpret_cast<uintptr_t>(sbuf.data());
  uint8_t* scratch = sbuf.data() + ((64 - (a & 63)) & 63) + shift % 64;
  std::fill(scratch, scratch + sbytes, static_cast<uint8_t>(0xC3));  // garbage: contents must not matter
  dwconv3x3_u8s8_cb8_avx2(p, xbuf.data(), c.x_zp, prepared, c.out, ybuf.data() + kGuard, scratch);
  for (size_t i = 0; i < kGuard; ++i) {
    ASSERT_EQ(ybuf[i], kGuardByte) << "write before y at byte -" << (kGuard - i);
    ASSERT_EQ(ybuf[kGuard + ybytes + i], kGuardByte) << "write past y at byte +" << i;
  }
  for (const uint8_t* q = scratch + sbytes; q < sbuf.data() + sbuf.size(); ++q) ASSERT_EQ(*q, 0x5A) << "write past scratch";
  const int64_t P = p.out_h * p.out_w;
  for (size_t i = 0; i < want.size(); ++i) {
    const int32_t got = c.out.is_signed ? static_cast<int8_t>(ybuf[kGuard + i]) : ybuf[kGuard + i];
    ASSERT_EQ(got, want[i]) << "channel " << i / P << " oh " << (i % P) / p.out_w << " ow " << (i % P) % p.out_w;
  }
}

int64_t out_size(int64_t in, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  const int64_t span = 2 * d + 1;
  return in + pb + pe < span ? 0 : (in + pb + pe - span) / s + 1;
}

Case random_case(const DwConvParams& p, std::mt19937& rng) {
  Case c;
  c.p = p;
  c.p.kernel_h = c.p.kernel_w = 3;
  c.x.resize(static_cast<size_t>(8 * p.in_h * p.in_w));
  c.w.resize(72);
  const int pattern = static_cast<int>(rng() % 6);
  for (uint8_t& v : c.x) v = pattern == 1 ? 255 : pattern == 2 ? 0 : pattern == 3 ? (rng() & 1) * 255 : rng() & 255;
  for (int8_t& v : c.w)
    v = static_cast<int8_t>(pattern == 1   ? -128
                            : pattern == 2 ? 127
                            : pattern == 3 ? ((rng() & 1) ? 127 : -128)
                                           : static_cast<int>(rng() & 255) - 128);
  const int32_t xzps[] = {0, 255, 128, static_cast<int32_t>(rng() % 256)};
  c.x_zp = pattern == 1 ? 0 : pattern == 2 ? 255 : xzps[rng() % 4];
  // 1 is the largest multiplier of the vcvtpd2dq epilogue (dw_requant8_rn); 3 takes the other.
  const float mults[] = {0.5f, 0.25f, 1.f, 1.f / 1024, 1.f / 65536, 3.f};
  const int32_t biases[] = {0, kI32Max, kI32Min, kI32Max - 1000, kI32Min + 1000};
  for (int ch = 0; ch < 8; ++ch) {
    const int32_t wzps[] = {-128, 127, 0, static_cast<int32_t>(rng() % 256) - 128};
    c.w_zp[ch] = pattern == 1 ? 127 : pattern == 2 ? -128 : (rng() % 2 ? 0 : wzps[rng() % 4]);
    c.bias[ch] = rng() % 10 == 0 ? biases[rng() % 5] : static_cast<int32_t>(rng() % 400001) - 200000;
    c.out.multiplier[ch] =
        rng() % 2 ? mults[rng() % 6] : std::exp(std::uniform_real_distribution<float>(-14.f, -2.f)(rng));
  }
  if (rng() % 8 == 0) {
    c.null_bias = true;
    std::fill(std::begin(c.bias), std::end(c.bias), 0);
  }
  c.out.zero_point = static_cast<int32_t>(rng() % 256);
  if (rng() % 3 == 0) c.out.zero_point = rng() % 2 ? 0 : 255;
  if (rng() % 4 == 0) c.out.qmin = 0, c.out.qmax = 127;  // reduce_range
  if (rng() % 3 == 0) c.out.lo = c.out.zero_point;       // fused ReLU
  if (rng() % 4 == 0) {
    c.out.lo = static_cast<int32_t>(rng() % 128);
    c.out.hi = c.out.lo + static_cast<int32_t>(rng() % 128);
  }
  if (rng() % 2) {  // the same in int8
    c.out.is_signed = true;
    c.out.zero_point -= 128, c.out.qmin -= 128, c.out.qmax -= 128, c.out.lo -= 128, c.out.hi -= 128;
  }
  return c;
}

TEST(DwConvCb8Avx2, GridExact) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(announce_seed(2001, "GridExact"));
  const int64_t sizes[] = {1, 2, 3, 5, 7, 8, 9, 14, 15, 16, 17, 28};
  const int64_t pads[][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2}, {1, 0, 1, 0}, {0, 2, 1, 0}, {2, 1, 0, 2}};
  size_t shift = 0, cases = 0;
  for (int64_t ih : sizes)
    for (int64_t iw : sizes)
      for (int64_t s = 1; s <= 3; ++s)
        for (int64_t d = 1; d <= 2; ++d)
          for (const auto& pd : pads) {
            DwConvParams p;
            p.in_h = ih, p.in_w = iw, p.stride_h = p.stride_w = s, p.dilation_h = p.dilation_w = d;
            p.pad_top = pd[0], p.pad_left = pd[1];
            p.out_h = out_size(ih, s, d, pd[0], pd[2]);
            p.out_w = out_size(iw, s, d, pd[1], pd[3]);
            if (p.out_h <= 0 || p.out_w <= 0) continue;
            ASSERT_NO_FATAL_FAILURE(check(random_case(p, rng), shift++));
            ++cases;
          }
  EXPECT_GT(cases, 2000u);
}

// Independent H/W strides, dilations and pads, planes up to 120 wide and 40 high: wide rows make
// several strips (the strip height falls to 1-2 rows at 120 wide, stride 3, dilation 3).
TEST(DwConvCb8Avx2, RandomShapesExact) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(announce_seed(2002, "RandomShapesExact"));
  auto r = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rng() % (hi - lo + 1)); };
  for (int i = 0; i < 400; ++i) {
    DwConvParams p;
    p.in_h = r(1, 40), p.in_w = r(1, i % 4 == 0 ? 120 : 40);
    p.stride_h = r(1, 4), p.stride_w = r(1, 4);
    p.dilation_h = r(1, 3), p.dilation_w = r(1, 3);
    p.pad_top = r(0, 3), p.pad_left = r(0, 3);
    p.out_h = out_size(p.in_h, p.stride_h, p.dilation_h, p.pad_top, r(0, 3));
    p.out_w = out_size(p.in_w, p.stride_w, p.dilation_w, p.pad_left, r(0, 3));
    if (p.out_h <= 0 || p.out_w <= 0) continue;
    ASSERT_NO_FATAL_FAILURE(check(random_case(p, rng), static_cast<size_t>(i) * 7));
  }
}

// The largest sums with saturating biases, by hand: every x 255 at x_zp 0 and every w -128 at
// w_zp 127 (w' = -255) give each interior output -9 * 255 * 255; a bias of INT32_MIN + 1000 must
// saturate to INT32_MIN, INT32_MAX - 1 must not overflow; ties at multiplier 0.5.
TEST(DwConvCb8Avx2, ExtremeSumsSaturateAndTiesRoundToEven) {
  SKIP_WITHOUT_AVX2();
  Case c;
  c.p.in_h = c.p.in_w = c.p.out_h = c.p.out_w = 7;
  c.p.pad_top = c.p.pad_left = 1;
  c.x.assign(8 * 49, 255);
  c.w.assign(72, -128);
  const int32_t biases[8] = {kI32Min + 1000, kI32Max - 1, 0, kI32Min, kI32Max, 1, -1, 585225};
  for (int ch = 0; ch < 8; ++ch) {
    c.w_zp[ch] = 127;
    c.bias[ch] = biases[ch];
    c.out.multiplier[ch] = ch % 2 ? 0.5f : 1.f / 65536;
  }
  c.out.is_signed = true;
  c.out.zero_point = 0, c.out.qmin = -128, c.out.qmax = 127, c.out.lo = -128, c.out.hi = 127;
  ASSERT_NO_FATAL_FAILURE(check(c, 0));
  // Ties: 1x1 worth of signal through the centre tap only, w' = 1, multiplier 0.5.
  Case t;
  t.p.in_h = t.p.in_w = t.p.out_h = t.p.out_w = 3;
  t.p.pad_top = t.p.pad_left = 1;
  t.x_zp = 128;
  t.x = {128, 129, 131, 127, 125, 133, 130, 126, 128};  // x - 128: 0 1 3 -1 -3 5 2 -2 0
  t.x.resize(72, 128);
  t.w.assign(72, 0);
  for (int ch = 0; ch < 8; ++ch) t.w[ch * 9 + 4] = 1, t.out.multiplier[ch] = 0.5f;
  t.out.is_signed = true;
  t.out.zero_point = 0, t.out.qmin = -128, t.out.qmax = 127, t.out.lo = -128, t.out.hi = 127;
  ASSERT_NO_FATAL_FAILURE(check(t, 3));
  std::vector<int8_t> y(72);
  std::vector<uint8_t> scratch(dwconv_cb8_avx2_scratch_size(t.p));
  dwconv3x3_u8s8_cb8_avx2(t.p, t.x.data(), t.x_zp, t.w.data(), t.w_zp, t.bias, t.out, y.data(), scratch.data());
  EXPECT_EQ(std::vector<int8_t>(y.begin(), y.begin() + 9), (std::vector<int8_t>{0, 0, 2, 0, -2, 2, 1, -1, 0}));
}

// The single-precision form where the products leave int16 and 2^22: biases from 2^22 to near
// the form's bound (1.5 * 2^23 minus the taps' largest sum) with multipliers at and just below 1,
// so that the requantized values saturate or sit at the FMA's exactness edge. Each block must
// take that form, and on an AVX-512 VNNI CPU the VNNI loop (check() runs the AVX2 loop as well).
TEST(DwConvCb8Avx2, SmallFormLargeAccumulators) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(announce_seed(2004, "SmallFormLargeAccumulators"));
  const int32_t biases[8] = {4194304, -4194304, 4194305, -4194303, 8000000, -8000000, 12500000, -12500000};
  const float mults[4] = {1.f, std::nextafter(1.f, 0.f), 0.999f, 0.5f};
  for (int variant = 0; variant < 8; ++variant) {
    Case c;
    c.p.in_h = c.p.in_w = c.p.out_h = c.p.out_w = 7;
    c.p.pad_top = c.p.pad_left = 1;
    c.x_zp = variant % 2 ? 0 : 128;
    c.x.resize(8 * 49);
    for (auto& v : c.x) v = static_cast<uint8_t>(std::uniform_int_distribution<int>(0, 255)(rng));
    c.w.resize(72);
    for (auto& v : c.w) v = static_cast<int8_t>(std::uniform_int_distribution<int>(-3, 3)(rng));  // |sum| <= 27 * 255
    for (int ch = 0; ch < 8; ++ch) {
      c.bias[ch] = biases[(ch + variant) % 8];
      c.out.multiplier[ch] = mults[(ch + variant) % 4];
    }
    c.out.is_signed = variant % 4 >= 2;
    c.out.qmin = c.out.is_signed ? -128 : 0, c.out.qmax = c.out.is_signed ? 127 : 255;
    c.out.lo = c.out.qmin, c.out.hi = c.out.qmax;
    c.out.zero_point = c.out.is_signed ? -3 : 131;
    DwCb8Prepared prepared;
    dwconv3x3_u8s8_cb8_prepare(c.x_zp, c.w.data(), c.w_zp, c.bias, c.out, &prepared);
    ASSERT_EQ(prepared.form, 2) << "variant " << variant << ": not the single-precision form";
    ASSERT_EQ(prepared.vnni, qgemm_default_isa() == QgemmIsa::Avx512Vnni) << "variant " << variant;
    ASSERT_NO_FATAL_FAILURE(check(c, static_cast<size_t>(variant) * 5));
  }
}

TEST(DwConvCb8Avx2, EmptyOutputWritesNothing) {
  SKIP_WITHOUT_AVX2();
  DwConvParams p;
  p.in_h = p.in_w = 4;
  p.out_h = 0, p.out_w = 2;
  std::vector<uint8_t> x(128, 7), y(8, 0xEE), scratch(dwconv_cb8_avx2_scratch_size(p));
  std::vector<int8_t> w(72, 1);
  const int32_t zp[8] = {}, bias[8] = {};
  dwconv3x3_u8s8_cb8_avx2(p, x.data(), 0, w.data(), zp, bias, DwQOutput8{}, y.data(), scratch.data());
  EXPECT_EQ(y, std::vector<uint8_t>(8, 0xEE));
}

// ---- FP32 ----------------------------------------------------------------------------------------

std::vector<float> f32_twin(const DwConvParams& p, const std::vector<float>& x, const std::vector<float>& w,
                            const float* bias, float lo, float hi) {
  const int64_t P = p.out_h * p.out_w, plane = p.in_h * p.in_w;
  std::vector<float> y(static_cast<size_t>(8 * P));
  for (int64_t ch = 0; ch < 8; ++ch)
    for (int64_t oh = 0; oh < p.out_h; ++oh)
      for (int64_t ow = 0; ow < p.out_w; ++ow) {
        float acc = bias[ch];
        for (int64_t kh = 0; kh < 3; ++kh)
          for (int64_t kw = 0; kw < 3; ++kw) {
            const int64_t ih = oh * p.stride_h - p.pad_top + kh * p.dilation_h;
            const int64_t iw = ow * p.stride_w - p.pad_left + kw * p.dilation_w;
            const bool inside = ih >= 0 && ih < p.in_h && iw >= 0 && iw < p.in_w;
            acc = std::fma(inside ? x[ch * plane + ih * p.in_w + iw] : 0.f, w[ch * 9 + kh * 3 + kw], acc);
          }
        y[ch * P + oh * p.out_w + ow] = std::isnan(acc) ? acc : std::min(std::max(acc, lo), hi);
      }
  return y;
}

bool same_float(float a, float b) { return std::memcmp(&a, &b, 4) == 0 || (std::isnan(a) && std::isnan(b)); }

void check_f32(const DwConvParams& p, std::mt19937& rng, size_t shift) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(static_cast<size_t>(8 * p.in_h * p.in_w)), w(72);
  for (float& v : x) v = u(rng) * (rng() % 4 == 0 ? 1000.f : 1.f);
  for (float& v : w) v = u(rng);
  if (rng() % 8 == 0 && !x.empty()) x[rng() % x.size()] = std::nanf("");
  if (rng() % 8 == 0 && !x.empty()) x[rng() % x.size()] = std::numeric_limits<float>::infinity();
  float bias[8];
  for (float& b : bias) b = u(rng);
  float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
  if (rng() % 3 == 0) lo = 0.f, hi = 6.f;
  const std::vector<float> want = f32_twin(p, x, w, bias, lo, hi);
  const int64_t P = p.out_h * p.out_w;
  std::vector<float> y(want.size() + 16, 7.5f);
  const size_t sbytes = dwconv_cb8_f32_avx2_scratch_size(p);
  std::vector<uint8_t> sbuf(sbytes + 64 + kGuard, 0x5A);
  const uintptr_t a = reinterpret_cast<uintptr_t>(sbuf.data());
  uint8_t* scratch = sbuf.data() + ((64 - (a & 63)) & 63) + shift % 64;
  std::fill(scratch, scratch + sbytes, static_cast<uint8_t>(0xC3));
  dwconv3x3_f32_cb8_avx2(p, x.data(), w.data(), bias, lo, hi, y.data() + 8, scratch);
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(y[i], 7.5f) << "write before y";
    ASSERT_EQ(y[want.size() + 8 + i], 7.5f) << "write past y";
  }
  for (const uint8_t* q = scratch + sbytes; q < sbuf.data() + sbuf.size(); ++q) ASSERT_EQ(*q, 0x5A) << "write past scratch";
  std::vector<float> plane_y(static_cast<size_t>(P));
  std::vector<uint8_t> plane_scratch(dwconv_avx2_scratch_size(p));
  for (int64_t ch = 0; ch < 8; ++ch) {
    dwconv_f32_avx2(p, x.data() + ch * p.in_h * p.in_w, w.data() + ch * 9, bias[ch], lo, hi, plane_y.data(),
                    plane_scratch.data());
    for (int64_t i = 0; i < P; ++i) {
      const float got = y[8 + ch * P + i];
      ASSERT_TRUE(same_float(got, want[ch * P + i]))
          << "channel " << ch << " pixel " << i << ": " << got << " vs twin " << want[ch * P + i];
      ASSERT_TRUE(same_float(got, plane_y[i])) << "channel " << ch << " pixel " << i << ": " << got
                                               << " vs dwconv_f32_avx2 " << plane_y[i];
    }
  }
}

TEST(DwConvCb8Avx2, F32EqualsTwinAndPlaneKernel) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(announce_seed(2003, "F32EqualsTwinAndPlaneKernel"));
  auto r = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rng() % (hi - lo + 1)); };
  for (int i = 0; i < 500; ++i) {
    DwConvParams p;
    p.kernel_h = p.kernel_w = 3;
    p.in_h = r(1, 30), p.in_w = r(1, i % 5 == 0 ? 100 : 30);
    p.stride_h = r(1, 3), p.stride_w = r(1, 3);
    p.dilation_h = r(1, 2), p.dilation_w = r(1, 2);
    if (i % 2 == 0) p.stride_h = p.stride_w = r(1, 2), p.dilation_h = p.dilation_w = 1;  // MobileNet's
    p.pad_top = r(0, 2), p.pad_left = r(0, 2);
    p.out_h = out_size(p.in_h, p.stride_h, p.dilation_h, p.pad_top, r(0, 2));
    p.out_w = out_size(p.in_w, p.stride_w, p.dilation_w, p.pad_left, r(0, 2));
    if (p.out_h <= 0 || p.out_w <= 0) continue;
    Case c;
    c.p = p;
    SCOPED_TRACE(describe(c));
    ASSERT_NO_FATAL_FAILURE(check_f32(p, rng, static_cast<size_t>(i) * 5));
  }
}

}  // namespace
}  // namespace octet::kernels
