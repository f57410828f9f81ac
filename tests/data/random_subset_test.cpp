// Tests for random_subset (data/dataset.h), the seeded sample picker for calibration. The pinned
// subsets were computed by an independent Python implementation of MT19937-64 (checked against
// the C++ standard's 10000th output, 9981545732273789042) and Floyd's algorithm as documented.
#include <gtest/gtest.h>

#include <set>

#include "data/dataset.h"

namespace octet::data {
namespace {

void expect_valid(const std::vector<int64_t>& s, int64_t size, int64_t n) {
  ASSERT_EQ(static_cast<int64_t>(s.size()), std::min(size, n));
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_GE(s[i], 0);
    EXPECT_LT(s[i], size);
    if (i > 0) {
      EXPECT_LT(s[i - 1], s[i]) << "not sorted and distinct at " << i;
    }
  }
}

TEST(RandomSubset, AllIndicesInOrderWhenNCoversTheSet) {
  EXPECT_EQ(random_subset(4, 4, 1), std::vector<int64_t>({0, 1, 2, 3}));
  EXPECT_EQ(random_subset(4, 100, 1), std::vector<int64_t>({0, 1, 2, 3}));
  EXPECT_TRUE(random_subset(0, 5, 1).empty());
  EXPECT_TRUE(random_subset(10, 0, 1).empty());
  EXPECT_THROW(random_subset(-1, 2, 1), Error);
  EXPECT_THROW(random_subset(5, -2, 1), Error);
}

TEST(RandomSubset, DistinctSortedDeterministicAndSeedDependent) {
  for (int64_t size : {1, 2, 7, 100, 1000, 100000}) {
    for (int64_t n : {int64_t{1}, size / 2, size - 1}) {
      if (n < 1) continue;
      for (uint32_t seed : {0u, 1u, 12345u}) {
        SCOPED_TRACE(testing::Message() << "size " << size << " n " << n << " seed " << seed);
        const auto s = random_subset(size, n, seed);
        expect_valid(s, size, n);
        EXPECT_EQ(random_subset(size, n, seed), s);  // deterministic
      }
    }
  }
  EXPECT_NE(random_subset(1000, 10, 1), random_subset(1000, 10, 2));
  EXPECT_NE(random_subset(60000, 500, 7), random_subset(60000, 500, 8));
}

TEST(RandomSubset, MatchesAnIndependentImplementation) {
  EXPECT_EQ(random_subset(100, 5, 42), std::vector<int64_t>({42, 54, 81, 91, 96}));
  EXPECT_EQ(random_subset(10, 9, 7), std::vector<int64_t>({0, 1, 2, 4, 5, 6, 7, 8, 9}));
  EXPECT_EQ(random_subset(1000000, 4, 123), std::vector<int64_t>({437477, 471136, 750151, 801790}));
  // Above 2^26 the picks are tracked in a hash set instead of a bitmap: the same algorithm.
  EXPECT_EQ(random_subset(int64_t{1} << 40, 3, 9), std::vector<int64_t>({668884297235, 683989383501, 1069286992299}));
  EXPECT_EQ(random_subset(int64_t{1} << 26, 6, 5),
            std::vector<int64_t>({5926788, 9022648, 33604667, 40792840, 45190472, 58000593}));
  // 15 of 20: many draws hit an index already taken and take j instead.
  EXPECT_EQ(random_subset(20, 15, 3), std::vector<int64_t>({0, 1, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 19}));
}

TEST(RandomSubset, EveryIndexEquallyLikely) {
  // 30000 seeds, 3 of 10: each index is expected 9000 times (sd about 79); allow 5%.
  std::vector<int> count(10, 0);
  for (uint32_t seed = 0; seed < 30000; ++seed)
    for (int64_t i : random_subset(10, 3, seed)) ++count[static_cast<size_t>(i)];
  for (int i = 0; i < 10; ++i) EXPECT_NEAR(count[static_cast<size_t>(i)], 9000, 450) << "index " << i;
}

}  // namespace
}  // namespace octet::data
