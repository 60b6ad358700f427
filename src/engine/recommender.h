#pragma once
// Recommender: the engine's entry point for the request routes, independent of the transport:
// recommendations for a user, item pages, similar items, popular and trending lists, and event
// ingestion. It composes one class per concern and adds nothing of its own but their order:
//
//   RequestConfigurator  flags + the user's experiment variant → RequestContext
//   RecommendationChain  cache → history → recall → rank → filter → fallback
//   ExposureRecorder     what the user was shown → exposure log
//   ShadowComparison     the shadow model's list for the same request, off the request path
//
// Everything it uses is given at construction, in one RecommenderDependencies; nothing is set
// later. Thread-safe: every method may be called concurrently from request threads.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "engine/engine_metrics.h"
#include "engine/event_follower.h"
#include "engine/event_journal.h"
#include "engine/exposure_recorder.h"
#include "engine/live_state.h"
#include "engine/ranking_guard.h"
#include "engine/recommendation_chain.h"
#include "engine/request_configurator.h"
#include "engine/request_context.h"
#include "engine/serving_model.h"
#include "engine/shadow_comparison.h"
#include "engine/shadow_scorer.h"
#include "engine/variant_lists.h"
#include "lifecycle/experiments.h"
#include "observe/exposure_log.h"
#include "resilience/feature_flags.h"
#include "store/feature_store.h"
#include "store/recommendation_cache.h"

namespace recserve::engine {

// What a Recommender is built from. The references are required; every pointer may be null,
// which turns its part off as stated. Everything referenced must outlive the Recommender.
struct RecommenderDependencies {
  LiveState& live;
  ModelSlot& models;
  EngineMetrics& metrics;
  store::RecommendationCache* cache = nullptr;          // null: no recommendation cache
  store::FeatureStore* feature_store = nullptr;         // null: history is live events only
  RankingGuard* ranking_guard = nullptr;                // null: rank inline on the request thread
  VariantLists* variant_lists = nullptr;                // null: no per-variant lists (hit ratio)
  observe::ExposureLog* exposure_log = nullptr;         // null: no exposure log
  resilience::FeatureFlagsHolder* flags = nullptr;      // null: every flag on
  lifecycle::ExperimentsHolder* experiments = nullptr;  // null: no experiment
  // Shadow scoring: the Recommender takes `shadow_scorer` over (null: no shadow is scored);
  // `shadow_rollout` gives the cohort share (ModelManager::shadow_rollout) and
  // `shadow_requests` counts each scoring as a request of variant "shadow".
  std::unique_ptr<ShadowScorer> shadow_scorer = nullptr;
  std::function<double()> shadow_rollout = nullptr;
  ShadowRequestObserver shadow_requests = nullptr;
  // The fleet's shared event log: `journal` records every accepted batch durably (null: events
  // are applied in memory only) and `follower` applies the other replicas' events (null: none).
  EventJournal* journal = nullptr;
  const EventFollower* follower = nullptr;
};

// What /health reports about events: where accepted events are recorded ("redis", "spool", or
// "memory" without a shared log), unreplayed spooled events, and whether the start-up catch-up
// from the log has finished.
struct EventsHealth {
  std::string_view recorded_in = "memory";
  uint64_t spooled = 0;
  bool caught_up = true;
};

class Recommender {
 public:
  explicit Recommender(RecommenderDependencies deps);
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
  // GET /popular (RecommendationChain::Popular).
  Result<std::vector<ScoredItem>> Popular(int64_t k);
  // GET /hot/trending: items by distinct users in the live 1h or 24h window (LiveState's last
  // published list).
  Result<std::vector<ScoredItem>> Trending(std::string_view timeframe, int64_t k);
  // POST /events: validates the whole batch; gives every event an id (its `event_id`, else
  // store::DeriveEventId of `body` and its index) and a time (`now` when it has none); records
  // it durably through the journal (Unavailable when it cannot: nothing is applied); applies
  // what this replica must apply now. Counts accepted/rejected events.
  Status IngestEvents(std::vector<Event> events, std::string_view body, int64_t now);
  // Applies accepted events to the live state (the follower's path for the events other replicas
  // accepted; crediting the variants' lists is the accepting replica's, in IngestEvents).
  void ApplyLoggedEvents(const std::vector<Event>& events, int64_t now);
  EventsHealth events_health() const;
  // Counts one rejected event for a body that could not even be decoded into events.
  void CountRejectedBody() { metrics_.events.WithLabels({"rejected"}).Inc(); }

  // Installs `model` (non-null) as the primary. The server uses ModelManager instead, the one
  // writer of the model slots and of recommendation_model_info; this is for embedding and tests.
  void SetPrimaryModel(std::shared_ptr<const ServingModel> model);
  std::shared_ptr<const ServingModel> PrimaryModel() const { return models_.Get().primary; }
  std::shared_ptr<const ServingModel> ShadowModel() const { return models_.Get().shadow; }
  // What /health reports: a cache is configured and reachable; the feature-store backend
  // answering now ("redis", "sqlite", "none").
  bool cache_enabled() const { return chain_.cache_enabled(); }
  std::string_view feature_store_backend() const { return chain_.feature_store_backend(); }

 private:
  // After a /recommendations answer: exposure log, the variant's list for the hit ratio, and
  // the shadow scoring of the same request.
  void FinishPersonal(const RequestContext& ctx, std::string_view user_id, uint32_t k,
                      const RecommendationAnswer& answer);

  LiveState& live_;
  ModelSlot& models_;
  EngineMetrics& metrics_;
  VariantLists* const variant_lists_;
  EventJournal* const journal_;
  const EventFollower* const follower_;
  const RequestConfigurator configurator_;
  const ExposureRecorder exposure_;
  RecommendationChain chain_;
  // Last: destroyed first, while the chain and the recorder its tasks use are alive.
  ShadowComparison shadow_;
};

}  // namespace recserve::engine
