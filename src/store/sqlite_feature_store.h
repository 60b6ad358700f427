#pragma once
// SQLite feature store: the embedded default (data/feature_store.db, WAL mode). Every snapshot is
// written inside one transaction together with the switch of the `current_snapshot` pointer, so
// WAL readers see the old snapshot or the new one, never a mix, and a crash or failure halfway
// leaves the old one current. After a switch, snapshots older than the previous one are deleted
// (the previous one stays for inspection and rollback).

#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/thread_annotations.h"
#include "store/feature_store.h"

namespace recserve::store {

// What one exported record is; the same four kinds exist in every store layout.
enum class RecordKind { kUser, kItem, kPopular, kTrending };

// Thread-safe: one connection, calls serialized by a mutex. Copy deleted (owns the connection).
class SqliteFeatureStore final : public FeatureStore, public FeatureSnapshotWriter {
 public:
  // Opens (creating when missing) the database at `path` and its schema. Unavailable when the
  // file cannot be opened or is not a SQLite database.
  static Result<std::unique_ptr<SqliteFeatureStore>> Open(const std::filesystem::path& path);
  ~SqliteFeatureStore() override;
  SqliteFeatureStore(const SqliteFeatureStore&) = delete;
  SqliteFeatureStore& operator=(const SqliteFeatureStore&) = delete;

  Result<UserFeatures> GetUser(std::string_view user_id) override;
  Result<ItemFeatures> GetItem(std::string_view item_id) override;
  Result<std::vector<RankedItem>> GetPopular() override;
  Result<std::vector<RankedItem>> GetTrending() override;
  Result<SnapshotMetadata> GetMetadata() override;
  std::string_view backend() const override { return "sqlite"; }

  // AlreadyExists when the version was published before; the store is then unchanged.
  Status Publish(const FeatureSnapshot& snapshot) override { return Publish(snapshot, nullptr); }
  // Same, calling `on_records(records written so far)` every 65536 records (progress display;
  // called on the caller's thread while the store's lock is held, so it must not use the store).
  Status Publish(const FeatureSnapshot& snapshot,
                 const std::function<void(uint64_t records)>& on_records);

  // Streams every record of the current snapshot, encoded as stored, inside one read
  // transaction (a concurrent Publish does not change what is streamed). `visit` returning a
  // non-OK status stops the export with that status. Returns the snapshot's metadata.
  using RecordVisitor =
      std::function<Status(RecordKind kind, std::string_view id, std::string_view encoded)>;
  Result<SnapshotMetadata> ExportCurrent(const RecordVisitor& visit);

 private:
  explicit SqliteFeatureStore(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Status Error(const char* what) const EXCLUSIVE_LOCKS_REQUIRED(mu_);
  Result<std::vector<RankedItem>> GetList(const char* name);
  Result<std::string> ReadCurrent(const char* sql, std::string_view key, const char* what)
      LOCKS_EXCLUDED(mu_);

  core::Mutex mu_;
  sqlite3* db_ GUARDED_BY(mu_);  // the connection: every call on it holds mu_
};

}  // namespace recserve::store
