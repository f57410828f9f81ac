// A fixed pool of worker threads for the engine's intra-op and batch parallelism. The calling
// thread takes part in every parallel_for, so a pool of T threads starts T - 1 workers and a pool
// of 1 runs everything inline (touching none of its state, so one pool of 1 may serve several
// threads at once). Idle workers spin briefly (about 100 us) before sleeping, so the
// back-to-back small jobs of one inference do not pay a futex wake-up each.
//
// Tasks are handed out by owner first: of a job's n tasks, thread t (the caller is 0, worker i is
// i + 1) first runs its own contiguous block, tasks [t n / T, (t + 1) n / T), then takes whatever
// is left of the others' blocks. So the same part of every layer (the same output rows of
// consecutive convolutions, say) usually runs on the same core, and reads what that core wrote
// from its own cache instead of another core's, while a thread that falls behind (descheduled,
// or given slower tasks) still has its tasks taken by the others. Which thread runs which task
// never changes a kernel's result (kernels are written so that any split gives the same bits).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace octet {

class ThreadPool {
 public:
  // threads <= 0: one per core (std::thread::hardware_concurrency()).
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Splits [0, n) into at most size() contiguous ranges of at least `grain` items (the last may be
  // shorter) and calls fn(begin, end) once per range, the caller running one of them; returns when
  // all are done. An exception thrown by fn is rethrown here (the first one). Not re-entrant: fn
  // must not call parallel_for on the same pool.
  void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

  // Calls fn(task) once for each task in [0, tasks): each thread first runs its own block of
  // tasks, then takes those still unclaimed in the other blocks (for uneven work such as
  // per-image convolutions).
  void parallel_tasks(int64_t tasks, const std::function<void(int64_t)>& fn);

 private:
  void worker_loop(int index);
  // Runs thread `index`'s block of the job, then any unclaimed task; records the first error.
  void work(int index, const std::function<void(int64_t)>& fn, int64_t tasks);
  // A load first, so that a thread looking over the others' blocks does not write a flag that
  // is taken already.
  bool claim(int64_t task) {
    std::atomic<uint8_t>& f = claimed_[static_cast<size_t>(task)];
    return f.load(std::memory_order_relaxed) == 0 && f.exchange(1, std::memory_order_acq_rel) == 0;
  }

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* job_ = nullptr;  // guarded by mu_
  int64_t job_tasks_ = 0;                              // guarded by mu_
  // One flag per task of the current job; resized and cleared by the caller under mu_ while no
  // worker takes part in a job (active_ == 0).
  std::unique_ptr<std::atomic<uint8_t>[]> claimed_;
  int64_t claimed_size_ = 0;
  // Workers inside work() for the current job, joined under mu_. The job is over when the caller
  // has left work() (every task claimed) and no worker is inside it (every claimed task done).
  std::atomic<int> active_{0};
  std::atomic<bool> caller_waits_{false};  // the caller sleeps on done_: the last worker out wakes it
  std::atomic<uint64_t> generation_{0};  // bumped (under mu_) for every job
  bool stop_ = false;
  std::exception_ptr error_;             // guarded by mu_
};

}  // namespace octet
