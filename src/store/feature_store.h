#pragma once
// The feature store as serving sees it (FeatureStore) and as the pipeline fills it
// (FeatureSnapshotWriter). Implementations: SqliteFeatureStore (embedded default,
// data/feature_store.db), RedisFeatureStore (scale-out; filled by `recserve sync`) and
// FailoverFeatureStore (Redis first, SQLite while Redis fails; what `serve` uses when
// FEATURE_REDIS_URL is set). Layouts are documented in docs/FEATURE_STORE.md.
//
// Snapshot semantics: the store always serves exactly one published snapshot. Each read call
// answers from one snapshot (old or new, never a mix); two consecutive calls may straddle a
// switch, which is harmless because every snapshot is complete on its own.

#include <optional>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "resilience/degradation_reason.h"
#include "store/feature_types.h"

namespace recserve::store {

// Read side. Implementations are thread-safe: calls may come from any number of threads.
// Errors: NotFound when the id is not in the current snapshot (a normal miss: serve without
// it); FailedPrecondition when nothing has been published yet; Unavailable / DeadlineExceeded
// when the backing store cannot be reached in time; DataLoss for a corrupt record.
class FeatureStore {
 public:
  virtual ~FeatureStore() = default;

  virtual Result<UserFeatures> GetUser(std::string_view user_id) = 0;
  virtual Result<ItemFeatures> GetItem(std::string_view item_id) = 0;
  // Best first; an empty list is a valid answer (no interactions in the data).
  virtual Result<std::vector<RankedItem>> GetPopular() = 0;
  virtual Result<std::vector<RankedItem>> GetTrending() = 0;
  virtual Result<SnapshotMetadata> GetMetadata() = 0;

  // The backend answering reads right now, as /health reports it: "sqlite", "redis" (a failover
  // store names the one its latest read used), or "none" when it has nothing to read from.
  virtual std::string_view backend() const = 0;

  // GetUser() plus how the answer was served: `degraded` names the fallback when the store's
  // primary backend was skipped or failed and the answer (or the error) came without it, so the
  // caller can mark its response (recommendation_degraded_total{reason}). A store without a
  // fallback never sets it.
  struct UserRead {
    Result<UserFeatures> features;
    std::optional<resilience::DegradationReason> degraded;
  };
  virtual UserRead ReadUser(std::string_view user_id) { return {GetUser(user_id), std::nullopt}; }
};

// Write side. Publish() makes `snapshot` the current one atomically, or changes nothing when it
// fails. REQUIRES: snapshot.metadata.version is new to this store.
class FeatureSnapshotWriter {
 public:
  virtual ~FeatureSnapshotWriter() = default;
  virtual Status Publish(const FeatureSnapshot& snapshot) = 0;
};

}  // namespace recserve::store
