#pragma once
// The recommendation cache: finished recommendation lists keyed by model version, user, k and the
// user's live-history generation (so a new event for the user never serves a stale list).
// RecommendationCache is the small interface the engine uses; LruRecommendationCache is the
// in-process implementation (a Redis-backed one lives in src/store/ once it exists).

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "engine/serving_model.h"

namespace recserve::engine {

// One cached answer of GET /recommendations.
struct CachedRecommendation {
  std::vector<ScoredItem> items;
  std::string model_version;
  std::string source;           // "personalized" | "popular"
  std::string degraded_reason;  // empty when not degraded
};

// "<model_version>\x1f<user_id>\x1f<k>\x1f<generation>"
std::string RecommendationCacheKey(std::string_view model_version, std::string_view user_id,
                                   uint32_t k, uint64_t generation);

// Thread-safe implementations only.
class RecommendationCache {
 public:
  virtual ~RecommendationCache() = default;
  // The cached value, or null on a miss (absent or expired). A non-OK status is a cache failure
  // and the caller computes the answer itself: FailedPrecondition means the cache was skipped
  // without trying (its breaker is open; counted result="bypass"), anything else that it failed
  // (counted result="error").
  virtual Result<std::shared_ptr<const CachedRecommendation>> Lookup(const std::string& key) = 0;
  // Stores `value` under `key` for the cache's TTL. A failure is reported but never fatal.
  virtual Status Store(const std::string& key,
                       std::shared_ptr<const CachedRecommendation> value) = 0;
  // "lru" or "redis", for logs and /health.
  virtual std::string_view kind() const = 0;
  // False while the backing store is unreachable (/health then reports the cache "disabled").
  virtual bool available() { return true; }
};

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
    mutable std::mutex mu;
    std::list<Entry> order;  // most recently used first
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;  // views into order
  };
  Shard& ShardFor(const std::string& key);

  const size_t per_shard_capacity_;
  const std::chrono::milliseconds ttl_;
  std::function<Clock::time_point()> now_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace recserve::engine
