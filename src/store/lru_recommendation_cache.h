#pragma once
// LruRecommendationCache: the in-process recommendation cache (RECOMMENDATION_CACHE_SIZE), used
// when no REDIS_URL is set. Each replica keeps its own lists.

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/thread_annotations.h"
#include "store/recommendation_cache.h"

namespace recserve::store {

// Bounded in-process LRU with a TTL, split into shards by key hash so request threads rarely
// contend on one mutex. Capacity is per process (divided evenly over the shards).
class LruRecommendationCache final : public RecommendationCache {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kShards = 16;

  // REQUIRES: capacity > 0, ttl > 0. `now` is injectable for tests.
  LruRecommendationCache(size_t capacity, std::chrono::milliseconds ttl,
                         std::function<Clock::time_point()> now = Clock::now);

  Result<std::shared_ptr<const CachedRecommendation>> Lookup(const std::string& key) override;
  Status Store(const std::string& key, std::shared_ptr<const CachedRecommendation> value) override;
  std::string_view kind() const override { return "lru"; }

  size_t size() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const CachedRecommendation> value;
    Clock::time_point expires_at;
  };
  struct Shard {
    mutable core::Mutex mu;
    std::list<Entry> order GUARDED_BY(mu);  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index
        GUARDED_BY(mu);  // views into order
  };
  Shard& ShardFor(const std::string& key);

  const size_t per_shard_capacity_;
  const std::chrono::milliseconds ttl_;
  std::function<Clock::time_point()> now_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace recserve::store
