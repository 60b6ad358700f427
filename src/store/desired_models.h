#pragma once
// DesiredModelsStore: the fleet's desired model record (TF Serving's "aspired versions"): which
// bundles every replica should serve, kept apart from what any one replica has loaded. The
// reload endpoint writes it; every replica reconciles its slots to it (engine/model_manager.h).
//
// Two backends behind this one class:
//   Redis  one hash `recserve:models:desired` (fields generation, primary, shadow, previous,
//          shadow_rollout, updated_ms). A write is a compare-and-set on `generation` inside one
//          Lua EVAL, so of two replicas reloading at once exactly one wins; the winner's script
//          also PUBLISHes the new generation on `recserve:models:changed`.
//   file   MODEL_DIR/desired_state.json, replaced with WriteFileAtomically on every accepted
//          change (whether or not Redis is up), so a fleet whose Redis is down still agrees
//          through a shared MODEL_DIR, and a replica restarted during an outage still starts on
//          the chosen models. Writers serialise on flock(2) of `desired_state.json.lock`.
// Read() asks Redis when it answers, else the file. When Redis answers and the file holds a
// higher generation (a change accepted while Redis was down) the file's record is written to
// Redis; when Redis holds the higher one the file is brought up to date, so a later outage
// falls back to the newest record this replica saw.
//
// No record anywhere means "no explicit choice yet": replicas then track MODEL_DIR/current.
//
// Thread-safety: every method may be called from any thread. Read/CompareAndSet share one Redis
// connection under a mutex; WaitForNotification uses a second, subscribed connection under its
// own mutex (meant for one reconciler thread). Redis calls are bounded by the timeouts given.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "store/redis_client.h"

namespace recserve::store {

inline constexpr std::string_view kDesiredModelsKey = "recserve:models:desired";
inline constexpr std::string_view kDesiredModelsChannel = "recserve:models:changed";
inline constexpr std::string_view kDesiredModelsFileName = "desired_state.json";

// One version of the fleet's desired models. Bundle paths are relative to MODEL_DIR; "" = none.
struct DesiredModels {
  uint64_t generation = 0;  // 1 for the first explicit choice; +1 for every accepted change
  std::string primary;
  std::string shadow;
  std::string previous;
  double shadow_rollout = 0;  // share of users the shadow scores, in [0, 1]
  int64_t updated_ms = 0;     // Unix milliseconds of the change

  bool operator==(const DesiredModels&) const = default;
};

// Where a Read() found the record: "redis", "file", or "none" (no record anywhere, whichever
// backend answered).
enum class DesiredModelsSource { kNone, kRedis, kFile };
std::string_view DesiredModelsSourceName(DesiredModelsSource source);

struct DesiredModelsRead {
  std::optional<DesiredModels> record;  // nullopt: no explicit choice yet
  DesiredModelsSource source = DesiredModelsSource::kNone;
};

struct DesiredModelsStoreOptions {
  // The fallback file, MODEL_DIR/desired_state.json. Its directory must exist.
  std::filesystem::path file;
  // redis://... (STATE_REDIS_URL, else REDIS_URL); empty: the file is the only backend.
  std::string redis_url;
  // REDIS_TIMEOUT for connect and each command.
  RedisClient::Timeouts timeouts;
  // A broken Redis connection is retried at most this often (so a down Redis costs one failed
  // connect per interval, not one per call).
  std::chrono::milliseconds reconnect_interval{1000};
};

class DesiredModelsStore {
 public:
  // InvalidArgument for a malformed Redis URL. Does not connect (the first call does), so a
  // replica starts whether or not Redis is up.
  static Result<std::unique_ptr<DesiredModelsStore>> Open(DesiredModelsStoreOptions options);
  ~DesiredModelsStore();
  DesiredModelsStore(const DesiredModelsStore&) = delete;
  DesiredModelsStore& operator=(const DesiredModelsStore&) = delete;

  // The current record (see the header comment for which backend answers). DataLoss when Redis
  // does not answer and the file exists but does not parse; a missing file is "no record".
  Result<DesiredModelsRead> Read();

  // Writes `next` (its generation and updated_ms are set here) as generation
  // `expected_generation + 1`, only if the stored generation is still `expected_generation`
  // (0 = no record yet). Returns the record written. Errors:
  //   FailedPrecondition  the record changed since it was read (another writer won): re-read;
  //   Unavailable         neither Redis nor the file accepted the write.
  // Redis decides when it answers; the file is then rewritten too (a failure to do so is only
  // logged). When Redis does not answer the file alone decides, under its lock.
  Result<DesiredModels> CompareAndSet(uint64_t expected_generation, DesiredModels next);

  // Waits at most `wait` for a change notification on `recserve:models:changed`. True when one
  // came, false on timeout. FailedPrecondition at once without Redis; Unavailable at once when
  // the subscription cannot be (re)established (then the caller waits by other means).
  Result<bool> WaitForNotification(std::chrono::milliseconds wait);

  bool has_redis() const { return endpoint_.has_value(); }
  const std::filesystem::path& file() const { return options_.file; }

 private:
  DesiredModelsStore(DesiredModelsStoreOptions options, std::optional<RedisEndpoint> endpoint);

  // The command connection, (re)connected when due; null when Redis is unconfigured or down.
  RedisClient* Connected() EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<std::optional<DesiredModels>> ReadRedis(RedisClient& client);
  // The Lua script: `cas` (write when the stored generation is `expected`) or newer-wins (write
  // when `record` is newer). True when written; false when the condition did not hold.
  Result<bool> WriteRedis(RedisClient& client, const DesiredModels& record,
                          std::optional<uint64_t> expected);
  Result<std::optional<DesiredModels>> ReadFile() const;
  Status WriteFile(const DesiredModels& record) const;

  DesiredModelsStoreOptions options_;
  std::optional<RedisEndpoint> endpoint_;

  core::Mutex mu_;
  std::unique_ptr<RedisClient> client_ GUARDED_BY(mu_);
  std::optional<std::chrono::steady_clock::time_point> last_connect_ GUARDED_BY(mu_);

  core::Mutex subscriber_mu_;
  std::unique_ptr<RedisClient> subscriber_ GUARDED_BY(subscriber_mu_);
  std::optional<std::chrono::steady_clock::time_point> last_subscribe_ GUARDED_BY(subscriber_mu_);
};

}  // namespace recserve::store
