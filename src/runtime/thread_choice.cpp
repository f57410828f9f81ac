#include "runtime/thread_choice.h"

#include <algorithm>

namespace octet {

int64_t ThreadChoice::probe_interval(const State& s) {
  const double ratio = s.one ? s.pool_ms / s.one_ms : s.one_ms / s.pool_ms;
  if (!(ratio > kClear)) return kProbeEvery;
  return std::clamp(static_cast<int64_t>(kProbeCost * (std::min(ratio, 1e6) - 1)), kProbeRare, kProbeMax);
}

bool ThreadChoice::next_is_one(int64_t n) {
  State& s = states_[n];
  ++s.runs;
  if (s.runs <= kWarmRuns) return false;
  if (s.runs <= 2 * kWarmRuns) return true;
  if (s.pool_probe > 0) return false;
  if (s.runs < s.next_probe) return s.one;
  s.next_probe = s.runs + probe_interval(s);
  if (s.one) {
    s.pool_probe = 2;
    return false;
  }
  return true;
}

void ThreadChoice::record(int64_t n, bool one, double ms) {
  State& s = states_[n];
  const bool woke = !one && last_one_;  // the pool's first run after one-thread runs
  last_one_ = one;
  if (!one && s.pool_probe > 0) --s.pool_probe;
  if (s.runs <= 2 * kWarmRuns) {  // warm-up: the last run of each kind gives the first mean
    (one ? s.one_ms : s.pool_ms) = ms;
  } else if (!woke) {
    double& mean = one ? s.one_ms : s.pool_ms;
    const double keep = mean == 0 ? 0 : one == s.one ? kKeep : 0.5;  // 0: a warm-up run threw
    mean = keep * mean + (1 - keep) * (mean == 0 ? ms : std::min(ms, kOutlier * mean));
  }
  if (s.runs >= 2 * kWarmRuns) {
    s.one = s.one_ms * (s.one ? 1.0 : kPoolBias) < s.pool_ms;
    if (s.runs == 2 * kWarmRuns) s.next_probe = s.runs + probe_interval(s);
  }
}

}  // namespace octet
