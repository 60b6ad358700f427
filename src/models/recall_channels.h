#pragma once
// Recall channels: each scores items for one user query, is usable alone (and is evaluated alone
// by `recserve evaluate`), and feeds the candidate merge in recommender.h.
//
// Contract shared by every channel: Score(), Top() and ScoreItems() are const and thread-safe
// once trained or loaded. Score() fills one slot per catalogue item with a score where higher is
// better (scores of different channels are not comparable). Top() is the serving path: the same
// best items as TopK(Score()), found by touching only the items the channel can reach
// (neighbours of history items, the head of the popularity order) — except that the kNN channels
// return only items with a non-zero score instead of padding with zero-score items in index
// order (EASE keeps the dense selection: its weights, and so its scores, may be negative).
// ScoreItems() gives Score()'s value for a few items without scoring the rest. A query with no
// usable history gets all-zero scores from the collaborative channels. Save() writes one versioned
// little-endian file (models/binary_io.h) into a directory; Load() parses it from a ModelFiles.

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/recall_channel_names.h"
#include "core/status.h"
#include "models/interaction_matrix.h"
#include "models/model_files.h"

namespace recserve::models {

// Channel names: stable identifiers used in bundles, evaluation JSON, feature names, and by
// per-request recall weights (experiments, feature flags). A bundle has every channel except
// possibly EASE (skipped for large catalogues).
inline constexpr std::string_view kPopularityChannel = "popularity";
inline constexpr std::string_view kTrendingChannel = "trending";
inline constexpr std::string_view kItemKnnChannel = "item_knn";
inline constexpr std::string_view kRecentKnnChannel = "recent_knn";
inline constexpr std::string_view kIalsChannel = "ials";
inline constexpr std::string_view kEaseChannel = "ease";
// The one list of channel names (core/recall_channel_names.h: the configuration rooms validate
// flags and experiments against it without depending on models); the names above must match it.
using recserve::kRecallChannelNames;
static_assert(kRecallChannelNames[0] == kPopularityChannel &&
              kRecallChannelNames[1] == kTrendingChannel &&
              kRecallChannelNames[2] == kItemKnnChannel &&
              kRecallChannelNames[3] == kRecentKnnChannel &&
              kRecallChannelNames[4] == kIalsChannel && kRecallChannelNames[5] == kEaseChannel);

struct ScoredItem {
  uint32_t item;
  float score;
};

// Sorts (score desc, index asc) and keeps the best k items whose excluded[] flag is false.
std::vector<ScoredItem> TopK(std::span<const float> scores, size_t k,
                             const std::vector<char>& excluded);

class RecallChannel {
 public:
  virtual ~RecallChannel() = default;
  // Stable name, used in evaluation JSON, feature names and file names.
  virtual const std::string& name() const = 0;
  // REQUIRES: out.size() == number of catalogue items.
  virtual void Score(const UserQuery& query, std::span<float> out) const = 0;
  // Up to `count` best items whose excluded[] flag is false, best first (score desc, index
  // asc), per the sparse contract in the file comment. This default scores the whole catalogue;
  // channels override it to touch only what they can reach. REQUIRES: excluded.size() is the
  // catalogue size.
  virtual std::vector<ScoredItem> Top(const UserQuery& query, size_t count,
                                      const std::vector<char>& excluded) const;
  // out[k] = Score()'s value for items[k], without scoring the rest of the catalogue.
  // REQUIRES: out.size() == items.size(), every item is in the catalogue.
  virtual void ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                          std::span<float> out) const = 0;
  // Writes the channel's file(s) into `dir`, appending their names to `files`.
  virtual Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const = 0;
};

// All-time interaction count per item: the popularity baseline. Ignores the query.
class PopularityChannel final : public RecallChannel {
 public:
  static PopularityChannel Train(const InteractionMatrix& m);
  static Result<PopularityChannel> Load(const ModelFiles& files);
  const std::string& name() const override;
  void Score(const UserQuery& query, std::span<float> out) const override;
  // Walks the precomputed popularity order: O(count + excluded items passed).
  std::vector<ScoredItem> Top(const UserQuery& query, size_t count,
                              const std::vector<char>& excluded) const override;
  void ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                  std::span<float> out) const override;
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const override;
  const std::vector<float>& counts() const { return counts_; }

 private:
  void BuildOrder();

  std::vector<float> counts_;
  std::vector<uint32_t> order_;  // items by count desc, index asc (derived, never stored)
};

// Trending: events per item in the window (now - window, now] where now is the query's reference
// time, plus all-time count / (1 + total events) as a tie-break below one event. Only events at
// or before the reference time count, so it never looks into the user's future.
class TrendingChannel final : public RecallChannel {
 public:
  static TrendingChannel Train(const InteractionMatrix& m, int64_t window_seconds);
  static Result<TrendingChannel> Load(const ModelFiles& files);
  const std::string& name() const override;
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

// Top-N cosine neighbours per item with shrinkage: sim(i,j) = |U_i ∩ U_j| /
// (sqrt(|U_i| |U_j|) + shrink), keeping each item's `neighbours` largest (ties by index).
struct ItemNeighbours {
  uint32_t num_items = 0;
  std::vector<uint64_t> offsets = {0};
  std::vector<uint32_t> neighbour;  // sorted by similarity descending within a row
  std::vector<float> similarity;
  // The transpose, for scoring: row j lists the items i that have j among their neighbours.
  // Derived from the rows above (never stored in files).
  std::vector<uint64_t> reverse_offsets = {0};
  std::vector<uint32_t> reverse_item;
  std::vector<float> reverse_similarity;

  // `threads` >= 1 workers; the result does not depend on it.
  static ItemNeighbours Build(const InteractionMatrix& m, uint32_t neighbours, float shrink,
                              int threads);
  // (neighbour, similarity) pairs of one row.
  using NeighbourEntry = std::pair<uint32_t, float>;
  // One row per item (rows.size() items), each already in the order to keep (best first); fills
  // the reverse lists too.
  static ItemNeighbours FromRows(const std::vector<std::vector<NeighbourEntry>>& rows);
  // Fills the reverse_* members from offsets/neighbour/similarity.
  void BuildReverse();
};

// Item-kNN: score(i) = Σ over the user's last `recent_items` history items j (all history when
// 0) that are among i's top-N neighbours, of sim(j, i). "item_knn" uses the whole history,
// "recent_knn" the most recent items.
class ItemKnnChannel final : public RecallChannel {
 public:
  ItemKnnChannel(std::string name, std::shared_ptr<const ItemNeighbours> neighbours,
                 uint32_t recent_items);
  const std::string& name() const override { return name_; }
  void Score(const UserQuery& query, std::span<float> out) const override;
  // Accumulates over the reverse neighbour lists of the history items only.
  std::vector<ScoredItem> Top(const UserQuery& query, size_t count,
                              const std::vector<char>& excluded) const override;
  void ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                  std::span<float> out) const override;
  // Saves the neighbour lists (shared by both kNN channels) under the channel name.
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const override;
  static Result<ItemKnnChannel> Load(const ModelFiles& files, const std::string& name);
  const ItemNeighbours& neighbours() const { return *neighbours_; }
  uint32_t recent_items() const { return recent_items_; }

 private:
  // Calls add(item, similarity) for every neighbour-list entry the query's history reaches, in a
  // fixed order (so sums are bitwise equal whichever entry point uses them).
  template <typename AddFn>
  void ForEachContribution(const UserQuery& query, AddFn add) const;

  std::string name_;
  std::shared_ptr<const ItemNeighbours> neighbours_;
  uint32_t recent_items_ = 0;
};

struct IalsParams {
  uint32_t factors = 64;
  float regularization = 10.0f;
  float alpha = 1.0f;  // confidence of an observed pair is 1 + alpha
  uint32_t iterations = 15;
  // Conjugate-gradient steps per row and sweep, warm-started from the previous sweep; 0 = exact
  // Cholesky solves. 3 steps is `implicit`'s default: about 5x less work per sweep than exact.
  uint32_t cg_steps = 3;
  uint64_t seed = 42;
  int threads = 1;
};

// Implicit ALS (Hu, Koren, Volinsky 2008), rows solved by conjugate gradient or exactly
// (IalsParams::cg_steps). Each half-sweep solves
// users (items) independently over a fixed partition into `threads` workers, so factors are
// identical for a fixed seed whatever the thread count. Unknown users are folded in from their
// history with the same solve.
class IalsChannel final : public RecallChannel {
 public:
  static IalsChannel Train(const InteractionMatrix& m, const IalsParams& params);
  static Result<IalsChannel> Load(const ModelFiles& files);
  const std::string& name() const override;
  void Score(const UserQuery& query, std::span<float> out) const override;
  void ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                  std::span<float> out) const override;
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const override;

  // user · item factors. REQUIRES: user.size() == factors(), item < num_items().
  float Dot(std::span<const float> user, uint32_t item) const;
  // User vector for the query: the trained row when known, else solved from the history.
  std::vector<float> UserVector(const UserQuery& query) const;
  uint32_t factors() const { return factors_; }
  uint32_t num_users() const { return num_users_; }
  uint32_t num_items() const { return num_items_; }
  // Row-major num_items × factors.
  const std::vector<float>& item_factors() const { return item_factors_; }

 private:
  uint32_t factors_ = 0;
  uint32_t num_users_ = 0;
  uint32_t num_items_ = 0;
  float regularization_ = 0;
  float alpha_ = 0;
  std::vector<float> user_factors_;  // row-major num_users × factors
  std::vector<float> item_factors_;
  // Column-major factors × factors: item factorsᵀ·item factors + regularization·I, so folding in
  // an unknown user costs O(f²·history + f³), not a pass over the whole catalogue.
  std::vector<float> fold_in_gram_;
  void BuildFoldInGram();
};

// Floating-point operations of one iALS iteration (both half-sweeps) as counted by the bench,
// plus the two f×f Gram products (2·f²·rows each). Exact (cg_steps 0): per row 2·f²·n
// (confidence rank update) + f³/3 (Cholesky) + 2·f² (solve). CG: per row (cg_steps + 1)
// products A·v of 2·f² + 4·f·n each.
double IalsFlopsPerIteration(const InteractionMatrix& m, uint32_t factors, uint32_t cg_steps);

// EASE (Steck 2019): B = I - P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹, diagonal zeroed. Dense
// n × n, so Train refuses catalogues above `max_items` (FailedPrecondition).
class EaseChannel final : public RecallChannel {
 public:
  static Result<EaseChannel> Train(const InteractionMatrix& m, float lambda, uint32_t max_items);
  static Result<EaseChannel> Load(const ModelFiles& files);
  const std::string& name() const override;
  // Top() stays the dense default: every history item's weight row spans the catalogue.
  void Score(const UserQuery& query, std::span<float> out) const override;
  void ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                  std::span<float> out) const override;
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const override;
  // The catalogue size the weights cover (Score() writes this many slots).
  uint32_t num_items() const { return num_items_; }

 private:
  uint32_t num_items_ = 0;
  std::vector<float> weights_;  // row-major n × n; row j holds item j's contribution
};

}  // namespace recserve::models
