#include "engine/shadow_comparison.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace recserve::engine {

std::vector<std::string> ItemIds(const std::vector<ScoredItem>& items) {
  std::vector<std::string> ids;
  ids.reserve(items.size());
  for (const auto& item : items) ids.push_back(item.item_id);
  return ids;
}

ShadowComparison::ShadowComparison(std::unique_ptr<ShadowScorer> scorer,
                                   std::function<double()> rollout, ShadowRequestObserver observer,
                                   RecommendationChain& chain, const ExposureRecorder& exposure,
                                   VariantLists* variant_lists)
    : rollout_(std::move(rollout)),
      observer_(std::move(observer)),
      chain_(chain),
      exposure_(exposure),
      variant_lists_(variant_lists),
      scorer_(std::move(scorer)) {}

void ShadowComparison::MaybeScore(const RequestContext& ctx, std::string_view user_id, uint32_t k,
                                  const std::vector<ScoredItem>& primary_items,
                                  std::shared_ptr<const ServingModel> shadow) {
  if (scorer_ == nullptr || !rollout_ || !ctx.score_shadow) return;
  if (!shadow || !scorer_->InCohort(user_id, rollout_())) return;
  // The task owns copies of everything it reads (the request's stack is gone when it runs) and
  // the shadow bundle through its shared_ptr, so a reload meanwhile cannot free it under the task.
  scorer_->Submit([this, shadow = std::move(shadow), ctx, user = std::string(user_id), k,
                   primary = ItemIds(primary_items)] { Score(shadow, ctx, user, k, primary); });
}

void ShadowComparison::Score(const std::shared_ptr<const ServingModel>& shadow,
                             const RequestContext& ctx, const std::string& user_id, uint32_t k,
                             const std::vector<std::string>& primary) {
  auto started = std::chrono::steady_clock::now();
  RequestContext shadow_ctx = ctx;
  shadow_ctx.variant = std::string(kVariantShadow);
  // With the ranker flag off both variants serve recall order; for the shadow that is the
  // comparison, not a failed scoring (ShadowErrorRate must not fire on a flag).
  shadow_ctx.ranker_off_reason = {};
  RecommendationAnswer answer =
      chain_.Personalized(shadow, user_id, k, shadow_ctx, /*shadow=*/true);
  answer.variant = std::string(kVariantShadow);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // A shadow that could not produce its own full list (recall or ranking failed) counts as a
  // failed scoring: that is what ShadowErrorRate watches before a promotion.
  bool failed = !answer.degraded_reason.empty();
  if (observer_) observer_(ctx.endpoint, failed ? "500" : "200", seconds);
  size_t shared = 0;
  for (const auto& item : answer.items) {
    if (std::find(primary.begin(), primary.end(), item.item_id) != primary.end()) ++shared;
  }
  scorer_->RecordOverlap(k == 0 ? 0 : static_cast<double>(shared) / k);
  if (variant_lists_ != nullptr) {
    variant_lists_->Record(user_id, kVariantShadow, ItemIds(answer.items));
  }
  exposure_.Record(ctx, user_id, answer);
}

}  // namespace recserve::engine
