// The 2-D transpose and the row gather of 32-bit elements (kernels/avx2/permute_avx2.h) against
// their twins transpose_2d_b32_ref and gather_rows_b32_ref: sizes around the 8x8 block and the
// 8-element step, leading dimensions wider than the rows, rows gathered in any order, and random
// bit patterns (NaN payloads included), which must come out unchanged; elements outside the
// destination's rows stay untouched.
#include "kernels/avx2/permute_avx2.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "kernels/ref/transpose_ref.h"

namespace octet::kernels {
namespace {

TEST(PermuteAvx2, Transpose2dEqualsTheReference) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP();
  std::mt19937 rng(17);
  for (int64_t rows : {0, 1, 7, 8, 9, 16, 17, 33}) {
    for (int64_t cols : {0, 1, 5, 8, 12, 16, 23}) {
      for (int64_t pad : {0, 3}) {
        const int64_t lds = cols + pad, ldd = rows + pad;
        std::vector<uint32_t> src(static_cast<size_t>(std::max<int64_t>(1, rows * lds)));
        for (auto& v : src) v = rng();
        src[0] = 0x7fc01234u;  // a NaN with a payload
        std::vector<uint32_t> got(static_cast<size_t>(std::max<int64_t>(1, cols * ldd)), 0xdeadbeefu), want = got;
        transpose_2d_b32_avx2(rows, cols, src.data(), lds, got.data(), ldd);
        transpose_2d_b32_ref(rows, cols, src.data(), lds, want.data(), ldd);
        ASSERT_EQ(got, want) << rows << " x " << cols << ", pad " << pad;
      }
    }
  }
}

TEST(PermuteAvx2, GatherRowsEqualsTheReference) {
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP();
  std::mt19937 rng(23);
  for (int64_t rows : {0, 1, 5, 40}) {
    for (int64_t len : {1, 3, 8, 9, 16, 23}) {
      const int64_t lds = len + 5;  // source rows at a wider pitch, taken in a shuffled order
      std::vector<uint32_t> src(static_cast<size_t>(40 * lds));
      for (auto& v : src) v = rng();
      src[1] = 0x7fc01234u;  // a NaN with a payload
      std::vector<int64_t> off(static_cast<size_t>(rows));
      for (int64_t i = 0; i < rows; ++i) off[static_cast<size_t>(i)] = (i * 7 % 40) * lds + (i % 3);
      std::vector<uint32_t> got(static_cast<size_t>(rows * len + 9), 0xdeadbeefu), want = got;
      gather_rows_b32_avx2(rows, len, src.data(), off.data(), got.data());
      gather_rows_b32_ref(rows, len, src.data(), off.data(), want.data());
      ASSERT_EQ(got, want) << rows << " rows of " << len;
    }
  }
}

}  // namespace
}  // namespace octet::kernels
