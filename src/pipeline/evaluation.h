#pragma once
// The offline evaluation protocol of ../shared/docs/EVALUATION.md, in pieces the evaluate command
// and the training pipeline share: loading positives (rule 1), the three splits (rule 2), folds
// filtered as in rule 3 in an id-sorted index space (rule 4), and the metrics (rule 5).
// Every function here is deterministic and free of global state.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/id_vocabulary.h"
#include "core/status.h"
#include "models/interaction_matrix.h"
#include "models/recommender.h"

namespace recserve::pipeline {

enum class SplitKind { kUserTemporal, kTemporal, kRandomHash };
// "user_temporal" | "temporal" | "random_hash"; InvalidArgument otherwise.
Result<SplitKind> ParseSplitKind(std::string_view name);
std::string_view SplitKindName(SplitKind kind);

// One positive (user, item) pair; indices into PositiveSet's raw-id vocabularies.
struct Positive {
  uint32_t user = 0;
  uint32_t item = 0;
  int64_t timestamp = 0;
};

// Rule 1's positives: rows with weight >= min_weight (all rows without it), one per (user, item),
// the earliest kept (ties: first in the file).
struct PositiveSet {
  IdVocabulary users;  // raw ids in first-seen order
  IdVocabulary items;
  bool numeric_users = false;  // all user ids are digit strings (rule 2 comparisons)
  bool numeric_items = false;
  bool all_timestamps = true;  // false when some row had an empty timestamp
  std::vector<Positive> rows;
};

// Adds `p` to set.rows unless its (user, item) pair is there already, in which case the earlier
// timestamp is kept (rule 1). `pair_row` maps user<<32|item to the row; the caller keeps it.
void AddPositive(PositiveSet& set, std::unordered_map<uint64_t, size_t>& pair_row,
                 const Positive& p);

// Reads DIR/interactions.csv (header naming user_id,item_id,timestamp,weight in any order;
// extra columns ignored). InvalidArgument naming the line for a malformed row; nothing is
// silently dropped except rows below min_weight.
Result<PositiveSet> LoadPositives(const std::filesystem::path& interactions_csv,
                                  std::optional<double> min_weight);

struct SplitRows {
  std::vector<Positive> train;
  std::vector<Positive> test;
};

// Rule 2 with test fraction `f` (0.2 for test, 0.1 for validation inside train).
// FailedPrecondition when a time-based split meets rows without timestamps.
Result<SplitRows> SplitPositives(const PositiveSet& set, const std::vector<Positive>& rows,
                                 SplitKind kind, double f);

// Dense indices for a fold: users and items of `rows`, each sorted by id (rule 2's order).
struct IndexSpace {
  IdVocabulary users;
  IdVocabulary items;
};
IndexSpace SortedIndexSpace(const PositiveSet& set, const std::vector<Positive>& rows);

// A train matrix and its filtered targets (rule 3) in one index space.
struct Fold {
  models::InteractionMatrix train;
  std::vector<uint32_t> users;                 // test users, ascending index
  std::vector<std::vector<uint32_t>> targets;  // per test user, ascending item index
  uint64_t target_pairs = 0;
  uint32_t catalogue = 0;    // items with at least one train event
  uint32_t train_users = 0;  // users with at least one train event
};
// REQUIRES: every train row's user/item is in `space`. Test rows whose user or item has no
// train event, or whose pair is in train, are dropped (rule 3).
Fold BuildFold(const PositiveSet& set, const IndexSpace& space, const std::vector<Positive>& train,
               const std::vector<Positive>& test);

// Rule 5's figures, averaged over test users.
struct Metrics {
  double recall10 = 0, recall20 = 0, ndcg10 = 0, ndcg20 = 0, hitrate10 = 0, coverage10 = 0;
};

// Rankings for a fold: called once per test user with the user's train query and a mask of the
// user's train items; returns at least the top 20 items (excluding masked ones), best first.
using RankingFunction =
    std::function<std::vector<uint32_t>(const models::UserQuery&, const std::vector<char>&)>;

// Runs `rank` for every test user (split over `threads` workers in fixed ranges; the result
// does not depend on the thread count) and computes the metrics.
Metrics EvaluateFold(const Fold& fold, const RankingFunction& rank, int threads);
// The same over a subset of the fold's test users: `positions` index fold.users/fold.targets.
// Coverage@10 counts the distinct items of these users' lists.
Metrics EvaluateFoldUsers(const Fold& fold, const std::vector<size_t>& positions,
                          const RankingFunction& rank, int threads);

// Metrics of ranked lists against targets (the pure part of EvaluateFold, unit-tested).
Metrics ComputeMetrics(const std::vector<std::vector<uint32_t>>& ranked,
                       const std::vector<std::vector<uint32_t>>& targets, uint32_t catalogue);

// A channel ranked alone over the full catalogue (rule 4).
RankingFunction ChannelRanking(const models::RecallChannel& channel);
// What serving serves: Recall + Rank, sorted by score then item index.
RankingFunction FinalRanking(const models::RecommenderModel& model, uint32_t candidates);
// The same with `ranker` scoring the candidates instead of the model's own ranker (for a ranker
// not yet attached to a model). `ranker` must outlive the returned function.
RankingFunction FinalRanking(const models::RecommenderModel& model, const models::Ranker& ranker,
                             uint32_t candidates);

// DIR/items.csv (item_id,title,tags with '|'-separated tags) aligned with `items`; an absent file
// gives empty side information. InvalidArgument naming the line for a malformed row.
Result<models::ItemSide> LoadItemSide(const std::filesystem::path& items_csv,
                                      const IdVocabulary& items);

}  // namespace recserve::pipeline
