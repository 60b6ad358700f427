#include "store/redis_recommendation_cache.h"

#include <nlohmann/json.hpp>

#include "core/json_text.h"
#include "resilience/breaker_metrics.h"

namespace recserve::store {

namespace {

constexpr std::string_view kKeyPrefix = "recserve:rec:";

std::string EncodeCached(const CachedRecommendation& value) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& item : value.items) items.push_back({item.item_id, item.score});
  return JsonText(nlohmann::json{{"items", items},
                                 {"model_version", value.model_version},
                                 {"source", value.source},
                                 {"degraded_reason", value.degraded_reason}});
}

// DataLoss for anything that is not what EncodeCached writes.
Result<std::shared_ptr<const CachedRecommendation>> DecodeCached(const std::string& text) {
  auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object() || !doc.contains("items") || !doc["items"].is_array()) {
    return DataLoss("malformed cached recommendation");
  }
  auto out = std::make_shared<CachedRecommendation>();
  for (const auto& item : doc["items"]) {
    if (!item.is_array() || item.size() != 2 || !item[0].is_string() || !item[1].is_number()) {
      return DataLoss("malformed cached recommendation item");
    }
    out->items.push_back({item[0].get<std::string>(), item[1].get<double>()});
  }
  for (auto [field, target] :
       {std::pair{"model_version", &out->model_version}, std::pair{"source", &out->source},
        std::pair{"degraded_reason", &out->degraded_reason}}) {
    if (!doc.contains(field) || !doc[field].is_string()) {
      return DataLoss(std::string("cached recommendation without ") + field);
    }
    *target = doc[field].get<std::string>();
  }
  return std::shared_ptr<const CachedRecommendation>(std::move(out));
}

resilience::CircuitBreakerOptions CacheBreakerOptions() {
  resilience::CircuitBreakerOptions options;
  options.min_requests = 5;
  options.open_duration = std::chrono::seconds(2);
  return options;
}

}  // namespace

RedisRecommendationCache::RedisRecommendationCache(RedisEndpoint endpoint,
                                                   std::chrono::milliseconds timeout,
                                                   std::chrono::milliseconds ttl,
                                                   observe::Registry& registry,
                                                   resilience::FaultInjector* faults)
    : endpoint_(std::move(endpoint)),
      timeout_(timeout),
      ttl_(ttl),
      faults_(faults),
      timeouts_(registry.AddCounter("recommendation_timeouts_total",
                                    "Deadlines that passed, by operation.", {"operation"})),
      breaker_("cache", CacheBreakerOptions(), resilience::SystemSteadyClock(),
               resilience::LoggingBreakerListener(
                   "Redis connection failed: recommendation cache calls keep failing; serving "
                   "without the cache until a probe succeeds",
                   "Redis connection restored: recommendation cache enabled again",
                   resilience::BreakerMetricsListener(registry))) {
  registry.AddGauge("circuit_breaker_state", "", {"dependency"}).WithLabels({"cache"}).Set(0);
}

Result<std::unique_ptr<RedisRecommendationCache>> RedisRecommendationCache::Create(
    const std::string& url, std::chrono::milliseconds timeout, std::chrono::milliseconds ttl,
    observe::Registry& registry, resilience::FaultInjector* faults, Status* first_connect) {
  auto endpoint = RedisEndpoint::Parse(url);
  if (!endpoint.ok()) return endpoint.status();
  std::unique_ptr<RedisRecommendationCache> cache(
      new RedisRecommendationCache(*endpoint, timeout, ttl, registry, faults));
  Status connected = cache->Reconnect();
  if (first_connect != nullptr) *first_connect = connected;
  return cache;
}

Status RedisRecommendationCache::Reconnect() {
  auto client = RedisClient::Connect(endpoint_, {timeout_, timeout_});
  {
    core::MutexLock lock(mu_);
    if (!client.ok()) {
      client_.reset();
      return client.status();
    }
    client_ = std::move(client).value();
  }
  // The connection just answered (AUTH/SELECT or the TCP handshake): Redis is back, so stop
  // serving around it now instead of after the cool-down and a probe.
  breaker_.Reset();
  return Status::Ok();
}

bool RedisRecommendationCache::available() {
  if (breaker_.state() == resilience::BreakerState::kOpen) return false;
  core::MutexLock lock(mu_);
  return client_ != nullptr && client_->usable();
}

Result<RedisReply> RedisRecommendationCache::Call(const std::vector<std::string_view>& args) {
  resilience::CircuitBreaker::Permit permit = breaker_.TryAcquire();
  if (!permit) return FailedPrecondition("cache breaker open");
  if (faults_ != nullptr) {
    Status injected = faults_->InjectWithin(resilience::FaultOperation::kRedis, timeout_);
    if (injected.code() == StatusCode::kDeadlineExceeded) {
      timeouts_.WithLabels({"redis_cache"}).Inc();
    }
    if (!injected.ok()) return injected;
  }
  core::MutexLock lock(mu_);
  if (client_ == nullptr || !client_->usable()) {
    auto client = RedisClient::Connect(endpoint_, {timeout_, timeout_});
    if (!client.ok()) return client.status();  // the dropped permit records the failure
    client_ = std::move(client).value();
  }
  auto reply = client_->Command(args);
  if (!reply.ok()) {
    if (reply.status().code() == StatusCode::kDeadlineExceeded) {
      timeouts_.WithLabels({"redis_cache"}).Inc();
    }
    return reply.status();
  }
  permit.RecordSuccess();
  return reply;
}

Result<std::shared_ptr<const CachedRecommendation>> RedisRecommendationCache::Lookup(
    const std::string& key) {
  std::string full_key = std::string(kKeyPrefix) + key;
  auto reply = Call({"GET", full_key});
  if (!reply.ok()) return reply.status();
  if (reply->type == RedisReply::Type::kNil) {
    return std::shared_ptr<const CachedRecommendation>();
  }
  if (reply->type != RedisReply::Type::kString) {
    return DataLoss("unexpected Redis reply type for a cached recommendation");
  }
  return DecodeCached(reply->text);
}

Status RedisRecommendationCache::Store(const std::string& key,
                                       std::shared_ptr<const CachedRecommendation> value) {
  std::string full_key = std::string(kKeyPrefix) + key;
  std::string encoded = EncodeCached(*value);
  std::string ttl_ms = std::to_string(std::max<long long>(1, ttl_.count()));
  auto reply = Call({"SET", full_key, encoded, "PX", ttl_ms});
  return reply.ok() ? Status::Ok() : reply.status();
}

}  // namespace recserve::store
