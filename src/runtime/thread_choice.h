// The engine's choice between its thread pool and one thread for whole-batch runs
// (EngineOptions::adaptive_threads), as a policy over measured run times: no clock here, so that
// it can be tested with made-up times.
//
// Why: a second thread pays off only where the two cores exchange cache lines cheaply. On this
// project's 2-vCPU VM the vCPUs sometimes sit far apart (a line passed back and forth takes 320
// instead of 55 ns per round trip, for seconds at a time), and then resnet8 FP32 at batch 1 took
// 0.205 ms on 2 threads against 0.172 on one. Since every kernel gives the same bits on any split
// of its work, the engine may take whichever is faster now.
//
// Per batch size: the first kWarmRuns runs take the pool and the next kWarmRuns one thread (the
// last of each gives its first mean: the first runs of a size allocate and plan, and one thread
// may need larger buffers than its share of the pool did); after that the faster of the two so
// far, timing the other every kProbeEvery runs, or, when it was more than kClear times slower,
// every kProbeCost * (ratio - 1) runs (between kProbeRare and kProbeMax), so that probing costs
// about 1% of the time however many threads the pool has (a one-thread run on 16 cores is ~16
// pool runs), while a change in the machine is still followed within a few hundred runs. The
// mean of the choice in use moves by 1 - kKeep of each run, the other's by half of each probe,
// each time capped at kOutlier times the mean (a run the VM preempted would otherwise move a mean
// of 0.1 ms by as much as 0.1 ms; a real change still gets through in a few runs). One thread
// takes over only when kPoolBias times its mean is below the pool's (the pool is what the user
// asked for, and near-equal means would otherwise flip on noise).
// The pool's first run after one-thread runs (of any batch size) is not counted: the workers are
// asleep by then (they spin about 100 us), and waking them is not what the pool costs in a
// stream of runs; so a probe of the pool takes two runs.
#pragma once

#include <cstdint>
#include <map>

namespace octet {

class ThreadChoice {
 public:
  static constexpr int64_t kWarmRuns = 2;
  static constexpr int64_t kProbeEvery = 16, kProbeRare = 64, kProbeMax = 4096;
  static constexpr double kClear = 1.3, kProbeCost = 100;
  static constexpr double kKeep = 0.9;
  static constexpr double kOutlier = 1.5, kPoolBias = 1.05;

  // Whether the next run of batch size n takes one thread (else the pool).
  bool next_is_one(int64_t n);
  // What that run took.
  void record(int64_t n, bool one, double ms);
  // The means so far (0: none yet), for tests and reports.
  double pool_ms(int64_t n) const { return at(n).pool_ms; }
  double one_ms(int64_t n) const { return at(n).one_ms; }

 private:
  struct State {
    double pool_ms = 0, one_ms = 0;
    int64_t runs = 0;        // decisions made for this size
    int64_t next_probe = 0;  // the run from which the choice not in use is timed again
    bool one = false;        // one thread was faster so far
    int pool_probe = 0;      // runs left of a probe of the pool
  };
  const State& at(int64_t n) const {
    static const State none;
    const auto it = states_.find(n);
    return it == states_.end() ? none : it->second;
  }
  // Runs between probes of the choice not in use, from the means.
  static int64_t probe_interval(const State& s);
  std::map<int64_t, State> states_;
  bool last_one_ = false;  // the engine's last run took one thread
};

}  // namespace octet
