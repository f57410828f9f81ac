// qgemm_shift_avx2 (the INT8 GEMM with a shifted, never packed B) against qgemm_packed_avx2 on the
// same operands with B written out and packed: bit for bit (the packed GEMM is itself tested at
// 0 LSB against the reference in qgemm_avx2_test.cpp). Both tile loops (AVX2 with its residual
// entries, forced by uniform int8 weights, and AVX-512 VNNI where the CPU has it), K not a multiple
// of 4, partial tiles, row and column sub-blocks, S32 and U8 outputs; plus interleave4_u8_avx2
// against its plain loop, and the a_zp precondition.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "kernels/avx2/qgemm_avx2.h"

namespace octet::kernels {
namespace {

std::vector<QgemmIsa> isas() {
  std::vector<QgemmIsa> v = {QgemmIsa::Avx2};
  if (qgemm_isa_supported(QgemmIsa::Avx512Vnni)) v.push_back(QgemmIsa::Avx512Vnni);
  return v;
}

TEST(QgemmShift, EqualsThePackedGemmOnTheSameOperands) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(20261122u);
  auto u = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  for (int iter = 0; iter < 120; ++iter) {
    const int64_t M = u(1, 19), K = u(1, 70), N = u(1, 60), Kq = (K + 3) / 4;
    const int64_t m0 = u(0, M - 1), m1 = u(m0 + 1, M), n0 = u(0, N - 1), n1 = u(n0 + 1, N);
    const int32_t b_zp = static_cast<int32_t>(u(0, 255));
    std::vector<int8_t> a(static_cast<size_t>(M * K));
    for (auto& v : a) v = static_cast<int8_t>(u(-128, 127));  // many unsafe pairs: AVX2 residuals
    std::vector<int32_t> qoff(static_cast<size_t>(Kq));
    for (auto& o : qoff) o = static_cast<int32_t>(u(0, 200));
    const int64_t ncols = (N + 15) / 16 * 16;
    std::vector<uint8_t> x(static_cast<size_t>(4 * ncols + 200 + 4));
    for (auto& v : x) v = static_cast<uint8_t>(u(0, 255));
    std::vector<uint8_t> b(static_cast<size_t>(K * N));  // b(k, n) = x[4 n + qoff[k / 4] + k % 4]
    for (int64_t k = 0; k < K; ++k)
      for (int64_t n = 0; n < N; ++n) b[k * N + n] = x[4 * n + qoff[k / 4] + k % 4];
    std::vector<int32_t> bias(static_cast<size_t>(M));
    for (auto& v : bias) v = static_cast<int32_t>(u(-5000, 5000));
    std::vector<float> mult(static_cast<size_t>(M));
    for (auto& v : mult) v = 0.0005f * static_cast<float>(u(1, 40));
    std::vector<uint8_t> pb(qgemm_packed_b_bytes(K, N));
    qgemm_pack_b_u8_avx2(K, N, b.data(), N, 1, b_zp, 0, N, pb.data());
    for (QgemmIsa isa : isas()) {
      SCOPED_TRACE(::testing::Message() << "iter " << iter << " M=" << M << " K=" << K << " N=" << N << " isa "
                                        << qgemm_isa_name(isa));
      std::vector<uint8_t> pa(qgemm_packed_a_bytes(M, K));
      qgemm_pack_a_s8_avx2(M, K, a.data(), K, 1, nullptr, pa.data(), isa);
      for (int kind = 0; kind < 2; ++kind) {
        QgemmOutput o;
        o.bias = bias.data();
        o.c_rs = N;
        o.c_cs = 1;
        std::vector<int32_t> want(static_cast<size_t>(M * N), -7), got(want);
        if (kind == 0) {
          o.kind = QgemmOutput::Kind::S32;
        } else {
          o.kind = QgemmOutput::Kind::U8;
          o.multiplier = mult.data();
          o.zero_point = 3;
        }
        o.c = want.data();
        qgemm_packed_avx2(M, N, K, pa.data(), pb.data(), o, m0, m1, n0, n1);
        o.c = got.data();
        qgemm_shift_avx2(M, N, K, pa.data(), x.data(), qoff.data(), b_zp, o, m0, m1, n0, n1);
        ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * 4), 0) << "output kind " << kind;
      }
    }
  }
}

// Every stride's rows are exactly as long as the elements read ((n - 1) * stride + 1 bytes), so
// a vector load past the last element is an ASan report.
TEST(QgemmShift, Interleave4EqualsThePlainLoop) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  std::mt19937 rng(3);
  for (int64_t stride : {1, 2, 3})
    for (int64_t n : {0, 1, 7, 8, 9, 10, 14, 15, 16, 17, 18, 31, 32, 33, 34, 100}) {
      std::vector<uint8_t> r[4], got(static_cast<size_t>(4 * n)), want(got.size());
      const uint8_t* rows[4];
      for (int j = 0; j < 4; ++j) {
        r[j].resize(static_cast<size_t>(n == 0 ? 0 : (n - 1) * stride + 1));
        for (auto& v : r[j]) v = static_cast<uint8_t>(rng());
        rows[j] = r[j].data();
      }
      interleave4_u8_avx2(rows, n, stride, got.data());
      for (int64_t i = 0; i < n; ++i)
        for (int j = 0; j < 4; ++j) want[4 * i + j] = r[j][i * stride];
      EXPECT_EQ(got, want) << "n=" << n << " stride=" << stride;
    }
}

TEST(QgemmShiftDeathTest, RefusesWeightZeroPoints) {
  if (!qgemm_avx2_supported()) GTEST_SKIP() << "no AVX2";
  const int8_t a[4] = {1, 2, 3, 4};
  const int32_t zp[1] = {2}, qoff[1] = {0};
  std::vector<uint8_t> pa(qgemm_packed_a_bytes(1, 4)), x(128);
  qgemm_pack_a_s8_avx2(1, 4, a, 4, 1, zp, pa.data());
  int32_t c[1];
  QgemmOutput o;
  o.c = c;
  o.c_rs = 1;
  EXPECT_DEATH(qgemm_shift_avx2(1, 1, 4, pa.data(), x.data(), qoff, 0, o, 0, 1, 0, 1), "a_zp == 0");
}

}  // namespace
}  // namespace octet::kernels
