#pragma once
// One request's logic, independent of the transport: recommendations for a user (cache → recall
// → rank → filter seen → top k, with the popular fallback), item pages, similar items, popular
// and trending lists, and event ingestion. Every fallback is visible: a degraded_reason in the
// answer and recommendation_degraded_total{reason}.
//
// Thread-safe: all methods may be called concurrently from request threads.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/live_state.h"
#include "engine/ranking_guard.h"
#include "engine/serving_model.h"
#include "engine/shadow_scorer.h"
#include "engine/variant_lists.h"
#include "lifecycle/experiments.h"
#include "observe/exposure_log.h"
#include "observe/metrics.h"
#include "resilience/feature_flags.h"
#include "store/feature_store.h"
#include "store/recommendation_cache.h"

namespace recserve::engine {

inline constexpr uint32_t kMinK = 1;
inline constexpr uint32_t kMaxK = 200;

// InvalidArgument unless 1 <= k <= 200.
Status ValidateK(int64_t k);

// The variant label of the shadow model's scorings.
inline constexpr std::string_view kVariantShadow = "shadow";

struct RequestContext {
  std::string request_id;
  std::string endpoint;  // route template, for the exposure log
  std::string variant = "primary";
  // Recall settings for this request (experiment variant parameters, feature flags).
  RecallOptions recall = {};
  // Set by the engine from the feature flags and the user's experiment variant (defaults: all
  // on). `ranker_off_reason` non-empty: a flag turned the ranker off, which is a degradation;
  // a variant without the ranker is not.
  bool ranker = true;
  std::string_view ranker_off_reason = {};
  bool use_cache = true;
  bool score_shadow = true;
  // What, besides model version, user and k, decides the list: part of the cache key.
  std::string cache_scope = {};
};

struct RecommendationAnswer {
  std::vector<ScoredItem> items;
  std::string model_version;  // empty when no model is loaded
  std::string variant = "primary";
  std::string source;           // "personalized" | "popular"
  std::string degraded_reason;  // empty when not degraded
  bool from_cache = false;
};

// Metrics the engine updates; registered in the registry given to the constructor.
struct EngineMetrics {
  explicit EngineMetrics(observe::Registry& registry);
  observe::Family<observe::Counter>& degraded;        // recommendation_degraded_total{reason}
  observe::Family<observe::Counter>& cache_requests;  // recommendation_cache_requests_total{result}
  observe::Family<observe::Counter>& events;          // recommendation_events_total{result}
  // The request families of the HTTP layer, for scorings that have no HTTP request of their own
  // (the shadow): recommendation_requests_total and recommendation_latency_seconds.
  observe::Family<observe::Counter>& requests;
  observe::Family<observe::Histogram>& latency;
};

class Recommender {
 public:
  // `cache` and `exposure_log` may be null (disabled). Everything passed must outlive this.
  Recommender(LiveState& live, ModelSlot& models, store::RecommendationCache* cache,
              observe::ExposureLog* exposure_log, EngineMetrics& metrics);
  Recommender(const Recommender&) = delete;
  Recommender& operator=(const Recommender&) = delete;

  // GET /recommendations/{user_id}. An unknown user is not an error: popular items.
  // InvalidArgument for a bad k.
  Result<RecommendationAnswer> Recommend(const RequestContext& ctx, std::string_view user_id,
                                         int64_t k);
  // GET /recommend/detail/{item_id}: items similar to the page item, blended with the user's
  // personal list when a user is given. NotFound for an item the model does not know (or when no
  // model is loaded).
  Result<RecommendationAnswer> Detail(const RequestContext& ctx, std::string_view item_id,
                                      std::optional<std::string_view> user_id, int64_t k);
  // GET /similar/{item_id}. NotFound as for Detail.
  Result<RecommendationAnswer> Similar(std::string_view item_id, int64_t k);
  // GET /popular: items by live event count; when live counts give fewer than k items, the
  // feature store's popular list (the latest pipeline snapshot) fills the rest, then the
  // model's popular list when a model is loaded. A feature-store miss or error skips it.
  Result<std::vector<ScoredItem>> Popular(int64_t k);
  // GET /hot/trending: items by distinct users in the live 1h or 24h window (LiveState's last
  // published list).
  Result<std::vector<ScoredItem>> Trending(std::string_view timeframe, int64_t k);
  // POST /events: validates the whole batch, then applies it; counts accepted/rejected events.
  Status IngestEvents(const std::vector<Event>& events, int64_t now);
  // Counts one rejected event for a body that could not even be decoded into events.
  void CountRejectedBody() { metrics_.events.WithLabels({"rejected"}).Inc(); }

  // Installs `model` (non-null) as the primary. The server uses ModelManager instead, the one
  // writer of the model slots and of recommendation_model_info; this is for embedding and tests.
  void SetPrimaryModel(std::shared_ptr<const ServingModel> model);
  std::shared_ptr<const ServingModel> PrimaryModel() const { return models_.Get().primary; }
  std::shared_ptr<const ServingModel> ShadowModel() const { return models_.Get().shadow; }
  // A cache is configured and its backing store is reachable.
  bool cache_enabled() const { return cache_ != nullptr && cache_->available(); }
  // The store whose recent interactions join live events as the user's history; null (the
  // default) means live events only. Call before serving starts (not synchronised); `store`
  // must outlive this object.
  void SetFeatureStore(store::FeatureStore* store) { feature_store_ = store; }
  // What /health reports as `feature_store`: the backend answering feature reads right now
  // ("redis", "sqlite"), or "none" without a feature store.
  std::string_view feature_store_backend() const {
    return feature_store_ != nullptr ? feature_store_->backend() : "none";
  }
  // Ranking through `guard` (deadline + breaker) instead of on the request thread; null (the
  // default) ranks inline. Same rules as SetFeatureStore.
  void SetRankingGuard(RankingGuard* guard) { ranking_guard_ = guard; }
  // Shadow scoring: for users in the cohort of `rollout()` (the share ModelManager keeps), the
  // shadow model scores each /recommendations request on `scorer`, off the request path. Null
  // (the default) scores no shadow. Same rules as SetFeatureStore; `scorer` must be destroyed
  // before this object (its tasks call back into it).
  void SetShadowScorer(ShadowScorer* scorer, std::function<double()> rollout) {
    shadow_scorer_ = scorer;
    shadow_rollout_ = std::move(rollout);
  }
  // Where each variant's last list per user is kept for the hit ratio; null (the default) keeps
  // none. Same rules as SetFeatureStore.
  void SetVariantLists(VariantLists* lists) { variant_lists_ = lists; }
  // Feature flags (ranker, cache, shadow, recall channels) and experiments read per request;
  // null (the default) means every flag on and no experiment. Same rules as SetFeatureStore.
  void SetConfiguration(resilience::FeatureFlagsHolder* flags,
                        lifecycle::ExperimentsHolder* experiments) {
    flags_ = flags;
    experiments_ = experiments;
  }

 private:
  // `count_degraded` false: the answer still carries its reason, but no metric counts it (the
  // shadow's fallbacks are not user-visible degradation).
  RecommendationAnswer PopularAnswer(const ServingModel* model, uint32_t k,
                                     std::string_view degraded_reason, bool count_degraded = true);
  // The full personal list for `user_id` from `model`. `shadow`: rank inline instead of through
  // the ranking guard, and count no degradation (the caller accounts for the shadow itself).
  RecommendationAnswer Personalized(const std::shared_ptr<const ServingModel>& model,
                                    std::string_view user_id, uint32_t k, const RequestContext& ctx,
                                    bool shadow = false);
  // After a /recommendations answer: exposure log, the variant's list for the hit ratio, and
  // the shadow scoring of the same request.
  void FinishPersonal(const RequestContext& ctx, std::string_view user_id, uint32_t k,
                      const RecommendationAnswer& answer);
  void RecordDegraded(std::string_view reason);
  // `ctx` with the variant, recall options and switches that the flags and the user's
  // experiment assignment give for this request.
  RequestContext Configure(const RequestContext& ctx, std::string_view user_id) const;
  // Live recent items (at `now`) and the feature store's recent interactions, newest first, one
  // entry per item. A feature-store miss or error leaves just the live part. `degraded_reason`
  // gets the feature store's fallback reason when its primary backend was not used (else is
  // left empty).
  std::vector<HistoryItem> UserHistory(std::string_view user_id,
                                       const std::vector<std::string>& live_items,
                                       std::string_view& degraded_reason);
  void LogExposure(const RequestContext& ctx, std::string_view user_id,
                   const RecommendationAnswer& answer);
  // Queues the shadow scoring of this request when `shadow` (the slot's, may be null) is loaded
  // and the user is in its cohort; `primary_items` is what the user was answered, for overlap@k.
  void MaybeScoreShadow(const RequestContext& ctx, std::string_view user_id, uint32_t k,
                        const std::vector<ScoredItem>& primary_items,
                        std::shared_ptr<const ServingModel> shadow);
  // Runs on the shadow worker: the shadow's list for the user, its metrics, hit-ratio record and
  // exposure record (variant "shadow", same request id as the primary's).
  void ScoreShadow(const std::shared_ptr<const ServingModel>& shadow, const RequestContext& ctx,
                   const std::string& user_id, uint32_t k, const std::vector<std::string>& primary);

  LiveState& live_;
  ModelSlot& models_;
  store::RecommendationCache* cache_;
  observe::ExposureLog* exposure_log_;
  EngineMetrics& metrics_;
  store::FeatureStore* feature_store_ = nullptr;
  RankingGuard* ranking_guard_ = nullptr;
  ShadowScorer* shadow_scorer_ = nullptr;
  std::function<double()> shadow_rollout_;
  VariantLists* variant_lists_ = nullptr;
  resilience::FeatureFlagsHolder* flags_ = nullptr;
  lifecycle::ExperimentsHolder* experiments_ = nullptr;
};

}  // namespace recserve::engine
