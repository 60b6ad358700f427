#include "app/serve_config.h"

#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <thread>

#include "core/env.h"

namespace recserve::app {

namespace {

using std::chrono::milliseconds;

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

// STATE_REDIS_URL (else REDIS_URL) and the EVENT_LOG_* / EVENT_SPOOL_* / EVENT_CATCHUP_* knobs.
Result<SharedEventsConfig> SharedEventsConfigFromEnv() {
  SharedEventsConfig c;
  c.redis_url = EnvStringOr("STATE_REDIS_URL", EnvStringOr("REDIS_URL", ""));
  auto shards = EnvIntInRange("EVENT_LOG_SHARDS", c.shards, 1, 1024);
  auto dedup = EnvIntInRange("EVENT_DEDUP_WINDOW", c.dedup_window.count(), 1, 30 * 86400);
  auto retention = EnvIntInRange("EVENT_LOG_RETENTION", c.retention.count(), 3600, 365 * 86400);
  auto max_length =
      EnvIntInRange("EVENT_LOG_MAX_LENGTH", static_cast<long long>(c.max_length), 1000, 1LL << 40);
  auto spool_max = EnvIntInRange("EVENT_SPOOL_MAX_BYTES", static_cast<long long>(c.spool_max_bytes),
                                 1 << 20, 1LL << 40);
  auto window = EnvIntInRange("EVENT_CATCHUP_WINDOW", c.catchup_window.count(), 0, 30 * 86400);
  auto timeout = EnvSecondsPositive("EVENT_CATCHUP_TIMEOUT", 30);
  auto lists_ttl = EnvIntInRange("EXPOSURE_LISTS_TTL", c.exposure_lists_ttl.count(), 1, 30 * 86400);
  for (const Status& s :
       {shards.status(), dedup.status(), retention.status(), max_length.status(),
        spool_max.status(), window.status(), timeout.status(), lists_ttl.status()}) {
    if (!s.ok()) return s;
  }
  c.shards = static_cast<uint32_t>(*shards);
  c.dedup_window = std::chrono::seconds(*dedup);
  c.retention = std::chrono::seconds(*retention);
  c.max_length = static_cast<uint64_t>(*max_length);
  c.spool_dir = EnvStringOr("EVENT_SPOOL_DIR", c.spool_dir.string());
  c.spool_max_bytes = static_cast<uint64_t>(*spool_max);
  c.catchup_window = std::chrono::seconds(*window);
  c.catchup_timeout = milliseconds(static_cast<long long>(*timeout * 1000));
  c.exposure_lists_ttl = std::chrono::seconds(*lists_ttl);
  return c;
}

milliseconds Millis(double seconds) { return milliseconds(static_cast<long long>(seconds * 1000)); }

}  // namespace

// True when `address` accepts connections from this machine only (127.0.0.0/8, ::1).
bool IsLoopbackAddress(const std::string& address) {
  boost::system::error_code ec;
  auto parsed = boost::asio::ip::make_address(address, ec);
  return !ec && parsed.is_loopback();
}

Result<ServeConfig> ReadServeConfig(const ServeFlags& flags) {
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
  auto shared_events = SharedEventsConfigFromEnv();
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
                          shared_events.status(),
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
    if (!s.ok()) return s;
  }
  ServeConfig config;
  http::ServerOptions& options = config.server;
  options.port = static_cast<uint16_t>(flags.port >= 0 ? flags.port : *port);
  options.threads = static_cast<int>(flags.threads > 0 ? flags.threads : *threads);
  options.address = flags.bind.empty() ? EnvStringOr("BIND_ADDRESS", "0.0.0.0") : flags.bind;
  options.max_body_bytes = static_cast<size_t>(*max_body);
  options.max_header_bytes = static_cast<size_t>(*max_header);
  options.read_timeout = Millis(*read_timeout);
  options.header_timeout = Millis(*header_timeout);
  options.idle_timeout = Millis(*idle_timeout);
  options.max_connections = static_cast<size_t>(*max_connections);
  options.max_connections_per_client = static_cast<size_t>(*max_per_client);
  options.max_body_bytes_in_flight = static_cast<size_t>(*body_budget);
  if (options.max_body_bytes_in_flight < options.max_body_bytes) {
    return InvalidArgument(
        "MAX_BODY_BYTES_IN_FLIGHT (" + std::to_string(options.max_body_bytes_in_flight) +
        ") is below MAX_BODY_BYTES (" + std::to_string(options.max_body_bytes) + ")");
  }
  options.drain_timeout = Millis(*drain_timeout);
  config.shedding.request_timeout = Millis(*request_timeout);
  config.shedding.ranking_budget = std::max(milliseconds(1), Millis(*ranking_timeout));
  config.shedding.max_in_flight = static_cast<int>(*max_in_flight);
  RECSERVE_RETURN_IF_ERROR(http::ValidateLoadSheddingOptions(config.shedding));
  config.live_limits = *live_limits;
  config.events = std::move(events_config).value();
  config.shared_events = std::move(shared_events).value();
  config.cache_size = static_cast<size_t>(*cache_size);
  config.cache_ttl = Millis(*cache_ttl);
  config.ranking_timeout = std::max(milliseconds(1), Millis(*ranking_timeout));
  config.redis_timeout = std::max(milliseconds(1), Millis(*redis_timeout));
  config.reload_interval = Millis(*reload_interval);
  config.shadow_timeout = Millis(*shadow_timeout);
  config.shadow_queue = static_cast<size_t>(*shadow_queue);
  config.variant_users = static_cast<size_t>(*variant_users);
  config.faults = std::move(faults).value();
  return config;
}

}  // namespace recserve::app
