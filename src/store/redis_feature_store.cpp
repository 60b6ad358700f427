#include "store/redis_feature_store.h"
#include "core/json_text.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/hashing.h"

namespace recserve::store {
namespace {

std::string VersionPrefix(std::string_view version) {
  return std::string(kRedisFeaturePrefix) + ":v:" + std::string(version);
}
std::string CurrentKey() { return std::string(kRedisFeaturePrefix) + ":current"; }

// About 256 records per hash: small enough for cheap deletes, few enough keys per version.
uint64_t BucketCount(uint64_t records) { return std::max<uint64_t>(1, (records + 255) / 256); }
uint64_t BucketOf(std::string_view id, uint64_t buckets) { return Fnv1a64(id) % buckets; }

struct VersionMeta {
  SnapshotMetadata snapshot;
  uint64_t user_buckets = 1;
  uint64_t item_buckets = 1;
};

std::string EncodeVersionMeta(const VersionMeta& m) {
  return JsonText(nlohmann::json{{"snapshot", nlohmann::json::parse(EncodeMetadata(m.snapshot))},
                                 {"user_buckets", m.user_buckets},
                                 {"item_buckets", m.item_buckets}});
}

Result<VersionMeta> DecodeVersionMeta(std::string_view text) {
  try {
    auto j = nlohmann::json::parse(text);
    VersionMeta m;
    auto snapshot = DecodeMetadata(JsonText(j.at("snapshot")));
    if (!snapshot.ok()) return snapshot.status();
    m.snapshot = *snapshot;
    m.user_buckets = std::max<uint64_t>(1, j.at("user_buckets").get<uint64_t>());
    m.item_buckets = std::max<uint64_t>(1, j.at("item_buckets").get<uint64_t>());
    return m;
  } catch (const nlohmann::json::exception& e) {
    return DataLoss(std::string("corrupt Redis feature-store meta: ") + e.what());
  }
}

// Every key of one version, for the switch (PERSIST) and for expiring it later.
std::vector<std::string> VersionKeys(std::string_view version, const VersionMeta& meta) {
  const std::string prefix = VersionPrefix(version);
  std::vector<std::string> keys = {prefix + ":meta", prefix + ":popular", prefix + ":trending"};
  for (uint64_t b = 0; b < meta.user_buckets; ++b)
    keys.push_back(prefix + ":users:" + std::to_string(b));
  for (uint64_t b = 0; b < meta.item_buckets; ++b)
    keys.push_back(prefix + ":items:" + std::to_string(b));
  return keys;
}

// Buffers hash fields per bucket and writes them as multi-field HSETs through the pipeline.
class BucketedHashWriter {
 public:
  BucketedHashWriter(RedisClient& client, const RedisSyncOptions& options, RedisSyncReport& report)
      : client_(client), options_(options), report_(report) {}

  void Reset(std::string key_prefix, uint64_t buckets) {
    key_prefix_ = std::move(key_prefix);
    pending_.assign(buckets, {});
    touched_.assign(buckets, false);
  }

  Status Add(std::string_view id, std::string_view data) {
    uint64_t b = BucketOf(id, pending_.size());
    pending_[b].emplace_back(id);
    pending_[b].emplace_back(data);
    if (pending_[b].size() >= 2 * options_.fields_per_command) return WriteBucket(b);
    return Status::Ok();
  }

  Status FlushAll() {
    for (uint64_t b = 0; b < pending_.size(); ++b) {
      if (!pending_[b].empty()) RECSERVE_RETURN_IF_ERROR(WriteBucket(b));
    }
    return Drain();
  }

  // Sends any plain command through the same pipeline.
  Status Send(const std::vector<std::string_view>& args) {
    client_.Append(args);
    ++report_.commands;
    if (client_.pending() >= options_.pipeline_depth) return Drain();
    return Status::Ok();
  }

  Status Drain() {
    if (client_.pending() == 0) return Status::Ok();
    RECSERVE_RETURN_IF_ERROR(client_.ReadPipelined());
    if (options_.pause_per_flush.count() > 0) std::this_thread::sleep_for(options_.pause_per_flush);
    return Status::Ok();
  }

 private:
  Status WriteBucket(uint64_t b) {
    const std::string key = key_prefix_ + std::to_string(b);
    std::vector<std::string_view> args = {"HSET", key};
    for (const auto& f : pending_[b]) args.push_back(f);
    report_.records += pending_[b].size() / 2;
    RECSERVE_RETURN_IF_ERROR(Send(args));
    if (!touched_[b]) {
      touched_[b] = true;
      const std::string ttl = std::to_string(options_.staging_ttl.count());
      RECSERVE_RETURN_IF_ERROR(Send({"EXPIRE", key, ttl}));
    }
    // The strings are referenced by the pipeline only until Append() copied them (hiredis
    // formats the command into its own buffer), so clearing here is safe.
    pending_[b].clear();
    return Status::Ok();
  }

  RedisClient& client_;
  const RedisSyncOptions& options_;
  RedisSyncReport& report_;
  std::string key_prefix_;
  std::vector<std::vector<std::string>> pending_;
  std::vector<bool> touched_;
};

}  // namespace

Result<RedisSyncReport> SyncSnapshotToRedis(SqliteFeatureStore& source, RedisClient& client,
                                            const RedisSyncOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  RedisSyncReport report;
  auto previous = client.Command({"GET", CurrentKey()});
  if (!previous.ok()) return previous.status();
  if (previous->type == RedisReply::Type::kString) report.previous_version = previous->text;

  auto snapshot = source.GetMetadata();
  if (!snapshot.ok()) return snapshot.status();
  VersionMeta meta{*snapshot, BucketCount(snapshot->user_count), BucketCount(snapshot->item_count)};
  report.version = meta.snapshot.version;
  const std::string prefix = VersionPrefix(report.version);

  BucketedHashWriter users(client, options, report);
  BucketedHashWriter items(client, options, report);
  users.Reset(prefix + ":users:", meta.user_buckets);
  items.Reset(prefix + ":items:", meta.item_buckets);
  const std::string staging_ttl = std::to_string(options.staging_ttl.count());
  auto exported = source.ExportCurrent([&](RecordKind kind, std::string_view id,
                                           std::string_view data) -> Status {
    switch (kind) {
      case RecordKind::kUser:
        return users.Add(id, data);
      case RecordKind::kItem:
        return items.Add(id, data);
      case RecordKind::kPopular:
      case RecordKind::kTrending: {
        const std::string key = prefix + (kind == RecordKind::kPopular ? ":popular" : ":trending");
        ++report.records;
        return users.Send({"SET", key, data, "EX", staging_ttl});
      }
    }
    return Status::Ok();
  });
  if (!exported.ok()) return exported.status();
  if (exported->version != report.version) {
    return FailedPrecondition("feature snapshot changed during sync; run the sync again");
  }
  RECSERVE_RETURN_IF_ERROR(users.FlushAll());
  RECSERVE_RETURN_IF_ERROR(items.FlushAll());
  RECSERVE_RETURN_IF_ERROR(
      users.Send({"SET", prefix + ":meta", EncodeVersionMeta(meta), "EX", staging_ttl}));
  RECSERVE_RETURN_IF_ERROR(users.Drain());

  // The switch: the new version's keys become permanent and the pointer moves in one
  // transaction, so no reader can follow the pointer to keys that are about to expire.
  const std::vector<std::string> keys = VersionKeys(report.version, meta);
  client.Append({"MULTI"});
  for (const auto& key : keys) client.Append({"PERSIST", key});
  client.Append({"SET", CurrentKey(), report.version});
  client.Append({"EXEC"});
  report.commands += keys.size() + 3;
  RECSERVE_RETURN_IF_ERROR(client.ReadPipelined());

  if (!report.previous_version.empty() && report.previous_version != report.version) {
    auto old_meta = client.Command({"GET", VersionPrefix(report.previous_version) + ":meta"});
    if (old_meta.ok() && old_meta->type == RedisReply::Type::kString) {
      auto decoded = DecodeVersionMeta(old_meta->text);
      if (decoded.ok()) {
        const std::string ttl = std::to_string(options.previous_version_ttl.count());
        for (const auto& key : VersionKeys(report.previous_version, *decoded)) {
          RECSERVE_RETURN_IF_ERROR(users.Send({"EXPIRE", key, ttl}));
        }
        RECSERVE_RETURN_IF_ERROR(users.Drain());
      }
    }
  }
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

Result<RedisFeatureStore::Pointer> RedisFeatureStore::ResolvePointer() {
  const auto now = std::chrono::steady_clock::now();
  if (pointer_ && now - pointer_->fetched < pointer_refresh_) return *pointer_;
  if (!client_->usable()) RECSERVE_RETURN_IF_ERROR(client_->Reconnect());
  auto current = client_->Command({"GET", CurrentKey()});
  if (!current.ok()) return current.status();
  if (current->type != RedisReply::Type::kString) {
    return FailedPrecondition("no feature snapshot has been synced to Redis");
  }
  if (pointer_ && pointer_->version == current->text) {
    pointer_->fetched = now;
    return *pointer_;
  }
  auto meta_text = client_->Command({"GET", VersionPrefix(current->text) + ":meta"});
  if (!meta_text.ok()) return meta_text.status();
  if (meta_text->type != RedisReply::Type::kString) {
    return DataLoss("Redis feature store points at version '" + current->text + "' without meta");
  }
  auto meta = DecodeVersionMeta(meta_text->text);
  if (!meta.ok()) return meta.status();
  pointer_ = Pointer{current->text, meta->snapshot, meta->user_buckets, meta->item_buckets, now};
  return *pointer_;
}

Result<std::string> RedisFeatureStore::ReadValue(const std::vector<std::string_view>& command,
                                                 std::string_view what) {
  auto reply = client_->Command(command);
  if (!reply.ok()) return reply.status();
  if (reply->type != RedisReply::Type::kString) {
    return NotFound(std::string(what) + " not in the Redis feature snapshot");
  }
  return std::move(reply->text);
}

Result<UserFeatures> RedisFeatureStore::GetUser(std::string_view user_id) {
  core::MutexLock lock(mu_);
  auto p = ResolvePointer();
  if (!p.ok()) return p.status();
  const std::string key =
      VersionPrefix(p->version) + ":users:" + std::to_string(BucketOf(user_id, p->user_buckets));
  auto data = ReadValue({"HGET", key, user_id}, "user '" + std::string(user_id) + "'");
  if (!data.ok()) return data.status();
  return DecodeUser(*data);
}

Result<ItemFeatures> RedisFeatureStore::GetItem(std::string_view item_id) {
  core::MutexLock lock(mu_);
  auto p = ResolvePointer();
  if (!p.ok()) return p.status();
  const std::string key =
      VersionPrefix(p->version) + ":items:" + std::to_string(BucketOf(item_id, p->item_buckets));
  auto data = ReadValue({"HGET", key, item_id}, "item '" + std::string(item_id) + "'");
  if (!data.ok()) return data.status();
  return DecodeItem(*data);
}

Result<std::vector<RankedItem>> RedisFeatureStore::GetList(const char* name) {
  core::MutexLock lock(mu_);
  auto p = ResolvePointer();
  if (!p.ok()) return p.status();
  auto data = ReadValue({"GET", VersionPrefix(p->version) + ":" + name}, name);
  if (!data.ok()) return data.status();
  return DecodeRankedList(*data);
}

Result<std::vector<RankedItem>> RedisFeatureStore::GetPopular() { return GetList("popular"); }
Result<std::vector<RankedItem>> RedisFeatureStore::GetTrending() { return GetList("trending"); }

Result<SnapshotMetadata> RedisFeatureStore::GetMetadata() {
  core::MutexLock lock(mu_);
  auto p = ResolvePointer();
  if (!p.ok()) return p.status();
  return p->metadata;
}

}  // namespace recserve::store
