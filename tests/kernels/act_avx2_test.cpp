// Softmax, Gelu and LayerNormalization (kernels/avx2/act_avx2.h), and the AVX-512 builds of Softmax
// and Gelu (kernels/avx512/act_zmm.h), against their reference twins softmax_ref, gelu_erf_ref and
// layernorm_ref: row lengths around the 8- and 16-lane vectors and the register-resident row
// kernels' limits (16 to 128 floats), row counts around their row groups, rows with NaN,
// -inf and huge spreads, a dense sweep of Gelu over [-16, 16] plus infinities, NaN and signed
// zeros, and layer normalisation (bit for bit) of rows with large means, wide magnitudes, constant
// rows and NaN.
//
// Tolerances follow the accuracy the header states: softmax within 2e-6 + (m - x) 1.2e-7 relative
// (+1e-37 absolute for the values that underflow), Gelu within 1.2e-5 relative of the
// double-precision reference, plus |x| 1e-16 absolute: the reference's 1 + erf(x / sqrt 2)
// cancels for x << 0 (it gives -0 at x = -13, where Gelu is -1.2e-37 and the kernel's erfc form
// keeps it).
// An error in the exp polynomial, the range reduction or the erfc fit exceeds them by far.
#include "kernels/avx2/act_avx2.h"
#include "kernels/avx512/act_zmm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/ref/gelu_ref.h"
#include "kernels/ref/norm_ref.h"
#include "kernels/ref/softmax_ref.h"

namespace octet::kernels {
namespace {

bool avx2() { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }
bool avx512() {
  return avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
         __builtin_cpu_supports("avx512bw");
}

// One build of the Softmax and Gelu kernels.
struct ActBuild {
  const char* name;
  bool (*available)();
  void (*softmax)(const float*, int64_t, int64_t, float*);
  void (*gelu)(const float*, int64_t, float*);
};

class ActKernels : public ::testing::TestWithParam<ActBuild> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " is not on this CPU";
  }
};

TEST_P(ActKernels, SoftmaxRowsMatchTheReference) {
  std::mt19937 rng(31);
  for (int64_t n : {1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 48, 49, 64, 65, 80, 97, 112, 113, 128, 129, 200}) {
    for (float spread : {1.f, 30.f, 200.f}) {
      const int64_t rows = 11;  // groups of 8, 4 and 2 rows and a rest
      std::uniform_real_distribution<float> u(-spread, spread);
      std::vector<float> x(static_cast<size_t>(rows * n)), y(x.size()), want(x.size());
      for (auto& v : x) v = u(rng);
      GetParam().softmax(x.data(), rows, n, y.data());
      SoftmaxParams p;
      p.outer = rows;
      p.n = n;
      softmax_ref(x.data(), want.data(), p);
      for (size_t i = 0; i < x.size(); ++i) {
        const float* row = x.data() + i / n * n;
        const float m = *std::max_element(row, row + n);
        const double tol = want[i] * (2e-6 + (m - x[i]) * 1.2e-7) + 1e-37;
        ASSERT_LE(std::fabs(y[i] - want[i]), tol) << "n=" << n << " spread=" << spread << " i=" << i;
      }
      std::vector<float> inplace = x;
      GetParam().softmax(inplace.data(), rows, n, inplace.data());
      ASSERT_EQ(std::memcmp(inplace.data(), y.data(), y.size() * sizeof(float)), 0) << "in place, n=" << n;
    }
  }
}

TEST_P(ActKernels, SoftmaxNaNAndInfinityRowsAsTheReference) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  for (int64_t n : {3, 8, 11, 16, 40, 64, 100, 150}) {
    for (int pos : {0, static_cast<int>(n) - 1}) {
      for (float special : {nan, inf}) {
        std::vector<float> x(static_cast<size_t>(n), 0.5f), y(x.size());
        x[pos] = special;
        GetParam().softmax(x.data(), 1, n, y.data());
        for (float v : y) EXPECT_TRUE(std::isnan(v)) << "n=" << n << " special at " << pos;
      }
      std::vector<float> x(static_cast<size_t>(n), -inf), y(x.size());
      GetParam().softmax(x.data(), 1, n, y.data());
      for (float v : y) EXPECT_TRUE(std::isnan(v)) << "a row of -inf gives NaN, n=" << n;
      x.assign(static_cast<size_t>(n), -inf);
      x[pos] = 2.f;
      GetParam().softmax(x.data(), 1, n, y.data());
      for (int64_t i = 0; i < n; ++i) EXPECT_EQ(y[i], i == pos ? 1.f : 0.f);
    }
  }
}

TEST_P(ActKernels, GeluMatchesTheErfReference) {
  std::vector<float> x;
  for (float v = -16.f; v <= 16.f; v += 1.f / 64) x.push_back(v);
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(-8.f, 8.f);
  for (int i = 0; i < 1001; ++i) x.push_back(u(rng));
  for (float v : {0.f, -0.f, 1e-30f, -1e-30f, 1e-3f, -1e-3f}) x.push_back(v);
  std::vector<float> y(x.size()), want(x.size());
  GetParam().gelu(x.data(), static_cast<int64_t>(x.size()), y.data());
  gelu_erf_ref(x.data(), static_cast<int64_t>(x.size()), want.data());
  for (size_t i = 0; i < x.size(); ++i)
    ASSERT_LE(std::fabs(y[i] - want[i]), 1.2e-5 * std::fabs(want[i]) + std::fabs(x[i]) * 1e-16 + 1e-37) << "x=" << x[i] << " got " << y[i] << " want " << want[i];
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> s = {inf, -inf, std::numeric_limits<float>::quiet_NaN()}, g(3);
  GetParam().gelu(s.data(), 3, g.data());
  EXPECT_EQ(g[0], inf);
  EXPECT_TRUE(std::isnan(g[1])) << "-inf * 0, as the reference's 0.5 x (1 + erf(x / sqrt 2))";
  EXPECT_TRUE(std::isnan(g[2]));
}

INSTANTIATE_TEST_SUITE_P(Builds, ActKernels,
                         ::testing::Values(ActBuild{"avx2", avx2, softmax_rows_f32_avx2, gelu_f32_avx2},
                                           ActBuild{"avx512", avx512, softmax_rows_f32_zmm, gelu_f32_zmm}),
                         [](const ::testing::TestParamInfo<ActBuild>& i) { return std::string(i.param.name); });

// The AVX-512 Gelu does the AVX2 one's operations lane for lane: the same bits, on lengths that
// take its 64-float steps, single vectors and masked tails.
TEST(ActZmm, GeluEqualsTheAvx2KernelBitForBit) {
  if (!avx512()) GTEST_SKIP();
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 3.f);
  for (int64_t n : {1, 15, 16, 17, 63, 64, 65, 100, 1000}) {
    std::vector<float> x(static_cast<size_t>(n)), a(x.size()), b(x.size());
    for (auto& v : x) v = nd(rng);
    gelu_f32_avx2(x.data(), n, a.data());
    gelu_f32_zmm(x.data(), n, b.data());
    ASSERT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << "n=" << n;
  }
}

// Bit for bit against the twin: row lengths around the 8- and 16-column steps and the 16 partial sums, row
// counts around the 8-row group, offsets that make the mean large against the spread, constant rows, rows where
// values up to 2^60 (their squares still finite in float) cancel in pairs around small ones (another summation order gives another
// mean), with and without bias, and in place (y aliasing x).
// One build of the LayerNormalization kernel.
struct LayerNormBuild {
  const char* name;
  bool (*available)();
  void (*run)(int64_t, int64_t, const float*, const float*, const float*, double, float*);
};

class LayerNormKernels : public ::testing::TestWithParam<LayerNormBuild> {
 protected:
  void SetUp() override {
    if (!GetParam().available()) GTEST_SKIP() << GetParam().name << " is not on this CPU";
  }
};

TEST_P(LayerNormKernels, EqualsTheReferenceBitForBit) {
  const auto layernorm = GetParam().run;
  std::mt19937 rng(41);
  auto same = [](const std::vector<float>& a, const std::vector<float>& b) {
    return std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  for (int64_t cols : {1, 3, 4, 7, 8, 9, 16, 17, 64, 65, 200, 1000}) {
    for (int64_t rows : {1, 3, 4, 7, 8, 9, 17}) {
      for (float offset : {0.f, 100.f, -3e4f}) {
        for (bool with_bias : {true, false}) {
          std::normal_distribution<float> nd(offset, 0.5f);
          std::uniform_int_distribution<int> e(30, 60);
          std::vector<float> x(static_cast<size_t>(rows * cols)), scale(static_cast<size_t>(cols)),
              bias(static_cast<size_t>(cols)), y(x.size()), want(x.size());
          for (int64_t r = 0; r < rows; ++r)
            for (int64_t j = 0; j < cols; ++j) {
              float& v = x[static_cast<size_t>(r * cols + j)];
              if (r == 1) v = offset;  // a constant row
              else if (r == 2) v = j % 4 == 0 ? std::ldexp(1.f, e(rng))  // huge values that cancel in pairs,
                                   : j % 4 == 2 ? -x[static_cast<size_t>(r * cols + j - 2)]  // so that the small
                                                : 0.5f + 0.37f * (j % 5);  // ones' survival depends on the order
              else v = nd(rng);
            }
          std::uniform_real_distribution<float> u(-2.f, 2.f);
          for (auto& v : scale) v = u(rng);
          for (auto& v : bias) v = u(rng);
          const float* b = with_bias ? bias.data() : nullptr;
          layernorm(rows, cols, x.data(), scale.data(), b, 1e-5, y.data());
          layernorm_ref(rows, cols, x.data(), scale.data(), b, 1e-5, want.data(), nullptr, nullptr);
          ASSERT_TRUE(same(y, want)) << "cols " << cols << " rows " << rows << " offset " << offset;
          std::vector<float> inplace = x;
          layernorm(rows, cols, inplace.data(), scale.data(), b, 1e-5, inplace.data());
          ASSERT_TRUE(same(inplace, want)) << "in place, cols " << cols << " rows " << rows;
        }
      }
    }
  }
  // A NaN or an infinity makes its row NaN, as in the twin; other rows are unaffected.
  std::vector<float> x(3 * 20, 1.5f), s(20, 1.f), y(x.size()), want(x.size());
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 7);
  x[5] = std::numeric_limits<float>::quiet_NaN();
  x[20 + 19] = std::numeric_limits<float>::infinity();
  layernorm(3, 20, x.data(), s.data(), nullptr, 1e-5, y.data());
  layernorm_ref(3, 20, x.data(), s.data(), nullptr, 1e-5, want.data(), nullptr, nullptr);
  for (size_t i = 0; i < 40; ++i) EXPECT_TRUE(std::isnan(y[i]) && std::isnan(want[i])) << i;
  for (size_t i = 40; i < 60; ++i) EXPECT_EQ(y[i], want[i]) << i;
}

INSTANTIATE_TEST_SUITE_P(Builds, LayerNormKernels,
                         ::testing::Values(LayerNormBuild{"avx2", avx2, layernorm_f32_avx2},
                                           LayerNormBuild{"avx512", avx512, layernorm_f32_zmm}),
                         [](const ::testing::TestParamInfo<LayerNormBuild>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace octet::kernels
