#pragma once
// The recommendation cache: finished recommendation lists keyed by model version, user, k and the
// user's live-history generation (so a new event for the user never serves a stale list).
// RecommendationCache is the small interface the engine uses; LruRecommendationCache
// (store/lru_recommendation_cache.h) keeps lists in process, RedisRecommendationCache
// (store/redis_recommendation_cache.h) shares them between replicas.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace recserve::store {

// One item of a cached list, as the engine answered it.
struct CachedItem {
  std::string item_id;
  double score = 0;
};

// One cached answer of GET /recommendations.
struct CachedRecommendation {
  std::vector<CachedItem> items;  // best first
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

}  // namespace recserve::store
