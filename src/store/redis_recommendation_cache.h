#pragma once
// RedisRecommendationCache: the recommendation cache shared by every replica, in Redis
// (REDIS_URL). Keys are "recserve:rec:" + RecommendationCacheKey (model version, user, k,
// live-history generation), values a small JSON document, written with SET ... PX <ttl>.
//
// Every Redis call has the deadline REDIS_TIMEOUT (the client's command timeout) and goes
// through the `cache` circuit breaker. While the breaker is open Lookup/Store return
// FailedPrecondition at once (the engine counts a bypass, reason `breaker_open:cache`); a failed
// or late call returns its error (counted `error`, reason `timeout:redis`;
// recommendation_timeouts_total{operation="redis_cache"} for a late one). A broken connection is
// re-established by the next call the breaker lets through, so the cache recovers by itself once
// Redis is back (the breaker's half-open probe).
//
// Thread-safe: one connection guarded by a mutex (calls are short and bounded by the deadline).

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "observe/metrics.h"
#include "resilience/circuit_breaker.h"
#include "resilience/fault_injector.h"
#include "store/recommendation_cache.h"
#include "store/redis_client.h"

namespace recserve::store {

class RedisRecommendationCache final : public RecommendationCache {
 public:
  // Parses `url` and connects once. Returns the cache even when that first connection fails
  // (`*first_connect` gets the error) so it can recover later; InvalidArgument for a bad URL.
  // `faults` may be null; it and `registry` must outlive the cache.
  static Result<std::unique_ptr<RedisRecommendationCache>> Create(
      const std::string& url, std::chrono::milliseconds timeout, std::chrono::milliseconds ttl,
      observe::Registry& registry, resilience::FaultInjector* faults, Status* first_connect);

  Result<std::shared_ptr<const CachedRecommendation>> Lookup(const std::string& key) override;
  Status Store(const std::string& key, std::shared_ptr<const CachedRecommendation> value) override;
  std::string_view kind() const override { return "redis"; }
  // True while connected and the breaker is not open: what /health reports as "enabled".
  bool available() override;
  // Drops the connection and connects again now (POST /models/reload with an empty body). On
  // success the `cache` breaker is closed at once (a transition when it was open or half-open),
  // so the next request uses the cache; on failure the error is returned and the breaker is left
  // as it was. Thread-safe.
  Status Reconnect();

 private:
  RedisRecommendationCache(RedisEndpoint endpoint, std::chrono::milliseconds timeout,
                           std::chrono::milliseconds ttl, observe::Registry& registry,
                           resilience::FaultInjector* faults);
  // Runs one command under the breaker, reconnecting first when the connection is broken.
  Result<RedisReply> Call(const std::vector<std::string_view>& args);

  RedisEndpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds ttl_;
  resilience::FaultInjector* faults_;
  observe::Family<observe::Counter>& timeouts_;
  resilience::CircuitBreaker breaker_;
  core::Mutex mu_;
  std::unique_ptr<RedisClient> client_ GUARDED_BY(mu_);  // null or unusable while disconnected
};

}  // namespace recserve::store
