// sgemm_avx2 (packed FP32 GEMM, AVX2+FMA) against its reference twin matmul_ref: awkward shapes,
// strided / transposed A, B and C, bias and clamp epilogues, the N == 1 GEMV path, block
// decompositions (bit-identical to one whole call), and no write outside the requested C block.
//
// Tolerance. The kernel sums in a different order and with FMA, so it is not bit-identical to
// matmul_ref. Both are float sums of K products, for which the classical bound
// |fl(sum) - sum| <= gamma_K * sum_k |a_k b_k|, gamma_K = K u / (1 - K u) ~ K u, u = 2^-24, holds
// (the kernel's FMA rounds once per step, matmul_ref also rounds each product: (K + 1) u; blocked
// sums have a smaller constant); each bias addition adds one rounding. The bound has to be
// relative to sum |a b|, not to |C|: with cancellation |C| can be ~0 while the rounding errors are
// not. So each element is checked against the exact value (computed in double: the float
// products are exact there and the sum is good to ~K 2^-53) with
//   tol = (K + 4) * 2^-24 * (sum_k |a(m,k) b(k,n)| + |bias_row| + |bias_col|)
// and against matmul_ref's float result with 2 tol (both lie within tol of the exact value).
// Clamping is 1-Lipschitz, so it cannot enlarge an error. A dropped or doubled product (|a b| ~
// sum|a b| / K) exceeds tol for every K here (K^2 < 2^24 / 2).
#include "kernels/avx2/sgemm_avx2.h"
#include "kernels/avx512/sgemm_narrow_zmm.h"
#include "kernels/avx512/sgemm_rows_zmm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/ref/gemm_ref.h"

namespace octet::kernels {
namespace {

constexpr uint32_t kBaseSeed = 20240611u;
constexpr float kSentinel = -12345.678f;

#define SKIP_WITHOUT_AVX2()                                                \
  do {                                                                     \
    if (!sgemm_avx2_supported()) GTEST_SKIP() << "CPU lacks AVX2 + FMA"; \
  } while (0)

// Strided view of a matrix: element (i, j) at offset i * rs + j * cs.
struct Layout {
  int64_t rs, cs;
  std::string name;
};

int64_t extent(int64_t rows, int64_t cols, const Layout& l) {
  if (rows == 0 || cols == 0) return 0;
  return (rows - 1) * l.rs + (cols - 1) * l.cs + 1;
}

// The layouts the engine and its callers produce: dense, padded leading dimension, transposed
// (plain and padded), and a general stride that matches no fast path.
std::vector<Layout> layouts(int64_t rows, int64_t cols) {
  return {{cols, 1, "row-major"},
          {cols + 3, 1, "row-major ld+3"},
          {1, rows, "transposed"},
          {1, rows + 5, "transposed ld+5"},
          {2, 2 * rows + 1, "general strides"}};
}

struct Epi {
  bool bias_row = false, bias_col = false;
  float lo = -INFINITY, hi = INFINITY;
  std::string name;
};

std::vector<Epi> epilogues() {
  return {{false, false, -INFINITY, INFINITY, "none"},
          {true, false, -INFINITY, INFINITY, "bias_row"},
          {false, true, 0.f, INFINITY, "bias_col+relu"},
          {true, true, -0.75f, 0.5f, "both biases+clamp"}};
}

struct Case {
  int64_t M, N, K;
  Layout la, lb, lc;
  Epi epi;
  uint32_t seed;
  std::string str() const {
    char buf[256];
    std::snprintf(buf, sizeof buf, "M=%ld N=%ld K=%ld A:%s B:%s C:%s epilogue:%s seed=%u", (long)M,
                  (long)N, (long)K, la.name.c_str(), lb.name.c_str(), lc.name.c_str(),
                  epi.name.c_str(), seed);
    return buf;
  }
};

// Operands in their strided buffers, the packed forms, and the expected result.
struct Problem {
  Case cs;
  std::vector<float> a, b, bias_row, bias_col;
  std::vector<float> pa, pb;
  std::vector<double> exact, mag;  // epilogue applied to exact; magnitude for the tolerance
  std::vector<float> ref;          // matmul_ref + epilogue, in float
  SgemmEpilogue ep;
};

float apply_epi_f(float v, const Problem& p, int64_t m, int64_t n) {
  if (p.ep.bias_row) v += p.ep.bias_row[m];
  if (p.ep.bias_col) v += p.ep.bias_col[n];
  return std::min(p.ep.hi, std::max(p.ep.lo, v));
}

Problem make_problem(const Case& c) {
  Problem p;
  p.cs = c;
  const int64_t M = c.M, N = c.N, K = c.K;
  std::mt19937 rng(c.seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  p.a.assign(static_cast<size_t>(extent(M, K, c.la)), std::nanf(""));  // holes are NaN: never read
  p.b.assign(static_cast<size_t>(extent(K, N, c.lb)), std::nanf(""));
  std::vector<float> ad(M * K), bd(K * N);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t k = 0; k < K; ++k) p.a[i * c.la.rs + k * c.la.cs] = ad[i * K + k] = dist(rng);
  for (int64_t k = 0; k < K; ++k)
    for (int64_t j = 0; j < N; ++j) p.b[k * c.lb.rs + j * c.lb.cs] = bd[k * N + j] = dist(rng);
  if (c.epi.bias_row) {
    for (int64_t i = 0; i < M; ++i) p.bias_row.push_back(dist(rng));
    p.ep.bias_row = p.bias_row.data();
  }
  if (c.epi.bias_col) {
    for (int64_t j = 0; j < N; ++j) p.bias_col.push_back(dist(rng));
    p.ep.bias_col = p.bias_col.data();
  }
  p.ep.lo = c.epi.lo;
  p.ep.hi = c.epi.hi;

  // The twin in float, and the exact products and magnitudes in double.
  std::vector<float> yf(M * N);
  matmul_ref(M, N, K, ad.data(), bd.data(), yf.data());
  std::vector<double> a64(ad.begin(), ad.end()), b64(bd.begin(), bd.end()), y64(M * N);
  matmul_ref(M, N, K, a64.data(), b64.data(), y64.data());
  for (double& v : a64) v = std::fabs(v);
  for (double& v : b64) v = std::fabs(v);
  p.mag.resize(M * N);
  matmul_ref(M, N, K, a64.data(), b64.data(), p.mag.data());
  p.exact.resize(M * N);
  p.ref.resize(M * N);
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double v = y64[i * N + j];
      if (p.ep.bias_row) v += p.ep.bias_row[i], p.mag[i * N + j] += std::fabs(p.ep.bias_row[i]);
      if (p.ep.bias_col) v += p.ep.bias_col[j], p.mag[i * N + j] += std::fabs(p.ep.bias_col[j]);
      p.exact[i * N + j] = std::min<double>(p.ep.hi, std::max<double>(p.ep.lo, v));
      p.ref[i * N + j] = apply_epi_f(yf[i * N + j], p, i, j);
    }

  // +1: packed buffers deliberately not 32-byte aligned.
  p.pa.assign(sgemm_packed_a_floats(M, K) + 1, 0.f);
  p.pb.assign(sgemm_packed_b_floats(K, N) + 1, 0.f);
  sgemm_pack_a_avx2(M, K, p.a.data(), c.la.rs, c.la.cs, p.pa.data() + 1);
  sgemm_pack_b_avx2(K, N, p.b.data(), c.lb.rs, c.lb.cs, 0, N, p.pb.data() + 1);
  return p;
}

// C buffer with a guard band of sentinels on both sides of the layout's extent.
struct CBuffer {
  int64_t guard = 37;
  std::vector<float> buf;
  float* c() { return buf.data() + guard; }
  explicit CBuffer(int64_t ext) : buf(static_cast<size_t>(ext + 2 * guard), kSentinel) {}
};

void run_block(Problem& p, float* c, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  const Case& k = p.cs;
  sgemm_packed_avx2(k.M, k.N, k.K, p.pa.data() + 1, p.pb.data() + 1, c, k.lc.rs, k.lc.cs, p.ep,
                    m0, m1, n0, n1);
}

// Every element of block [m0,m1) x [n0,n1) within tolerance; every other float of the buffer
// (holes of a strided layout, the rest of C, the guards) still the sentinel.
::testing::AssertionResult check_block(const Problem& p, const CBuffer& cb, int64_t m0, int64_t m1,
                                       int64_t n0, int64_t n1) {
  const Case& k = p.cs;
  std::vector<char> inside(cb.buf.size(), 0);
  const double u = std::ldexp(1.0, -24);
  for (int64_t i = m0; i < m1; ++i)
    for (int64_t j = n0; j < n1; ++j) {
      const int64_t off = cb.guard + i * k.lc.rs + j * k.lc.cs;
      inside[off] = 1;
      const float got = cb.buf[off];
      const double tol = (k.K + 4) * u * p.mag[i * k.N + j];
      const double want = p.exact[i * k.N + j];
      const float twin = p.ref[i * k.N + j];
      const bool near_exact = std::fabs(got - want) <= tol;  // false for NaN
      const bool near_twin = std::fabs(static_cast<double>(got) - twin) <= 2 * tol;
      if (!near_exact || !near_twin)
        return ::testing::AssertionFailure()
               << k.str() << ": C(" << i << "," << j << ") = " << got << ", exact " << want
               << ", matmul_ref " << twin << ", tolerance " << tol;
    }
  for (size_t off = 0; off < cb.buf.size(); ++off)
    if (!inside[off] && std::memcmp(&cb.buf[off], &kSentinel, sizeof(float)) != 0)
      return ::testing::AssertionFailure()
             << k.str() << ": block [" << m0 << "," << m1 << ")x[" << n0 << "," << n1
             << ") wrote outside itself, at buffer offset " << off - cb.guard;
  return ::testing::AssertionSuccess();
}

void check_whole(const Case& c) {
  Problem p = make_problem(c);
  CBuffer cb(extent(c.M, c.N, c.lc));
  run_block(p, cb.c(), 0, c.M, 0, c.N);
  ASSERT_TRUE(check_block(p, cb, 0, c.M, 0, c.N));
}

TEST(SgemmAvx2, ShapeSweepAgainstReference) {
  SKIP_WITHOUT_AVX2();
  std::printf("SgemmAvx2 seed base %u\n", kBaseSeed);
  const std::vector<int64_t> sizes = {1, 5, 6, 7, 15, 16, 17, 33, 100, 257};
  uint32_t idx = 0;
  for (int64_t M : sizes)
    for (int64_t N : sizes)
      for (int64_t K : sizes) {
        // Rotate layouts and epilogues over the sweep so that every shape class meets each.
        const auto la = layouts(M, K), lb = layouts(K, N), lc = layouts(M, N);
        const auto ep = epilogues();
        Case c{M, N, K, la[idx % la.size()], lb[(idx / 5) % lb.size()],
               lc[(idx / 25 + idx) % lc.size()], ep[(idx / 3) % ep.size()], kBaseSeed + idx};
        ++idx;
        check_whole(c);
        if (::testing::Test::HasFatalFailure()) return;
      }
}

TEST(SgemmAvx2, EveryLayoutAndEpilogue) {
  SKIP_WITHOUT_AVX2();
  std::printf("SgemmAvx2 seed base %u\n", kBaseSeed + 10000);
  uint32_t idx = 0;
  for (auto [M, N, K] : {std::array<int64_t, 3>{17, 33, 7}, {6, 16, 100}, {13, 40, 1}}) {
    for (const Layout& la : layouts(M, K))
      for (const Layout& lb : layouts(K, N))
        for (const Layout& lc : layouts(M, N))
          for (const Epi& e : epilogues()) {
            check_whole({M, N, K, la, lb, lc, e, kBaseSeed + 10000 + idx++});
            if (::testing::Test::HasFatalFailure()) return;
          }
  }
}

// K past the K block size (kSgemmKC): with rows of C contiguous the partial sums go through C
// between K blocks (full tiles and edge tiles); other C layouts run K in one long block.
TEST(SgemmAvx2, LargeKBlocks) {
  SKIP_WITHOUT_AVX2();
  std::printf("SgemmAvx2 seed base %u\n", kBaseSeed + 20000);
  uint32_t idx = 0;
  for (int64_t K : std::array<int64_t, 4>{kSgemmKC + kSgemmKC / 2, 2 * kSgemmKC + 1, 1031, 2053})
    for (auto [M, N] : {std::array<int64_t, 2>{37, 50}, {12, 32}, {1, 17}}) {
      const auto la = layouts(M, K), lb = layouts(K, N), lc = layouts(M, N);
      for (size_t i = 0; i < lc.size(); ++i) {
        check_whole({M, N, K, la[idx % la.size()], lb[idx % lb.size()], lc[i],
                     epilogues()[idx % 4], kBaseSeed + 20000 + idx});
        ++idx;
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
}

// N == 1 runs the GEMV path: M around multiples of 6 and of 8 panels (48 rows), K across the K
// blocking threshold, strided b and c.
TEST(SgemmAvx2, GemvNEquals1) {
  SKIP_WITHOUT_AVX2();
  std::printf("SgemmAvx2 seed base %u\n", kBaseSeed + 30000);
  uint32_t idx = 0;
  for (int64_t M : {1, 5, 6, 7, 23, 47, 48, 49, 100, 257})
    for (int64_t K : {1, 2, 3, 4, 5, 7, 8, 33, 100, 257, 1027}) {
      const Layout lb = idx % 2 ? Layout{1, 1, "column"} : Layout{3, 1, "column stride 3"};
      // c_cs only selects K blocking when N == 1: 1 (blocked, as convolution) or 7 (not, as MatMul)
      const Layout lc = idx % 3 == 0   ? Layout{1, 1, "column"}
                        : idx % 3 == 1 ? Layout{2, 1, "column stride 2"}
                                       : Layout{1, 7, "column, c_cs 7"};
      const auto la = layouts(M, K);
      check_whole({M, 1, K, la[idx % la.size()], lb, lc, epilogues()[idx % 4],
                   kBaseSeed + 30000 + idx});
      ++idx;
      if (::testing::Test::HasFatalFailure()) return;
    }
}

// Computing C in blocks (any [m0,m1) x [n0,n1) split, any order) equals one whole call bit for
// bit, packing B by column ranges equals packing it whole, and a lone block writes only itself.
TEST(SgemmAvx2, BlockDecompositionIsBitExact) {
  SKIP_WITHOUT_AVX2();
  const uint32_t seed = kBaseSeed + 40000;
  std::printf("SgemmAvx2 seed %u\n", seed);
  std::mt19937 rng(seed);
  uint32_t idx = 0;
  for (auto [M, N, K] : {std::array<int64_t, 3>{100, 257, 33}, {257, 100, 600}, {50, 1, 300},
                         {31, 47, 1}, {6, 16, 1031}}) {
    for (const Layout& lc : layouts(M, N)) {
      const auto la = layouts(M, K), lb = layouts(K, N);
      Case c{M, N, K, la[idx % la.size()], lb[idx % lb.size()], lc, epilogues()[idx % 4],
             seed + idx};
      ++idx;
      SCOPED_TRACE(c.str());
      Problem p = make_problem(c);

      // B packed in column ranges split at multiples of kSgemmNR, in reverse order.
      if (N > 1) {
        std::vector<float> pb2(p.pb.size(), -1.f);
        std::vector<int64_t> cuts = {0, N};
        for (int64_t q = kSgemmNR; q < N; q += kSgemmNR)
          if (rng() % 2) cuts.push_back(q);
        std::sort(cuts.begin(), cuts.end());
        for (size_t i = cuts.size() - 1; i > 0; --i)
          sgemm_pack_b_avx2(K, N, p.b.data(), c.lb.rs, c.lb.cs, cuts[i - 1], cuts[i],
                            pb2.data() + 1);
        ASSERT_EQ(0, std::memcmp(pb2.data() + 1, p.pb.data() + 1,
                                 sgemm_packed_b_floats(K, N) * sizeof(float)));
      }

      const int64_t ext = extent(M, N, c.lc);
      CBuffer whole(ext);
      run_block(p, whole.c(), 0, M, 0, N);
      ASSERT_TRUE(check_block(p, whole, 0, M, 0, N));

      for (int trial = 0; trial < 3; ++trial) {
        std::vector<int64_t> mc = {0, M}, nc = {0, N};
        for (int64_t q = kSgemmMR; q < M; q += kSgemmMR)
          if (rng() % 3 == 0) mc.push_back(q);
        for (int64_t q = kSgemmNR; q < N; q += kSgemmNR)
          if (rng() % 3 == 0) nc.push_back(q);
        std::sort(mc.begin(), mc.end());
        std::sort(nc.begin(), nc.end());
        std::vector<std::array<int64_t, 4>> blocks;
        for (size_t i = 0; i + 1 < mc.size(); ++i)
          for (size_t j = 0; j + 1 < nc.size(); ++j)
            blocks.push_back({mc[i], mc[i + 1], nc[j], nc[j + 1]});
        std::shuffle(blocks.begin(), blocks.end(), rng);
        CBuffer split(ext);
        for (const auto& bl : blocks) run_block(p, split.c(), bl[0], bl[1], bl[2], bl[3]);
        ASSERT_EQ(0, std::memcmp(split.buf.data(), whole.buf.data(),
                                 split.buf.size() * sizeof(float)))
            << "trial " << trial << ": " << blocks.size() << " blocks differ from the whole call";

        // One block alone: only its elements change, and they equal the whole call's.
        const auto& bl = blocks[rng() % blocks.size()];
        CBuffer lone(ext);
        run_block(p, lone.c(), bl[0], bl[1], bl[2], bl[3]);
        ASSERT_TRUE(check_block(p, lone, bl[0], bl[1], bl[2], bl[3]));
        for (int64_t i = bl[0]; i < bl[1]; ++i)
          for (int64_t j = bl[2]; j < bl[3]; ++j) {
            const int64_t off = whole.guard + i * lc.rs + j * lc.cs;
            ASSERT_EQ(0, std::memcmp(&lone.buf[off], &whole.buf[off], sizeof(float)))
                << "C(" << i << "," << j << ") of a lone block differs from the whole call";
          }
      }
    }
  }
}

// Splitting the columns into separate problems (each chunk packed as its own B with its own N,
// chunks of one column going through the GEMV path) gives the same bits as one call: what an
// engine splitting N across threads relies on. Both C layouts the engine uses, K below and above
// the K blocking threshold.
TEST(SgemmAvx2, ColumnChunksAndGemvAreBitExact) {
  SKIP_WITHOUT_AVX2();
  const uint32_t seed = kBaseSeed + 50000;
  std::printf("SgemmAvx2 seed %u\n", seed);
  std::mt19937 rng(seed);
  uint32_t idx = 0;
  for (auto [M, N, K] : {std::array<int64_t, 3>{53, 37, 7}, {100, 21, 300}, {50, 19, 1031},
                         {13, 5, 2}}) {
    const auto lcs = layouts(M, N);
    for (const Layout& lc : {lcs[0], lcs[2]}) {  // row-major (convolution), transposed (MatMul)
      const auto lb = layouts(K, N);
      Case c{M, N, K, layouts(M, K)[0], lb[idx % lb.size()], lc, epilogues()[idx % 4], seed + idx};
      ++idx;
      SCOPED_TRACE(c.str());
      Problem p = make_problem(c);
      const int64_t ext = extent(M, N, lc);
      CBuffer whole(ext), chunked(ext);
      run_block(p, whole.c(), 0, M, 0, N);
      ASSERT_TRUE(check_block(p, whole, 0, M, 0, N));
      // Chunks of 1 to 18 columns, each an independent problem over columns [j0, j0 + n).
      for (int64_t j0 = 0, n = 0; j0 < N; j0 += n) {
        n = std::min<int64_t>(N - j0, rng() % 3 == 0 ? 1 : 1 + rng() % 18);
        std::vector<float> pb(sgemm_packed_b_floats(K, n));
        sgemm_pack_b_avx2(K, n, p.b.data() + j0 * c.lb.cs, c.lb.rs, c.lb.cs, 0, n, pb.data());
        SgemmEpilogue ep = p.ep;
        if (ep.bias_col) ep.bias_col += j0;
        sgemm_packed_avx2(M, n, K, p.pa.data() + 1, pb.data(), chunked.c() + j0 * lc.cs, lc.rs,
                          lc.cs, ep, 0, M, 0, n);
      }
      ASSERT_EQ(0, std::memcmp(chunked.buf.data(), whole.buf.data(),
                               chunked.buf.size() * sizeof(float)))
          << "column chunks differ from the whole call";
    }
  }
}

// The packed layouts are the documented ones, padding zeros included, from every source layout
// (each takes its own packing path).
TEST(SgemmAvx2, PackedLayoutsAsDocumented) {
  SKIP_WITHOUT_AVX2();
  for (auto [M, N, K] : {std::array<int64_t, 3>{8, 18, 3}, {13, 37, 21}}) {
    ASSERT_EQ(sgemm_packed_a_floats(M, K), static_cast<size_t>((M + 5) / 6 * 6 * K));
    ASSERT_EQ(sgemm_packed_b_floats(K, N), static_cast<size_t>((N + 15) / 16 * 16 * K));
    const auto value = [](int64_t i, int64_t j) { return static_cast<float>(1000 * i + j + 1); };
    for (const Layout& la : layouts(M, K)) {
      std::vector<float> a(extent(M, K, la), std::nanf(""));
      for (int64_t m = 0; m < M; ++m)
        for (int64_t k = 0; k < K; ++k) a[m * la.rs + k * la.cs] = value(m, k);
      std::vector<float> pa(sgemm_packed_a_floats(M, K), -1.f);
      sgemm_pack_a_avx2(M, K, a.data(), la.rs, la.cs, pa.data());
      for (int64_t p = 0; p < (M + 5) / 6; ++p)
        for (int64_t k = 0; k < K; ++k)
          for (int64_t r = 0; r < 6; ++r) {
            const int64_t m = 6 * p + r;
            ASSERT_EQ(pa[p * 6 * K + k * 6 + r], m < M ? value(m, k) : 0.f)
                << "A " << la.name << " panel " << p << " k " << k << " r " << r;
          }
    }
    for (const Layout& lb : layouts(K, N)) {
      std::vector<float> b(extent(K, N, lb), std::nanf(""));
      for (int64_t k = 0; k < K; ++k)
        for (int64_t n = 0; n < N; ++n) b[k * lb.rs + n * lb.cs] = value(k, n);
      std::vector<float> pb(sgemm_packed_b_floats(K, N), -1.f);
      sgemm_pack_b_avx2(K, N, b.data(), lb.rs, lb.cs, 0, N, pb.data());
      for (int64_t q = 0; q < (N + 15) / 16; ++q)
        for (int64_t k = 0; k < K; ++k)
          for (int64_t j = 0; j < 16; ++j) {
            const int64_t n = 16 * q + j;
            ASSERT_EQ(pb[q * 16 * K + k * 16 + j], n < N ? value(k, n) : 0.f)
                << "B " << lb.name << " panel " << q << " k " << k << " j " << j;
          }
      // N == 1 (GEMV layout): column 0 of the same b, contiguous.
      std::vector<float> pv(sgemm_packed_b_floats(K, 1), -1.f);
      sgemm_pack_b_avx2(K, 1, b.data(), lb.rs, lb.cs, 0, 1, pv.data());
      for (int64_t k = 0; k < K; ++k) ASSERT_EQ(pv[k], value(k, 0)) << lb.name << " k " << k;
    }
  }
}

// K == 0: C = clamp(bias), and nothing is read from the (empty) packed buffers.
TEST(SgemmAvx2, KZeroGivesClampedBias) {
  SKIP_WITHOUT_AVX2();
  for (int64_t N : {1, 20}) {
    const int64_t M = 7;
    std::vector<float> br(M), bc(N), c(M * N, kSentinel);
    for (int64_t i = 0; i < M; ++i) br[i] = static_cast<float>(i) - 3.f;
    for (int64_t j = 0; j < N; ++j) bc[j] = 0.25f * static_cast<float>(j);
    SgemmEpilogue ep;
    ep.bias_row = br.data();
    ep.bias_col = bc.data();
    ep.lo = -1.f;
    ep.hi = 2.f;
    sgemm_packed_avx2(M, N, 0, nullptr, nullptr, c.data(), N, 1, ep, 0, M, 0, N);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j)
        EXPECT_EQ(c[i * N + j], std::min(2.f, std::max(-1.f, br[i] + bc[j]))) << i << " " << j;
  }
}

// The clamp does not hide NaN; infinities clamp; a NaN or Inf stays in its own row.
TEST(SgemmAvx2, NanPropagatesThroughClamp) {
  SKIP_WITHOUT_AVX2();
  for (int64_t N : {1, 21}) {
    const int64_t M = 9, K = 10;
    std::vector<float> a(M * K, 0.5f), b(K * N, 0.25f), c(M * N, kSentinel);
    a[2 * K + 3] = std::nanf("");
    a[7 * K + 0] = INFINITY;  // b > 0, so row 7 is +inf before the clamp
    std::vector<float> pa(sgemm_packed_a_floats(M, K)), pb(sgemm_packed_b_floats(K, N));
    sgemm_pack_a_avx2(M, K, a.data(), K, 1, pa.data());
    sgemm_pack_b_avx2(K, N, b.data(), N, 1, 0, N, pb.data());
    SgemmEpilogue ep;
    ep.lo = 0.f;
    ep.hi = 1.f;
    sgemm_packed_avx2(M, N, K, pa.data(), pb.data(), c.data(), N, 1, ep, 0, M, 0, N);
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        const float v = c[i * N + j];
        if (i == 2)
          EXPECT_TRUE(std::isnan(v)) << "N=" << N << " C(" << i << "," << j << ") = " << v;
        else  // row 7 is +inf, the others 10 * 0.125 = 1.25: both clamp to 1
          EXPECT_EQ(v, 1.f) << "N=" << N << " C(" << i << "," << j << ")";
      }
  }
}

}  // namespace
}  // namespace octet::kernels

namespace octet::kernels {
namespace {

// sgemm_rows_avx2 (A read in place, B packed, C row-major): against the exact value and the twin
// (check_block's tolerance), nothing written outside the requested block, row blocks that are
// not multiples of 6 (the spare rows of a tail tile read a real row and are never stored), any
// split giving the same bits, and, with K below the K-blocking threshold, the packed SGEMM's
// bits for the same C layout (the engine switched products to this kernel on that promise).
TEST(SgemmAvx2, RowsKernelMatchesTheReferenceAndThePackedBits) {
  SKIP_WITHOUT_AVX2();
  const uint32_t seed = kBaseSeed + 50000;
  std::mt19937 rng(seed);
  uint32_t idx = 0;
  for (auto [M, N, K] : {std::array<int64_t, 3>{49, 49, 16}, {13, 2, 7}, {100, 64, 64}, {37, 130, 128},
                         {6, 16, 1}, {5, 33, 300}, {20, 40, 700}}) {
    for (const int64_t pad : {0, 3}) {
      const Layout la{K + pad, 1, pad ? "row-major ld+3" : "row-major"};
      const Layout lc{N + pad, 1, pad ? "row-major ld+3" : "row-major"};
      const auto lb = layouts(K, N);
      Case c{M, N, K, la, lb[idx % lb.size()], lc, epilogues()[idx % 4], seed + idx};
      ++idx;
      SCOPED_TRACE(c.str());
      Problem p = make_problem(c);
      auto rows_block = [&](float* out, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
        sgemm_rows_avx2(N, K, p.a.data(), la.rs, p.pb.data() + 1, out, lc.rs, p.ep, m0, m1, n0, n1);
      };
      const int64_t ext = extent(M, N, lc);
      CBuffer whole(ext);
      rows_block(whole.c(), 0, M, 0, N);
      ASSERT_TRUE(check_block(p, whole, 0, M, 0, N));
      if (K < kSgemmKC * 3 / 2) {
        CBuffer packed(ext);
        run_block(p, packed.c(), 0, M, 0, N);
        EXPECT_EQ(0, std::memcmp(packed.buf.data(), whole.buf.data(), whole.buf.size() * sizeof(float)))
            << "differs from sgemm_packed_avx2";
      }
      for (int trial = 0; trial < 3; ++trial) {
        // Row cuts anywhere (not only at multiples of 6), column cuts at panel boundaries.
        std::vector<int64_t> mc = {0, M}, nc = {0, N};
        for (int64_t q = 1; q < M; ++q)
          if (rng() % 5 == 0) mc.push_back(q);
        for (int64_t q = kSgemmNR; q < N; q += kSgemmNR)
          if (rng() % 2) nc.push_back(q);
        std::sort(mc.begin(), mc.end());
        std::sort(nc.begin(), nc.end());
        CBuffer split(ext);
        for (size_t i = 0; i + 1 < mc.size(); ++i)
          for (size_t j = 0; j + 1 < nc.size(); ++j) rows_block(split.c(), mc[i], mc[i + 1], nc[j], nc[j + 1]);
        ASSERT_EQ(0, std::memcmp(split.buf.data(), whole.buf.data(), split.buf.size() * sizeof(float)))
            << "trial " << trial;
        const size_t i = rng() % (mc.size() - 1), j = rng() % (nc.size() - 1);
        CBuffer lone(ext);
        rows_block(lone.c(), mc[i], mc[i + 1], nc[j], nc[j + 1]);
        ASSERT_TRUE(check_block(p, lone, mc[i], mc[i + 1], nc[j], nc[j + 1]));
      }
    }
  }
}

// sgemm_narrow_zmm (kernels/avx512/sgemm_narrow_zmm.h: whole rows of C in registers, AVX-512):
// against the exact value and the twin (check_block's tolerance), nothing written outside the
// requested rows, B packed from a transposed view too, every narrow width from 1 to 64 where the
// narrow tiles win (each row-tile height 2 to 6 and each masked last vector), row ranges that end
// inside a tile, and the rows kernel's bits for the same product and epilogue (the engine
// switched attention's scores to it on that promise), also with a scale after the bias.
TEST(SgemmNarrowZmm, MatchesTheReferenceAndTheRowsKernelsBits) {
  SKIP_WITHOUT_AVX2();
  if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512vl")) GTEST_SKIP() << "no AVX-512 VL";
  const uint32_t seed = kBaseSeed + 60000;
  uint32_t idx = 0;
  int64_t tried = 0;
  for (int64_t N = 1; N <= kSgemmNarrowMaxN; ++N) {
    if (!sgemm_narrow_wins(N)) continue;
    for (int64_t K : {1, 16, 49}) {
      const int64_t M = 13 + N % 7;
      const Layout la{K + 2, 1, "row-major ld+2"}, lc{N + 3, 1, "row-major ld+3"};
      const Layout lb = idx % 2 ? Layout{N, 1, "row-major"} : Layout{1, K, "transposed"};
      Case c{M, N, K, la, lb, lc, epilogues()[idx % 4], seed + idx};
      ++idx;
      SCOPED_TRACE(c.str());
      Problem p = make_problem(c);
      std::vector<float> packed(static_cast<size_t>(K * sgemm_narrow_ld(N)));
      sgemm_narrow_pack_b(K, N, p.b.data(), lb.rs, lb.cs, packed.data());
      const int64_t ext = extent(M, N, lc);
      CBuffer whole(ext), rows(ext);
      sgemm_narrow_zmm(N, K, p.a.data(), la.rs, packed.data(), whole.c(), lc.rs, p.ep, 0, M);
      ASSERT_TRUE(check_block(p, whole, 0, M, 0, N));
      if (N >= 2) {
        sgemm_rows_avx2(N, K, p.a.data(), la.rs, p.pb.data() + 1, rows.c(), lc.rs, p.ep, 0, M, 0, N);
        ASSERT_EQ(0, std::memcmp(rows.buf.data(), whole.buf.data(), whole.buf.size() * sizeof(float)))
            << "differs from sgemm_rows_avx2";
        // With a scale (no clamp): the rows kernel's product and bias, then one rounded multiply.
        SgemmEpilogue unclamped = p.ep;
        unclamped.lo = -INFINITY;
        unclamped.hi = INFINITY;
        CBuffer scaled(ext), want(ext);
        sgemm_rows_avx2(N, K, p.a.data(), la.rs, p.pb.data() + 1, want.c(), lc.rs, unclamped, 0, M, 0, N);
        for (int64_t m = 0; m < M; ++m)
          for (int64_t n = 0; n < N; ++n) want.c()[m * lc.rs + n] *= 0.3f;
        sgemm_narrow_zmm(N, K, p.a.data(), la.rs, packed.data(), scaled.c(), lc.rs, unclamped, 0, M, 0.3f);
        ASSERT_EQ(0, std::memcmp(want.buf.data(), scaled.buf.data(), want.buf.size() * sizeof(float)))
            << "scale 0.3 differs from the rows kernel's product times 0.3";
      }
      CBuffer part(ext);  // rows 3 .. M - 2: a range that starts and ends inside tiles
      sgemm_narrow_zmm(N, K, p.a.data(), la.rs, packed.data(), part.c(), lc.rs, p.ep, 3, M - 2);
      ASSERT_TRUE(check_block(p, part, 3, M - 2, 0, N));
      ++tried;
    }
  }
  EXPECT_EQ(tried, 3 * 32);  // N % 16 in 1..8 for N <= 64: 32 widths
}

// sgemm_rows_zmm (kernels/avx512/sgemm_rows_zmm.h: 6 x 32 tiles in zmm registers): the AVX2
// rows kernel's bits for the same product and epilogue (the engine takes it in its place on that
// promise), also against the exact value (check_block's tolerance) and nothing written outside
// the requested block: widths around the 16-column panels and their pairs, row counts around the
// 6-row tile, K from 1 to 300, every epilogue, and column and row ranges that start and end
// inside tiles.
TEST(SgemmRowsZmm, GivesTheAvx2RowsKernelsBits) {
  SKIP_WITHOUT_AVX2();
  if (!__builtin_cpu_supports("avx512f")) GTEST_SKIP() << "no AVX-512 F";
  const uint32_t seed = kBaseSeed + 70000;
  uint32_t idx = 0;
  for (int64_t N : {2, 7, 16, 17, 31, 32, 33, 48, 64, 70, 128}) {
    for (int64_t K : {1, 5, 64, 300}) {
      const int64_t M = 7 + (N + K) % 11;
      const Layout la{K + 1, 1, "row-major ld+1"}, lb{N, 1, "row-major"}, lc{N + 5, 1, "row-major ld+5"};
      Case c{M, N, K, la, lb, lc, epilogues()[idx % 4], seed + idx};
      ++idx;
      SCOPED_TRACE(c.str());
      Problem p = make_problem(c);
      const int64_t ext = extent(M, N, lc);
      CBuffer want(ext), got(ext);
      sgemm_rows_avx2(N, K, p.a.data(), la.rs, p.pb.data() + 1, want.c(), lc.rs, p.ep, 0, M, 0, N);
      sgemm_rows_zmm(N, K, p.a.data(), la.rs, p.pb.data() + 1, got.c(), lc.rs, p.ep, 0, M, 0, N);
      ASSERT_TRUE(check_block(p, got, 0, M, 0, N));
      ASSERT_EQ(0, std::memcmp(want.buf.data(), got.buf.data(), want.buf.size() * sizeof(float)));
      if (N > 16) {  // rows 1 .. M - 1, columns from the second panel: a block inside the tiles
        CBuffer part(ext);
        sgemm_rows_zmm(N, K, p.a.data(), la.rs, p.pb.data() + 1, part.c(), lc.rs, p.ep, 1, M - 1, 16, N);
        ASSERT_TRUE(check_block(p, part, 1, M - 1, 16, N));
      }
    }
  }
}

}  // namespace
}  // namespace octet::kernels
