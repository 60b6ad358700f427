#include "store/sqlite_feature_store.h"

#include <algorithm>
#include <numeric>

namespace recserve::store {
namespace {

// Schema. Rows are keyed by an integer snapshot id so that a snapshot's rows sit together in the
// WITHOUT ROWID b-trees and deleting an old snapshot is a range delete.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS snapshots(
  id INTEGER PRIMARY KEY, version TEXT NOT NULL UNIQUE, metadata TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS current_snapshot(
  singleton INTEGER PRIMARY KEY CHECK (singleton = 1), snapshot_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS user_features(
  snapshot_id INTEGER NOT NULL, user_id TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (snapshot_id, user_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS item_features(
  snapshot_id INTEGER NOT NULL, item_id TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (snapshot_id, item_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS item_lists(
  snapshot_id INTEGER NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (snapshot_id, name)) WITHOUT ROWID;
)sql";

constexpr const char* kCurrentId = "(SELECT snapshot_id FROM current_snapshot WHERE singleton = 1)";

// Owns one prepared statement.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  bool ok() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() const { return stmt_; }
  void BindText(int index, std::string_view text) {
    sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  std::string_view Column(int index) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, index));
    return p ? std::string_view(p, sqlite3_column_bytes(stmt_, index)) : std::string_view();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Rolls back an open transaction unless Commit()ed, so every early return leaves the database
// as it was.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  bool Begin(const char* sql) {
    return open_ = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  bool Commit() {
    open_ = false;
    return sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
  }

 private:
  sqlite3* db_;
  bool open_ = false;
};

}  // namespace

Result<std::unique_ptr<SqliteFeatureStore>> SqliteFeatureStore::Open(
    const std::filesystem::path& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return Unavailable("cannot open feature store " + path.string() + ": " + msg);
  }
  std::unique_ptr<SqliteFeatureStore> store(new SqliteFeatureStore(db));
  core::MutexLock lock(store->mu_);  // not shared yet; taken because Exec requires it
  // A concurrent writer (another pipeline run) holds the write lock for seconds; readers never
  // block in WAL mode. 30 s is the longest a second writer waits before failing clearly.
  sqlite3_busy_timeout(db, 30000);
  // WAL: readers keep their snapshot while a publish is written. synchronous=NORMAL is durable
  // across application crashes; a power loss may lose the last publish, never corrupt the file.
  // cache_size -65536 = 64 MiB of page cache (default 2 MiB): a publish touches far more.
  RECSERVE_RETURN_IF_ERROR(
      store->Exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA cache_size=-65536;"));
  RECSERVE_RETURN_IF_ERROR(store->Exec(kSchema));
  return store;
}

SqliteFeatureStore::~SqliteFeatureStore() { sqlite3_close(db_); }

Status SqliteFeatureStore::Exec(const char* sql) {
  if (sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) != SQLITE_OK) return Error("sqlite");
  return Status::Ok();
}

Status SqliteFeatureStore::Error(const char* what) const {
  return Unavailable(std::string("feature store ") + what + ": " + sqlite3_errmsg(db_));
}

Result<std::string> SqliteFeatureStore::ReadCurrent(const char* sql, std::string_view key,
                                                    const char* what) {
  core::MutexLock lock(mu_);
  Statement has_current(db_, "SELECT snapshot_id FROM current_snapshot WHERE singleton = 1");
  Statement stmt(db_, sql);
  if (!has_current.ok() || !stmt.ok()) return Error("prepare");
  // Both reads inside one read transaction: the pointer and the row come from one snapshot.
  Transaction txn(db_);
  if (!txn.Begin("BEGIN")) return Error("begin");
  int rc = sqlite3_step(has_current.get());
  if (rc == SQLITE_DONE) return FailedPrecondition("no feature snapshot has been published");
  if (rc != SQLITE_ROW) return Error("read");
  stmt.BindText(1, key);
  rc = sqlite3_step(stmt.get());
  if (rc == SQLITE_DONE)
    return NotFound(std::string(what) + " '" + std::string(key) + "' not in the feature snapshot");
  if (rc != SQLITE_ROW) return Error("read");
  std::string data(stmt.Column(0));
  txn.Commit();
  return data;
}

Result<UserFeatures> SqliteFeatureStore::GetUser(std::string_view user_id) {
  static const std::string sql =
      std::string("SELECT data FROM user_features WHERE snapshot_id = ") + kCurrentId +
      " AND user_id = ?1";
  auto data = ReadCurrent(sql.c_str(), user_id, "user");
  if (!data.ok()) return data.status();
  return DecodeUser(*data);
}

Result<ItemFeatures> SqliteFeatureStore::GetItem(std::string_view item_id) {
  static const std::string sql =
      std::string("SELECT data FROM item_features WHERE snapshot_id = ") + kCurrentId +
      " AND item_id = ?1";
  auto data = ReadCurrent(sql.c_str(), item_id, "item");
  if (!data.ok()) return data.status();
  return DecodeItem(*data);
}

Result<std::vector<RankedItem>> SqliteFeatureStore::GetList(const char* name) {
  static const std::string sql = std::string("SELECT data FROM item_lists WHERE snapshot_id = ") +
                                 kCurrentId + " AND name = ?1";
  auto data = ReadCurrent(sql.c_str(), name, "list");
  if (!data.ok()) return data.status();
  return DecodeRankedList(*data);
}

Result<std::vector<RankedItem>> SqliteFeatureStore::GetPopular() { return GetList("popular"); }
Result<std::vector<RankedItem>> SqliteFeatureStore::GetTrending() { return GetList("trending"); }

Result<SnapshotMetadata> SqliteFeatureStore::GetMetadata() {
  static const std::string sql = std::string("SELECT metadata FROM snapshots WHERE id = ") +
                                 kCurrentId + " AND ?1 IS NOT NULL";
  auto data = ReadCurrent(sql.c_str(), "current", "snapshot");
  if (!data.ok()) return data.status();
  return DecodeMetadata(*data);
}

Status SqliteFeatureStore::Publish(const FeatureSnapshot& snapshot,
                                   const std::function<void(uint64_t records)>& on_records) {
  core::MutexLock lock(mu_);
  Transaction txn(db_);
  if (!txn.Begin("BEGIN IMMEDIATE")) return Error("begin publish");
  {
    Statement exists(db_, "SELECT 1 FROM snapshots WHERE version = ?1");
    if (!exists.ok()) return Error("prepare");
    exists.BindText(1, snapshot.metadata.version);
    if (sqlite3_step(exists.get()) == SQLITE_ROW) {
      return Status(StatusCode::kAlreadyExists,
                    "feature snapshot '" + snapshot.metadata.version + "' was already published");
    }
  }
  Statement add_snapshot(db_, "INSERT INTO snapshots(version, metadata) VALUES (?1, ?2)");
  if (!add_snapshot.ok()) return Error("prepare");
  add_snapshot.BindText(1, snapshot.metadata.version);
  add_snapshot.BindText(2, EncodeMetadata(snapshot.metadata));
  if (sqlite3_step(add_snapshot.get()) != SQLITE_DONE) return Error("insert snapshot");
  const std::string id = std::to_string(sqlite3_last_insert_rowid(db_));

  Statement add_user(db_, "INSERT INTO user_features VALUES (" + id + ", ?1, ?2)");
  Statement add_item(db_, "INSERT INTO item_features VALUES (" + id + ", ?1, ?2)");
  Statement add_list(db_, "INSERT INTO item_lists VALUES (" + id + ", ?1, ?2)");
  if (!add_user.ok() || !add_item.ok() || !add_list.ok()) return Error("prepare");
  uint64_t written = 0;
  auto insert = [&](Statement& stmt, std::string_view key, const std::string& data) {
    if (on_records && ++written % 65536 == 0) on_records(written);
    stmt.BindText(1, key);
    stmt.BindText(2, data);
    bool done = sqlite3_step(stmt.get()) == SQLITE_DONE;
    sqlite3_reset(stmt.get());
    return done;
  };
  // Rows go in primary-key order: appends to the b-tree instead of random inserts, which keeps
  // the page cache small and the write several times faster for millions of rows.
  auto key_order = [](const auto& records, auto key) {
    std::vector<uint32_t> order(records.size());
    std::iota(order.begin(), order.end(), 0u);
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return key(records[a]) < key(records[b]); });
    return order;
  };
  for (uint32_t u : key_order(
           snapshot.users, [](const UserFeatures& f) -> const std::string& { return f.user_id; })) {
    const auto& user = snapshot.users[u];
    if (!insert(add_user, user.user_id, EncodeUser(user))) return Error("insert user");
  }
  for (uint32_t i : key_order(
           snapshot.items, [](const ItemFeatures& f) -> const std::string& { return f.item_id; })) {
    const auto& item = snapshot.items[i];
    if (!insert(add_item, item.item_id, EncodeItem(item))) return Error("insert item");
  }
  if (!insert(add_list, "popular", EncodeRankedList(snapshot.popular)) ||
      !insert(add_list, "trending", EncodeRankedList(snapshot.trending))) {
    return Error("insert list");
  }
  // The switch: one row update inside the same transaction as the data.
  RECSERVE_RETURN_IF_ERROR(Exec(("INSERT INTO current_snapshot VALUES (1, " + id +
                                 ") ON CONFLICT(singleton) DO UPDATE SET snapshot_id = " + id)
                                    .c_str()));
  // Keep the current and the previous snapshot; drop older ones in the same transaction so a
  // failure never leaves half-deleted rows.
  const std::string keep = "(SELECT id FROM snapshots ORDER BY id DESC LIMIT 2)";
  for (const char* table : {"user_features", "item_features", "item_lists"}) {
    RECSERVE_RETURN_IF_ERROR(
        Exec((std::string("DELETE FROM ") + table + " WHERE snapshot_id NOT IN " + keep).c_str()));
  }
  RECSERVE_RETURN_IF_ERROR(Exec(("DELETE FROM snapshots WHERE id NOT IN " + keep).c_str()));
  if (!txn.Commit()) return Error("commit publish");
  return Status::Ok();
}

Result<SnapshotMetadata> SqliteFeatureStore::ExportCurrent(const RecordVisitor& visit) {
  core::MutexLock lock(mu_);
  Transaction txn(db_);
  if (!txn.Begin("BEGIN")) return Error("begin");
  Statement meta(db_, std::string("SELECT metadata FROM snapshots WHERE id = ") + kCurrentId);
  if (!meta.ok()) return Error("prepare");
  int rc = sqlite3_step(meta.get());
  if (rc == SQLITE_DONE) return FailedPrecondition("no feature snapshot has been published");
  if (rc != SQLITE_ROW) return Error("read");
  auto metadata = DecodeMetadata(meta.Column(0));
  if (!metadata.ok()) return metadata.status();

  struct Source {
    const char* sql;
    RecordKind kind;
  };
  const std::string users =
      std::string("SELECT user_id, data FROM user_features WHERE snapshot_id = ") + kCurrentId;
  const std::string items =
      std::string("SELECT item_id, data FROM item_features WHERE snapshot_id = ") + kCurrentId;
  const std::string lists =
      std::string("SELECT name, data FROM item_lists WHERE snapshot_id = ") + kCurrentId;
  for (const auto& [sql, kind] :
       {Source{users.c_str(), RecordKind::kUser}, Source{items.c_str(), RecordKind::kItem},
        Source{lists.c_str(), RecordKind::kPopular}}) {
    Statement stmt(db_, sql);
    if (!stmt.ok()) return Error("prepare");
    while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
      RecordKind k = kind;
      if (kind == RecordKind::kPopular && stmt.Column(0) == "trending") k = RecordKind::kTrending;
      RECSERVE_RETURN_IF_ERROR(visit(k, stmt.Column(0), stmt.Column(1)));
    }
    if (rc != SQLITE_DONE) return Error("export");
  }
  txn.Commit();
  return metadata;
}

}  // namespace recserve::store
