#include "models/top_k.h"

#include <algorithm>
#include <utility>

namespace recserve::models {
namespace {

bool Before(const ScoredItem& a, const ScoredItem& b) { return RanksBefore(a, b); }

}  // namespace

void BestK::Offer(ScoredItem candidate) {
  if (k_ == 0) return;
  if (best_.size() < k_) {
    best_.push_back(candidate);
    std::push_heap(best_.begin(), best_.end(), Before);
  } else if (RanksBefore(candidate, best_.front())) {
    std::pop_heap(best_.begin(), best_.end(), Before);
    best_.back() = candidate;
    std::push_heap(best_.begin(), best_.end(), Before);
  }
}

std::vector<ScoredItem> BestK::Take() {
  std::sort_heap(best_.begin(), best_.end(), Before);
  return std::move(best_);
}

std::vector<ScoredItem> TopK(std::span<const float> scores, size_t k,
                             const std::vector<char>& excluded) {
  BestK best(std::min(k, scores.size()));
  for (uint32_t i = 0; i < scores.size(); ++i) {
    if (i < excluded.size() && excluded[i]) continue;
    best.Offer({i, scores[i]});
  }
  return best.Take();
}

std::vector<uint32_t> OrderByScore(std::span<const float> scores) {
  std::vector<uint32_t> order(scores.size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  // Stable: a NaN score (a corrupt file) then leaves an arbitrary order instead of undefined
  // behaviour; for finite scores the order is total and the result the same as std::sort's.
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return RanksBefore(scores[a], a, scores[b], b); });
  return order;
}

}  // namespace recserve::models
