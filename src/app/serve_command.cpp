// `recserve serve`: the recommendation API (docs/API.md). Configuration comes from env vars,
// overridden by flags (app/serve_config.h); every name is in docs/CONFIGURATION.md.
//
// Serve assembles a ServingStack in named steps, each a small function that builds one layer
// from the ones before it:
//
//   ReadServeConfig → BuildStores → LoadModels → BuildEngine → BuildHttp → Run
//
// The fleet's shared state (docs/ARCHITECTURE.md): the event log, spool and shared variant lists
// are opened with the stores; the desired model record in LoadModels; the journal and follower
// that apply events in BuildEngine.
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <random>
#include <thread>

#include <unistd.h>

#include "app/commands.h"
#include "app/serve_config.h"
#include "core/env.h"
#include "core/wall_clock.h"
#include "engine/bundle_serving_model.h"
#include "engine/engine_metrics.h"
#include "engine/event_follower.h"
#include "engine/event_journal.h"
#include "engine/live_lists_refresher.h"
#include "engine/live_state.h"
#include "engine/model_manager.h"
#include "engine/model_reconciler.h"
#include "engine/ranking_guard.h"
#include "engine/recommender.h"
#include "engine/shadow_scorer.h"
#include "engine/variant_lists.h"
#include "http/api_request_metrics.h"
#include "http/api_service.h"
#include "http/load_shedder.h"
#include "http/server.h"
#include "lifecycle/experiments.h"
#include "observe/data_quality_summary.h"
#include "observe/exposure_log.h"
#include "observe/metrics.h"
#include "observe/process_metrics.h"
#include "resilience/breaker_metrics.h"
#include "resilience/feature_flags.h"
#include "store/desired_models.h"
#include "store/event_spool.h"
#include "store/failover_feature_store.h"
#include "store/lru_recommendation_cache.h"
#include "store/recommendation_cache.h"
#include "store/redis_event_log.h"
#include "store/redis_recommendation_cache.h"
#include "store/shared_exposure_lists.h"
#include "store/sqlite_feature_store.h"

namespace recserve::app {

namespace {

// Everything `serve` runs. Members are declared in the order the steps build them, and C++
// destroys them in the reverse order: the server stops first, then the HTTP layer, the engine
// (the recommender joins its shadow worker before the chain it calls goes; the live-lists
// thread is joined before the live state), the model manager and slots, and the stores last —
// each part is gone before anything it uses.
struct ServingStack {
  explicit ServingStack(ServeConfig c) : config(std::move(c)) {}
  ServingStack(const ServingStack&) = delete;
  ServingStack& operator=(const ServingStack&) = delete;

  ServeConfig config;
  observe::Registry& registry = observe::Registry::Default();

  // BuildStores: where exposures, answers and features are kept, and the operator's inputs.
  std::unique_ptr<observe::ExposureLog> exposure_log;  // null: EXPOSURE_LOG_PATH unset
  std::string report_path;                             // DATA_QUALITY_REPORT
  http::HealthInfo health;
  std::unique_ptr<store::RecommendationCache> cache;       // null: no cache
  store::RedisRecommendationCache* redis_cache = nullptr;  // `cache` when it is Redis
  std::unique_ptr<store::SqliteFeatureStore> sqlite_features;
  std::unique_ptr<store::FailoverFeatureStore> failover_features;  // with FEATURE_REDIS_URL
  store::FeatureStore* features = nullptr;  // what the engine reads; null: live events only
  std::unique_ptr<resilience::FeatureFlagsHolder> flags;      // null: every flag on
  std::unique_ptr<lifecycle::ExperimentsHolder> experiments;  // null: no experiment
  // The fleet's shared event log and this replica's spool (null: no STATE_REDIS_URL/REDIS_URL,
  // events live in memory only).
  std::unique_ptr<store::RedisEventLog> event_log;
  std::unique_ptr<store::EventSpool> event_spool;
  std::unique_ptr<store::SharedExposureLists> exposure_lists;  // with the event log

  // LoadModels: the fleet's desired model record, the slots the request path reads, their one
  // writer, and the thread that reconciles them to the record (stopped before the manager goes).
  std::unique_ptr<store::DesiredModelsStore> desired_models;
  engine::ModelSlot models;
  std::unique_ptr<engine::ModelManager> manager;
  std::unique_ptr<engine::ModelReconciler> reconciler;

  // BuildEngine.
  std::unique_ptr<engine::LiveState> live;
  std::unique_ptr<engine::LiveListsRefresher> live_lists;
  std::unique_ptr<engine::EngineMetrics> engine_metrics;
  std::unique_ptr<http::ApiRequestMetrics> request_metrics;  // shared with the shadow scorings
  std::unique_ptr<engine::RankingGuard> ranking_guard;
  std::unique_ptr<engine::VariantLists> variant_lists;
  std::unique_ptr<engine::EventJournal> journal;  // null without an event log
  std::unique_ptr<engine::Recommender> recommender;
  // Null without an event log. Built before the recommender (which reports its catch-up) but
  // declared after it: destroyed first, its thread (which applies through the recommender) is
  // joined while the recommender still exists.
  std::unique_ptr<engine::EventFollower> follower;

  // BuildHttp.
  std::unique_ptr<http::ApiService> api;
  std::unique_ptr<http::LoadShedder> shedder;
  std::unique_ptr<http::HttpServer> server;
};

// EXPOSURE_LOG_PATH and DATA_QUALITY_REPORT.
Status OpenLogAndReport(ServingStack& s) {
  observe::Counter& exposure_dropped =
      s.registry
          .AddCounter("recommendation_exposure_log_dropped_total",
                      "Exposure-log records dropped because the bounded queue was full.")
          .Get();
  if (auto path = EnvString("EXPOSURE_LOG_PATH")) {
    s.exposure_log = std::make_unique<observe::ExposureLog>(exposure_dropped);
    Status opened = s.exposure_log->Open(*path);
    if (!opened.ok()) return InvalidArgument("EXPOSURE_LOG_PATH: " + opened.message());
    spdlog::info("exposure log: {}", *path);
  }
  s.report_path = EnvStringOr("DATA_QUALITY_REPORT", "data/evaluation/data_quality_report_v2.json");
  auto summary = observe::ReadDataQualitySummary(s.report_path);
  if (summary.ok()) {
    s.health.data_quality_score = summary->score;
    s.health.pipeline_last_run = summary->last_success;
    observe::ExportDataQualitySummary(s.registry, *summary);
  } else {
    spdlog::warn("data-quality report not read: {}", summary.status().message());
    observe::ExportDataQualitySummary(s.registry, {});
  }
  return Status::Ok();
}

// REDIS_URL: the shared Redis cache; else RECOMMENDATION_CACHE_SIZE > 0: an in-process LRU.
Status OpenRecommendationCache(ServingStack& s) {
  if (auto redis_url = EnvString("REDIS_URL")) {
    Status first_connect;
    auto redis_cache = store::RedisRecommendationCache::Create(
        *redis_url, s.config.redis_timeout, s.config.cache_ttl, s.registry, s.config.faults.get(),
        &first_connect);
    if (!redis_cache.ok()) return InvalidArgument("REDIS_URL: " + redis_cache.status().message());
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
    s.redis_cache = redis_cache->get();
    s.cache = std::move(redis_cache).value();
  } else if (s.config.cache_size > 0) {
    s.cache =
        std::make_unique<store::LruRecommendationCache>(s.config.cache_size, s.config.cache_ttl);
  }
  return Status::Ok();
}

// FEATURE_STORE_PATH (SQLite, optional: without it the user's history is their live events
// only) and FEATURE_REDIS_URL: Redis as the primary feature store and SQLite (if opened) its
// fallback; the `feature_store` breaker and probing switch between them (docs/FEATURE_STORE.md).
Status OpenFeatureStore(ServingStack& s) {
  std::string path = EnvStringOr("FEATURE_STORE_PATH", "data/feature_store.db");
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) {
    auto opened = store::SqliteFeatureStore::Open(path);
    if (opened.ok()) {
      s.sqlite_features = std::move(opened).value();
      s.features = s.sqlite_features.get();
      spdlog::info("feature store: sqlite {}", path);
    } else {
      spdlog::warn("feature store {} not opened ({}): history is live events only", path,
                   opened.status().message());
    }
  } else {
    spdlog::warn("feature store {} not found: history is live events only", path);
  }
  auto redis_url = EnvString("FEATURE_REDIS_URL");
  if (!redis_url) return Status::Ok();
  store::FailoverFeatureStoreOptions options;
  options.redis_url = *redis_url;
  options.timeout = s.config.redis_timeout;
  Status first_connect;
  auto created = store::FailoverFeatureStore::Create(options, s.sqlite_features.get(), s.registry,
                                                     resilience::BreakerMetricsListener(s.registry),
                                                     s.config.faults.get(), &first_connect);
  if (!created.ok()) return InvalidArgument("FEATURE_REDIS_URL: " + created.status().message());
  s.failover_features = std::move(created).value();
  s.features = s.failover_features.get();
  if (first_connect.ok()) {
    spdlog::info("feature store: redis (fallback: {})",
                 s.sqlite_features ? "SQLite " + path : std::string("none"));
  } else {
    spdlog::warn(
        "Failed to connect to Redis feature store ({}): serving features from {} until it "
        "answers",
        first_connect.message(),
        s.sqlite_features ? "SQLite " + path : std::string("live events only"));
  }
  return Status::Ok();
}

// The deadline of the shared event log's calls: REDIS_TIMEOUT, at least 250 ms (a batch write of
// 100 events is one script of 200 commands; the cache's 20 ms budget would spool healthy writes).
std::chrono::milliseconds EventLogTimeout(const ServeConfig& config) {
  return std::max(config.redis_timeout, std::chrono::milliseconds(250));
}

// STATE_REDIS_URL (else REDIS_URL): the fleet's shared event log, and this replica's spool
// (EVENT_SPOOL_DIR) for while Redis does not answer. A spool that cannot be opened is fatal:
// without it a Redis outage would turn every POST /events into a 503.
Status OpenSharedEventLog(ServingStack& s) {
  const SharedEventsConfig& c = s.config.shared_events;
  if (c.redis_url.empty()) {
    spdlog::warn(
        "events: no STATE_REDIS_URL or REDIS_URL: accepted events live in this process's memory "
        "only (not shared, lost on restart)");
    return Status::Ok();
  }
  store::RedisEventLogOptions options;
  options.url = c.redis_url;
  options.shards = c.shards;
  options.timeout = EventLogTimeout(s.config);
  options.dedup_window = c.dedup_window;
  options.retention = c.retention;
  options.max_length = c.max_length;
  Status first_connect;
  auto log = store::RedisEventLog::Create(options, s.registry, &first_connect);
  if (!log.ok()) return InvalidArgument("event log: " + log.status().message());
  s.event_log = std::move(log).value();
  auto spool =
      store::EventSpool::Open({.dir = c.spool_dir, .max_bytes = c.spool_max_bytes}, &s.registry);
  if (!spool.ok()) return InvalidArgument("EVENT_SPOOL_DIR: " + spool.status().message());
  s.event_spool = std::move(spool).value();
  store::SharedExposureListsOptions lists;
  lists.endpoint = s.event_log->endpoint();
  lists.timeout = options.timeout;
  lists.ttl = c.exposure_lists_ttl;
  s.exposure_lists = std::make_unique<store::SharedExposureLists>(lists, s.registry);
  if (first_connect.ok()) {
    spdlog::info("events: shared log in Redis ({} shards), spool {}", s.event_log->shards(),
                 s.event_spool ? c.spool_dir.string() : std::string("none"));
  } else {
    spdlog::warn(
        "Redis connection failed ({}): accepted events go to the spool {} until it answers",
        first_connect.message(), c.spool_dir.string());
  }
  return Status::Ok();
}

// Step 1. Every store the engine reads or writes, and the feature flags and experiments (files
// re-read by an empty reload; a file named by its env var must exist, the default files are
// optional). An error has been logged when this returns false.
bool BuildStores(ServingStack& s) {
  for (auto open :
       {OpenLogAndReport, OpenRecommendationCache, OpenFeatureStore, OpenSharedEventLog}) {
    if (Status opened = open(s); !opened.ok()) {
      spdlog::error("serve: {}", opened.message());
      return false;
    }
  }
  return OpenOptionalConfig("feature flags", "FEATURE_FLAGS_PATH", "every flag on",
                            resilience::FeatureFlagsPathFromEnv(), resilience::OpenFeatureFlags,
                            s.flags) &&
         OpenOptionalConfig("experiments", "EXPERIMENTS_PATH", "no experiment",
                            lifecycle::ExperimentsPathFromEnv(), lifecycle::OpenExperiments,
                            s.experiments);
}

// Step 2. The fleet's desired model record (STATE_REDIS_URL, else REDIS_URL, with
// MODEL_DIR/desired_state.json as the fallback), the model manager over the slots, and the
// models this replica starts with: the desired primary and shadow when the fleet has chosen
// them, else the bundle `MODEL_DIR/current` points at. The reconciler then keeps the slots at
// the record (docs/ARCHITECTURE.md, "Fleet-wide model state"). No bundle is not fatal: the
// replica serves popular items and is not ready. An error has been logged when this returns
// false.
bool LoadModels(ServingStack& s) {
  engine::ModelManagerOptions options;
  options.models_root = EnvStringOr("MODEL_DIR", "models");
  options.min_interval = s.config.reload_interval;
  store::DesiredModelsStoreOptions desired;
  desired.file = options.models_root / store::kDesiredModelsFileName;
  desired.redis_url = EnvStringOr("STATE_REDIS_URL", EnvStringOr("REDIS_URL", ""));
  desired.timeouts = {s.config.redis_timeout, s.config.redis_timeout};
  auto opened = store::DesiredModelsStore::Open(desired);
  if (!opened.ok()) {
    spdlog::error("serve: STATE_REDIS_URL/REDIS_URL: {}", opened.status().message());
    return false;
  }
  s.desired_models = std::move(opened).value();
  spdlog::info("desired models: {}{}", desired.file.string(),
               desired.redis_url.empty() ? " (file only)" : " and Redis");
  s.manager = std::make_unique<engine::ModelManager>(
      options, s.models,
      [](const std::filesystem::path& dir) -> Result<std::shared_ptr<const engine::ServingModel>> {
        auto bundle = engine::BundleServingModel::Load(dir);
        if (!bundle.ok()) return bundle.status();
        return std::shared_ptr<const engine::ServingModel>(std::move(bundle).value());
      },
      s.registry, s.desired_models.get());
  auto loaded = s.manager->Start();
  if (loaded.ok()) {
    spdlog::info("model bundle {} loaded from {} (desired generation {})",
                 loaded->primary->version(), loaded->primary_source.string(), loaded->generation);
  } else {
    spdlog::warn(
        "no model bundle loaded ({}): /ready answers 503 and recommendations are popular "
        "items until POST /models/reload loads one",
        loaded.status().message());
  }
  s.reconciler = std::make_unique<engine::ModelReconciler>(*s.manager, *s.desired_models);
  return true;
}

// Step 3. The live state and its refresher, the ranking guard, the shadow scorer, and the
// recommender that composes them with the stores and the models.
void BuildEngine(ServingStack& s) {
  s.live = std::make_unique<engine::LiveState>(s.config.live_limits, &s.registry);
  // Keeps /popular and /hot/trending fresh off the request path.
  s.live_lists =
      std::make_unique<engine::LiveListsRefresher>(*s.live, [] { return UnixSecondsNow(); });
  s.engine_metrics = std::make_unique<engine::EngineMetrics>(s.registry);
  s.request_metrics = std::make_unique<http::ApiRequestMetrics>(s.registry);
  engine::RankingGuardOptions ranking;
  // One ranking worker per core: ranking is CPU-bound; more would only queue on the cores.
  ranking.threads = std::max(1u, std::thread::hardware_concurrency());
  ranking.timeout = s.config.ranking_timeout;
  s.ranking_guard =
      std::make_unique<engine::RankingGuard>(ranking, s.registry, s.config.faults.get());
  s.variant_lists = std::make_unique<engine::VariantLists>(s.registry, s.config.variant_users,
                                                           s.exposure_lists.get());
  engine::ShadowOptions shadow;
  shadow.salt = EnvStringOr("SHADOW_SALT", shadow.salt);
  shadow.budget = s.config.shadow_timeout;
  shadow.queue_capacity = s.config.shadow_queue;
  engine::ModelManager& manager = *s.manager;
  http::ApiRequestMetrics& request_metrics = *s.request_metrics;
  // A random origin per process: its own follower skips the events it accepted (and applied).
  const uint64_t origin = (static_cast<uint64_t>(std::random_device{}()) << 32) ^
                          std::random_device{}() ^ static_cast<uint64_t>(::getpid());
  if (s.event_log) {
    s.journal =
        std::make_unique<engine::EventJournal>(engine::EventJournalOptions{.origin = origin},
                                               s.event_log.get(), s.event_spool.get(), s.registry);
    engine::EventFollowerOptions follow;
    follow.endpoint = s.event_log->endpoint();
    follow.timeout = EventLogTimeout(s.config);
    follow.default_shards = s.config.shared_events.shards;
    follow.origin = origin;
    follow.catchup_window = s.config.shared_events.catchup_window;
    follow.catchup_timeout = s.config.shared_events.catchup_timeout;
    s.follower = std::make_unique<engine::EventFollower>(follow, s.registry);
  }
  s.recommender = std::make_unique<engine::Recommender>(engine::RecommenderDependencies{
      .live = *s.live,
      .models = s.models,
      .metrics = *s.engine_metrics,
      .cache = s.cache.get(),
      .feature_store = s.features,
      .ranking_guard = s.ranking_guard.get(),
      .variant_lists = s.variant_lists.get(),
      .exposure_log = s.exposure_log.get(),
      .flags = s.flags.get(),
      .experiments = s.experiments.get(),
      .shadow_scorer = std::make_unique<engine::ShadowScorer>(shadow, s.registry),
      .shadow_rollout = [&manager] { return manager.shadow_rollout(); },
      .shadow_requests =
          [&request_metrics](std::string_view endpoint, std::string_view status, double seconds) {
            request_metrics.RecordShadow(endpoint, status, seconds);
          },
      .journal = s.journal.get(),
      .follower = s.follower.get(),
  });
  if (s.follower) {
    engine::Recommender& recommender = *s.recommender;
    s.follower->Start([&recommender](const std::vector<engine::Event>& events, int64_t now) {
      recommender.ApplyLoggedEvents(events, now);
    });
  }
}

// ADMIN_TOKEN, ADMIN_ALLOW_UNAUTHENTICATED and the listen address decide who may call the
// admin routes.
http::AdminConfig AdminConfigFor(ServingStack& s) {
  const std::string& address = s.config.server.address;
  http::AdminConfig admin;
  admin.models = s.manager.get();
  admin.token = EnvStringOr("ADMIN_TOKEN", "");
  admin.faults = s.config.faults.get();
  admin.loopback_only = IsLoopbackAddress(address);
  admin.open_without_token = EnvStringOr("ADMIN_ALLOW_UNAUTHENTICATED", "") == "1";
  if (admin.token.empty()) {
    if (admin.open_without_token) {
      spdlog::warn(
          "ADMIN_TOKEN is not set and ADMIN_ALLOW_UNAUTHENTICATED=1: admin calls are open to "
          "every client that reaches {}",
          address);
    } else if (admin.loopback_only) {
      spdlog::info("ADMIN_TOKEN is not set: admin calls are open on loopback ({}) only", address);
    } else {
      spdlog::warn(
          "ADMIN_TOKEN is not set: admin calls (POST /models/reload) are refused with 403 on "
          "{}; set ADMIN_TOKEN (or ADMIN_ALLOW_UNAUTHENTICATED=1 on a private network)",
          address);
    }
  }
  return admin;
}

// What an empty POST /models/reload refreshes besides the models: it reconnects the Redis
// dependencies at once (runbook: "re-enable the cache") instead of waiting for the breakers'
// own probes, and re-reads the operator's files and the data-quality report.
void AddRefreshSteps(ServingStack& s) {
  engine::ModelManager& manager = *s.manager;
  if (store::RedisRecommendationCache* cache = s.redis_cache) {
    manager.AddRefreshHook("cache", [cache] { return cache->Reconnect(); });
  }
  if (store::FailoverFeatureStore* features = s.failover_features.get()) {
    manager.AddRefreshHook("feature_store", [features] { return features->Reconnect(); });
  }
  if (resilience::FeatureFlagsHolder* flags = s.flags.get()) {
    manager.AddRefreshHook(
        "feature_flags", [flags] { return flags->Reload(); },
        engine::ModelManager::RefreshKind::kOperatorInput);
  }
  if (lifecycle::ExperimentsHolder* experiments = s.experiments.get()) {
    manager.AddRefreshHook(
        "experiments", [experiments] { return experiments->Reload(); },
        engine::ModelManager::RefreshKind::kOperatorInput);
  }
  manager.AddRefreshHook(
      "data_quality",
      [&api = *s.api, &registry = s.registry, report_path = s.report_path]() -> Status {
        auto summary = observe::ReadDataQualitySummary(report_path);
        if (!summary.ok()) return summary.status();
        observe::ExportDataQualitySummary(registry, *summary);
        api.SetDataQuality(summary->score, summary->last_success);
        return Status::Ok();
      });
}

// Step 4. The HTTP API over the recommender, the refresh steps its reload runs, the load
// shedder and the server.
void BuildHttp(ServingStack& s) {
  s.api = std::make_unique<http::ApiService>(*s.recommender, s.registry, s.health,
                                             AdminConfigFor(s), s.config.events);
  AddRefreshSteps(s);
  s.shedder = std::make_unique<http::LoadShedder>(s.config.shedding, s.registry);
  s.api->SetLoadShedder(s.shedder.get());
  s.server = std::make_unique<http::HttpServer>(s.config.server, *s.api, s.registry);
}

int RunServe(const ServeFlags& flags) {
  auto config = ReadServeConfig(flags);
  if (!config.ok()) {
    spdlog::error("serve: {}", config.status().message());
    return 2;
  }
  ServingStack s(std::move(config).value());
  observe::RegisterProcessMetrics(s.registry);
  if (!BuildStores(s)) return 2;
  if (!LoadModels(s)) return 2;
  BuildEngine(s);
  BuildHttp(s);
  Status listening = s.server->Listen();
  if (!listening.ok()) {
    spdlog::error("serve: {}", listening.message());
    return 1;
  }
  spdlog::info("serving on {}:{} with {} thread(s), cache {}", s.config.server.address,
               s.server->port(), s.config.server.threads, s.cache ? s.cache->kind() : "disabled");
  s.server->Run();
  if (s.exposure_log) s.exposure_log->Close();
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
