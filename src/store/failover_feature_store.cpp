#include "store/failover_feature_store.h"

#include <spdlog/spdlog.h>

#include <string>
#include <utility>

namespace recserve::store {

using resilience::BreakerState;
using resilience::DegradationReason;

namespace {

// The runbook greps for the opening warning.
resilience::BreakerTransitionListener LoggingListener(FeatureStore* fallback,
                                                      resilience::BreakerTransitionListener next) {
  const std::string fallback_name =
      fallback != nullptr ? std::string(fallback->backend()) : "nothing (history: live events)";
  return resilience::LoggingBreakerListener(
      "Failed to connect to Redis feature store: too many failed reads; serving features from " +
          fallback_name + " until a probe succeeds",
      "Redis feature store answers again: reading from Redis", std::move(next));
}

}  // namespace

Result<std::unique_ptr<FailoverFeatureStore>> FailoverFeatureStore::Create(
    FailoverFeatureStoreOptions options, FeatureStore* fallback, observe::Registry& registry,
    resilience::BreakerTransitionListener on_transition, resilience::FaultInjector* faults,
    Status* first_connect) {
  auto endpoint = RedisEndpoint::Parse(options.redis_url);
  if (!endpoint.ok()) return endpoint.status();
  RECSERVE_RETURN_IF_ERROR(resilience::ValidateCircuitBreakerOptions(options.breaker));
  std::unique_ptr<FailoverFeatureStore> store(new FailoverFeatureStore(
      std::move(options), *endpoint, fallback, registry, std::move(on_transition), faults));
  Status connected = store->Reconnect();
  if (first_connect != nullptr) *first_connect = connected;
  return store;
}

FailoverFeatureStore::FailoverFeatureStore(FailoverFeatureStoreOptions options,
                                           RedisEndpoint endpoint, FeatureStore* fallback,
                                           observe::Registry& registry,
                                           resilience::BreakerTransitionListener on_transition,
                                           resilience::FaultInjector* faults)
    : options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      fallback_(fallback),
      faults_(faults),
      timeouts_(registry
                    .AddCounter("recommendation_timeouts_total",
                                "Deadlines that passed, by operation.", {"operation"})
                    .WithLabels({"redis_feature_store"})),
      breaker_("feature_store", options_.breaker, resilience::SystemSteadyClock(),
               LoggingListener(fallback, std::move(on_transition))) {
  // Export the closed state from the start, so dashboards see the series before any transition.
  registry
      .AddGauge("circuit_breaker_state", "Circuit breaker state: 0 closed, 1 open, 2 half-open.",
                {"dependency"})
      .WithLabels({"feature_store"})
      .Set(0);
}

Result<std::shared_ptr<RedisFeatureStore>> FailoverFeatureStore::ConnectPrimary() {
  auto client = RedisClient::Connect(endpoint_, {options_.timeout, options_.timeout});
  if (!client.ok()) return client.status();
  return std::make_shared<RedisFeatureStore>(std::move(client).value(), options_.pointer_refresh);
}

Result<std::shared_ptr<RedisFeatureStore>> FailoverFeatureStore::Primary() {
  {
    core::MutexLock lock(mu_);
    if (primary_) return primary_;
  }
  // Connect without the lock: a slow connect (bounded by the timeout) must not queue every other
  // request thread behind it. Two threads may race to connect; the first one's store is kept.
  auto connected = ConnectPrimary();
  if (!connected.ok()) return connected.status();
  core::MutexLock lock(mu_);
  if (!primary_) primary_ = std::move(connected).value();
  return primary_;
}

Status FailoverFeatureStore::Reconnect() {
  auto connected = ConnectPrimary();
  if (!connected.ok()) return connected.status();
  // A connection is not enough: serving from Redis needs a synced snapshot behind the pointer.
  auto metadata = (*connected)->GetMetadata();
  if (!metadata.ok()) return metadata.status();
  {
    core::MutexLock lock(mu_);
    primary_ = std::move(connected).value();
  }
  breaker_.Reset();
  redis_answered_last_.store(true, std::memory_order_relaxed);
  return Status::Ok();
}

template <typename T, typename ReadFn>
Result<T> FailoverFeatureStore::Read(const ReadFn& read,
                                     std::optional<DegradationReason>* degraded) {
  auto fall_back = [&](DegradationReason reason, Status redis_error) -> Result<T> {
    redis_answered_last_.store(false, std::memory_order_relaxed);
    if (degraded != nullptr) *degraded = reason;
    if (fallback_ == nullptr) return redis_error;
    return read(*fallback_);
  };
  resilience::CircuitBreaker::Permit permit = breaker_.TryAcquire();
  if (!permit) {
    return fall_back(DegradationReason::kBreakerOpenFeatureStore,
                     Unavailable("feature_store breaker open"));
  }
  Status failure;
  if (faults_ != nullptr) {
    failure = faults_->InjectWithin(resilience::FaultOperation::kRedis, options_.timeout);
  }
  if (failure.ok()) {
    auto primary = Primary();
    if (primary.ok()) {
      Result<T> answer = read(**primary);
      if (answer.ok() || answer.status().code() == StatusCode::kNotFound) {
        permit.RecordSuccess();
        redis_answered_last_.store(true, std::memory_order_relaxed);
        return answer;
      }
      failure = answer.status();
    } else {
      failure = primary.status();
    }
  }
  if (failure.code() == StatusCode::kDeadlineExceeded) timeouts_.Inc();
  permit.RecordFailure();
  return fall_back(DegradationReason::kTimeoutRedis, std::move(failure));
}

Result<UserFeatures> FailoverFeatureStore::GetUser(std::string_view user_id) {
  return ReadUser(user_id).features;
}

FeatureStore::UserRead FailoverFeatureStore::ReadUser(std::string_view user_id) {
  std::optional<DegradationReason> degraded;
  Result<UserFeatures> features =
      Read<UserFeatures>([&](FeatureStore& store) { return store.GetUser(user_id); }, &degraded);
  return {std::move(features), degraded};
}

Result<ItemFeatures> FailoverFeatureStore::GetItem(std::string_view item_id) {
  return Read<ItemFeatures>([&](FeatureStore& store) { return store.GetItem(item_id); }, nullptr);
}

Result<std::vector<RankedItem>> FailoverFeatureStore::GetPopular() {
  return Read<std::vector<RankedItem>>([](FeatureStore& store) { return store.GetPopular(); },
                                       nullptr);
}

Result<std::vector<RankedItem>> FailoverFeatureStore::GetTrending() {
  return Read<std::vector<RankedItem>>([](FeatureStore& store) { return store.GetTrending(); },
                                       nullptr);
}

Result<SnapshotMetadata> FailoverFeatureStore::GetMetadata() {
  return Read<SnapshotMetadata>([](FeatureStore& store) { return store.GetMetadata(); }, nullptr);
}

std::string_view FailoverFeatureStore::backend() const {
  if (redis_answered_last_.load(std::memory_order_relaxed)) return "redis";
  return fallback_ != nullptr ? fallback_->backend() : "none";
}

}  // namespace recserve::store
