#pragma once
// The feature-store schema shared by the pipeline (writer) and serving (reader): what one
// published feature snapshot holds, and its one wire encoding (compact JSON), used alike for the
// SQLite rows and the Redis values so a record can be copied between stores without re-encoding.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace recserve::store {

struct RecentInteraction {
  std::string item_id;
  int64_t timestamp = 0;  // unix seconds
};

// Features of one user, computed over every accepted interaction of the run.
struct UserFeatures {
  std::string user_id;
  std::vector<RecentInteraction> recent;                       // newest first, at most N
  std::vector<std::pair<std::string, uint64_t>> event_counts;  // event type -> interactions
  uint64_t interaction_count = 0;
  int64_t first_seen = 0;  // unix seconds of the oldest interaction
  int64_t last_seen = 0;   // unix seconds of the newest interaction
};

// Features of one item. Time windows are measured back from the snapshot's reference_time (the
// newest event of the data), not from the wall clock, so replaying old data gives the same result.
struct ItemFeatures {
  std::string item_id;
  std::string title;
  std::vector<std::string> tags;
  uint64_t popularity = 0;        // interactions, all time
  double decayed_popularity = 0;  // sum of weight * 0.5^(age / half_life)
  uint64_t trending_1h = 0;       // interactions in the last hour of the data
  uint64_t trending_24h = 0;      // interactions in the last 24 hours of the data
  int64_t created_at = 0;         // from items.csv; 0 = unknown
  int64_t age_seconds = 0;        // reference_time - (created_at, else first interaction)
};

struct RankedItem {
  std::string item_id;
  double score = 0;
};

struct SnapshotMetadata {
  std::string version;         // the run id that produced it; unique per snapshot
  int64_t published_at = 0;    // unix seconds
  int64_t reference_time = 0;  // newest event timestamp in the data
  double half_life_days = 0;
  uint64_t user_count = 0;
  uint64_t item_count = 0;
};

// One complete snapshot as the pipeline builds it.
struct FeatureSnapshot {
  SnapshotMetadata metadata;
  std::vector<UserFeatures> users;
  std::vector<ItemFeatures> items;
  std::vector<RankedItem> popular;   // best first
  std::vector<RankedItem> trending;  // best first
};

// Compact JSON encodings. Decode returns DataLoss for bytes that are not a valid record.
std::string EncodeUser(const UserFeatures& user);
Result<UserFeatures> DecodeUser(std::string_view json);
std::string EncodeItem(const ItemFeatures& item);
Result<ItemFeatures> DecodeItem(std::string_view json);
std::string EncodeRankedList(const std::vector<RankedItem>& list);
Result<std::vector<RankedItem>> DecodeRankedList(std::string_view json);
std::string EncodeMetadata(const SnapshotMetadata& metadata);
Result<SnapshotMetadata> DecodeMetadata(std::string_view json);

}  // namespace recserve::store
