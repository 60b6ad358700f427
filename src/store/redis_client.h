#pragma once
// A small synchronous Redis client over hiredis with connect and command timeouts and
// pipelining. Shared by the Redis feature store (sync and reads) and the serving cache.
//
// Failure model: any I/O error or timeout leaves the connection unusable (hiredis cannot resync a
// half-read reply stream); the client then answers Unavailable until Reconnect() succeeds.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

struct redisContext;

namespace recserve::store {

// redis://[:password@]host[:port][/db]; default port 6379, db 0.
struct RedisEndpoint {
  std::string host = "127.0.0.1";
  int port = 6379;
  int db = 0;
  std::string password;

  // InvalidArgument naming the URL when it does not have that shape.
  static Result<RedisEndpoint> Parse(std::string_view url);
};

// One reply, copied out of hiredis. Error replies are returned as Status, not as a RedisReply.
struct RedisReply {
  enum class Type { kNil, kString, kInteger, kArray, kStatus };
  Type type = Type::kNil;
  std::string text;  // kString, kStatus
  long long integer = 0;
  std::vector<RedisReply> elements;  // kArray
};

// Not thread-safe: one client per thread, or an external mutex. Copy deleted (owns a socket).
class RedisClient {
 public:
  struct Timeouts {
    std::chrono::milliseconds connect{1000};
    std::chrono::milliseconds command{1000};
  };

  // Connects, authenticates and selects the db. Unavailable with the reason when it cannot.
  static Result<std::unique_ptr<RedisClient>> Connect(const RedisEndpoint& endpoint,
                                                      Timeouts timeouts);
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command and waits for its reply. Unavailable on I/O error, DeadlineExceeded on a
  // timeout, Internal for a Redis error reply (the connection stays usable then).
  Result<RedisReply> Command(const std::vector<std::string_view>& args);

  // Pipelining: Append() buffers commands locally; ReadPipelined() flushes them and reads every
  // reply, returning the first failure (after still draining the rest, so the connection stays
  // in step). Replies are checked for errors only, not returned: meant for bulk writes.
  void Append(const std::vector<std::string_view>& args);
  size_t pending() const { return pending_; }
  Status ReadPipelined();

  // A subscribed connection (after Command({"SUBSCRIBE", ...})): waits at most `wait` (poll(2),
  // not the command timeout) for the next message the server pushes and returns it; nullopt
  // when none came in time (the connection stays usable: a timeout here is not an I/O error).
  // Unavailable when the connection broke.
  Result<std::optional<RedisReply>> ReadPushed(std::chrono::milliseconds wait);

  // Closes the old socket and connects again with the same endpoint and timeouts.
  Status Reconnect();
  bool usable() const { return usable_; }

 private:
  RedisClient(RedisEndpoint endpoint, Timeouts timeouts)
      : endpoint_(std::move(endpoint)), timeouts_(timeouts) {}
  Status IoError(const char* what);

  RedisEndpoint endpoint_;
  Timeouts timeouts_;
  redisContext* ctx_ = nullptr;
  size_t pending_ = 0;
  bool usable_ = false;
  std::vector<const char*> argv_;
  std::vector<size_t> argvlen_;
};

}  // namespace recserve::store
