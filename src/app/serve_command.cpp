// `recserve serve`: the recommendation API (docs/API.md). Configuration comes from env vars,
// overridden by flags; every name is in docs/CONFIGURATION.md.
#include <spdlog/spdlog.h>

#include <boost/asio/ip/address.hpp>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

#include "app/commands.h"
#include "core/env.h"
#include "engine/bundle_serving_model.h"
#include "engine/live_lists_refresher.h"
#include "engine/live_state.h"
#include "engine/model_manager.h"
#include "engine/ranking_guard.h"
#include "engine/recommender.h"
#include "engine/shadow_scorer.h"
#include "engine/variant_lists.h"
#include "http/api_service.h"
#include "http/load_shedder.h"
#include "http/server.h"
#include "lifecycle/experiments.h"
#include "observe/data_quality_summary.h"
#include "observe/exposure_log.h"
#include "observe/metrics.h"
#include "observe/process_metrics.h"
#include "resilience/breaker_metrics.h"
#include "resilience/fault_injector.h"
#include "resilience/feature_flags.h"
#include "store/failover_feature_store.h"
#include "store/lru_recommendation_cache.h"
#include "store/redis_recommendation_cache.h"
#include "store/sqlite_feature_store.h"

namespace recserve::app {

namespace {

struct ServeFlags {
  int port = -1;     // -1: from PORT
  int threads = -1;  // -1: from HTTP_THREADS
  std::string bind;  // empty: from BIND_ADDRESS
};

// Reads an integer env var and checks its range; the error names the variable.
Result<long long> EnvIntInRange(const char* name, long long fallback, long long min,
                                long long max) {
  auto v = EnvIntOr(name, fallback);
  if (!v.ok()) return v.status();
  if (*v < min || *v > max) {
    return InvalidArgument(std::string(name) + "=" + std::to_string(*v) + " is outside " +
                           std::to_string(min) + ".." + std::to_string(max));
  }
  return *v;
}

Result<double> EnvSecondsPositive(const char* name, double fallback) {
  auto v = EnvDoubleOr(name, fallback);
  if (!v.ok()) return v.status();
  if (!(*v > 0) || *v > 86400) {
    return InvalidArgument(std::string(name) + " must be a number of seconds in (0, 86400]");
  }
  return *v;
}

// LIVE_MAX_USERS, LIVE_MAX_HISTORY_BYTES, LIVE_MAX_ITEMS, LIVE_MAX_WINDOW_ITEMS and
// LIVE_DISTINCT_PAIRS: the memory bounds of the live state (docs/CONFIGURATION.md).
Result<engine::LiveStateLimits> LiveStateLimitsFromEnv() {
  engine::LiveStateLimits limits;
  struct Knob {
    const char* name;
    size_t* value;
    long long max;
  };
  for (const Knob& k : {Knob{"LIVE_MAX_USERS", &limits.max_users, 100'000'000},
                        Knob{"LIVE_MAX_HISTORY_BYTES", &limits.max_history_bytes, 1LL << 40},
                        Knob{"LIVE_MAX_ITEMS", &limits.max_items, 100'000'000},
                        Knob{"LIVE_MAX_WINDOW_ITEMS", &limits.max_items_per_bucket, 10'000'000},
                        Knob{"LIVE_DISTINCT_PAIRS", &limits.distinct_pair_slots, 1LL << 32}}) {
    auto v = EnvIntInRange(k.name, static_cast<long long>(*k.value), 1, k.max);
    if (!v.ok()) return v.status();
    *k.value = static_cast<size_t>(*v);
  }
  return limits;
}

// EVENTS_TOKEN (one client, named "default") and EVENTS_KEYS ("name=token,name=token"), and
// EVENTS_RATE_LIMIT (events per second per client, 0 = off).
Result<http::EventsConfig> EventsConfigFromEnv() {
  http::EventsConfig events;
  if (auto token = EnvString("EVENTS_TOKEN"); token && !token->empty()) {
    events.keys.emplace("default", *token);
  }
  if (auto keys = EnvString("EVENTS_KEYS")) {
    std::string_view rest = *keys;
    while (!rest.empty()) {
      size_t comma = rest.find(',');
      std::string_view entry = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      size_t eq = entry.find('=');
      if (eq == 0 || eq == std::string_view::npos || eq + 1 == entry.size()) {
        return InvalidArgument("EVENTS_KEYS must be name=token pairs separated by commas");
      }
      events.keys.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
  }
  auto rate = EnvDoubleOr("EVENTS_RATE_LIMIT", 0.0);
  if (!rate.ok()) return rate.status();
  if (!(*rate >= 0) || *rate > 1e9) {
    return InvalidArgument("EVENTS_RATE_LIMIT must be events per second within 0..1e9");
  }
  events.rate_per_client = *rate;
  return events;
}

// True when `address` accepts connections from this machine only (127.0.0.0/8, ::1).
bool IsLoopbackAddress(const std::string& address) {
  boost::system::error_code ec;
  auto parsed = boost::asio::ip::make_address(address, ec);
  return !ec && parsed.is_loopback();
}

// Opens a reloadable configuration file into `out`. The default path may be absent (logged with
// what that means, `out` stays null); a path set through `env` must open. False, after logging,
// on any other failure.
template <typename Holder, typename OpenFn>
bool OpenOptionalConfig(const char* what, const char* env, const char* absent_means,
                        const std::filesystem::path& path, OpenFn open,
                        std::unique_ptr<Holder>& out) {
  auto opened = open(path);
  if (opened.ok()) {
    out = std::move(opened).value();
    spdlog::info("{}: {}", what, path.string());
    return true;
  }
  if (opened.status().code() == StatusCode::kNotFound && !EnvString(env)) {
    spdlog::info("{}: {} absent, {}", what, path.string(), absent_means);
    return true;
  }
  spdlog::error("serve: {}", opened.status().message());
  return false;
}

int RunServe(const ServeFlags& flags) {
  using std::chrono::milliseconds;
  http::ServerOptions options;
  // Two I/O threads per core: a thread waits while its request is ranked on the ranking pool
  // (the RANKING_TIMEOUT deadline), so one per core left the cores idle for those waits — on 2
  // cores, alternating runs of the full path served 26–45% more with 4 threads than with 2
  // (docs/PERFORMANCE.md, "Serving, session 3").
  long long default_threads = 2LL * std::max(1u, std::thread::hardware_concurrency());
  auto port = EnvIntInRange("PORT", 8080, 0, 65535);
  auto threads = EnvIntInRange("HTTP_THREADS", default_threads, 1, 256);
  auto max_body = EnvIntInRange("MAX_BODY_BYTES", 1 << 20, 1, 1LL << 30);
  auto max_header = EnvIntInRange("MAX_HEADER_BYTES", 16 * 1024, 1024, 1 << 20);
  auto read_timeout = EnvSecondsPositive("HTTP_READ_TIMEOUT", 30);
  auto header_timeout = EnvSecondsPositive("HTTP_HEADER_TIMEOUT", 10);
  auto idle_timeout = EnvSecondsPositive("HTTP_IDLE_TIMEOUT", 60);
  auto max_connections = EnvIntInRange(
      "MAX_CONNECTIONS", static_cast<long long>(http::DefaultMaxConnections()), 1, 10000000);
  auto max_per_client = EnvIntInRange("MAX_CONNECTIONS_PER_CLIENT", 0, 0, 10000000);
  auto body_budget = EnvIntInRange("MAX_BODY_BYTES_IN_FLIGHT", 64LL << 20, 1, 1LL << 40);
  auto live_limits = LiveStateLimitsFromEnv();
  auto events_config = EventsConfigFromEnv();
  auto request_timeout = EnvSecondsPositive("REQUEST_TIMEOUT", 0.5);
  auto max_in_flight = EnvIntInRange("MAX_IN_FLIGHT", 0, 0, 100000);
  auto drain_timeout = EnvSecondsPositive("DRAIN_TIMEOUT", 30);
  auto cache_size = EnvIntInRange("RECOMMENDATION_CACHE_SIZE", 100000, 0, 100000000);
  auto cache_ttl = EnvSecondsPositive("RECOMMENDATION_CACHE_TTL", 300);
  auto ranking_timeout = EnvSecondsPositive("RANKING_TIMEOUT", 0.1);
  auto redis_timeout = EnvSecondsPositive("REDIS_TIMEOUT", 0.1);
  auto reload_interval = EnvSecondsPositive("RELOAD_MIN_INTERVAL", 1.0);
  auto shadow_timeout = EnvSecondsPositive("SHADOW_TIMEOUT", 0.25);
  auto shadow_queue = EnvIntInRange("SHADOW_QUEUE", 256, 1, 1000000);
  auto variant_users = EnvIntInRange("VARIANT_LISTS_CAPACITY", 100000, 16, 100000000);
  auto faults = resilience::FaultInjector::FromEnv();
  for (const Status& s : {port.status(),
                          threads.status(),
                          max_body.status(),
                          max_header.status(),
                          read_timeout.status(),
                          header_timeout.status(),
                          idle_timeout.status(),
                          max_connections.status(),
                          max_per_client.status(),
                          body_budget.status(),
                          live_limits.status(),
                          events_config.status(),
                          request_timeout.status(),
                          max_in_flight.status(),
                          drain_timeout.status(),
                          cache_size.status(),
                          cache_ttl.status(),
                          ranking_timeout.status(),
                          redis_timeout.status(),
                          reload_interval.status(),
                          shadow_timeout.status(),
                          shadow_queue.status(),
                          variant_users.status(),
                          faults.status()}) {
    if (!s.ok()) {
      spdlog::error("serve: {}", s.message());
      return 2;
    }
  }
  options.port = static_cast<uint16_t>(flags.port >= 0 ? flags.port : *port);
  options.threads = static_cast<int>(flags.threads > 0 ? flags.threads : *threads);
  options.address = flags.bind.empty() ? EnvStringOr("BIND_ADDRESS", "0.0.0.0") : flags.bind;
  options.max_body_bytes = static_cast<size_t>(*max_body);
  options.max_header_bytes = static_cast<size_t>(*max_header);
  options.read_timeout = milliseconds(static_cast<long long>(*read_timeout * 1000));
  options.header_timeout = milliseconds(static_cast<long long>(*header_timeout * 1000));
  options.idle_timeout = milliseconds(static_cast<long long>(*idle_timeout * 1000));
  options.max_connections = static_cast<size_t>(*max_connections);
  options.max_connections_per_client = static_cast<size_t>(*max_per_client);
  options.max_body_bytes_in_flight = static_cast<size_t>(*body_budget);
  if (options.max_body_bytes_in_flight < options.max_body_bytes) {
    spdlog::error("serve: MAX_BODY_BYTES_IN_FLIGHT ({}) is below MAX_BODY_BYTES ({})",
                  options.max_body_bytes_in_flight, options.max_body_bytes);
    return 2;
  }
  options.drain_timeout = milliseconds(static_cast<long long>(*drain_timeout * 1000));
  http::LoadSheddingOptions shedding;
  shedding.request_timeout = milliseconds(static_cast<long long>(*request_timeout * 1000));
  shedding.ranking_budget =
      std::max(milliseconds(1), milliseconds(static_cast<long long>(*ranking_timeout * 1000)));
  shedding.max_in_flight = static_cast<int>(*max_in_flight);
  if (Status s = http::ValidateLoadSheddingOptions(shedding); !s.ok()) {
    spdlog::error("serve: {}", s.message());
    return 2;
  }

  observe::Registry& registry = observe::Registry::Default();
  observe::RegisterProcessMetrics(registry);

  std::unique_ptr<observe::ExposureLog> exposure_log;
  observe::Counter& exposure_dropped =
      registry
          .AddCounter("recommendation_exposure_log_dropped_total",
                      "Exposure-log records dropped because the bounded queue was full.")
          .Get();
  if (auto path = EnvString("EXPOSURE_LOG_PATH")) {
    exposure_log = std::make_unique<observe::ExposureLog>(exposure_dropped);
    Status s = exposure_log->Open(*path);
    if (!s.ok()) {
      spdlog::error("serve: EXPOSURE_LOG_PATH: {}", s.message());
      return 2;
    }
    spdlog::info("exposure log: {}", *path);
  }

  http::HealthInfo health;
  std::string report_path =
      EnvStringOr("DATA_QUALITY_REPORT", "data/evaluation/data_quality_report_v2.json");
  auto summary = observe::ReadDataQualitySummary(report_path);
  if (summary.ok()) {
    health.data_quality_score = summary->score;
    health.pipeline_last_run = summary->last_success;
    observe::ExportDataQualitySummary(registry, *summary);
  } else {
    spdlog::warn("data-quality report not read: {}", summary.status().message());
    observe::ExportDataQualitySummary(registry, {});
  }

  std::unique_ptr<store::RecommendationCache> cache;
  store::RedisRecommendationCache* redis_cache_ptr = nullptr;  // for the reload's reconnect
  auto cache_ttl_ms = milliseconds(static_cast<long long>(*cache_ttl * 1000));
  if (auto redis_url = EnvString("REDIS_URL")) {
    Status first_connect;
    auto redis_cache = store::RedisRecommendationCache::Create(
        *redis_url,
        std::max(milliseconds(1), milliseconds(static_cast<long long>(*redis_timeout * 1000))),
        cache_ttl_ms, registry, faults->get(), &first_connect);
    if (!redis_cache.ok()) {
      spdlog::error("serve: REDIS_URL: {}", redis_cache.status().message());
      return 2;
    }
    if (first_connect.ok()) {
      spdlog::info("recommendation cache: redis");
    } else {
      // Serving goes on without a shared cache; each call the breaker lets through retries the
      // connection, so the cache comes back by itself when Redis does.
      spdlog::warn(
          "Redis connection failed ({}): recommendation cache disabled until it "
          "reconnects",
          first_connect.message());
    }
    redis_cache_ptr = redis_cache->get();
    cache = std::move(redis_cache).value();
  } else if (*cache_size > 0) {
    cache = std::make_unique<store::LruRecommendationCache>(static_cast<size_t>(*cache_size),
                                                            cache_ttl_ms);
  }
  engine::LiveState live(*live_limits, &registry);
  // Keeps /popular and /hot/trending fresh off the request path; destroyed (joined) before
  // `live` as it is declared after it.
  engine::LiveListsRefresher live_lists(live, [] {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  });
  engine::ModelSlot models;
  engine::EngineMetrics engine_metrics(registry);
  engine::Recommender recommender(live, models, cache.get(), exposure_log.get(), engine_metrics);
  engine::RankingGuardOptions ranking_options;
  // One ranking worker per core: ranking is CPU-bound; more would only queue on the cores.
  ranking_options.threads = std::max(1u, std::thread::hardware_concurrency());
  ranking_options.timeout =
      std::max(milliseconds(1), milliseconds(static_cast<long long>(*ranking_timeout * 1000)));
  engine::RankingGuard ranking_guard(ranking_options, registry, faults->get());
  recommender.SetRankingGuard(&ranking_guard);

  // The feature store is optional: without it the user's history is their live events only.
  std::unique_ptr<store::SqliteFeatureStore> feature_store;
  std::string feature_store_path = EnvStringOr("FEATURE_STORE_PATH", "data/feature_store.db");
  std::error_code ec;
  if (std::filesystem::is_regular_file(feature_store_path, ec)) {
    auto opened = store::SqliteFeatureStore::Open(feature_store_path);
    if (opened.ok()) {
      feature_store = std::move(opened).value();
      recommender.SetFeatureStore(feature_store.get());
      spdlog::info("feature store: sqlite {}", feature_store_path);
    } else {
      spdlog::warn("feature store {} not opened ({}): history is live events only",
                   feature_store_path, opened.status().message());
    }
  } else {
    spdlog::warn("feature store {} not found: history is live events only", feature_store_path);
  }
  // With FEATURE_REDIS_URL, Redis is the primary feature store and SQLite (if opened above) its
  // fallback; the `feature_store` breaker and probing switch between them (docs/FEATURE_STORE.md).
  std::unique_ptr<store::FailoverFeatureStore> failover_features;
  if (auto feature_redis_url = EnvString("FEATURE_REDIS_URL")) {
    store::FailoverFeatureStoreOptions failover_options;
    failover_options.redis_url = *feature_redis_url;
    failover_options.timeout =
        std::max(milliseconds(1), milliseconds(static_cast<long long>(*redis_timeout * 1000)));
    Status first_connect;
    auto created = store::FailoverFeatureStore::Create(
        failover_options, feature_store.get(), registry,
        resilience::BreakerMetricsListener(registry), faults->get(), &first_connect);
    if (!created.ok()) {
      spdlog::error("serve: FEATURE_REDIS_URL: {}", created.status().message());
      return 2;
    }
    failover_features = std::move(created).value();
    recommender.SetFeatureStore(failover_features.get());
    if (first_connect.ok()) {
      spdlog::info("feature store: redis (fallback: {})",
                   feature_store ? "SQLite " + feature_store_path : std::string("none"));
    } else {
      spdlog::warn(
          "Failed to connect to Redis feature store ({}): serving features from {} until it "
          "answers",
          first_connect.message(),
          feature_store ? "SQLite " + feature_store_path : std::string("live events only"));
    }
  }

  // Feature flags and experiments: files re-read by an empty reload. A file named by its env var
  // must exist; the default files are optional (all flags on, no experiment).
  std::unique_ptr<resilience::FeatureFlagsHolder> feature_flags;
  std::unique_ptr<lifecycle::ExperimentsHolder> experiments;
  if (!OpenOptionalConfig("feature flags", "FEATURE_FLAGS_PATH", "every flag on",
                          resilience::FeatureFlagsPathFromEnv(), resilience::OpenFeatureFlags,
                          feature_flags) ||
      !OpenOptionalConfig("experiments", "EXPERIMENTS_PATH", "no experiment",
                          lifecycle::ExperimentsPathFromEnv(), lifecycle::OpenExperiments,
                          experiments)) {
    return 2;
  }
  recommender.SetConfiguration(feature_flags.get(), experiments.get());

  // Shadow scoring and the hit-ratio lists. Declared after the recommender so they are destroyed
  // first: queued shadow tasks call back into it.
  engine::VariantLists variant_lists(registry, static_cast<size_t>(*variant_users));
  recommender.SetVariantLists(&variant_lists);
  engine::ModelManagerOptions manager_options;
  manager_options.models_root = EnvStringOr("MODEL_DIR", "models");
  manager_options.min_interval = milliseconds(static_cast<long long>(*reload_interval * 1000));
  engine::ModelManager manager(
      manager_options, models,
      [](const std::filesystem::path& dir) -> Result<std::shared_ptr<const engine::ServingModel>> {
        auto bundle = engine::BundleServingModel::Load(dir);
        if (!bundle.ok()) return bundle.status();
        return std::shared_ptr<const engine::ServingModel>(std::move(bundle).value());
      },
      registry);
  engine::ShadowOptions shadow_options;
  shadow_options.salt = EnvStringOr("SHADOW_SALT", shadow_options.salt);
  shadow_options.budget = milliseconds(static_cast<long long>(*shadow_timeout * 1000));
  shadow_options.queue_capacity = static_cast<size_t>(*shadow_queue);
  engine::ShadowScorer shadow_scorer(shadow_options, registry);
  recommender.SetShadowScorer(&shadow_scorer, [&manager] { return manager.shadow_rollout(); });

  auto loaded = manager.LoadCurrent();
  if (loaded.ok()) {
    spdlog::info("model bundle {} loaded from {}", loaded->primary->version(),
                 loaded->primary_source.string());
  } else {
    spdlog::warn(
        "no model bundle loaded ({}): /ready answers 503 and recommendations are popular "
        "items until POST /models/reload loads one",
        loaded.status().message());
  }

  http::AdminConfig admin;
  admin.models = &manager;
  admin.token = EnvStringOr("ADMIN_TOKEN", "");
  admin.faults = faults->get();
  admin.loopback_only = IsLoopbackAddress(options.address);
  admin.open_without_token = EnvStringOr("ADMIN_ALLOW_UNAUTHENTICATED", "") == "1";
  if (admin.token.empty()) {
    if (admin.open_without_token) {
      spdlog::warn(
          "ADMIN_TOKEN is not set and ADMIN_ALLOW_UNAUTHENTICATED=1: admin calls are open to "
          "every client that reaches {}",
          options.address);
    } else if (admin.loopback_only) {
      spdlog::info("ADMIN_TOKEN is not set: admin calls are open on loopback ({}) only",
                   options.address);
    } else {
      spdlog::warn(
          "ADMIN_TOKEN is not set: admin calls (POST /models/reload) are refused with 403 on "
          "{}; set ADMIN_TOKEN (or ADMIN_ALLOW_UNAUTHENTICATED=1 on a private network)",
          options.address);
    }
  }
  http::ApiService api(recommender, registry, health, admin, *events_config);
  // An empty reload reconnects the Redis dependencies at once (runbook: "re-enable the cache"),
  // instead of waiting for the breakers' own probes.
  if (redis_cache_ptr != nullptr) {
    manager.AddRefreshHook("cache", [redis_cache_ptr] { return redis_cache_ptr->Reconnect(); });
  }
  if (failover_features != nullptr) {
    manager.AddRefreshHook("feature_store",
                           [&failover_features] { return failover_features->Reconnect(); });
  }
  if (feature_flags != nullptr) {
    manager.AddRefreshHook(
        "feature_flags", [&feature_flags] { return feature_flags->Reload(); },
        engine::ModelManager::RefreshKind::kOperatorInput);
  }
  if (experiments != nullptr) {
    manager.AddRefreshHook(
        "experiments", [&experiments] { return experiments->Reload(); },
        engine::ModelManager::RefreshKind::kOperatorInput);
  }
  manager.AddRefreshHook("data_quality", [&api, &registry, report_path]() -> Status {
    auto summary = observe::ReadDataQualitySummary(report_path);
    if (!summary.ok()) return summary.status();
    observe::ExportDataQualitySummary(registry, *summary);
    api.SetDataQuality(summary->score, summary->last_success);
    return Status::Ok();
  });
  http::LoadShedder load_shedder(shedding, registry);
  api.SetLoadShedder(&load_shedder);
  http::HttpServer server(options, api, registry);
  Status listening = server.Listen();
  if (!listening.ok()) {
    spdlog::error("serve: {}", listening.message());
    return 1;
  }
  spdlog::info("serving on {}:{} with {} thread(s), cache {}", options.address, server.port(),
               options.threads, cache ? cache->kind() : "disabled");
  server.Run();
  if (exposure_log) exposure_log->Close();
  return 0;
}

}  // namespace

Command AddServeCommand(CLI::App& root) {
  Command c;
  auto flags = std::make_shared<ServeFlags>();
  c.cli = root.add_subcommand("serve", "Serve the recommendation HTTP API");
  c.cli->add_option("--port", flags->port, "Listen port (overrides PORT; 0 picks a free one)")
      ->check(CLI::Range(0, 65535));
  c.cli->add_option("--threads", flags->threads, "I/O threads (overrides HTTP_THREADS)")
      ->check(CLI::Range(1, 256));
  c.cli->add_option("--bind", flags->bind, "Listen address (overrides BIND_ADDRESS)");
  c.run = [flags] { return RunServe(*flags); };
  return c;
}

}  // namespace recserve::app
