#include "resilience/keyed_rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace recserve::resilience {

KeyedRateLimiter::KeyedRateLimiter(double rate, double burst, size_t max_keys,
                                   std::function<Clock::time_point()> now)
    : rate_(rate), burst_(burst), max_keys_(max_keys), now_(std::move(now)) {}

KeyedRateLimiter::Bucket& KeyedRateLimiter::Refill(std::string_view key, Clock::time_point now) {
  auto [it, inserted] = buckets_.try_emplace(std::string(key), Bucket{burst_, now, {}});
  Bucket& b = it->second;
  if (inserted) {
    recency_.push_front(&it->first);
    b.recency = recency_.begin();
    while (buckets_.size() > max_keys_) {
      const std::string* oldest = recency_.back();
      recency_.pop_back();
      buckets_.erase(*oldest);
    }
  } else {
    recency_.splice(recency_.begin(), recency_, b.recency);
    double elapsed = std::chrono::duration<double>(now - b.updated).count();
    if (elapsed > 0) b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
    b.updated = std::max(b.updated, now);
  }
  return b;
}

KeyedRateLimiter::Clock::duration KeyedRateLimiter::TryTake(std::string_view key, double cost) {
  core::MutexLock lock(mu_);
  Bucket& b = Refill(key, now_());
  if (cost <= b.tokens) {
    b.tokens -= cost;
    return Clock::duration::zero();
  }
  // A cost above the burst can never be paid: report the time to a full bucket.
  double missing = std::min(cost, burst_) - b.tokens;
  auto wait = std::chrono::duration<double>(missing / rate_);
  return std::max<Clock::duration>(std::chrono::duration_cast<Clock::duration>(wait),
                                   std::chrono::milliseconds(1));
}

bool KeyedRateLimiter::HasTokens(std::string_view key, double cost) {
  core::MutexLock lock(mu_);
  return cost <= Refill(key, now_()).tokens;
}

size_t KeyedRateLimiter::keys() const {
  core::MutexLock lock(mu_);
  return buckets_.size();
}

}  // namespace recserve::resilience
