// ThreadPool: every task of every job runs exactly once whatever the pool size and the task count
// (more or fewer tasks than threads, jobs back to back, uneven tasks that make threads take each
// other's), each thread starts on its own block, parallel_for's ranges tile [0, n), an exception
// reaches the caller and the pool goes on working after it, and the caller takes part.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/thread_pool.h"

namespace octet {
namespace {

TEST(ThreadPool, EveryTaskRunsOnceInBackToBackJobs) {
  for (int threads : {1, 2, 3, 8}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (int64_t tasks : {0, 1, 2, 3, 7, 8, 64, 1000}) {
      for (int rep = 0; rep < 20; ++rep) {
        std::vector<std::atomic<int>> runs(static_cast<size_t>(tasks));
        for (auto& r : runs) r = 0;
        pool.parallel_tasks(tasks, [&](int64_t t) { runs[static_cast<size_t>(t)].fetch_add(1); });
        for (int64_t t = 0; t < tasks; ++t)
          ASSERT_EQ(runs[static_cast<size_t>(t)].load(), 1) << "threads " << threads << " tasks " << tasks << " task " << t;
      }
    }
  }
}

TEST(ThreadPool, UnevenTasksAreTakenOverAndStillRunOnce) {
  // Task 0 (the caller's block) waits until 12 other tasks are done, which, when the caller runs
  // it, only the worker can do: it runs its own block, then takes the rest of the caller's from
  // its end. No timing is assumed (a 10 s limit only keeps a broken pool from hanging the test).
  ThreadPool pool(2);
  for (int rep = 0; rep < 5; ++rep) {
    std::vector<std::atomic<int>> runs(16);
    for (auto& r : runs) r = 0;
    std::atomic<int> others{0};
    std::mutex mu;
    std::set<std::thread::id> ids;
    std::thread::id zero;
    pool.parallel_tasks(16, [&](int64_t t) {
      if (t == 0) {
        zero = std::this_thread::get_id();
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (others.load() < 12 && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      } else {
        others.fetch_add(1);
      }
      runs[static_cast<size_t>(t)].fetch_add(1);
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
    for (int t = 0; t < 16; ++t) ASSERT_EQ(runs[static_cast<size_t>(t)].load(), 1) << "task " << t;
    // A caller descheduled before its first claim may find every task taken, task 0 included.
    if (zero == std::this_thread::get_id()) {
      EXPECT_EQ(ids.size(), 2u) << "the worker did the caller's other tasks";
    }
  }
}

TEST(ThreadPool, CallerRunsTaskZeroWhenNothingIsTakenOver) {
  // Task 0 is the caller's block, which it claims right after waking the worker; the worker's
  // task waits until task 0 has started, so the worker cannot take it first.
  ThreadPool pool(2);
  for (int rep = 0; rep < 3; ++rep) {
    std::thread::id first;
    std::atomic<bool> started{false};
    pool.parallel_tasks(2, [&](int64_t t) {
      if (t == 0) {
        first = std::this_thread::get_id();
        started = true;
      } else {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!started.load() && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      }
    });
    EXPECT_EQ(first, std::this_thread::get_id());
  }
}

TEST(ThreadPool, CallerSleepsUntilASlowWorkerIsDone) {
  // The worker's task outlasts the caller's spin (about 100 us), so the caller sleeps on the
  // condition variable and the worker wakes it.
  ThreadPool pool(2);
  for (int rep = 0; rep < 20; ++rep) {
    std::atomic<int> runs{0};
    pool.parallel_tasks(2, [&](int64_t t) {
      if (t == 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      runs.fetch_add(1);
    });
    EXPECT_EQ(runs.load(), 2);
  }
}

TEST(ThreadPool, ParallelForRangesTileTheIndexSpace) {
  for (int threads : {1, 2, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {1, 2, 9, 100, 4097})
      for (int64_t grain : {1, 8, 64, 5000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        for (auto& h : hits) h = 0;
        std::atomic<int> calls{0};
        pool.parallel_for(n, grain, [&](int64_t b, int64_t e) {
          ASSERT_LT(b, e);
          calls.fetch_add(1);
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1);
        EXPECT_LE(calls.load(), threads);
        if (n < 2 * grain) {
          EXPECT_EQ(calls.load(), 1) << "a range shorter than two grains is not split";
        }
      }
  }
}

TEST(ThreadPool, ExceptionsReachTheCallerAndThePoolGoesOn) {
  ThreadPool pool(3);
  for (int64_t bad : {0, 5, 11}) {
    EXPECT_THROW(pool.parallel_tasks(12,
                                     [&](int64_t t) {
                                       if (t == bad) throw std::runtime_error("task failed");
                                     }),
                 std::runtime_error);
    std::atomic<int> runs{0};
    pool.parallel_tasks(12, [&](int64_t) { runs.fetch_add(1); });
    EXPECT_EQ(runs.load(), 12);
  }
}

TEST(ThreadPool, WorkersThatSleptWakeForTheNextJob) {
  // Past the workers' spin (about 100 us) they sleep on the condition variable. Each task waits
  // until both have started, so both threads must be awake and working.
  ThreadPool pool(2);
  for (int rep = 0; rep < 3; ++rep) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::set<std::thread::id> ids;
    std::mutex mu;
    std::atomic<int> started{0};
    pool.parallel_tasks(2, [&](int64_t) {
      started.fetch_add(1);
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (started.load() < 2 && std::chrono::steady_clock::now() < end) std::this_thread::yield();
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
    EXPECT_EQ(ids.size(), 2u);
  }
}

}  // namespace
}  // namespace octet
