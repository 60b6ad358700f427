#pragma once
// RecommendationChain: how one user's list is made, step by step —
//
//   cache ─hit→ answer
//     │miss
//   history (live events + feature store) ─no signal→ popular
//     │
//   recall (the model's channels) ─failed→ popular, degraded
//     │
//   rank (through the RankingGuard: deadline + breaker) ─failed→ recall order, degraded
//     │
//   filter seen, top k ─nothing left→ popular
//
// Every fallback is visible: a degraded_reason in the answer and
// recommendation_degraded_total{reason}. The chain keeps no per-request state; the model is
// passed in (the caller reads the slots once per request).
//
// Thread-safe: every method may be called concurrently from request threads and the shadow
// worker.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/engine_metrics.h"
#include "engine/live_state.h"
#include "engine/ranking_guard.h"
#include "engine/request_context.h"
#include "engine/serving_model.h"
#include "store/feature_store.h"
#include "store/recommendation_cache.h"

namespace recserve::engine {

class RecommendationChain {
 public:
  // `cache`, `feature_store` and `ranking_guard` may be null: no cache, history from live events
  // only, ranking inline on the calling thread. Everything passed must outlive this object.
  RecommendationChain(LiveState& live, ModelSlot& models, EngineMetrics& metrics,
                      store::RecommendationCache* cache, store::FeatureStore* feature_store,
                      RankingGuard* ranking_guard);
  RecommendationChain(const RecommendationChain&) = delete;
  RecommendationChain& operator=(const RecommendationChain&) = delete;

  // The /recommendations list for `user_id` from `model`, through the cache when `ctx` allows
  // it. A null `model` (none loaded) answers the popular list, degraded `no_model`, uncached.
  RecommendationAnswer Recommend(const std::shared_ptr<const ServingModel>& model,
                                 const RequestContext& ctx, std::string_view user_id, uint32_t k);
  // The full personal list for `user_id` from `model` (non-null), without the cache.
  // `shadow`: rank inline instead of through the ranking guard, and count no degradation (the
  // caller accounts for the shadow itself).
  RecommendationAnswer Personalized(const std::shared_ptr<const ServingModel>& model,
                                    std::string_view user_id, uint32_t k, const RequestContext& ctx,
                                    bool shadow = false);
  // Items by live event count; when live counts give fewer than k items, the feature store's
  // popular list (the latest pipeline snapshot) fills the rest, then the primary model's popular
  // list when a model is loaded. A feature-store miss or error skips it.
  std::vector<ScoredItem> Popular(uint32_t k);

  // A cache is configured and its backing store is reachable.
  bool cache_enabled() const { return cache_ != nullptr && cache_->available(); }
  // The backend answering feature reads right now ("redis", "sqlite"), or "none".
  std::string_view feature_store_backend() const {
    return feature_store_ != nullptr ? feature_store_->backend() : "none";
  }

 private:
  // `count_degraded` false: the answer still carries its reason, but no metric counts it (the
  // shadow's fallbacks are not user-visible degradation).
  RecommendationAnswer PopularAnswer(const ServingModel* model, uint32_t k,
                                     std::string_view degraded_reason, bool count_degraded = true);
  // Live recent items (at `now`) and the feature store's recent interactions, newest first, one
  // entry per item. A feature-store miss or error leaves just the live part. `degraded_reason`
  // gets the feature store's fallback reason when its primary backend was not used (else is
  // left empty).
  std::vector<HistoryItem> UserHistory(std::string_view user_id,
                                       const std::vector<std::string>& live_items,
                                       std::string_view& degraded_reason);

  LiveState& live_;
  ModelSlot& models_;
  EngineMetrics& metrics_;
  store::RecommendationCache* const cache_;
  store::FeatureStore* const feature_store_;
  RankingGuard* const ranking_guard_;
};

// Appends items of `more` not yet in `seen` to `out` until `out` has k items.
void AppendUnseen(std::vector<ScoredItem>& out, const std::vector<ScoredItem>& more, size_t k,
                  std::unordered_set<std::string>& seen);

}  // namespace recserve::engine
