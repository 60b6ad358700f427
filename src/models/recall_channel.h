#pragma once
// RecallChannel: one way of scoring items for a user query. Each channel is usable alone (and is
// evaluated alone by `recserve evaluate`) and feeds the candidate merge of
// RecommenderModel::Recall. One file per channel implements it; models/recall_channel_registry.h
// lists how each is trained and loaded.
//
// Contract shared by every channel: all const methods are thread-safe once trained or loaded.
// Score() fills one slot per catalogue item with a score where higher is better (scores of
// different channels are not comparable). Top() is the serving path: the same best items as
// TopK(Score()), found by touching only the items the channel can reach (neighbours of history
// items, the head of the popularity order) — except that the kNN channels return only items with
// a non-zero score instead of padding with zero-score items in index order (EASE keeps the dense
// selection: its weights, and so its scores, may be negative). ScoreItems() gives Score()'s value
// for a few items without scoring the rest. A query with no usable history gets all-zero scores
// from the collaborative channels. Save() writes one versioned little-endian file named
// "<name>.bin" (models/binary_io.h) into a directory.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/recall_channel_names.h"
#include "core/status.h"
#include "models/interaction_matrix.h"
#include "models/scored_order.h"

namespace recserve::models {

using recserve::kEaseChannel;
using recserve::kIalsChannel;
using recserve::kItemKnnChannel;
using recserve::kPopularityChannel;
using recserve::kRecallChannelNames;
using recserve::kRecentKnnChannel;
using recserve::kTrendingChannel;

// One query's calls to one channel inside RecommenderModel::Recall. A channel with per-query work
// (iALS: the user's factor vector, solved for an unknown user) does it at most once per query and
// reuses it in both calls. Lives no longer than the query and the channel; not thread-safe.
class ChannelQuery {
 public:
  virtual ~ChannelQuery() = default;
  // The channel's Top(query, count, excluded), or the channel's approximate equivalent when it
  // has one (iALS's ANN index) and the query asked for it.
  virtual std::vector<ScoredItem> Top(size_t count, const std::vector<char>& excluded) = 0;
  // The values the channel feeds the ranker for `items` (out.size() == items.size()).
  virtual void ScoreItems(std::span<const uint32_t> items, std::span<float> out) = 0;
};

class RecallChannel {
 public:
  virtual ~RecallChannel() = default;
  // Stable name (core/recall_channel_names.h), used in evaluation JSON, feature names and file
  // names.
  virtual const std::string& name() const = 0;
  // The catalogue size the channel covers: Score() writes this many slots and every item index it
  // reads is below it. RecommenderModel::Load refuses a channel whose count differs from the
  // bundle's item vocabulary.
  virtual uint32_t num_items() const = 0;
  // Users the channel keeps per-user state for (iALS's trained rows), checked against the user
  // vocabulary the same way; nullopt for a channel without per-user state.
  virtual std::optional<uint32_t> num_users() const { return std::nullopt; }
  // REQUIRES: out.size() == num_items().
  virtual void Score(const UserQuery& query, std::span<float> out) const = 0;
  // Up to `count` best items whose excluded[] flag is false, best first (models/scored_order.h),
  // per the sparse contract in the file comment. This default scores the whole catalogue;
  // channels override it to touch only what they can reach. REQUIRES: excluded.size() is the
  // catalogue size.
  virtual std::vector<ScoredItem> Top(const UserQuery& query, size_t count,
                                      const std::vector<char>& excluded) const;
  // out[k] = Score()'s value for items[k], without scoring the rest of the catalogue.
  // REQUIRES: out.size() == items.size(), every item is in the catalogue.
  virtual void ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                          std::span<float> out) const = 0;
  // Recall's view of this channel for one query (see ChannelQuery); `use_ann` lets a channel with
  // an approximate index answer Top() from it. This default forwards to Top() and ScoreItems().
  // `query` must outlive the result.
  virtual std::unique_ptr<ChannelQuery> StartQuery(const UserQuery& query, bool use_ann) const;
  // Writes the channel's file into `dir`, appending its name to `files`.
  virtual Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const = 0;
};

}  // namespace recserve::models
