#include "runtime/thread_pool.h"

#include <algorithm>

namespace octet {
namespace {

// Busy-waits (with the CPU's pause hint) while busy() holds, for at most a few tens of
// microseconds; the caller then blocks on its condition variable if it must.
template <class Busy>
void spin_while(Busy busy) {
  for (int i = 0; i < 4000 && busy(); ++i) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

// Takes tasks of the current job until none is left. Called with mu_ unlocked.
void ThreadPool::run_job() {
  for (;;) {
    int64_t task;
    const std::function<void(int64_t)>* job;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!job_ || next_task_ >= job_tasks_) return;
      task = next_task_++;
      job = job_;
    }
    try {
      (*job)(task);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (++finished_ == job_tasks_) done_.notify_all();
  }
}

void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    // Spin first: the next job of the same inference usually follows within microseconds.
    spin_while([&] { return generation_.load(std::memory_order_acquire) == seen; });
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
    }
    run_job();
  }
}

void ThreadPool::parallel_tasks(int64_t tasks, const std::function<void(int64_t)>& fn) {
  if (tasks <= 0) return;
  if (workers_.empty() || tasks == 1) {
    for (int64_t t = 0; t < tasks; ++t) fn(t);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    job_tasks_ = tasks;
    next_task_ = 0;
    finished_ = 0;
    error_ = nullptr;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  run_job();
  // The other threads' last tasks usually end within microseconds: spin before sleeping, since a
  // futex sleep and wake-up costs more than that (tens of microseconds in a VM).
  spin_while([&] { return finished_.load(std::memory_order_acquire) != tasks; });
  std::exception_ptr err;
  {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return finished_ == job_tasks_; });
    job_ = nullptr;
    err = error_;
    error_ = nullptr;
  }
  if (err) std::rethrow_exception(err);
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t max_parts = std::max<int64_t>(1, n / grain);
  const int64_t parts = std::min<int64_t>(size(), max_parts);
  if (parts == 1) {
    fn(0, n);
    return;
  }
  // Equal ranges rounded up to a multiple of grain, so kernels with tile alignment keep it.
  int64_t chunk = (n + parts - 1) / parts;
  chunk = (chunk + grain - 1) / grain * grain;
  const int64_t count = (n + chunk - 1) / chunk;
  parallel_tasks(count, [&](int64_t t) { fn(t * chunk, std::min(n, (t + 1) * chunk)); });
}

}  // namespace octet
