// best_seconds: the benchmarks' timing rule: one warm-up call, then the fastest of `repeats` timed
// calls (the least disturbed by the other work of a shared machine).
#pragma once

#include <algorithm>
#include <chrono>

template <class F>
double best_seconds(F&& f, int repeats) {
  f();
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto start = std::chrono::steady_clock::now();
    f();
    best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  return best;
}
