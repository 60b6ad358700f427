#pragma once
// The configuration of `recserve serve`, read from env vars (overridden by flags) and checked
// as a whole before anything is built: a bad value is reported by its variable's name and the
// server never starts half-configured. Every name is in docs/CONFIGURATION.md.

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include "core/env.h"
#include "core/status.h"
#include "engine/live_state.h"
#include "http/api_service.h"
#include "http/load_shedder.h"
#include "http/server.h"
#include "resilience/fault_injector.h"

namespace recserve::app {

struct ServeFlags {
  int port = -1;     // -1: from PORT
  int threads = -1;  // -1: from HTTP_THREADS
  std::string bind;  // empty: from BIND_ADDRESS
};

// The fleet's shared event log (docs/CONFIGURATION.md, "Fleet"): on when `redis_url` is set.
struct SharedEventsConfig {
  std::string redis_url;                                 // STATE_REDIS_URL, else REDIS_URL
  uint32_t shards = 4;                                   // EVENT_LOG_SHARDS
  std::chrono::seconds dedup_window{3600};               // EVENT_DEDUP_WINDOW
  std::chrono::seconds retention{7 * 24 * 3600};         // EVENT_LOG_RETENTION
  uint64_t max_length = 1'000'000;                       // EVENT_LOG_MAX_LENGTH (per shard)
  std::filesystem::path spool_dir = "data/event-spool";  // EVENT_SPOOL_DIR
  uint64_t spool_max_bytes = 256ull << 20;               // EVENT_SPOOL_MAX_BYTES
  std::chrono::seconds catchup_window{24 * 3600};        // EVENT_CATCHUP_WINDOW
  std::chrono::milliseconds catchup_timeout{30'000};     // EVENT_CATCHUP_TIMEOUT
  std::chrono::seconds exposure_lists_ttl{3600};         // EXPOSURE_LISTS_TTL
};

struct ServeConfig {
  http::ServerOptions server;
  http::LoadSheddingOptions shedding;
  engine::LiveStateLimits live_limits;
  http::EventsConfig events;
  SharedEventsConfig shared_events;
  size_t cache_size = 0;                              // RECOMMENDATION_CACHE_SIZE (0: no LRU cache)
  std::chrono::milliseconds cache_ttl{0};             // RECOMMENDATION_CACHE_TTL
  std::chrono::milliseconds ranking_timeout{0};       // RANKING_TIMEOUT, at least 1 ms
  std::chrono::milliseconds redis_timeout{0};         // REDIS_TIMEOUT, at least 1 ms
  std::chrono::milliseconds reload_interval{0};       // RELOAD_MIN_INTERVAL
  std::chrono::milliseconds shadow_timeout{0};        // SHADOW_TIMEOUT
  size_t shadow_queue = 0;                            // SHADOW_QUEUE
  size_t variant_users = 0;                           // VARIANT_LISTS_CAPACITY
  std::unique_ptr<resilience::FaultInjector> faults;  // FAULT_* (never null)
};

// InvalidArgument naming the variable for any value out of range or malformed.
Result<ServeConfig> ReadServeConfig(const ServeFlags& flags);

// True when `address` accepts connections from this machine only (127.0.0.0/8, ::1).
bool IsLoopbackAddress(const std::string& address);

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

}  // namespace recserve::app
