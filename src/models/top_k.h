#pragma once
// Top-k selection in the one order of models/scored_order.h (score descending, index ascending).

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "models/scored_order.h"

namespace recserve::models {

// Keeps the best `k` items offered, worst on top of a heap, so selection costs O(offered · log k)
// and k entries of memory. The order is strict, so the result equals a full sort's prefix
// whatever the offering order. Not thread-safe.
class BestK {
 public:
  explicit BestK(size_t k) : k_(k) { best_.reserve(k); }
  bool full() const { return best_.size() >= k_; }
  // The worst kept item. REQUIRES: full() and k > 0.
  const ScoredItem& worst() const { return best_.front(); }
  void Offer(ScoredItem candidate);
  // The kept items, best first; leaves the selection empty.
  std::vector<ScoredItem> Take();

 private:
  size_t k_;
  std::vector<ScoredItem> best_;
};

// The best k items of a catalogue-sized score vector whose excluded[] flag is false (an index past
// excluded.size() counts as not excluded), best first.
std::vector<ScoredItem> TopK(std::span<const float> scores, size_t k,
                             const std::vector<char>& excluded);

// Every item index 0..scores.size()-1 in the one order of its score.
std::vector<uint32_t> OrderByScore(std::span<const float> scores);

}  // namespace recserve::models
