#pragma once
// Splits [0, n) into `threads` contiguous ranges run on their own threads. Training code uses it
// so that results depend only on the ranges (fixed for a thread count), never on scheduling.

#include <algorithm>
#include <cstdint>
#include <thread>
#include <vector>

namespace recserve::models {

// Runs fn(worker, begin, end) over [0, n) split into `threads` contiguous ranges; one range on
// the calling thread when threads <= 1 or n < 2.
template <typename Fn>
void ParallelRanges(uint32_t n, int threads, Fn fn) {
  threads = std::max(1, threads);
  if (threads == 1 || n < 2) {
    fn(0, 0u, n);
    return;
  }
  std::vector<std::thread> workers;
  const uint32_t chunk = (n + threads - 1) / threads;
  for (int w = 0; w < threads; ++w) {
    const uint32_t begin = std::min(n, w * chunk);
    const uint32_t end = std::min(n, begin + chunk);
    workers.emplace_back([=] { fn(w, begin, end); });
  }
  for (auto& t : workers) t.join();
}

}  // namespace recserve::models
