#pragma once
// FailoverFeatureStore: the feature store `recserve serve` reads when FEATURE_REDIS_URL is set.
// Redis (a RedisFeatureStore filled by `recserve sync`) is the primary; the SQLite store
// (FEATURE_STORE_PATH) answers whenever Redis cannot: unreachable, slower than REDIS_TIMEOUT,
// not synced yet, or skipped because the `feature_store` circuit breaker is open. The two hold
// the same snapshot format, so a fallback answer is the same data as of the last pipeline run.
//
// Per read:
//   breaker refuses (open, or half-open with its probe in flight)
//       → fallback without touching Redis; degraded reason `breaker_open:feature_store`
//   Redis answers (a NotFound is a normal miss, returned as is, and counts as a success)
//       → that answer; breaker success
//   Redis fails (I/O error, REDIS_TIMEOUT passed, nothing synced, corrupt record)
//       → breaker failure, fallback; degraded reason `timeout:redis`; a passed deadline also
//         counts recommendation_timeouts_total{operation="redis_feature_store"}
// Every Redis round trip is bounded by REDIS_TIMEOUT (the client's command timeout; connects
// too). A read is one round trip, plus two when the cached snapshot pointer is older than
// `pointer_refresh`, plus a connect when the connection is broken.
//
// Coming back needs no operator: after the breaker's cool-down the next read is its half-open
// probe, a success closes it and reads go to Redis again (a broken connection is re-established
// by that read). Reconnect() does the same at once (POST /models/reload with an empty body).
//
// Thread-safe: every method may be called from any number of request threads. Reads through
// Redis are serialised by RedisFeatureStore's one connection; fallback reads by SQLite's.

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "observe/metrics.h"
#include "resilience/circuit_breaker.h"
#include "resilience/degradation_reason.h"
#include "resilience/fault_injector.h"
#include "store/feature_store.h"
#include "store/redis_client.h"
#include "store/redis_feature_store.h"

namespace recserve::store {

struct FailoverFeatureStoreOptions {
  std::string redis_url;                   // FEATURE_REDIS_URL
  std::chrono::milliseconds timeout{100};  // REDIS_TIMEOUT: connect and every round trip
  // A new synced version is picked up within this time (RedisFeatureStore's pointer cache).
  std::chrono::milliseconds pointer_refresh{1000};
  // Same shape as the cache's breaker: a handful of failures in 10 s opens it, probes after 2 s.
  resilience::CircuitBreakerOptions breaker = [] {
    resilience::CircuitBreakerOptions options;
    options.min_requests = 5;
    options.open_duration = std::chrono::seconds(2);
    return options;
  }();
};

class FailoverFeatureStore final : public FeatureStore {
 public:
  // Parses the URL (InvalidArgument naming it when malformed) and tries Redis once, as
  // Reconnect() does; the store is returned even when that fails (`*first_connect` gets why,
  // e.g. "Redis connection failed: ..." or "no feature snapshot has been synced to Redis"), so
  // serving starts on the fallback and switches to Redis when it answers.
  // `fallback` may be null (then a failed Redis read returns its error). `on_transition` gets
  // the `feature_store` breaker's transitions (the engine's BreakerMetricsListener exports
  // them). `faults` may be null; FAULT_REDIS_* applies to every Redis read. `fallback`,
  // `registry` and `faults` must outlive the store.
  static Result<std::unique_ptr<FailoverFeatureStore>> Create(
      FailoverFeatureStoreOptions options, FeatureStore* fallback, observe::Registry& registry,
      resilience::BreakerTransitionListener on_transition, resilience::FaultInjector* faults,
      Status* first_connect);
  FailoverFeatureStore(const FailoverFeatureStore&) = delete;
  FailoverFeatureStore& operator=(const FailoverFeatureStore&) = delete;

  Result<UserFeatures> GetUser(std::string_view user_id) override;
  Result<ItemFeatures> GetItem(std::string_view item_id) override;
  Result<std::vector<RankedItem>> GetPopular() override;
  Result<std::vector<RankedItem>> GetTrending() override;
  Result<SnapshotMetadata> GetMetadata() override;
  UserRead ReadUser(std::string_view user_id) override;

  // "redis" when the latest read was answered by Redis, else the fallback's backend ("sqlite"),
  // or "none" without a fallback. Right after Create(): "redis" only if Redis had a snapshot.
  std::string_view backend() const override;

  // Connects afresh now and checks that a snapshot is synced. On success reads use the new
  // connection and the breaker is closed at once; on failure the error is returned and nothing
  // changes (the breaker keeps probing by itself).
  Status Reconnect();

  resilience::BreakerState breaker_state() { return breaker_.state(); }

 private:
  FailoverFeatureStore(FailoverFeatureStoreOptions options, RedisEndpoint endpoint,
                       FeatureStore* fallback, observe::Registry& registry,
                       resilience::BreakerTransitionListener on_transition,
                       resilience::FaultInjector* faults);

  // One read: Redis under the breaker, else `fallback_`; see the table at the top. `read` is
  // called with the store to read from; `degraded` (may be null) gets the fallback's reason.
  template <typename T, typename ReadFn>
  Result<T> Read(const ReadFn& read, std::optional<resilience::DegradationReason>* degraded);
  // The Redis store, connecting first when there is none yet; the connect error otherwise.
  Result<std::shared_ptr<RedisFeatureStore>> Primary();
  Result<std::shared_ptr<RedisFeatureStore>> ConnectPrimary();

  const FailoverFeatureStoreOptions options_;
  const RedisEndpoint endpoint_;
  FeatureStore* const fallback_;
  resilience::FaultInjector* const faults_;
  observe::Counter& timeouts_;  // recommendation_timeouts_total{operation="redis_feature_store"}
  resilience::CircuitBreaker breaker_;
  std::atomic<bool> redis_answered_last_{false};

  core::Mutex mu_;  // guards primary_ (the pointer, not the store)
  std::shared_ptr<RedisFeatureStore> primary_ GUARDED_BY(mu_);  // null until a connect succeeded
};

}  // namespace recserve::store
