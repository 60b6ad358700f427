#pragma once
// The one result order of the recommender: score descending, ties by item index ascending. Every
// ranked list the service produces (a channel's Top(), the fused recall order, the ranked list,
// the neighbour lists, an ANN answer, the evaluation's lists) is in this order, so equal scores
// never make a list depend on the sort algorithm. Strict for non-NaN scores.

#include <cstdint>

namespace recserve::models {

struct ScoredItem {
  uint32_t item;
  float score;
};

// True when (score_a, key_a) comes before (score_b, key_b): the higher score first, the smaller
// key among equal scores. Templated so (item, similarity) pairs and counted names sort the same
// way as ScoredItem.
template <typename Score, typename Key>
constexpr bool RanksBefore(const Score& score_a, const Key& key_a, const Score& score_b,
                           const Key& key_b) {
  return score_a != score_b ? score_a > score_b : key_a < key_b;
}

constexpr bool RanksBefore(const ScoredItem& a, const ScoredItem& b) {
  return RanksBefore(a.score, a.item, b.score, b.item);
}

}  // namespace recserve::models
