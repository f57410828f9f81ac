// qgemm_*_avx2 against its reference twin, at 0 LSB: qgemm_s32_ref<int8_t, uint8_t> + bias, then
// requantize_value (U8/S8, clamped to [lo, hi]) or float(acc) * scale + fbias (F32). Sweeps shapes
// (1..257, not multiples of the 4 x 16 tile), strides of A, B and C (the three B packing paths),
// zero points (b: 0, 128, 255; a per row: -128, 127, random), weights that saturate a plain
// vpmaddubsw (all 127, all -128, uniform int8), B all 255, every output kind, clamps, ties, non-
// finite multipliers, block decompositions, B packed in per-thread column ranges, and guard values
// around C. Random cases print their seed (set OCTET_TEST_SEED to replay another one).
#include "kernels/avx2/qgemm_avx2.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

#include "kernels/ref/qgemm_ref.h"
#include "kernels/ref/quantize_ref.h"

namespace octet::kernels {
namespace {

using Kind = QgemmOutput::Kind;

uint32_t base_seed() {
  const char* s = std::getenv("OCTET_TEST_SEED");
  return s ? static_cast<uint32_t>(std::strtoul(s, nullptr, 10)) : 20240611u;
}

struct Case {
  int64_t M = 1, N = 1, K = 1;
  std::vector<int8_t> a;      // logical [M, K]
  std::vector<uint8_t> b;     // logical [K, N]
  std::vector<int32_t> a_zp;  // empty: nullptr
  int32_t b_zp = 0;
  std::vector<int32_t> bias;  // empty: nullptr
  Kind kind = Kind::S32;
  std::vector<float> mult, scale, fbias;  // fbias empty: nullptr
  int32_t zp = 0, lo = std::numeric_limits<int32_t>::min(),
          hi = std::numeric_limits<int32_t>::max();
  int a_layout = 0;  // 0 row-major, 1 transposed, 2 padded rows
  int b_layout = 0;  // 0 row-major (b_cs = 1), 1 transposed (b_rs = 1), 2 strided both ways
  int c_layout = 0;  // 0 row-major, 1 transposed, 2 padded rows and c_cs = 2
  std::vector<int64_t> m_cuts, n_cuts;  // block boundaries inside (0, M) and (0, N)
  std::vector<int64_t> b_cuts;          // pack_b column boundaries (multiples of 16)
  std::vector<int32_t> b_zp_cuts;       // the zero point of each pack_b range after the first
                                        // (empty: b_zp for all): panels that differ in it
  // When set, only this block [m0, m1) x [n0, n1) is computed, and every other element of C must
  // keep its guard value.
  bool only_block = false;
  int64_t bm0 = 0, bm1 = 0, bn0 = 0, bn1 = 0;
};

// The reference result of element (m, n), as the output type widened to double (exact for all).
std::vector<double> reference(const Case& c) {
  QGemmParams p;
  p.M = c.M;
  p.N = c.N;
  p.K = c.K;
  p.lda = c.K;
  p.ldb = c.N;
  p.ldc = c.N;
  std::vector<int32_t> acc(static_cast<size_t>(c.M * c.N));
  std::vector<int32_t> col_zp(static_cast<size_t>(c.N), c.b_zp);  // per column, from the pack ranges
  for (size_t i = 0; i < c.b_zp_cuts.size() && i < c.b_cuts.size(); ++i)
    for (int64_t n = c.b_cuts[i]; n < (i + 1 < c.b_cuts.size() ? c.b_cuts[i + 1] : c.N); ++n) col_zp[n] = c.b_zp_cuts[i];
  const bool fits =
      qgemm_s32_ref<int8_t, uint8_t>(p, c.a.data(), c.a_zp.empty() ? nullptr : c.a_zp.data(), 1,
                                     c.b.data(), col_zp.data(), 1, acc.data());
  EXPECT_TRUE(fits);
  std::vector<double> y(acc.size());
  for (int64_t m = 0; m < c.M; ++m)
    for (int64_t n = 0; n < c.N; ++n) {
      const int64_t s = static_cast<int64_t>(acc[m * c.N + n]) + (c.bias.empty() ? 0 : c.bias[m]);
      EXPECT_TRUE(s >= INT32_MIN && s <= INT32_MAX) << "test case breaks the caller's guarantee";
      const int32_t v = static_cast<int32_t>(s);
      double out = 0;
      switch (c.kind) {
        case Kind::S32:
          out = v;
          break;
        case Kind::U8:
        case Kind::S8: {
          const int32_t qmin = c.kind == Kind::U8 ? 0 : -128, qmax = c.kind == Kind::U8 ? 255 : 127;
          const int32_t q = requantize_value(v, c.mult[m], c.zp, qmin, qmax);
          out = std::min(std::max(q, c.lo), c.hi);
          break;
        }
        case Kind::F32: {
          volatile float prod = static_cast<float>(v) * c.scale[m];  // no contraction with the add
          float f = prod;
          if (!c.fbias.empty()) f = f + c.fbias[m];
          out = f;
          break;
        }
      }
      y[m * c.N + n] = out;
    }
  return y;
}

template <class T>
double as_double(const T& v) {
  return static_cast<double>(v);
}

// Runs the kernel with the case's layouts and decomposition and compares every element of the C
// buffer: logical elements with the reference (bit for bit for floats), all others with the guard.
// The tile loops this CPU can run: AVX2 always, AVX-512 VNNI where present.
std::vector<QgemmIsa> test_isas() {
  std::vector<QgemmIsa> v = {QgemmIsa::Avx2};
  if (qgemm_isa_supported(QgemmIsa::Avx512Vnni)) v.push_back(QgemmIsa::Avx512Vnni);
  return v;
}

template <class T>
void run_typed_isa(const Case& c, const std::string& what, QgemmIsa isa) {
  SCOPED_TRACE(what + " M=" + std::to_string(c.M) + " N=" + std::to_string(c.N) +
               " K=" + std::to_string(c.K) + " isa " + qgemm_isa_name(isa));
  const int64_t M = c.M, N = c.N, K = c.K;
  // A in its storage layout.
  int64_t a_rs = K, a_cs = 1, a_size = M * K;
  if (c.a_layout == 1) {
    a_rs = 1;
    a_cs = M;
  }
  if (c.a_layout == 2) {
    a_rs = K + 5;
    a_size = M * (K + 5);
  }
  std::vector<int8_t> a_store(static_cast<size_t>(a_size), int8_t{99});
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) a_store[m * a_rs + k * a_cs] = c.a[m * K + k];
  int64_t b_rs = N, b_cs = 1, b_size = K * N;
  if (c.b_layout == 1) {
    b_rs = 1;
    b_cs = K;
  }
  if (c.b_layout == 2) {
    b_rs = 2 * N + 1;
    b_cs = 2;
    b_size = K * (2 * N + 1);
  }
  std::vector<uint8_t> b_store(static_cast<size_t>(b_size), uint8_t{77});
  for (int64_t k = 0; k < K; ++k)
    for (int64_t n = 0; n < N; ++n) b_store[k * b_rs + n * b_cs] = c.b[k * N + n];

  std::vector<uint8_t> pa(qgemm_packed_a_bytes(M, K) + 64), pb(qgemm_packed_b_bytes(K, N) + 64);
  void* pa_ptr = pa.data() + (64 - reinterpret_cast<uintptr_t>(pa.data()) % 64) % 64;
  void* pb_ptr = pb.data() + (64 - reinterpret_cast<uintptr_t>(pb.data()) % 64) % 64;
  qgemm_pack_a_s8_avx2(M, K, a_store.data(), a_rs, a_cs, c.a_zp.empty() ? nullptr : c.a_zp.data(),
                       pa_ptr, isa);
  EXPECT_LE(qgemm_packed_a_info(pa_ptr).used_bytes, qgemm_packed_a_bytes(M, K));
  std::vector<int64_t> bc = {0};
  for (int64_t x : c.b_cuts) bc.push_back(x);
  bc.push_back(N);
  for (size_t i = 0; i + 1 < bc.size(); ++i)
    qgemm_pack_b_u8_avx2(K, N, b_store.data(), b_rs, b_cs, i == 0 || i > c.b_zp_cuts.size() ? c.b_zp : c.b_zp_cuts[i - 1],
                         bc[i], bc[i + 1], pb_ptr);

  // C with a guard band of 16 elements before and after.
  int64_t c_rs = N, c_cs = 1, c_size = M * N;
  if (c.c_layout == 1) {
    c_rs = 1;
    c_cs = M;
  }
  if (c.c_layout == 2) {
    c_rs = 2 * N + 3;
    c_cs = 2;
    c_size = M * (2 * N + 3);
  }
  const int64_t guard = 16;
  const T sentinel = static_cast<T>(std::is_floating_point<T>::value ? -12345.5 : 0x5A);
  std::vector<T> cbuf(static_cast<size_t>(c_size + 2 * guard), sentinel);
  QgemmOutput out;
  out.kind = c.kind;
  out.c = cbuf.data() + guard;
  out.c_rs = c_rs;
  out.c_cs = c_cs;
  out.bias = c.bias.empty() ? nullptr : c.bias.data();
  out.multiplier = c.mult.empty() ? nullptr : c.mult.data();
  out.zero_point = c.zp;
  out.lo = c.lo;
  out.hi = c.hi;
  out.scale = c.scale.empty() ? nullptr : c.scale.data();
  out.fbias = c.fbias.empty() ? nullptr : c.fbias.data();
  std::vector<int64_t> mc = {0}, nc = {0};
  for (int64_t x : c.m_cuts) mc.push_back(x);
  for (int64_t x : c.n_cuts) nc.push_back(x);
  mc.push_back(M);
  nc.push_back(N);
  if (c.only_block) {
    qgemm_packed_avx2(M, N, K, pa_ptr, pb_ptr, out, c.bm0, c.bm1, c.bn0, c.bn1);
  } else {
    for (size_t i = 0; i + 1 < mc.size(); ++i)
      for (size_t j = 0; j + 1 < nc.size(); ++j)
        qgemm_packed_avx2(M, N, K, pa_ptr, pb_ptr, out, mc[i], mc[i + 1], nc[j], nc[j + 1]);
  }

  const std::vector<double> want = reference(c);
  std::vector<char> logical(cbuf.size(), 0);
  int failures = 0;
  for (int64_t m = 0; m < M && failures < 5; ++m)
    for (int64_t n = 0; n < N && failures < 5; ++n) {
      if (c.only_block && (m < c.bm0 || m >= c.bm1 || n < c.bn0 || n >= c.bn1)) continue;
      const int64_t i = guard + m * c_rs + n * c_cs;
      logical[i] = 1;
      const T got = cbuf[i];
      const double w = want[m * N + n];
      bool same;
      if (std::is_floating_point<T>::value) {
        const float wf = static_cast<float>(w), gf = static_cast<float>(as_double(got));
        same = std::memcmp(&wf, &gf, sizeof(float)) == 0 || (std::isnan(wf) && std::isnan(gf));
      } else {
        same = as_double(got) == w;
      }
      if (!same) {
        ++failures;
        ADD_FAILURE() << "C(" << m << "," << n << ") = " << as_double(got) << ", reference " << w;
      }
    }
  for (size_t i = 0; i < cbuf.size() && failures < 5; ++i)
    if (!logical[i] && std::memcmp(&cbuf[i], &sentinel, sizeof(T)) != 0) {
      ++failures;
      ADD_FAILURE() << "C buffer element " << static_cast<int64_t>(i) - guard
                    << " outside the block was written";
    }
}

template <class T>
void run_typed(const Case& c, const std::string& what) {
  for (QgemmIsa isa : test_isas()) run_typed_isa<T>(c, what, isa);
}

void run(const Case& c, const std::string& what) {
  switch (c.kind) {
    case Kind::S32:
      run_typed<int32_t>(c, what);
      break;
    case Kind::U8:
      run_typed<uint8_t>(c, what);
      break;
    case Kind::S8:
      run_typed<int8_t>(c, what);
      break;
    case Kind::F32:
      run_typed<float>(c, what);
      break;
  }
}

// Fills a case with random data and parameters; acc bounds stay inside int32 by construction
// (K <= 257, |bias| < 2^24).
void randomize(Case& c, std::mt19937& rng, Kind kind) {
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  c.kind = kind;
  c.a.resize(static_cast<size_t>(c.M * c.K));
  c.b.resize(static_cast<size_t>(c.K * c.N));
  const int a_mode = uni(0, 3);  // uniform int8, small (vpmaddubsw-safe), all 127, all -128
  for (auto& v : c.a)
    v = static_cast<int8_t>(a_mode == 0   ? uni(-128, 127)
                            : a_mode == 1 ? uni(-64, 64)
                            : a_mode == 2 ? 127
                                          : -128);
  const int b_mode = uni(0, 2);  // uniform, all 255, mostly 255 with zeros
  for (auto& v : c.b)
    v = static_cast<uint8_t>(b_mode == 0 ? uni(0, 255) : b_mode == 1 ? 255 : (uni(0, 3) ? 255 : 0));
  const int zb[] = {0, 128, 255, uni(0, 255)};
  c.b_zp = zb[uni(0, 3)];
  c.a_zp.clear();
  if (uni(0, 2)) {
    c.a_zp.resize(static_cast<size_t>(c.M));
    const int mode = uni(0, 3);
    for (auto& z : c.a_zp) z = mode == 0 ? -128 : mode == 1 ? 127 : mode == 2 ? 0 : uni(-128, 127);
  }
  c.bias.clear();
  if (uni(0, 1)) {
    c.bias.resize(static_cast<size_t>(c.M));
    for (auto& v : c.bias) v = uni(-(1 << 24), 1 << 24);
  }
  c.mult.assign(static_cast<size_t>(c.M), 0.f);
  c.scale.assign(static_cast<size_t>(c.M), 0.f);
  c.fbias.clear();
  for (int64_t m = 0; m < c.M; ++m) {
    // Multipliers around 1/(K*64) put the outputs across the whole 8-bit range; 2^-j gives ties.
    const float base = 1.f / static_cast<float>(64 * std::max<int64_t>(c.K, 1));
    c.mult[m] =
        uni(0, 3) == 0 ? std::ldexp(1.f, -uni(0, 12)) : base * (0.25f + uni(0, 1000) / 250.f);
    c.scale[m] =
        (uni(0, 1) ? 1.f : -1.f) * std::ldexp(1.f + uni(0, 1 << 20) / float(1 << 20), -uni(0, 20));
  }
  if (kind == Kind::F32 && uni(0, 1)) {
    c.fbias.resize(static_cast<size_t>(c.M));
    for (auto& v : c.fbias) v = static_cast<float>(uni(-100000, 100000)) / 7.f;
  }
  c.zp = kind == Kind::U8 ? uni(0, 255) : uni(-128, 127);
  c.lo = std::numeric_limits<int32_t>::min();
  c.hi = std::numeric_limits<int32_t>::max();
  if ((kind == Kind::U8 || kind == Kind::S8) && uni(0, 2) == 0) {
    const int qmin = kind == Kind::U8 ? 0 : -128, qmax = kind == Kind::U8 ? 255 : 127;
    c.lo = uni(qmin, (qmin + qmax) / 2);
    c.hi = uni(c.lo, qmax);
  }
  c.a_layout = uni(0, 2);
  c.b_layout = uni(0, 2);
  c.c_layout = uni(0, 2);
  c.m_cuts.clear();
  c.n_cuts.clear();
  c.b_cuts.clear();
  if (uni(0, 1)) {
    for (int i = 0, n = uni(1, 3); i < n && c.M > 1; ++i)
      c.m_cuts.push_back(uni(1, static_cast<int>(c.M) - 1));
    for (int i = 0, n = uni(1, 3); i < n && c.N > 1; ++i)
      c.n_cuts.push_back(uni(1, static_cast<int>(c.N) - 1));
    std::sort(c.m_cuts.begin(), c.m_cuts.end());
    std::sort(c.n_cuts.begin(), c.n_cuts.end());
    for (int64_t x = 16 * uni(1, 3); x < c.N; x += 16 * uni(1, 3)) c.b_cuts.push_back(x);
  }
  c.b_zp_cuts.clear();
  if (uni(0, 1))
    for (size_t i = 0; i < c.b_cuts.size(); ++i) c.b_zp_cuts.push_back(uni(0, 1) ? c.b_zp : uni(0, 255));
}

const int64_t kSizes[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31, 32, 33, 100, 257};

TEST(QgemmAvx2, SweptShapesAllKinds) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  const uint32_t seed = base_seed();
  std::cout << "[ seed     ] QgemmAvx2.SweptShapesAllKinds seed " << seed << "\n";
  std::mt19937 rng(seed);
  const Kind kinds[] = {Kind::S32, Kind::U8, Kind::S8, Kind::F32};
  auto pick = [&] { return kSizes[std::uniform_int_distribution<int>(0, 14)(rng)]; };
  int count = 0;
  // Every size in every role, the other two drawn at random; every kind; three rounds.
  for (int round = 0; round < 3; ++round)
    for (int role = 0; role < 3; ++role)
      for (int64_t s : kSizes)
        for (Kind kind : kinds) {
          Case c;
          c.M = role == 0 ? s : pick();
          c.N = role == 1 ? s : pick();
          c.K = role == 2 ? s : pick();
          if (c.M * c.N * c.K > 2'000'000) c.K = std::min<int64_t>(c.K, 33);
          randomize(c, rng, kind);
          run(c, "case " + std::to_string(count++) + " seed " + std::to_string(seed));
          if (HasFailure()) return;
        }
}

TEST(QgemmAvx2, SmallShapesFullCross) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  const uint32_t seed = base_seed() + 1;
  std::cout << "[ seed     ] QgemmAvx2.SmallShapesFullCross seed " << seed << "\n";
  std::mt19937 rng(seed);
  const int64_t small[] = {1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 33};
  int count = 0;
  for (int64_t M : small)
    for (int64_t N : small)
      for (int64_t K : small) {
        Case c;
        c.M = M;
        c.N = N;
        c.K = K;
        randomize(c, rng, static_cast<Kind>(count % 4));
        run(c, "case " + std::to_string(count++) + " seed " + std::to_string(seed));
        if (HasFailure()) return;
      }
}

// Weights and activations that saturate a plain vpmaddubsw (127*255*2 > 32767, -128*255*2 <
// -32768), with the extreme zero points, every output kind and every layout.
TEST(QgemmAvx2, SaturatingValuesAreExact) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  const int8_t avals[] = {127, -128};
  const int32_t azps[] = {0, -128, 127};
  const int32_t bzps[] = {0, 128, 255};
  for (int8_t av : avals)
    for (int32_t az : azps)
      for (int32_t bz : bzps)
        for (int layout = 0; layout < 3; ++layout)
          for (Kind kind : {Kind::S32, Kind::U8, Kind::S8, Kind::F32}) {
            Case c;
            c.M = 7;
            c.N = 33;
            c.K = 257;
            c.a.assign(static_cast<size_t>(c.M * c.K), av);
            c.b.assign(static_cast<size_t>(c.K * c.N), uint8_t{255});
            c.b[5] = 0;  // one different column and row
            c.a_zp.assign(static_cast<size_t>(c.M), az);
            c.b_zp = bz;
            c.kind = kind;
            c.mult.assign(static_cast<size_t>(c.M), 1.f / (257.f * 255.f));
            c.scale.assign(static_cast<size_t>(c.M), 0.001f);
            c.zp = kind == Kind::U8 ? 128 : 0;
            c.a_layout = c.b_layout = c.c_layout = layout;
            run(c, "a=" + std::to_string(av) + " a_zp=" + std::to_string(az) +
                       " b_zp=" + std::to_string(bz) + " layout " + std::to_string(layout));
            if (HasFailure()) return;
          }
}

// The largest accumulators the caller may ask for: K = 33025, |a - a_zp| = |b - b_zp| = 255.
TEST(QgemmAvx2, Int32LimitK) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  for (int sign = 0; sign < 2; ++sign) {
    Case c;
    c.M = 5;
    c.N = 17;
    c.K = kQGemmMaxSafeK;
    c.a.assign(static_cast<size_t>(c.M * c.K), sign ? int8_t{-128} : int8_t{127});
    c.a_zp.assign(static_cast<size_t>(c.M), sign ? 127 : -128);
    c.b.assign(static_cast<size_t>(c.K * c.N), uint8_t{255});
    c.b_zp = 0;
    run(c, sign ? "most negative" : "most positive");
  }
}

// K = 0: acc is the bias alone (and the zero-point terms vanish).
TEST(QgemmAvx2, EmptyK) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(base_seed() + 6);
  for (Kind kind : {Kind::S32, Kind::U8, Kind::S8, Kind::F32}) {
    Case c;
    c.M = 6;
    c.N = 21;
    c.K = 0;
    randomize(c, rng, kind);
    run(c, "K = 0");
  }
}

// Ties of the requantization (multiplier 2^-j, every acc parity), zero points at the ends, and
// non-finite multipliers (NaN, +-inf) that must follow requantize_value's own rules.
TEST(QgemmAvx2, RequantizeTiesAndNonFinite) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  const uint32_t seed = base_seed() + 2;
  std::cout << "[ seed     ] QgemmAvx2.RequantizeTiesAndNonFinite seed " << seed << "\n";
  std::mt19937 rng(seed);
  for (Kind kind : {Kind::U8, Kind::S8}) {
    Case c;
    c.M = 11;
    c.N = 40;
    c.K = 3;
    randomize(c, rng, kind);
    c.a_layout = c.b_layout = c.c_layout = 0;
    for (auto& v : c.a) v = static_cast<int8_t>(std::uniform_int_distribution<int>(-3, 3)(rng));
    for (auto& v : c.b) v = static_cast<uint8_t>(std::uniform_int_distribution<int>(0, 60)(rng));
    c.b_zp = 30;
    c.a_zp.clear();
    const float q = std::numeric_limits<float>::quiet_NaN(),
                inf = std::numeric_limits<float>::infinity();
    // 1 is the largest multiplier of the vcvtpd2dq epilogue (requant16_rn), 1.5 takes the other.
    c.mult = {0.5f, 0.25f, 0.125f, q, inf, -inf, 0.f, -0.5f, 1e30f, 1.f, 1.5f};
    c.zp = kind == Kind::U8 ? 255 : -128;
    run(c, "ties, zero point at the end");
    c.zp = kind == Kind::U8 ? 0 : 127;
    c.lo = kind == Kind::U8 ? 10 : -5;
    c.hi = kind == Kind::U8 ? 200 : 5;
    run(c, "ties, clamped");
  }
}

// Products far beyond int16 (|bias| up to 2^30, multipliers up to 1): the epilogue's saturating
// int16 packs and zero-point adds must still give requantize_value's saturation, at every zero point.
TEST(QgemmAvx2, LargeProductsSaturate) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(base_seed() + 7);
  for (Kind kind : {Kind::U8, Kind::S8})
    for (int32_t zp : {0, 1, 127, -128, 255, -1}) {
      if (kind == Kind::U8 && zp < 0) continue;
      if (kind == Kind::S8 && zp > 127) continue;
      Case c;
      c.M = 8;
      c.N = 35;
      c.K = 5;
      randomize(c, rng, kind);
      c.bias = {32000, -32000, 40000, -40000, 1 << 24, -(1 << 24), 1 << 30, -(1 << 30)};
      c.mult = {1.f, 1.f, 0.999f, 1.f, 0.5f, 1.f, 0.75f, 1.f};
      c.zp = zp;
      run(c, "zero point " + std::to_string(zp));
      if (HasFailure()) return;
    }
}

// The single-precision epilogue (requant16_small) at the edge of the accumulator bound that selects
// it (sum |a - a_zp| * max |b - b_zp| + |bias| < 1.5 * 2^23): accumulators near 12.5M, multipliers
// near 2^-16 so that results do not all saturate (zero points that keep one sign in range), exact
// ties (acc = 2^15 mod 2^16, multiplier 2^-16) in the first two rows, rows just below and at the
// bound (the latter on the double epilogue), and in the last two rows a product 2^-18 short of a
// half (143.5 - 2^-18) that a float multiply before the add would round to the tie (and then to 144).
TEST(QgemmAvx2, SmallAccumulatorEpilogueAtItsBound) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(base_seed() + 9);
  constexpr int64_t K = 386, kBound = 12582912, kSum = 127 * 255 * K;  // kSum = 12501210
  constexpr int64_t kNear = 12539221;  // * 3 * 2^-18 = 143.5 - 2^-18
  const float m16 = std::ldexp(1.f, -16);
  auto tie_bias = [](int64_t s) {  // b with s + b = 2^15 mod 2^16, |b| <= 2^15
    const int64_t t = ((32768 - s) % 65536 + 65536) % 65536;
    return static_cast<int32_t>(t > 32768 ? t - 65536 : t);
  };
  for (Kind kind : {Kind::U8, Kind::S8})
    for (int32_t b_zp : {0, 255})
      for (int side = 0; side < 2; ++side) {  // zero points keeping the positive, then the negative rows in range
        Case c;
        c.M = 8;
        c.N = 37;
        c.K = K;
        c.kind = kind;
        c.b_zp = b_zp;
        const int8_t row_a[] = {127, -127, 127, -127, 127, -127, 127, -127};
        c.a.resize(static_cast<size_t>(c.M * K));
        for (int64_t m = 0; m < c.M; ++m)
          for (int64_t k = 0; k < K; ++k) c.a[static_cast<size_t>(m * K + k)] = row_a[m];
        // |b - b_zp| = 255 but for three random entries per column; column 0 keeps them all.
        c.b.assign(static_cast<size_t>(K * c.N), static_cast<uint8_t>(255 - b_zp));
        for (int64_t n = 1; n < c.N; ++n)
          for (int i = 0; i < 3; ++i) {
            const int64_t k = std::uniform_int_distribution<int64_t>(0, K - 1)(rng);
            c.b[static_cast<size_t>(k * c.N + n)] =
                static_cast<uint8_t>(std::uniform_int_distribution<int>(0, 255)(rng));
          }
        // Column 0's acc is +-kSum plus the bias: a tie of 2^-16 in rows 0 and 1.
        const int64_t s0 = (b_zp == 0 ? 1 : -1) * kSum;
        c.bias = {tie_bias(s0),
                  tie_bias(-s0),
                  static_cast<int32_t>(kBound - 1 - kSum),
                  static_cast<int32_t>(-(kBound - 1 - kSum)),
                  static_cast<int32_t>(kBound - kSum),
                  static_cast<int32_t>(-(kBound - kSum)),
                  static_cast<int32_t>(s0 > 0 ? kNear - kSum : kSum - kNear),
                  static_cast<int32_t>(s0 > 0 ? kSum - kNear : kNear - kSum)};
        c.mult = {m16, m16, m16 * 0.75f, m16 * 0.75f, m16 * 0.7f, m16 * 0.7f, m16 * 0.75f, m16 * 0.75f};
        c.zp = kind == Kind::U8 ? (side ? 230 : 40) : (side ? 20 : -20);
        run(c, "b_zp " + std::to_string(b_zp) + " zero point " + std::to_string(c.zp));
        if (HasFailure()) return;
      }
}

// Any block decomposition (unaligned m0/n0 included) and any per-thread B packing give the same C.
TEST(QgemmAvx2, BlockDecompositions) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  const uint32_t seed = base_seed() + 3;
  std::cout << "[ seed     ] QgemmAvx2.BlockDecompositions seed " << seed << "\n";
  std::mt19937 rng(seed);
  for (int i = 0; i < 40; ++i) {
    Case c;
    c.M = std::uniform_int_distribution<int>(1, 70)(rng);
    c.N = std::uniform_int_distribution<int>(1, 150)(rng);
    c.K = std::uniform_int_distribution<int>(1, 70)(rng);
    randomize(c, rng, static_cast<Kind>(i % 4));
    c.m_cuts.clear();
    c.n_cuts.clear();
    c.b_cuts.clear();
    for (int64_t x = 1; x < c.M; x += std::uniform_int_distribution<int>(1, 9)(rng))
      c.m_cuts.push_back(x);
    for (int64_t x = 1; x < c.N; x += std::uniform_int_distribution<int>(1, 23)(rng))
      c.n_cuts.push_back(x);
    for (int64_t x = 16; x < c.N; x += 16) c.b_cuts.push_back(x);
    run(c, "decomposition " + std::to_string(i) + " seed " + std::to_string(seed));
    if (HasFailure()) return;
  }
}

// A single block with unaligned corners writes exactly its own elements (the tile around it is
// computed, but its other rows and columns must not be stored).
TEST(QgemmAvx2, WritesOnlyItsBlock) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  const uint32_t seed = base_seed() + 5;
  std::cout << "[ seed     ] QgemmAvx2.WritesOnlyItsBlock seed " << seed << "\n";
  std::mt19937 rng(seed);
  auto uni = [&](int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng);
  };
  for (int i = 0; i < 60; ++i) {
    Case c;
    c.M = uni(1, 40);
    c.N = uni(1, 70);
    c.K = uni(1, 40);
    randomize(c, rng, static_cast<Kind>(i % 4));
    c.only_block = true;
    c.bm0 = uni(0, c.M - 1);
    c.bm1 = uni(c.bm0 + 1, c.M);
    c.bn0 = uni(0, c.N - 1);
    c.bn1 = uni(c.bn0 + 1, c.N);
    run(c, "block " + std::to_string(i) + " seed " + std::to_string(seed));
    if (HasFailure()) return;
  }
}

// Mismatched sizes and misaligned pack_b ranges stop the program with a message instead of reading
// out of bounds.
TEST(QgemmAvx2DeathTest, ChecksPackedHeaderAndRanges) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  std::vector<int8_t> a(8 * 8, 1);
  std::vector<uint8_t> b(8 * 32, 1), pa(qgemm_packed_a_bytes(8, 8)),
      pb(qgemm_packed_b_bytes(8, 32));
  qgemm_pack_a_s8_avx2(8, 8, a.data(), 8, 1, nullptr, pa.data());
  qgemm_pack_b_u8_avx2(8, 32, b.data(), 32, 1, 0, 0, 32, pb.data());
  std::vector<int32_t> c(8 * 32);
  QgemmOutput out;
  out.c = c.data();
  out.c_rs = 32;
  EXPECT_DEATH(qgemm_packed_avx2(8, 32, 9, pa.data(), pb.data(), out, 0, 8, 0, 32), "M and K");
  EXPECT_DEATH(qgemm_pack_b_u8_avx2(8, 32, b.data(), 32, 1, 0, 8, 32, pb.data()), "multiple");
  EXPECT_DEATH(qgemm_packed_avx2(8, 32, 8, pa.data(), pb.data(), out, 0, 9, 0, 32), "inside");
}

// The pack-time split: weights with |a| <= 64 need no residual; per-row-quantized N(0,1) weights
// need a few (printed: this is the fraction of work the exact path adds on realistic weights).
TEST(QgemmAvx2, ResidualSplitCoverage) {
  const int64_t M = 64, K = 576;
  std::mt19937 rng(base_seed() + 4);
  std::vector<int8_t> small(M * K), real(M * K);
  std::normal_distribution<float> g(0.f, 1.f);
  for (int64_t m = 0; m < M; ++m) {
    std::vector<float> w(K);
    float mx = 0;
    for (auto& v : w) {
      v = g(rng);
      mx = std::max(mx, std::fabs(v));
    }
    for (int64_t k = 0; k < K; ++k) {
      real[m * K + k] = static_cast<int8_t>(std::nearbyint(w[k] / (mx / 127.f)));
      small[m * K + k] = static_cast<int8_t>(real[m * K + k] / 2);
    }
  }
  std::vector<uint8_t> pa(qgemm_packed_a_bytes(M, K));
  qgemm_pack_a_s8_avx2(M, K, small.data(), K, 1, nullptr, pa.data(), QgemmIsa::Avx2);
  QgemmPackedAInfo info = qgemm_packed_a_info(pa.data());
  EXPECT_EQ(info.clean_rows, M);
  EXPECT_EQ(info.residual_quads, 0);
  qgemm_pack_a_s8_avx2(M, K, real.data(), K, 1, nullptr, pa.data(), QgemmIsa::Avx2);
  info = qgemm_packed_a_info(pa.data());
  std::cout << "[ info     ] N(0,1) weights, M=" << M << " K=" << K << ": clean rows "
            << info.clean_rows << "/" << M << ", residual quads " << info.residual_quads << "/"
            << info.total_quads << "\n";
  EXPECT_GT(info.residual_quads, 0);
  EXPECT_LT(info.residual_quads * 10, info.total_quads);  // < 10% extra work
  // The VNNI loop needs no split: the same weights pack whole.
  qgemm_pack_a_s8_avx2(M, K, real.data(), K, 1, nullptr, pa.data(), QgemmIsa::Avx512Vnni);
  info = qgemm_packed_a_info(pa.data());
  EXPECT_EQ(info.clean_rows, M);
  EXPECT_EQ(info.residual_quads, 0);
}

// qgemm_pair_order: a permutation; the identity when it cannot do better; on weights whose large
// values sit in channels 0 and 1 of every row (the identity pairs them: every quad 0 unsafe) an
// order with no residual entry at all; and it never returns more residual entries than the
// identity has, on random per-row-quantized weights (its own count checked against pack-A's).
TEST(QgemmAvx2, PairOrderLowersResiduals) {
  auto residuals = [](int64_t M, int64_t K, const std::vector<int8_t>& a) {
    std::vector<uint8_t> pa(qgemm_packed_a_bytes(M, K));
    qgemm_pack_a_s8_avx2(M, K, a.data(), K, 1, nullptr, pa.data(), QgemmIsa::Avx2);
    return qgemm_packed_a_info(pa.data()).residual_quads;
  };
  auto permuted = [](int64_t M, int64_t C, const std::vector<int8_t>& a, const std::vector<int32_t>& order) {
    std::vector<int8_t> p(a.size());
    for (int64_t m = 0; m < M; ++m)
      for (int64_t c = 0; c < C; ++c) p[static_cast<size_t>(m * C + c)] = a[static_cast<size_t>(m * C + order[c])];
    return p;
  };
  auto is_permutation = [](std::vector<int32_t> o) {
    std::sort(o.begin(), o.end());
    for (size_t i = 0; i < o.size(); ++i)
      if (o[i] != static_cast<int32_t>(i)) return false;
    return true;
  };
  {  // channels 0 and 1 large and of one sign in every row, the others small
    const int64_t M = 12, C = 16;
    std::vector<int8_t> a(static_cast<size_t>(M * C), 1);  // 127 + 1 is still safe
    for (int64_t m = 0; m < M; ++m) {
      a[static_cast<size_t>(m * C)] = static_cast<int8_t>(m % 2 ? -120 : 100);
      a[static_cast<size_t>(m * C + 1)] = static_cast<int8_t>(m % 2 ? -90 : 127);
    }
    std::vector<int32_t> order(C);
    EXPECT_EQ(residuals(M, C, a), M);
    EXPECT_EQ(qgemm_pair_order(M, 1, C, a.data(), C, 0, 1, order.data()), 0);
    EXPECT_TRUE(is_permutation(order));
    EXPECT_EQ(residuals(M, C, permuted(M, C, a, order)), 0);
  }
  {  // nothing to improve: the identity
    std::vector<int8_t> a(8 * 12, 60);
    std::vector<int32_t> order(12);
    EXPECT_EQ(qgemm_pair_order(8, 1, 12, a.data(), 12, 0, 1, order.data()), 0);
    for (int32_t c = 0; c < 12; ++c) EXPECT_EQ(order[static_cast<size_t>(c)], c);
  }
  std::mt19937 rng(base_seed() + 10);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (int64_t C : {5, 16, 23, 64, 96}) {  // random N(0,1) rows quantized to [-127, 127]
    const int64_t M = 40;
    std::vector<int8_t> a(static_cast<size_t>(M * C));
    for (int64_t m = 0; m < M; ++m) {
      std::vector<float> row(static_cast<size_t>(C));
      float mx = 0;
      for (auto& v : row) mx = std::max(mx, std::abs(v = nd(rng)));
      for (int64_t c = 0; c < C; ++c)
        a[static_cast<size_t>(m * C + c)] = static_cast<int8_t>(std::lround(row[static_cast<size_t>(c)] / mx * 127));
    }
    std::vector<int32_t> order(static_cast<size_t>(C));
    const int64_t n = qgemm_pair_order(M, 1, C, a.data(), C, 0, 1, order.data());
    EXPECT_TRUE(is_permutation(order)) << "C = " << C;
    EXPECT_EQ(n, residuals(M, C, permuted(M, C, a, order))) << "C = " << C;
    EXPECT_LE(n, residuals(M, C, a)) << "C = " << C;
    std::cout << "[ pairs    ] C = " << C << ": residual quads " << residuals(M, C, a) << " -> " << n << "\n";
  }
}

// pack-B's row map: the same panels as packing the rows permuted beforehand, on each packing path
// (16 full columns with b_cs == 1, a transposed operand, a partial panel).
TEST(QgemmAvx2, PackBRowMap) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(base_seed() + 11);
  const int64_t K = 22, N = 37;
  std::vector<uint8_t> b(static_cast<size_t>(K * N));
  for (auto& v : b) v = static_cast<uint8_t>(rng());
  std::vector<int32_t> rows(static_cast<size_t>(K));
  for (int64_t k = 0; k < K; ++k) rows[static_cast<size_t>(k)] = static_cast<int32_t>(k);
  std::shuffle(rows.begin(), rows.end(), rng);
  for (int layout = 0; layout < 2; ++layout) {  // 0: b(k, n) at k * N + n; 1: at n * K + k
    const int64_t b_rs = layout ? 1 : N, b_cs = layout ? K : 1;
    std::vector<uint8_t> bp(b.size());
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n)
        bp[static_cast<size_t>(k * b_rs + n * b_cs)] = b[static_cast<size_t>(rows[static_cast<size_t>(k)] * b_rs + n * b_cs)];
    std::vector<uint8_t> p1(qgemm_packed_b_bytes(K, N)), p2(p1.size());
    qgemm_pack_b_u8_avx2(K, N, b.data(), b_rs, b_cs, 7, 0, N, p1.data(), rows.data());
    qgemm_pack_b_u8_avx2(K, N, bp.data(), b_rs, b_cs, 7, 0, N, p2.data());
    EXPECT_EQ(p1, p2) << "layout " << layout;
  }
}

}  // namespace
}  // namespace octet::kernels
