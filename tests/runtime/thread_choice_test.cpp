// ThreadChoice (EngineOptions::adaptive_threads' policy) on made-up run times: it measures the
// pool first, then one thread, settles on the faster, keeps timing the other now and then (less
// often the slower that one is, so that a pool of many threads does not pay for its one-thread
// probes), follows a machine that changes, keeps batch sizes apart, and ignores the runs that
// wake the pool's workers after one-thread runs.
#include "runtime/thread_choice.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace octet {
namespace {

// Runs `runs` runs of batch size n, each taking pool_ms on the pool and one_ms on one thread (a
// pool run right after a one-thread run `wake_ms` more); returns how many took one thread.
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

// Runs between probes for a ratio of means above kClear.
int64_t interval(double ratio) {
  return std::clamp(static_cast<int64_t>(ThreadChoice::kProbeCost * (ratio - 1)), ThreadChoice::kProbeRare,
                    ThreadChoice::kProbeMax);
}

TEST(ThreadChoice, WarmsUpBothThenKeepsTheFaster) {
  ThreadChoice c;
  for (int64_t i = 0; i < ThreadChoice::kWarmRuns; ++i) {
    EXPECT_FALSE(c.next_is_one(1)) << "warm-up run " << i << " takes the pool";
    c.record(1, false, i == 0 ? 50.0 : 1.0);  // a slow first run (allocations) is not the pool's time
  }
  for (int64_t i = 0; i < ThreadChoice::kWarmRuns; ++i) {
    EXPECT_TRUE(c.next_is_one(1)) << "then one thread";
    c.record(1, true, i == 0 ? 9.0 : 1.5);  // nor one thread's first
  }
  EXPECT_DOUBLE_EQ(c.pool_ms(1), 1.0);
  EXPECT_DOUBLE_EQ(c.one_ms(1), 1.5);
  // The pool is faster, 1.5 > kClear times: one-thread probes only, every interval(1.5) runs.
  EXPECT_EQ(drive(c, 1, 10 * interval(1.5), 1.0, 1.5), 10);
  EXPECT_NEAR(c.pool_ms(1), 1.0, 1e-9);
  EXPECT_NEAR(c.one_ms(1), 1.5, 1e-9);
}

TEST(ThreadChoice, CloseTimesAreProbedMoreOften) {
  ThreadChoice c;
  drive(c, 1, 100, 1.0, 1.2);  // one thread 1.2x slower: below kClear
  EXPECT_EQ(drive(c, 1, 640, 1.0, 1.2), 640 / ThreadChoice::kProbeEvery);
}

TEST(ThreadChoice, ManyThreadsProbeOneThreadRarely) {
  // A 16-core pool: one thread 16x slower. The probes then cost about 1% of the time.
  ThreadChoice c;
  drive(c, 1, 100, 1.0, 16.0);
  const int64_t runs = 20000, ones = drive(c, 1, runs, 1.0, 16.0);
  EXPECT_LE(ones, runs / interval(16.0) + 1);
  EXPECT_GE(ones, 1) << "still probed";
  EXPECT_LT(ones * 15.0 / runs, 0.02);
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
  EXPECT_NEAR(ones, 640 / interval(1.7 / 0.9), 1);
}

TEST(ThreadChoice, ThePoolsWakingRunIsNotCounted) {
  ThreadChoice c;
  drive(c, 1, 20, 2.0, 1.7);
  // The pool's first run after one-thread runs costs 10 more (its workers asleep): were it
  // counted, the pool would look slower still. A pool probe's second run says 1.0, and the engine
  // goes back to the pool; the runs after its own one-thread probes are not counted either.
  drive(c, 1, 200, 1.0, 1.7, 10.0);
  EXPECT_NEAR(c.pool_ms(1), 1.0, 0.01);
  EXPECT_NEAR(drive(c, 1, 640, 1.0, 1.7, 10.0), 640 / interval(1.7), 1);
  EXPECT_NEAR(c.pool_ms(1), 1.0, 0.01);
}

TEST(ThreadChoice, PreemptedRunsAndNearTiesLeaveThePool) {
  // Every 10th pool run preempted (20x its time): capped at kOutlier times the mean, they do not
  // make the pool look slower than one thread at 1.1.
  ThreadChoice c;
  int64_t ones = 0;
  for (int64_t i = 0; i < 2000; ++i) {
    const bool one = c.next_is_one(1);
    ones += one ? 1 : 0;
    c.record(1, one, one ? 1.1 : i % 10 == 9 ? 20.0 : 1.0);
  }
  EXPECT_LT(ones, 2000 / ThreadChoice::kProbeEvery + ThreadChoice::kWarmRuns + 1) << "probes only";
  // One thread 2% faster: within kPoolBias, the pool stays.
  ThreadChoice d;
  EXPECT_LE(drive(d, 1, 2000, 1.0, 0.98), 2000 / ThreadChoice::kProbeEvery + ThreadChoice::kWarmRuns + 1);
  // A real change still gets through: the pool goes from 1.0 to 2.0 (each run capped at 1.5x
  // the mean, the mean climbs in a few runs) and one thread at 1.5 takes over.
  drive(d, 1, 100, 2.0, 1.5);
  EXPECT_GT(drive(d, 1, 640, 2.0, 1.5), 640 - 2 * 640 / ThreadChoice::kProbeEvery - 1);
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
