#include "store/redis_event_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "core/wall_clock.h"
#include "resilience/breaker_metrics.h"

namespace recserve::store {

namespace {

// KEYS[1] the shard's stream, KEYS[2] its export checkpoint, KEYS[3..] one seen marker per event.
// ARGV[1] dedup window (s), ARGV[2] the age floor ("<ms>-0"), ARGV[3] max length, then seven
// field/value pairs (14 values) per event. Returns one 1 (added) or 0 (duplicate) per event, or
// the error "EVENTLOG_FULL <length>" with nothing written.
constexpr std::string_view kAppendScript = R"lua(
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms) or 0, tonumber(seq) or 0
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local floor = ARGV[2]
local exported = redis.call('GET', KEYS[2])
if exported and less(exported, floor) then floor = exported end
redis.call('XTRIM', KEYS[1], 'MINID', '~', floor)
local n = #KEYS - 2
local maxlen = tonumber(ARGV[3])
if exported then
  local len = redis.call('XLEN', KEYS[1])
  if len + n > maxlen then return redis.error_reply('EVENTLOG_FULL ' .. len) end
else
  redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', maxlen)
end
local added = {}
for e = 1, n do
  if redis.call('SET', KEYS[2 + e], '1', 'NX', 'EX', ARGV[1]) then
    local base = 3 + (e - 1) * 14
    redis.call('XADD', KEYS[1], '*', unpack(ARGV, base + 1, base + 14))
    added[e] = 1
  else
    added[e] = 0
  end
end
return added
)lua";

resilience::CircuitBreakerOptions EventLogBreakerOptions() {
  resilience::CircuitBreakerOptions options;
  options.min_requests = 3;
  options.open_duration = std::chrono::seconds(1);
  return options;
}

}  // namespace

RedisEventLog::RedisEventLog(RedisEventLogOptions options, RedisEndpoint endpoint,
                             observe::Registry& registry)
    : options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      breaker_("event_log", EventLogBreakerOptions(), resilience::SystemSteadyClock(),
               resilience::LoggingBreakerListener(
                   "Redis connection failed: event log writes keep failing; accepted events go "
                   "to the local spool until Redis answers",
                   "Redis connection restored: event log writable again; replaying the spool",
                   resilience::BreakerMetricsListener(registry))),
      appended_(registry.AddCounter(
          "recommendation_event_log_appends_total",
          "Events written to the shared event log, by result: added, duplicate (an event id "
          "already logged within the dedup window), full (refused: the pipeline has not "
          "exported them), error (Redis unavailable or late; the batch went to the spool).",
          {"result"})),
      shards_(options_.shards) {
  for (const char* result : {"added", "duplicate", "full", "error"}) {
    appended_.WithLabels({result});
  }
  registry.AddGauge("circuit_breaker_state", "", {"dependency"}).WithLabels({"event_log"}).Set(0);
}

Result<std::unique_ptr<RedisEventLog>> RedisEventLog::Create(RedisEventLogOptions options,
                                                             observe::Registry& registry,
                                                             Status* first_connect) {
  if (options.shards < 1 || options.shards > 1024) {
    return InvalidArgument("EVENT_LOG_SHARDS must be within 1..1024");
  }
  if (options.max_length < 1000) return InvalidArgument("EVENT_LOG_MAX_LENGTH must be >= 1000");
  if (options.dedup_window.count() < 1 || options.retention.count() < 3600) {
    return InvalidArgument("EVENT_DEDUP_WINDOW must be >= 1 s and EVENT_LOG_RETENTION >= 3600 s");
  }
  auto endpoint = RedisEndpoint::Parse(options.url);
  if (!endpoint.ok()) return endpoint.status();
  std::unique_ptr<RedisEventLog> log(
      new RedisEventLog(std::move(options), std::move(endpoint).value(), registry));
  Status connected = log->Reconnect();
  if (first_connect != nullptr) *first_connect = connected;
  return log;
}

Status RedisEventLog::AgreeShardsLocked() {
  std::string mine = std::to_string(options_.shards);
  auto set = client_->Command({"SET", kEventShardCountKey, mine, "NX"});
  if (!set.ok()) return set.status();
  auto got = client_->Command({"GET", kEventShardCountKey});
  if (!got.ok()) return got.status();
  uint32_t fleet = 0;
  const std::string& text = got->text;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), fleet);
  if (ec != std::errc() || end != text.data() + text.size() || fleet < 1 || fleet > 1024) {
    return DataLoss("recserve:events:shards holds '" + text + "', not a shard count");
  }
  if (fleet != options_.shards) {
    spdlog::warn("event log: EVENT_LOG_SHARDS={} but the fleet writes {} shards; using {}",
                 options_.shards, fleet, fleet);
  }
  shards_ = fleet;
  return Status::Ok();
}

Status RedisEventLog::ConnectLocked() {
  client_.reset();
  auto client = RedisClient::Connect(endpoint_, {options_.timeout, options_.timeout});
  if (!client.ok()) return client.status();
  client_ = std::move(client).value();
  Status agreed = AgreeShardsLocked();
  if (!agreed.ok()) client_.reset();
  return agreed;
}

Status RedisEventLog::Reconnect() {
  {
    core::MutexLock lock(mu_);
    RECSERVE_RETURN_IF_ERROR(ConnectLocked());
  }
  breaker_.Reset();
  return Status::Ok();
}

bool RedisEventLog::available() { return breaker_.state() != resilience::BreakerState::kOpen; }

uint32_t RedisEventLog::shards() const {
  core::MutexLock lock(mu_);
  return shards_;
}

Result<std::vector<bool>> RedisEventLog::AppendShardLocked(
    uint32_t shard, const std::vector<const LoggedEvent*>& events) {
  const std::string stream = EventStreamKey(shard);
  const std::string seen_prefix = EventSeenKeyPrefix(shard);
  const int64_t floor_ms =
      UnixMillisNow() - static_cast<int64_t>(options_.retention.count()) * 1000;
  std::vector<std::string> owned;  // the strings args point into
  owned.reserve(6 + events.size() * 15);
  owned.push_back(std::to_string(2 + events.size()));
  owned.push_back(stream);
  owned.push_back(EventExportedKey(shard));
  for (const LoggedEvent* e : events) owned.push_back(seen_prefix + e->event_id);
  owned.push_back(std::to_string(options_.dedup_window.count()));
  owned.push_back(std::to_string(std::max<int64_t>(0, floor_ms)) + "-0");
  owned.push_back(std::to_string(options_.max_length));
  for (const LoggedEvent* e : events) {
    for (auto& [field, value] : EventFields(*e)) {
      owned.push_back(std::move(field));
      owned.push_back(std::move(value));
    }
  }
  std::vector<std::string_view> args;
  args.reserve(owned.size() + 2);
  args.push_back("EVAL");
  args.push_back(kAppendScript);
  for (const std::string& s : owned) args.push_back(s);
  auto reply = client_->Command(args);
  if (!reply.ok()) {
    if (reply.status().message().find("EVENTLOG_FULL") != std::string::npos) {
      return Unavailable("event log full: shard " + std::to_string(shard) + " holds " +
                         std::to_string(options_.max_length) +
                         " events the pipeline has not exported (EVENT_LOG_MAX_LENGTH); run the "
                         "pipeline's export or raise the limit");
    }
    return reply.status();
  }
  if (reply->type != RedisReply::Type::kArray || reply->elements.size() != events.size()) {
    return Internal("event log script answered an unexpected reply");
  }
  std::vector<bool> added(events.size());
  for (size_t i = 0; i < events.size(); ++i) added[i] = reply->elements[i].integer == 1;
  return added;
}

Result<std::vector<bool>> RedisEventLog::Append(const std::vector<LoggedEvent>& events) {
  std::vector<bool> added(events.size(), false);
  if (events.empty()) return added;
  resilience::CircuitBreaker::Permit permit = breaker_.TryAcquire();
  if (!permit) {
    appended_.WithLabels({"error"}).Inc(static_cast<double>(events.size()));
    return Unavailable("event log breaker open: Redis keeps failing");
  }
  core::MutexLock lock(mu_);
  if (client_ == nullptr || !client_->usable()) {
    if (Status connected = ConnectLocked(); !connected.ok()) {
      appended_.WithLabels({"error"}).Inc(static_cast<double>(events.size()));
      return connected;
    }
  }
  std::vector<std::vector<const LoggedEvent*>> by_shard(shards_);
  std::vector<std::vector<size_t>> positions(shards_);
  for (size_t i = 0; i < events.size(); ++i) {
    uint32_t shard = EventShardFor(events[i].user_id, shards_);
    by_shard[shard].push_back(&events[i]);
    positions[shard].push_back(i);
  }
  for (uint32_t shard = 0; shard < shards_; ++shard) {
    if (by_shard[shard].empty()) continue;
    auto shard_added = AppendShardLocked(shard, by_shard[shard]);
    if (!shard_added.ok()) {
      bool full = shard_added.status().message().rfind("event log full", 0) == 0;
      appended_.WithLabels({full ? "full" : "error"}).Inc(static_cast<double>(events.size()));
      // A full log is Redis answering: the dependency is healthy.
      if (full) permit.RecordSuccess();
      return shard_added.status();
    }
    for (size_t j = 0; j < shard_added->size(); ++j) added[positions[shard][j]] = (*shard_added)[j];
  }
  permit.RecordSuccess();
  size_t fresh = static_cast<size_t>(std::count(added.begin(), added.end(), true));
  appended_.WithLabels({"added"}).Inc(static_cast<double>(fresh));
  appended_.WithLabels({"duplicate"}).Inc(static_cast<double>(events.size() - fresh));
  return added;
}

}  // namespace recserve::store
