#pragma once
// KeyedRateLimiter: one token bucket per key (a client address, an events key name), for
// per-client limits: `rate` tokens per second, at most `burst` saved up. Memory is bounded: at
// most `max_keys` buckets are kept; a new key past that replaces the least recently used one
// (whose client then starts again with a full bucket — the limit is per active client).
//
// Thread-safe.

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/thread_annotations.h"

namespace recserve::resilience {

class KeyedRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // REQUIRES: rate > 0, burst >= 1, max_keys > 0. `now` is injectable for tests.
  KeyedRateLimiter(double rate, double burst, size_t max_keys,
                   std::function<Clock::time_point()> now = Clock::now);
  KeyedRateLimiter(const KeyedRateLimiter&) = delete;
  KeyedRateLimiter& operator=(const KeyedRateLimiter&) = delete;

  // Takes `cost` tokens from `key`'s bucket when it has them and returns zero; otherwise takes
  // nothing and returns how long until it would have them (cost > burst never fits: returns
  // the time to fill the bucket).
  Clock::duration TryTake(std::string_view key, double cost = 1.0);

  // True when `key` has at least `cost` tokens now (takes nothing).
  bool HasTokens(std::string_view key, double cost = 1.0);

  size_t keys() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
    std::list<const std::string*>::iterator recency;
  };
  Bucket& Refill(std::string_view key, Clock::time_point now) EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const double rate_;
  const double burst_;
  const size_t max_keys_;
  std::function<Clock::time_point()> now_;
  mutable core::Mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_ GUARDED_BY(mu_);
  std::list<const std::string*> recency_ GUARDED_BY(mu_);  // front = most recently used
};

}  // namespace recserve::resilience
