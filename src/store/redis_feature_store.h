#pragma once
// Redis feature store: the scale-out copy of the latest published SQLite snapshot.
//
// Layout (docs/FEATURE_STORE.md): every snapshot version lives under its own key prefix; one
// pointer key names the version being served. Users and items are spread over hashes
// ("buckets", bucket = Fnv1a64(id) % bucket_count) so a version is a few thousand keys that can
// be expired cheaply, and no single hash grows into a slow-to-delete giant.
//
//   recserve:features:current                      string  version being served
//   recserve:features:v:<version>:meta             string  JSON: snapshot metadata + bucket counts
//   recserve:features:v:<version>:users:<bucket>   hash    user_id -> user features JSON
//   recserve:features:v:<version>:items:<bucket>   hash    item_id -> item features JSON
//   recserve:features:v:<version>:popular          string  ranked list JSON
//   recserve:features:v:<version>:trending         string  ranked list JSON

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/thread_annotations.h"
#include "store/feature_store.h"
#include "store/redis_client.h"
#include "store/sqlite_feature_store.h"

namespace recserve::store {

inline constexpr const char* kRedisFeaturePrefix = "recserve:features";

struct RedisSyncOptions {
  // Commands buffered before the pipeline is flushed and its replies read.
  size_t pipeline_depth = 512;
  // Fields per HSET command; a bucket's buffered fields are written when this many wait.
  size_t fields_per_command = 64;
  // New keys carry this TTL until the pointer switch makes them permanent, so a sync that dies
  // halfway leaves nothing behind for longer than a day.
  std::chrono::seconds staging_ttl{86400};
  // After the switch the previous version expires after this grace period, long enough for
  // readers that resolved the old pointer to finish.
  std::chrono::seconds previous_version_ttl{600};
  // Fault injection for drills and tests: a pause after every pipeline flush, to make a sync
  // slow enough to interrupt. 0 in production.
  std::chrono::milliseconds pause_per_flush{0};
};

struct RedisSyncReport {
  std::string version;
  std::string previous_version;  // empty when Redis had none
  uint64_t records = 0;          // users + items + lists written (hash fields and strings)
  uint64_t commands = 0;         // Redis commands sent
  double seconds = 0;
};

// Copies the current snapshot of `source` into Redis: pipelined bulk writes under the new
// version's keys, then one MULTI/EXEC that makes them permanent and switches the pointer, then
// expiry of the previous version. Any failure before the switch leaves the previous version
// current and complete.
Result<RedisSyncReport> SyncSnapshotToRedis(SqliteFeatureStore& source, RedisClient& client,
                                            const RedisSyncOptions& options);

// Read side. Thread-safe: one connection behind a mutex. The pointer and bucket counts are
// cached for `pointer_refresh` (a new version is picked up within that time); every read after
// the pointer was resolved uses that one version.
class RedisFeatureStore final : public FeatureStore {
 public:
  RedisFeatureStore(std::unique_ptr<RedisClient> client,
                    std::chrono::milliseconds pointer_refresh = std::chrono::milliseconds(1000))
      : client_(std::move(client)), pointer_refresh_(pointer_refresh) {}

  Result<UserFeatures> GetUser(std::string_view user_id) override;
  Result<ItemFeatures> GetItem(std::string_view item_id) override;
  Result<std::vector<RankedItem>> GetPopular() override;
  Result<std::vector<RankedItem>> GetTrending() override;
  Result<SnapshotMetadata> GetMetadata() override;
  std::string_view backend() const override { return "redis"; }

 private:
  struct Pointer {
    std::string version;
    SnapshotMetadata metadata;
    uint64_t user_buckets = 1;
    uint64_t item_buckets = 1;
    std::chrono::steady_clock::time_point fetched;
  };
  Result<Pointer> ResolvePointer() EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<std::vector<RankedItem>> GetList(const char* name);  // "popular" | "trending"
  Result<std::string> ReadValue(const std::vector<std::string_view>& command, std::string_view what)
      EXCLUSIVE_LOCKS_REQUIRED(mu_);

  core::Mutex mu_;
  std::unique_ptr<RedisClient> client_ GUARDED_BY(mu_);
  std::chrono::milliseconds pointer_refresh_;
  std::optional<Pointer> pointer_ GUARDED_BY(mu_);
};

}  // namespace recserve::store
