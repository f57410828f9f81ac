// dwconv_avx2: the AVX2 depthwise kernels against their reference twins.
//   FP32: conv_nchw_ref (one plane = group == channels == 1), then the lo/hi clamp, within a bound
//         derived from the kernel size (see fp32_tolerance).
//   INT8: qconv_s32_ref (one plane), then requantize_value and the lo/hi clamp, or the F32
//         dequantization; every output kind at 0 LSB (F32 bit for bit).
// Sweeps: in_h, in_w in {1,2,3,4,7,8,9,14,15,16,17,28,33} x kernels 1x1, 3x3, 5x5, 3x1 x strides
// 1, 2, 3 x dilations 1, 2 x paddings 0..2 (symmetric and asymmetric, pad_top != pad_left, bottom
// and right different again), then random shapes with independent H/W parameters; extreme zero
// points (x_zp 0/255, w_zp -128/127/0), all-255 x with all-(-128) w, extreme biases, round-half
// ties, reduced/ReLU clamps. Outputs sit between guard bytes; scratch sits at a random
// misalignment, filled with garbage, with a guard after it. Random tests print their seeds.
// Multi-channel tests check that per-plane calls reproduce the grouped (group == C) references.
#include "kernels/avx2/dwconv_avx2.h"
#include "kernels/avx512/dwconv_vbmi.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels/ref/conv_ref.h"
#include "kernels/ref/qconv_ref.h"
#include "kernels/ref/quantize_ref.h"

namespace octet::kernels {
namespace {

bool cpu_has_avx2_fma() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#define SKIP_WITHOUT_AVX2() \
  if (!cpu_has_avx2_fma()) GTEST_SKIP() << "this CPU has no AVX2/FMA"

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr int32_t kI32Max = std::numeric_limits<int32_t>::max();
constexpr int32_t kI32Min = std::numeric_limits<int32_t>::min();

uint32_t announce_seed(uint32_t seed, const char* what) {
  std::printf("[ seed     ] DwConvAvx2.%s seed %u\n", what, seed);
  return seed;
}

// ---- Reference twins, one plane -----------------------------------------------------------------

ConvParams conv_params(const DwConvParams& p) {
  ConvParams c;  // 2-D: leading spatial dim 1, as conv_ref.h describes
  c.in[1] = p.in_h, c.in[2] = p.in_w;
  c.kernel[1] = p.kernel_h, c.kernel[2] = p.kernel_w;
  c.out[1] = p.out_h, c.out[2] = p.out_w;
  c.stride[1] = p.stride_h, c.stride[2] = p.stride_w;
  c.dilation[1] = p.dilation_h, c.dilation[2] = p.dilation_w;
  c.pad_begin[1] = p.pad_top, c.pad_begin[2] = p.pad_left;
  return c;
}

QConvParams qconv_params(const DwConvParams& p, int64_t channels = 1) {
  QConvParams q;
  q.batch = 1;
  q.in_channels = q.out_channels = q.group = channels;
  q.in_spatial = {p.in_h, p.in_w};
  q.out_spatial = {p.out_h, p.out_w};
  q.kernel = {p.kernel_h, p.kernel_w};
  q.strides = {p.stride_h, p.stride_w};
  q.dilations = {p.dilation_h, p.dilation_w};
  q.pads_begin = {p.pad_top, p.pad_left};
  return q;
}

std::vector<float> dwconv_f32_plane_ref(const DwConvParams& p, const std::vector<float>& x,
                                        const std::vector<float>& w, float bias, float lo,
                                        float hi) {
  std::vector<float> y(static_cast<size_t>(p.out_h * p.out_w));
  conv_nchw_ref(conv_params(p), x.data(), w.data(), &bias, y.data());
  for (float& v : y) v = std::min(std::max(v, lo), hi);
  return y;
}

// FP32 tolerance. Both the kernel (bias, then one FMA per tap) and conv_ref (bias, then a
// rounded product and a rounded add per tap) evaluate the same sum of n = K + 1 terms (K =
// kernel_h * kernel_w taps at most, plus the bias) in float in the same order; by the standard
// recursive-summation bound each result is within gamma_n * S of the exact value, where
// gamma_n = n*u / (1 - n*u), u = 2^-24 and S = |bias| + sum |x * w| over the taps inside x. So
// they differ by at most 2 * gamma_n * S; the final clamp is 1-Lipschitz and cannot add to it.
std::vector<double> fp32_tolerance(const DwConvParams& p, const std::vector<float>& x,
                                   const std::vector<float>& w, float bias) {
  std::vector<double> ax(x.begin(), x.end()), aw(w.begin(), w.end());
  for (double& v : ax) v = std::fabs(v);
  for (double& v : aw) v = std::fabs(v);
  const double ab = std::fabs(static_cast<double>(bias));
  std::vector<double> s(static_cast<size_t>(p.out_h * p.out_w));
  conv_nchw_ref(conv_params(p), ax.data(), aw.data(), &ab, s.data());
  const double n = static_cast<double>(p.kernel_h * p.kernel_w + 1), u = std::ldexp(1.0, -24);
  const double gamma = n * u / (1 - n * u);
  for (double& v : s) v = 2 * gamma * v + 1e-37;  // + a subnormal-sized floor
  return s;
}

// The per-plane INT8 twin: qconv_s32_ref with one channel (the exact int32 accumulator).
std::vector<int32_t> qdwconv_s32_plane_ref(const DwConvParams& p, const std::vector<uint8_t>& x,
                                           int32_t x_zp, const std::vector<int8_t>& w, int32_t w_zp,
                                           int32_t bias) {
  std::vector<int32_t> acc(static_cast<size_t>(p.out_h * p.out_w));
  qconv_s32_ref(qconv_params(p), x.data(), x_zp, w.data(), &w_zp, 0, &bias, acc.data());
  return acc;
}

// What dwconv_u8s8_avx2 stores for one accumulator, written from the header's formulas.
int32_t qout_ref(int32_t acc, const DwQOutput& o) {
  return std::min(std::max(requantize_value(acc, o.multiplier, o.zero_point, o.qmin, o.qmax), o.lo),
                  o.hi);
}
float fout_ref(int32_t acc, const DwQOutput& o) {
  volatile float prod = static_cast<float>(acc) * o.scale;  // volatile: no FMA contraction
  const float v = prod + o.fbias;
  return std::min(std::max(v, o.f_lo), o.f_hi);
}

size_t elem_size(DwQOutKind k) { return k == DwQOutKind::U8 || k == DwQOutKind::S8 ? 1 : 4; }

// ---- Guarded runs -------------------------------------------------------------------------------

constexpr size_t kGuard = 64;
constexpr uint8_t kGuardByte = 0xA5;

// Output bytes between guards, and scratch at `shift` bytes past a 64-byte boundary, prefilled
// with garbage and followed by a guard.
struct Harness {
  std::vector<uint8_t> ybuf, sbuf;
  size_t ybytes = 0, sbytes = 0, shift = 0;
  Harness(const DwConvParams& p, size_t esize, size_t shift_) : shift(shift_ % 64) {
    ybytes = static_cast<size_t>(std::max<int64_t>(p.out_h * p.out_w, 0)) * esize;
    ybuf.assign(ybytes + 2 * kGuard, kGuardByte);
    sbytes = dwconv_avx2_scratch_size(p);
    sbuf.assign(sbytes + 64 + kGuard, 0x5A);
  }
  void* y() { return ybuf.data() + kGuard; }
  void* scratch() {
    const uintptr_t a = reinterpret_cast<uintptr_t>(sbuf.data());
    return sbuf.data() + ((64 - (a & 63)) & 63) + shift;
  }
  void check_guards() {
    for (size_t i = 0; i < kGuard; ++i) {
      ASSERT_EQ(ybuf[i], kGuardByte) << "write before y at byte -" << (kGuard - i);
      ASSERT_EQ(ybuf[kGuard + ybytes + i], kGuardByte) << "write past y at byte +" << i;
    }
    const uint8_t* s_end = static_cast<uint8_t*>(scratch()) + sbytes;
    for (const uint8_t* q = s_end; q < sbuf.data() + sbuf.size(); ++q)
      ASSERT_EQ(*q, 0x5A) << "write past scratch";
  }
};

std::string describe(const DwConvParams& p) {
  char b[256];
  std::snprintf(
      b, sizeof b,
      "in %lldx%lld out %lldx%lld k %lldx%lld s %lldx%lld d %lldx%lld pad_t %lld pad_l %lld",
      (long long)p.in_h, (long long)p.in_w, (long long)p.out_h, (long long)p.out_w,
      (long long)p.kernel_h, (long long)p.kernel_w, (long long)p.stride_h, (long long)p.stride_w,
      (long long)p.dilation_h, (long long)p.dilation_w, (long long)p.pad_top,
      (long long)p.pad_left);
  return b;
}

// Output size for the given end pads, or 0 when the padded input is shorter than the kernel.
int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t d, int64_t pb, int64_t pe) {
  const int64_t span = (k - 1) * d + 1;
  return in + pb + pe < span ? 0 : (in + pb + pe - span) / s + 1;
}

// ---- One case, both precisions ----------------------------------------------------------------

void check_f32(const DwConvParams& p, std::mt19937& rng, size_t shift) {
  SCOPED_TRACE(describe(p));
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  std::vector<float> x(static_cast<size_t>(p.in_h * p.in_w)),
      w(static_cast<size_t>(p.kernel_h * p.kernel_w));
  const float xs = (rng() % 4 == 0) ? 1000.f : 1.f;  // mixed magnitudes now and then
  for (float& v : x) v = u(rng) * xs;
  for (float& v : w) v = u(rng) / xs;
  const float bias = u(rng);
  float lo = -kInf, hi = kInf;
  if (rng() % 3 == 0) lo = 0.f, hi = 6.f;  // ReLU6
  if (rng() % 5 == 0) lo = u(rng) * 0.5f - 0.25f, hi = lo + 0.3f;
  const std::vector<float> want = dwconv_f32_plane_ref(p, x, w, bias, lo, hi);
  const std::vector<double> tol = fp32_tolerance(p, x, w, bias);
  Harness h(p, 4, shift);
  dwconv_f32_avx2(p, x.data(), w.data(), bias, lo, hi, static_cast<float*>(h.y()), h.scratch());
  h.check_guards();
  const float* got = static_cast<const float*>(h.y());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], tol[i])
        << "output " << i << " (oh " << i / p.out_w << ", ow " << i % p.out_w << ")";
}

struct QCase {
  std::vector<uint8_t> x;
  std::vector<int8_t> w;
  int32_t x_zp = 0, w_zp = 0, bias = 0;
  DwQOutput u8, s8, f32;
};

QCase random_qcase(const DwConvParams& p, std::mt19937& rng) {
  QCase c;
  c.x.resize(static_cast<size_t>(p.in_h * p.in_w));
  c.w.resize(static_cast<size_t>(p.kernel_h * p.kernel_w));
  const int pattern = static_cast<int>(rng() % 6);
  for (uint8_t& v : c.x)
    v = pattern == 1 ? 255 : pattern == 2 ? 0 : pattern == 3 ? (rng() & 1) * 255 : rng() & 255;
  for (int8_t& v : c.w)
    v = static_cast<int8_t>(pattern == 1   ? -128
                            : pattern == 2 ? 127
                            : pattern == 3 ? ((rng() & 1) ? 127 : -128)
                                           : static_cast<int>(rng() & 255) - 128);
  const int32_t xzps[] = {0, 255, 128, static_cast<int32_t>(rng() % 256)};
  const int32_t wzps[] = {-128, 127, 0, static_cast<int32_t>(rng() % 256) - 128};
  c.x_zp = pattern == 1 ? 0 : pattern == 2 ? 255 : xzps[rng() % 4];
  c.w_zp = pattern == 1 ? 127 : pattern == 2 ? -128 : wzps[rng() % 4];
  const int32_t biases[] = {0, kI32Max, kI32Min, kI32Max - 1000, kI32Min + 1000};
  c.bias = rng() % 10 == 0 ? biases[rng() % 5] : static_cast<int32_t>(rng() % 400001) - 200000;
  // Multipliers: exact ties (0.5, 0.25), saturating (1, the largest of dw_requant8_rn; 3 takes
  // the other epilogue), and ordinary small ones.
  const float mults[] = {0.5f, 0.25f, 1.f, 1.f / 1024, 1.f / 65536, 3.f};
  const float mult = rng() % 2 ? mults[rng() % 6]
                               : std::exp(std::uniform_real_distribution<float>(-14.f, -2.f)(rng));
  c.u8.kind = DwQOutKind::U8;
  c.u8.multiplier = mult;
  c.u8.zero_point = static_cast<int32_t>(rng() % 256);
  if (rng() % 3 == 0) c.u8.zero_point = rng() % 2 ? 0 : 255;
  if (rng() % 4 == 0) c.u8.qmin = 0, c.u8.qmax = 127;  // reduce_range
  if (rng() % 3 == 0) c.u8.lo = c.u8.zero_point;       // fused ReLU
  if (rng() % 4 == 0) {
    c.u8.lo = static_cast<int32_t>(rng() % 128);
    c.u8.hi = c.u8.lo + static_cast<int32_t>(rng() % 128);
  }
  c.s8 = c.u8;
  c.s8.kind = DwQOutKind::S8;
  c.s8.zero_point = c.u8.zero_point - 128;
  c.s8.qmin = c.u8.qmin - 128, c.s8.qmax = c.u8.qmax - 128;
  c.s8.lo = c.u8.lo - 128, c.s8.hi = c.u8.hi - 128;
  c.f32.kind = DwQOutKind::F32;
  c.f32.scale = std::exp(std::uniform_real_distribution<float>(-12.f, 0.f)(rng));
  c.f32.fbias = std::uniform_real_distribution<float>(-3.f, 3.f)(rng);
  if (rng() % 3 == 0) c.f32.f_lo = 0.f, c.f32.f_hi = 6.f;
  return c;
}

// Runs every output kind and compares each element with the reference at 0 LSB.
void check_q(const DwConvParams& p, const QCase& c, size_t shift) {
  SCOPED_TRACE(describe(p) + " x_zp " + std::to_string(c.x_zp) + " w_zp " + std::to_string(c.w_zp) +
               " bias " + std::to_string(c.bias));
  const std::vector<int32_t> acc = qdwconv_s32_plane_ref(p, c.x, c.x_zp, c.w, c.w_zp, c.bias);
  DwQOutput s32;
  s32.kind = DwQOutKind::S32;
  for (const DwQOutput* o : {&c.u8, &c.s8, static_cast<const DwQOutput*>(&s32), &c.f32}) {
    SCOPED_TRACE("kind " + std::to_string(static_cast<int>(o->kind)) + " multiplier " +
                 std::to_string(o->multiplier) + " zp " + std::to_string(o->zero_point));
    Harness h(p, elem_size(o->kind), shift++);
    dwconv_u8s8_avx2(p, c.x.data(), c.x_zp, c.w.data(), c.w_zp, c.bias, *o, h.y(), h.scratch());
    h.check_guards();
    for (size_t i = 0; i < acc.size(); ++i) {
      const int64_t oh = static_cast<int64_t>(i) / p.out_w, ow = static_cast<int64_t>(i) % p.out_w;
      switch (o->kind) {
        case DwQOutKind::U8:
          ASSERT_EQ(static_cast<const uint8_t*>(h.y())[i], qout_ref(acc[i], *o))
              << "oh " << oh << " ow " << ow << " acc " << acc[i];
          break;
        case DwQOutKind::S8:
          ASSERT_EQ(static_cast<const int8_t*>(h.y())[i], qout_ref(acc[i], *o))
              << "oh " << oh << " ow " << ow << " acc " << acc[i];
          break;
        case DwQOutKind::S32:
          ASSERT_EQ(static_cast<const int32_t*>(h.y())[i], acc[i]) << "oh " << oh << " ow " << ow;
          break;
        case DwQOutKind::F32: {
          const float want = fout_ref(acc[i], *o);
          float got;
          std::memcpy(&got, static_cast<const float*>(h.y()) + i, 4);
          uint32_t gb, wb;
          std::memcpy(&gb, &got, 4);
          std::memcpy(&wb, &want, 4);
          ASSERT_EQ(gb, wb) << "oh " << oh << " ow " << ow << " got " << got << " want " << want;
          break;
        }
      }
    }
  }
}

// The grid of the task: every in_h x in_w from the list, the four kernels, strides 1-3 (same on
// both axes; the random test varies them independently), dilations 1-2, and six padding sets
// (top, left, bottom, right), three of them asymmetric with pad_top != pad_left.
std::vector<DwConvParams> grid() {
  const int64_t sizes[] = {1, 2, 3, 4, 7, 8, 9, 14, 15, 16, 17, 28, 33};
  const int64_t kernels[][2] = {{1, 1}, {3, 3}, {5, 5}, {3, 1}};
  const int64_t pads[][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 2, 2, 2},
                             {1, 0, 1, 0}, {0, 2, 1, 0}, {2, 1, 0, 2}};
  std::vector<DwConvParams> out;
  for (int64_t ih : sizes)
    for (int64_t iw : sizes)
      for (const auto& k : kernels)
        for (int64_t s = 1; s <= 3; ++s)
          for (int64_t d = 1; d <= 2; ++d)
            for (const auto& pd : pads) {
              DwConvParams p;
              p.in_h = ih, p.in_w = iw, p.kernel_h = k[0], p.kernel_w = k[1];
              p.stride_h = p.stride_w = s, p.dilation_h = p.dilation_w = d;
              p.pad_top = pd[0], p.pad_left = pd[1];
              p.out_h = out_size(ih, k[0], s, d, pd[0], pd[2]);
              p.out_w = out_size(iw, k[1], s, d, pd[1], pd[3]);
              if (p.out_h > 0 && p.out_w > 0) out.push_back(p);
            }
  return out;
}

DwConvParams random_params(std::mt19937& rng) {
  auto r = [&](int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(rng() % (hi - lo + 1)); };
  for (;;) {
    DwConvParams p;
    p.in_h = r(1, 40), p.in_w = r(1, 70);
    p.kernel_h = r(1, 7), p.kernel_w = r(1, 7);
    if (rng() % 3 == 0) p.kernel_h = p.kernel_w = 3;
    p.stride_h = r(1, 4), p.stride_w = r(1, 4);
    p.dilation_h = r(1, 3), p.dilation_w = r(1, 3);
    p.pad_top = r(0, 3), p.pad_left = r(0, 3);
    // End pads up to 3; sometimes extra output columns/rows that see only padding.
    p.out_h = out_size(p.in_h, p.kernel_h, p.stride_h, p.dilation_h, p.pad_top, r(0, 3));
    p.out_w = out_size(p.in_w, p.kernel_w, p.stride_w, p.dilation_w, p.pad_left, r(0, 3));
    if (p.out_h > 0 && p.out_w > 0) return p;
  }
}

// ---- Tests ------------------------------------------------------------------------------------

TEST(DwConvAvx2, F32GridAgainstConvRef) {
  SKIP_WITHOUT_AVX2();
  const uint32_t seed = announce_seed(1001, "F32GridAgainstConvRef");
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  size_t shift = 0;
  for (const DwConvParams& p : grid()) {
    ASSERT_NO_FATAL_FAILURE(check_f32(p, rng, shift++));
  }
}

TEST(DwConvAvx2, U8S8GridExact) {
  SKIP_WITHOUT_AVX2();
  const uint32_t seed = announce_seed(1002, "U8S8GridExact");
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  size_t shift = 0;
  for (const DwConvParams& p : grid()) {
    const QCase c = random_qcase(p, rng);
    ASSERT_NO_FATAL_FAILURE(check_q(p, c, shift));
    shift += 7;
  }
}

TEST(DwConvAvx2, RandomShapesBothPrecisions) {
  SKIP_WITHOUT_AVX2();
  // A fresh seed each run (printed); DWCONV_SEED=<n> replays one.
  const char* env = std::getenv("DWCONV_SEED");
  const uint32_t seed = announce_seed(
      env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : std::random_device{}(),
      "RandomShapesBothPrecisions");
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  for (int i = 0; i < 1500; ++i) {
    const DwConvParams p = random_params(rng);
    ASSERT_NO_FATAL_FAILURE(check_f32(p, rng, rng() % 64));
    const QCase c = random_qcase(p, rng);
    ASSERT_NO_FATAL_FAILURE(check_q(p, c, rng() % 64));
  }
}

// Extremes on the fast paths' shapes: x all 255 with x_zp 0 and w all -128 with w_zp 127 (the
// largest products, -65025 each) and the mirror image, every extreme zero-point pair.
TEST(DwConvAvx2, ExtremeValuesAndZeroPoints) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(announce_seed(1003, "ExtremeValuesAndZeroPoints"));
  for (int64_t s = 1; s <= 2; ++s)
    for (int64_t k : {3, 5})
      for (uint8_t xv : {uint8_t(0), uint8_t(255)})
        for (int8_t wv : {int8_t(-128), int8_t(127)})
          for (int32_t x_zp : {0, 255})
            for (int32_t w_zp : {-128, 127, 0}) {
              DwConvParams p;
              p.in_h = 17, p.in_w = 33, p.kernel_h = p.kernel_w = k, p.stride_h = p.stride_w = s;
              p.pad_top = p.pad_left = k / 2;
              p.out_h = out_size(17, k, s, 1, k / 2, k / 2);
              p.out_w = out_size(33, k, s, 1, k / 2, k / 2);
              QCase c = random_qcase(p, rng);
              std::fill(c.x.begin(), c.x.end(), xv);
              std::fill(c.w.begin(), c.w.end(), wv);
              c.x_zp = x_zp, c.w_zp = w_zp;
              c.bias = 0;
              c.u8.multiplier = c.s8.multiplier = 1.f / 4096;
              ASSERT_NO_FATAL_FAILURE(check_q(p, c, static_cast<size_t>(x_zp + w_zp + 128)));
              c.bias = xv == 255 ? kI32Max : kI32Min;  // saturating bias + extreme sums
              ASSERT_NO_FATAL_FAILURE(check_q(p, c, 3));
            }
}

// Round half to even and the bias saturation, by hand: a 1x1 kernel with w' = 1 makes
// acc = x - x_zp + bias, and multiplier 0.5 puts every odd acc on a tie.
TEST(DwConvAvx2, TiesRoundToEvenAndBiasSaturates) {
  SKIP_WITHOUT_AVX2();
  DwConvParams p;
  p.in_h = 1, p.in_w = 6, p.out_h = 1, p.out_w = 6;
  const std::vector<uint8_t> x = {128, 129, 131, 127, 125, 133};  // x - 128: 0 1 3 -1 -3 5
  const int8_t w = 1;
  DwQOutput o;
  o.kind = DwQOutKind::S8;
  o.multiplier = 0.5f;
  o.qmin = -128, o.qmax = 127, o.lo = -128, o.hi = 127;
  std::vector<int8_t> y(6);
  std::vector<uint8_t> scratch(dwconv_avx2_scratch_size(p));
  dwconv_u8s8_avx2(p, x.data(), 128, &w, 0, 0, o, y.data(), scratch.data());
  EXPECT_EQ(y, (std::vector<int8_t>{0, 0, 2, 0, -2, 2}));  // 0, .5, 1.5, -.5, -1.5, 2.5
  DwQOutput s32;
  s32.kind = DwQOutKind::S32;
  std::vector<int32_t> acc(6);
  dwconv_u8s8_avx2(p, x.data(), 128, &w, 0, kI32Max - 1, s32, acc.data(), scratch.data());
  EXPECT_EQ(acc, (std::vector<int32_t>{kI32Max - 1, kI32Max, kI32Max, kI32Max - 2, kI32Max - 4,
                                       kI32Max}));
  dwconv_u8s8_avx2(p, x.data(), 128, &w, 0, kI32Min, s32, acc.data(), scratch.data());
  EXPECT_EQ(acc, (std::vector<int32_t>{kI32Min, kI32Min + 1, kI32Min + 3, kI32Min, kI32Min,
                                       kI32Min + 5}));
}

// A non-finite multiplier leaves the vector path; the results are requantize_value's.
TEST(DwConvAvx2, NonFiniteMultiplierFollowsRequantizeValue) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(announce_seed(1004, "NonFiniteMultiplierFollowsRequantizeValue"));
  DwConvParams p;
  p.in_h = 9, p.in_w = 20, p.kernel_h = p.kernel_w = 3, p.pad_top = p.pad_left = 1;
  p.out_h = 9, p.out_w = 20;
  for (float m : {kInf, -kInf, std::numeric_limits<float>::quiet_NaN()}) {
    QCase c = random_qcase(p, rng);
    // x == x_zp in the top rows, so acc == bias == 0 there: inf * 0 = NaN.
    c.bias = 0;
    std::fill(c.x.begin(), c.x.begin() + 60, static_cast<uint8_t>(c.x_zp));
    c.u8.multiplier = c.s8.multiplier = m;
    ASSERT_NO_FATAL_FAILURE(check_q(p, c, 5));
  }
}

// The caller's decomposition: C planes through per-plane calls (one scratch, reused) equal the
// grouped references run on the whole [1, C, H, W] tensor with per-channel bias and w_zp.
TEST(DwConvAvx2, PerPlaneCallsMatchGroupedReferences) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(announce_seed(1005, "PerPlaneCallsMatchGroupedReferences"));
  struct Layer {
    int64_t hw, s;
  };
  for (const Layer& L : {Layer{112, 1}, Layer{112, 2}, Layer{56, 1}, Layer{56, 2}, Layer{28, 1},
                         Layer{14, 2}, Layer{7, 1}}) {
    const int64_t C = 5;
    DwConvParams p;
    p.in_h = p.in_w = L.hw, p.kernel_h = p.kernel_w = 3, p.stride_h = p.stride_w = L.s;
    p.pad_top = p.pad_left = 1;
    p.out_h = p.out_w = out_size(L.hw, 3, L.s, 1, 1, 1);
    SCOPED_TRACE(describe(p));
    const size_t in = static_cast<size_t>(p.in_h * p.in_w),
                 out = static_cast<size_t>(p.out_h * p.out_w);
    std::vector<uint8_t> scratch(dwconv_avx2_scratch_size(p));
    // FP32
    std::uniform_real_distribution<float> u(-1.f, 1.f);
    std::vector<float> x(C * in), w(C * 9), b(C), want(C * out), got(C * out);
    for (float& v : x) v = u(rng);
    for (float& v : w) v = u(rng);
    for (float& v : b) v = u(rng);
    ConvParams cp = conv_params(p);
    cp.in_channels = cp.out_channels = cp.group = C;
    conv_nchw_ref(cp, x.data(), w.data(), b.data(), want.data());
    for (int64_t c = 0; c < C; ++c)
      dwconv_f32_avx2(p, x.data() + c * in, w.data() + c * 9, b[c], -kInf, kInf,
                      got.data() + c * out, scratch.data());
    for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], 1e-5) << "element " << i;
    // INT8, S32 output: the accumulators themselves.
    std::vector<uint8_t> qx(C * in);
    std::vector<int8_t> qw(C * 9);
    std::vector<int32_t> wzp(C), qb(C), qwant(C * out), qgot(C * out);
    for (uint8_t& v : qx) v = rng() & 255;
    for (int8_t& v : qw) v = static_cast<int8_t>(static_cast<int>(rng() & 255) - 128);
    for (int64_t c = 0; c < C; ++c) {
      wzp[c] = static_cast<int32_t>(rng() % 256) - 128;
      qb[c] = static_cast<int32_t>(rng() % 20001) - 10000;
    }
    const int32_t x_zp = static_cast<int32_t>(rng() % 256);
    ASSERT_TRUE(qconv_s32_ref(qconv_params(p, C), qx.data(), x_zp, qw.data(), wzp.data(), 1,
                              qb.data(), qwant.data()));
    DwQOutput s32;
    s32.kind = DwQOutKind::S32;
    for (int64_t c = 0; c < C; ++c)
      dwconv_u8s8_avx2(p, qx.data() + c * in, x_zp, qw.data() + c * 9, wzp[c], qb[c], s32,
                       qgot.data() + c * out, scratch.data());
    ASSERT_EQ(qgot, qwant);
  }
}

// Scratch reuse across different shapes and planes: results equal those from a fresh scratch.
TEST(DwConvAvx2, ScratchContentsDoNotMatter) {
  SKIP_WITHOUT_AVX2();
  std::mt19937 rng(announce_seed(1006, "ScratchContentsDoNotMatter"));
  std::vector<uint8_t> shared(1 << 16, 0xCC);
  for (int i = 0; i < 200; ++i) {
    const DwConvParams p = random_params(rng);
    const size_t bytes = dwconv_avx2_scratch_size(p);
    ASSERT_LE(bytes, shared.size());
    const QCase c = random_qcase(p, rng);
    std::vector<uint8_t> a(static_cast<size_t>(p.out_h * p.out_w)), b(a.size());
    std::vector<uint8_t> fresh(bytes, 0);
    dwconv_u8s8_avx2(p, c.x.data(), c.x_zp, c.w.data(), c.w_zp, c.bias, c.u8, a.data(),
                     fresh.data());
    dwconv_u8s8_avx2(p, c.x.data(), c.x_zp, c.w.data(), c.w_zp, c.bias, c.u8, b.data(),
                     shared.data());
    ASSERT_EQ(a, b) << describe(p);
  }
}

TEST(DwConvAvx2, EmptyOutputWritesNothing) {
  SKIP_WITHOUT_AVX2();
  DwConvParams p;
  p.in_h = 4, p.in_w = 4, p.kernel_h = p.kernel_w = 3, p.out_h = 0, p.out_w = 2;
  Harness h(p, 4, 0);
  const float x[16] = {}, w[9] = {};
  dwconv_f32_avx2(p, x, w, 1.f, -kInf, kInf, static_cast<float*>(h.y()), h.scratch());
  h.check_guards();
}

// dwconv3x3_u8s8_vbmi (kernels/avx512/dwconv_vbmi.h: pixels in the lanes, vpermb + vpdpbusd)
// against the twin, every byte: planes whose rows share a vector (7x7: 2 rows, 4x4: 4 rows), rows
// of exactly 16 and of more (several vectors a row), strides 1 to 3, dilation 2, asymmetric and
// zero padding, out_h/out_w that end before the input does, u8 and s8 outputs with and without a
// fused clamp, extreme input zero points and weights, multipliers above 1, ties, and a bias that
// takes the double-precision requantization instead of the single-precision one, three planes in
// one call with a negative multiplier among them; a shape
// whose window would pass 64 bytes is refused by the plan; a nonzero weight zero point or a base
// too large for int32 by prepare.
TEST(DwConvVbmi, U8S8EqualsTheReference) {
  if (!dwconv3x3_vbmi_supported()) GTEST_SKIP() << "no AVX-512 VNNI + VBMI";
  std::mt19937 rng(77);
  struct Shape {
    int64_t ih, iw, oh, ow, sh, sw, dh, dw, pt, pl;
  };
  const std::vector<Shape> shapes = {
      {7, 7, 7, 7, 1, 1, 1, 1, 1, 1},      {14, 14, 14, 14, 1, 1, 1, 1, 1, 1}, {28, 28, 14, 14, 2, 2, 1, 1, 1, 1},
      {14, 14, 7, 7, 2, 2, 1, 1, 1, 1},    {4, 4, 4, 4, 1, 1, 1, 1, 1, 1},     {16, 16, 16, 16, 1, 1, 1, 1, 1, 1},
      {40, 37, 40, 37, 1, 1, 1, 1, 1, 1},  {56, 56, 28, 28, 2, 2, 1, 1, 0, 0}, {9, 11, 5, 4, 2, 3, 1, 1, 2, 0},
      {12, 12, 8, 8, 1, 1, 2, 2, 0, 0},    {10, 20, 6, 9, 2, 2, 1, 1, 1, 2},  {3, 3, 1, 1, 1, 1, 1, 1, 0, 0},
      {8, 8, 10, 10, 1, 1, 1, 1, 2, 2},
  };
  std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127);
  for (const Shape& sp : shapes) {
    DwConvParams p;
    p.in_h = sp.ih, p.in_w = sp.iw, p.out_h = sp.oh, p.out_w = sp.ow, p.kernel_h = p.kernel_w = 3;
    p.stride_h = sp.sh, p.stride_w = sp.sw, p.dilation_h = sp.dh, p.dilation_w = sp.dw, p.pad_top = sp.pt,
    p.pad_left = sp.pl;
    const DwVbmiPlan plan = dwconv3x3_vbmi_plan(p);
    ASSERT_TRUE(plan.ok) << sp.ih << "x" << sp.iw;
    std::vector<uint8_t> scratch(dwconv3x3_vbmi_scratch_size(plan));
    for (int trial = 0; trial < 7; ++trial) {
      std::vector<uint8_t> x(static_cast<size_t>(p.in_h * p.in_w));
      for (auto& v : x) v = static_cast<uint8_t>(trial == 1 ? 255 : u8(rng));
      std::vector<int8_t> w(9);
      for (auto& v : w) v = static_cast<int8_t>(trial == 1 ? -128 : s8(rng));
      const int32_t x_zp = trial == 2 ? 0 : trial == 1 ? 255 : u8(rng);
      // trial 6: a bias too large for the single-precision form (|acc| >= 1.5 * 2^23): the double one
      const int32_t bias = trial == 3 ? 0 : trial == 6 ? (rng() % 2 ? 20000000 : -20000000)
                                                        : static_cast<int32_t>(rng() % 200001) - 100000;
      DwQOutput o;
      o.kind = trial % 2 ? DwQOutKind::S8 : DwQOutKind::U8;
      o.qmin = o.kind == DwQOutKind::S8 ? -128 : 0;
      o.qmax = o.kind == DwQOutKind::S8 ? 127 : 255;
      o.lo = trial == 4 ? o.qmin + 20 : o.qmin;
      o.hi = trial == 4 ? o.qmax - 30 : o.qmax;
      o.zero_point = o.kind == DwQOutKind::S8 ? s8(rng) : u8(rng);
      o.multiplier = trial == 5   ? 1.5f
                     : trial == 3 ? 0.5f
                     : trial == 6 ? std::ldexp(1.f + (rng() % 1000) / 1000.f, -17)
                                  : std::ldexp(1.f + (rng() % 1000) / 1000.f, -9);
      DwVbmiChannel ch;
      ASSERT_TRUE(dwconv3x3_vbmi_prepare(x_zp, w.data(), 0, bias, o, &ch));
      const std::vector<int32_t> acc = qdwconv_s32_plane_ref(p, x, x_zp, w, 0, bias);
      std::vector<uint8_t> y(static_cast<size_t>(p.out_h * p.out_w) + 16, 0xa5);
      for (auto& v : scratch) v = static_cast<uint8_t>(rng());  // its contents do not matter
      dwconv3x3_u8s8_vbmi(p, plan, x.data(), x_zp, &ch, 1, y.data(), scratch.data());
      for (size_t i = 0; i < acc.size(); ++i) {
        const int32_t want = qout_ref(acc[i], o);
        const int32_t got = o.kind == DwQOutKind::S8 ? static_cast<int8_t>(y[i]) : y[i];
        ASSERT_EQ(got, want) << sp.ih << "x" << sp.iw << " -> " << sp.oh << "x" << sp.ow << " trial " << trial
                             << " pixel " << i;
      }
      for (size_t i = acc.size(); i < y.size(); ++i) ASSERT_EQ(y[i], 0xa5) << "written past the plane";
    }
    // Three planes in one call (the padding written once, the rows replaced plane by plane), each
    // with its own weights, bias and multiplier (one negative: the double form).
    const int64_t in = p.in_h * p.in_w, on = p.out_h * p.out_w;
    const int32_t x_zp = u8(rng);
    std::vector<uint8_t> x(static_cast<size_t>(3 * in)), y(static_cast<size_t>(3 * on) + 16, 0xa5);
    for (auto& v : x) v = static_cast<uint8_t>(u8(rng));
    std::vector<DwVbmiChannel> chans(3);
    std::vector<std::vector<int8_t>> ws(3, std::vector<int8_t>(9));
    std::vector<DwQOutput> outs(3);
    std::vector<int32_t> biases(3);
    for (int c = 0; c < 3; ++c) {
      for (auto& v : ws[c]) v = static_cast<int8_t>(s8(rng));
      biases[c] = static_cast<int32_t>(rng() % 20001) - 10000;
      outs[c].zero_point = u8(rng);
      outs[c].multiplier = c == 2 ? -0.004f : std::ldexp(1.f + c, -10);
      ASSERT_TRUE(dwconv3x3_vbmi_prepare(x_zp, ws[c].data(), 0, biases[c], outs[c], &chans[c]));
    }
    EXPECT_FALSE(chans[2].small) << "a negative multiplier takes the double form";
    dwconv3x3_u8s8_vbmi(p, plan, x.data(), x_zp, chans.data(), 3, y.data(), scratch.data());
    for (int c = 0; c < 3; ++c) {
      const std::vector<uint8_t> xc(x.begin() + c * in, x.begin() + (c + 1) * in);
      const std::vector<int32_t> acc = qdwconv_s32_plane_ref(p, xc, x_zp, ws[c], 0, biases[c]);
      for (int64_t i = 0; i < on; ++i)
        ASSERT_EQ(y[static_cast<size_t>(c * on + i)], qout_ref(acc[static_cast<size_t>(i)], outs[c]))
            << sp.ih << "x" << sp.iw << " plane " << c << " pixel " << i;
    }
    for (size_t i = static_cast<size_t>(3 * on); i < y.size(); ++i) ASSERT_EQ(y[i], 0xa5) << "written past the planes";
  }
  DwConvParams wide;  // stride 5 along rows: 15 * 5 + 2 > 63, no vector fits
  wide.in_h = wide.in_w = 80, wide.out_h = wide.out_w = 16, wide.kernel_h = wide.kernel_w = 3;
  wide.stride_h = wide.stride_w = 5;
  EXPECT_FALSE(dwconv3x3_vbmi_plan(wide).ok);
  const std::vector<int8_t> w(9, 100);
  DwVbmiChannel ch;
  DwQOutput o;
  EXPECT_FALSE(dwconv3x3_vbmi_prepare(10, w.data(), 3, 0, o, &ch)) << "weight zero point";
  EXPECT_FALSE(dwconv3x3_vbmi_prepare(255, w.data(), 0, 2147000000, o, &ch)) << "base near the int32 limit";
  o.kind = DwQOutKind::F32;
  EXPECT_FALSE(dwconv3x3_vbmi_prepare(10, w.data(), 0, 0, o, &ch)) << "float output";
}

}  // namespace
}  // namespace octet::kernels
