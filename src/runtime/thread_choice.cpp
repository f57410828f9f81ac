#include "runtime/thread_choice.h"

namespace octet {

bool ThreadChoice::next_is_one(int64_t n) {
  State& s = states_[n];
  ++s.runs;
  if (s.pool_probe > 0 || s.runs <= kWarmRuns || s.pool_ms == 0) return false;
  if (s.one_ms == 0) return true;
  const double ratio = s.one ? s.pool_ms / s.one_ms : s.one_ms / s.pool_ms;
  const int64_t every = ratio > kClear ? kProbeRare : kProbeEvery;
  if (s.runs % every != 0) return s.one;
  if (s.one) {
    s.pool_probe = 2;
    return false;
  }
  return true;
}

void ThreadChoice::record(int64_t n, bool one, double ms) {
  State& s = states_[n];
  const bool woke = !one && s.last_one;  // the pool's first run after one-thread runs
  s.last_one = one;
  if (!one && s.pool_probe > 0) --s.pool_probe;
  if (woke) return;
  double& mean = one ? s.one_ms : s.pool_ms;
  // The warm-up runs' last time only: the first runs of a size allocate and plan.
  const double keep = mean == 0 || s.runs <= kWarmRuns ? 0 : one == s.one ? kKeep : 0.5;
  mean = keep * mean + (1 - keep) * ms;
  if (s.one_ms > 0 && s.pool_ms > 0) s.one = s.one_ms < s.pool_ms;
}

}  // namespace octet
