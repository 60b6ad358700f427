#pragma once
// RedisEventLogReader: reads the fleet's shared event log (store/logged_event.h) from every
// shard, in each shard's order, remembering its position per shard: what a replica's
// EventFollower uses to apply every replica's events. Plain XREAD (not a consumer group, which
// would split the events between readers): every reader sees every event.
//
// Not thread-safe: one reader per thread. It owns its connection, whose command deadline is the
// longest block plus the Redis timeout (a blocked XREAD is not a late reply).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "store/logged_event.h"
#include "store/redis_client.h"

namespace recserve::store {

class RedisEventLogReader {
 public:
  struct Entry {
    uint32_t shard = 0;
    std::string stream_id;                      // "<ms>-<seq>"
    Result<LoggedEvent> event = LoggedEvent();  // an error for an entry that does not decode
  };

  // Connects and learns the fleet's shard count (recserve:events:shards; `default_shards` when
  // no replica has written yet). Every position starts after `from_ms` (unix milliseconds): the
  // catch-up window. Unavailable when Redis does not answer.
  static Result<std::unique_ptr<RedisEventLogReader>> Connect(const RedisEndpoint& endpoint,
                                                              std::chrono::milliseconds timeout,
                                                              std::chrono::milliseconds max_block,
                                                              uint32_t default_shards,
                                                              int64_t from_ms);

  // Up to `count` entries per shard after the remembered positions, waiting up to `block` when
  // there are none (0: return at once). Advances the positions past what it returns. Errors
  // leave the positions unchanged; after Unavailable the caller reconnects (Reconnect keeps the
  // positions).
  Result<std::vector<Entry>> Read(size_t count, std::chrono::milliseconds block);
  Status Reconnect();

  uint32_t shards() const { return static_cast<uint32_t>(positions_.size()); }

 private:
  RedisEventLogReader(RedisEndpoint endpoint, RedisClient::Timeouts timeouts)
      : endpoint_(std::move(endpoint)), timeouts_(timeouts) {}
  Status LearnShards(uint32_t default_shards, int64_t from_ms);

  RedisEndpoint endpoint_;
  RedisClient::Timeouts timeouts_;
  std::unique_ptr<RedisClient> client_;
  std::vector<std::string> keys_;
  std::vector<std::string> positions_;  // last id read per shard
  int64_t from_ms_ = 0;
};

}  // namespace recserve::store
