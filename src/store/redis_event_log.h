#pragma once
// RedisEventLog: the fleet's shared event log in Redis Streams (STATE_REDIS_URL, else REDIS_URL):
// the write side. Key layout and entry fields: store/logged_event.h.
//
// Append() writes a batch with one script per shard (EVAL, atomic on the server): for each event
// `SET <seen marker> 1 NX EX <dedup window>` and, only when that marker is new, `XADD`; so a
// retried batch or a replayed spool adds each event id once within the window. The same script
// trims the stream: entries older than the retention go (`XTRIM MINID ~`), but never past the
// pipeline's export checkpoint (the oldest event the next pipeline run has not read). While a
// checkpoint exists and the shard already holds `max_length` entries the pipeline has not
// exported, the script refuses the batch: Append returns Unavailable("event log full: ...") and
// nothing is written (the caller answers 503). Without a checkpoint (no pipeline reads the log)
// the length is capped by trimming the oldest entries.
//
// Durability of an acknowledged Append is Redis's: the fleet runs Redis with `appendonly yes`
// (docs/API.md, "What a 200 from POST /events promises").
//
// Every call has the deadline `timeout` and goes through the `event_log` circuit breaker: while
// it is open Append fails at once with Unavailable (the caller spools) instead of waiting on a
// sick Redis; a broken connection is re-established by the next call the breaker lets through.
//
// Thread-safe: one connection guarded by a mutex.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "observe/metrics.h"
#include "resilience/circuit_breaker.h"
#include "store/logged_event.h"
#include "store/redis_client.h"

namespace recserve::store {

struct RedisEventLogOptions {
  std::string url;
  // Streams the log is spread over (EVENT_LOG_SHARDS). The first replica to write records its
  // count in Redis (recserve:events:shards) and every replica uses the recorded one.
  uint32_t shards = 4;
  std::chrono::milliseconds timeout{1000};        // REDIS_TIMEOUT
  std::chrono::seconds dedup_window{3600};        // EVENT_DEDUP_WINDOW
  std::chrono::seconds retention{7 * 24 * 3600};  // EVENT_LOG_RETENTION
  uint64_t max_length = 1'000'000;                // EVENT_LOG_MAX_LENGTH, per shard
};

class RedisEventLog {
 public:
  // Parses the URL and connects once; returns the log even when that first connection fails
  // (`*first_connect` gets the error) so it can recover later. InvalidArgument for a bad URL or
  // options.
  static Result<std::unique_ptr<RedisEventLog>> Create(RedisEventLogOptions options,
                                                       observe::Registry& registry,
                                                       Status* first_connect);
  RedisEventLog(const RedisEventLog&) = delete;
  RedisEventLog& operator=(const RedisEventLog&) = delete;

  // Appends `events` (each shard's events in their order). On success element i says whether
  // event i was new (false: its id was already in the log within the dedup window). Errors:
  // Unavailable (breaker open, connection lost, log full), DeadlineExceeded; on any error some
  // shards may have been written (the caller spools the whole batch: the ids make the replay
  // apply them once).
  Result<std::vector<bool>> Append(const std::vector<LoggedEvent>& events);

  // Connects again now and closes the breaker when that works (the spool replayer's probe).
  Status Reconnect();
  // True while the breaker is not open.
  bool available();
  uint32_t shards() const;
  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  RedisEventLog(RedisEventLogOptions options, RedisEndpoint endpoint, observe::Registry& registry);
  // A fresh connection that has agreed the shard count; client_ is null when this fails.
  Status ConnectLocked() EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Learns (or records) the fleet's shard count on a fresh connection.
  Status AgreeShardsLocked() EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<std::vector<bool>> AppendShardLocked(uint32_t shard,
                                              const std::vector<const LoggedEvent*>& events)
      EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RedisEventLogOptions options_;
  const RedisEndpoint endpoint_;
  resilience::CircuitBreaker breaker_;
  observe::Family<observe::Counter>& appended_;  // recommendation_event_log_appends_total
  mutable core::Mutex mu_;
  std::unique_ptr<RedisClient> client_ GUARDED_BY(mu_);
  uint32_t shards_ GUARDED_BY(mu_);
};

}  // namespace recserve::store
