#include "runtime/thread_pool.h"

#include <algorithm>

namespace octet {
namespace {

// Busy-waits (with the CPU's pause hint) while busy() holds, for at most about a hundred
// microseconds (4,000 pauses of 25 ns on AMD Zen 4); the caller then blocks on its condition
// variable if it must.
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
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work(int index, const std::function<void(int64_t)>& fn, int64_t tasks) {
  const int64_t threads = size();
  auto run = [&](int64_t task) {
    try {
      fn(task);
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!error_) error_ = std::current_exception();
    }
  };
  const int64_t own0 = tasks * index / threads, own1 = tasks * (index + 1) / threads;
  for (int64_t t = own0; t < own1; ++t)
    if (claim(t)) run(t);
  // Then the others' blocks, each from its end (where its owner will get to last).
  for (int64_t o = 1; o < threads; ++o) {
    const int64_t other = (index + o) % threads;
    const int64_t b0 = tasks * other / threads, b1 = tasks * (other + 1) / threads;
    for (int64_t t = b1 - 1; t >= b0; --t)
      if (claim(t)) run(t);
  }
}

void ThreadPool::worker_loop(int index) {
  uint64_t seen = 0;
  for (;;) {
    // Spin first: the next job of the same inference usually follows within microseconds.
    spin_while([&] { return generation_.load(std::memory_order_acquire) == seen; });
    const std::function<void(int64_t)>* job;
    int64_t tasks;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_ || generation_.load() != seen; });
      if (stop_) return;
      seen = generation_.load();
      job = job_;
      tasks = job_tasks_;
      if (!job) continue;  // that job is over already
      active_.fetch_add(1, std::memory_order_relaxed);
    }
    work(index, *job, tasks);
    // Sequentially consistent, as is the caller's store to caller_waits_ before it reads active_:
    // either the caller sees this worker out, or this worker sees the caller waiting.
    if (active_.fetch_sub(1) == 1 && caller_waits_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      done_.notify_all();
    }
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
    if (claimed_size_ < tasks) {  // no worker is inside work() between jobs
      const int64_t size = std::max<int64_t>(tasks, 2 * claimed_size_);
      claimed_.reset(new std::atomic<uint8_t>[static_cast<size_t>(size)]);  // the size only once allocated
      claimed_size_ = size;
    }
    for (int64_t t = 0; t < tasks; ++t) claimed_[static_cast<size_t>(t)].store(0, std::memory_order_relaxed);
    job_ = &fn;
    job_tasks_ = tasks;
    error_ = nullptr;
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  work(0, fn, tasks);
  // Every task is claimed now. The other threads' last tasks usually end within microseconds:
  // spin before sleeping, since a futex sleep and wake-up costs more than that (tens of
  // microseconds in a VM). The job ends only when every worker that joined it has left work(),
  // so none still reads claimed_ or fn when the next job begins; a worker joins only under mu_
  // while job_ is set, so once active_ is 0 under mu_ none can.
  auto over = [&] { return active_.load() == 0; };
  spin_while([&] { return !over(); });
  std::exception_ptr err;
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (!over()) {
      caller_waits_.store(true);
      done_.wait(lock, over);
      caller_waits_.store(false);
    }
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
