// A fixed pool of worker threads for the engine's intra-op and batch parallelism. The calling
// thread takes part in every parallel_for, so a pool of T threads starts T - 1 workers and a pool
// of 1 runs everything inline (touching none of its state, so one pool of 1 may serve several
// threads at once). Idle workers spin briefly (about 50 us) before sleeping, so the
// back-to-back small jobs of one inference do not pay a futex wake-up each. Work is handed out as contiguous index ranges; which thread runs
// which range never changes a kernel's result (kernels are written so that any split gives the
// same bits).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
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

  // Calls fn(task) for task in [0, tasks), tasks taken one at a time by whichever thread is free
  // (for uneven work such as per-image convolutions).
  void parallel_tasks(int64_t tasks, const std::function<void(int64_t)>& fn);

 private:
  void worker_loop();
  void run_job();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_, done_;
  const std::function<void(int64_t)>* job_ = nullptr;
  int64_t job_tasks_ = 0;
  int64_t next_task_ = 0;   // guarded by mu_
  std::atomic<int64_t> finished_{0};  // written under mu_; read without it by the caller's spin
  std::atomic<uint64_t> generation_{0};  // bumped (under mu_) for every job
  bool stop_ = false;
  std::exception_ptr error_;
};

}  // namespace octet
