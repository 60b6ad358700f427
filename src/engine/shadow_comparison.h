#pragma once
// ShadowComparison: the shadow model's side of a /recommendations request. For users in the
// shadow cohort (ShadowScorer::InCohort with the rollout share ModelManager keeps) it queues, on
// its ShadowScorer's worker and off the request path, the shadow's own list for the same
// request, then records the comparison: the scoring as a request of variant "shadow" (through
// the ShadowRequestObserver: the request metrics belong to the HTTP layer), overlap@k with the
// primary's list, the shadow's list for the hit ratio, and its exposure record.
//
// Owns its ShadowScorer, and so destroys it (running the queued scorings still within
// SHADOW_TIMEOUT, dropping the stale ones, then joining) before anything its tasks call into can
// go: the owner declares this object after the chain, the exposure recorder and the variant lists
// it is given.
//
// Thread-safe: MaybeScore() may be called from any number of request threads.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/exposure_recorder.h"
#include "engine/recommendation_chain.h"
#include "engine/request_context.h"
#include "engine/shadow_scorer.h"
#include "engine/variant_lists.h"

namespace recserve::engine {

// Counts one shadow scoring as a request: its route template, the HTTP status it stands for
// ("200", or "500" when the shadow could not produce its own full list) and its duration.
using ShadowRequestObserver =
    std::function<void(std::string_view endpoint, std::string_view status, double seconds)>;

class ShadowComparison {
 public:
  // `scorer` null: no shadow is ever scored. `rollout` gives the cohort share per request;
  // `observer`, `variant_lists` may be empty/null. `chain`, `exposure` and `variant_lists` must
  // outlive this object.
  ShadowComparison(std::unique_ptr<ShadowScorer> scorer, std::function<double()> rollout,
                   ShadowRequestObserver observer, RecommendationChain& chain,
                   const ExposureRecorder& exposure, VariantLists* variant_lists);
  ShadowComparison(const ShadowComparison&) = delete;
  ShadowComparison& operator=(const ShadowComparison&) = delete;

  // Queues the shadow scoring of this request when `shadow` (the slot's, may be null) is loaded,
  // `ctx` allows it and the user is in the cohort; `primary_items` is what the user was answered.
  void MaybeScore(const RequestContext& ctx, std::string_view user_id, uint32_t k,
                  const std::vector<ScoredItem>& primary_items,
                  std::shared_ptr<const ServingModel> shadow);

 private:
  // Runs on the shadow worker.
  void Score(const std::shared_ptr<const ServingModel>& shadow, const RequestContext& ctx,
             const std::string& user_id, uint32_t k, const std::vector<std::string>& primary);

  std::function<double()> rollout_;
  ShadowRequestObserver observer_;
  RecommendationChain& chain_;
  const ExposureRecorder& exposure_;
  VariantLists* const variant_lists_;
  // Last: destroyed first, while everything its tasks use is still alive.
  std::unique_ptr<ShadowScorer> scorer_;
};

// The item ids of `items`, in order.
std::vector<std::string> ItemIds(const std::vector<ScoredItem>& items);

}  // namespace recserve::engine
