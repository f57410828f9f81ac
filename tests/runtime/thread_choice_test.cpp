// ThreadChoice (EngineOptions::adaptive_threads' policy) on made-up run times: it measures the
// pool first, then one thread, settles on the faster, keeps timing the other now and then (rarely
// when that one is clearly slower), follows a machine that changes, keeps batch sizes apart, and
// ignores the runs that wake the pool's workers after one-thread runs.
#include "runtime/thread_choice.h"

#include <gtest/gtest.h>

#include <functional>

namespace octet {
namespace {

// Runs `runs` runs of batch size n, each taking pool_ms on the pool and one_ms on one thread (the
// first run of each pool probe `wake_ms` more); returns how many took one thread.
int64_t drive(ThreadChoice& c, int64_t n, int64_t runs, double pool_ms, double one_ms, double wake_ms = 0) {
  int64_t ones = 0;
  bool last_one = false;
  for (int64_t i = 0; i < runs; ++i) {
    const bool one = c.next_is_one(n);
    ones += one ? 1 : 0;
    c.record(n, one, one ? one_ms : pool_ms + (last_one ? wake_ms : 0));
    last_one = one;
  }
  return ones;
}

TEST(ThreadChoice, MeasuresThePoolThenOneThreadAndKeepsTheFaster) {
  ThreadChoice c;
  for (int64_t i = 0; i < ThreadChoice::kWarmRuns; ++i) {
    EXPECT_FALSE(c.next_is_one(1)) << "warm-up run " << i << " takes the pool";
    c.record(1, false, i == 0 ? 50.0 : 1.0);  // a slow first run (allocations) is not the pool's time
  }
  EXPECT_DOUBLE_EQ(c.pool_ms(1), 1.0);
  EXPECT_TRUE(c.next_is_one(1)) << "then one thread once";
  c.record(1, true, 1.5);
  // The pool is faster: one-thread probes only, every kProbeRare runs (1.5 > kClear times slower).
  const int64_t ones = drive(c, 1, 640, 1.0, 1.5);
  EXPECT_EQ(ones, 640 / ThreadChoice::kProbeRare);
  EXPECT_NEAR(c.pool_ms(1), 1.0, 1e-9);
  EXPECT_NEAR(c.one_ms(1), 1.5, 1e-9);
}

TEST(ThreadChoice, CloseTimesAreProbedMoreOften) {
  ThreadChoice c;
  drive(c, 1, 100, 1.0, 1.2);  // one thread 1.2x slower: below kClear
  EXPECT_EQ(drive(c, 1, 640, 1.0, 1.2), 640 / ThreadChoice::kProbeEvery);
}

TEST(ThreadChoice, TakesOneThreadWhereThatIsFasterAndFollowsAChange) {
  ThreadChoice c;
  drive(c, 1, 20, 2.0, 1.7);  // the slow mode: one thread faster
  int64_t ones = drive(c, 1, 640, 2.0, 1.7);
  EXPECT_GE(ones, 640 - 2 * 640 / ThreadChoice::kProbeEvery) << "all but the pool probes (2 runs each)";
  EXPECT_LT(ones, 640);
  // The machine speeds up: the pool becomes twice as fast; within a few probes it is back on it.
  drive(c, 1, 200, 0.9, 1.7);
  ones = drive(c, 1, 640, 0.9, 1.7);
  EXPECT_EQ(ones, 640 / ThreadChoice::kProbeRare);
}

TEST(ThreadChoice, ThePoolsWakingRunIsNotCounted) {
  ThreadChoice c;
  drive(c, 1, 20, 2.0, 1.7);
  // The pool's first run after one-thread runs costs 10 more (its workers asleep): were it
  // counted, the pool would look slower still. A pool probe's second run says 1.0, and the engine
  // goes back to the pool; the runs after its own one-thread probes are not counted either.
  drive(c, 1, 200, 1.0, 1.7, 10.0);
  EXPECT_NEAR(c.pool_ms(1), 1.0, 0.01);
  EXPECT_EQ(drive(c, 1, 640, 1.0, 1.7, 10.0), 640 / ThreadChoice::kProbeRare);  // 1.7 > kClear times 1.0
  EXPECT_NEAR(c.pool_ms(1), 1.0, 0.01);
}

TEST(ThreadChoice, BatchSizesAreKeptApart) {
  ThreadChoice c;
  drive(c, 1, 200, 2.0, 1.5);   // batch 1: one thread faster
  drive(c, 32, 200, 1.0, 2.0);  // batch 32: the pool
  EXPECT_GT(drive(c, 1, 64, 2.0, 1.5), 50);
  EXPECT_LE(drive(c, 32, 64, 1.0, 2.0), 1);
}

}  // namespace
}  // namespace octet
