#pragma once
// TrendingChannel: events per item in the window (now - window, now] where now is the query's
// reference time, plus all-time count / (1 + total events) as a tie-break below one event. Only
// events at or before the reference time count, so it never looks into the user's future.
// File: trending.bin (RSTREND).

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/interaction_matrix.h"
#include "models/model_files.h"
#include "models/recall_channel.h"

namespace recserve::models {

class TrendingChannel final : public RecallChannel {
 public:
  static TrendingChannel Train(const InteractionMatrix& m, int64_t window_seconds);
  static Result<TrendingChannel> Load(const ModelFiles& files);
  const std::string& name() const override;
  uint32_t num_items() const override { return timeline_.num_items(); }
  void Score(const UserQuery& query, std::span<float> out) const override;
  // Exact branch and bound: items in order of an upper bound on their score (the most events the
  // item ever had in one window, precomputed at load), each scored, stopping once a bound cannot
  // beat the count-th best score found. O(count) items visited when trends are stable.
  std::vector<ScoredItem> Top(const UserQuery& query, size_t count,
                              const std::vector<char>& excluded) const override;
  void ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                  std::span<float> out) const override;
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const override;
  int64_t window_seconds() const { return window_seconds_; }
  const ItemTimeline& timeline() const { return timeline_; }

 private:
  void BuildOrder();
  // Score() of one item at reference time `now`.
  float ItemScore(uint32_t item, int64_t now) const;

  int64_t window_seconds_ = 0;
  ItemTimeline timeline_;
  std::vector<float> bound_;     // per item: peak events in one window + the tie-break (derived)
  std::vector<uint32_t> order_;  // items by bound_ desc, index asc (derived)
};

}  // namespace recserve::models
