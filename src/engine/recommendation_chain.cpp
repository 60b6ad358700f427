#include "engine/recommendation_chain.h"

#include <algorithm>

#include "core/wall_clock.h"
#include "resilience/degradation_reason.h"

namespace recserve::engine {

namespace {

using resilience::DegradationReason;

// The reason's label: what responses carry and recommendation_degraded_total counts.
std::string_view Label(DegradationReason reason) {
  return resilience::DegradationReasonLabel(reason);
}

std::vector<ScoredItem> FromCached(const std::vector<store::CachedItem>& items) {
  std::vector<ScoredItem> out;
  out.reserve(items.size());
  for (const auto& item : items) out.push_back({item.item_id, item.score});
  return out;
}

std::vector<store::CachedItem> ToCached(const std::vector<ScoredItem>& items) {
  std::vector<store::CachedItem> out;
  out.reserve(items.size());
  for (const auto& item : items) out.push_back({item.item_id, item.score});
  return out;
}

}  // namespace

void AppendUnseen(std::vector<ScoredItem>& out, const std::vector<ScoredItem>& more, size_t k,
                  std::unordered_set<std::string>& seen) {
  for (const auto& item : more) {
    if (out.size() >= k) return;
    if (seen.insert(item.item_id).second) out.push_back(item);
  }
}

RecommendationChain::RecommendationChain(LiveState& live, ModelSlot& models, EngineMetrics& metrics,
                                         store::RecommendationCache* cache,
                                         store::FeatureStore* feature_store,
                                         RankingGuard* ranking_guard)
    : live_(live),
      models_(models),
      metrics_(metrics),
      cache_(cache),
      feature_store_(feature_store),
      ranking_guard_(ranking_guard) {}

std::vector<ScoredItem> RecommendationChain::Popular(uint32_t k) {
  auto live = live_.Popular();
  std::vector<ScoredItem> out;
  size_t n = std::min<size_t>(k, live->size());
  out.reserve(k);
  for (size_t i = 0; i < n; ++i) {
    out.push_back({(*live)[i].first, static_cast<double>((*live)[i].second)});
  }
  std::unordered_set<std::string> seen;
  for (const auto& item : out) seen.insert(item.item_id);
  if (out.size() < k && feature_store_ != nullptr) {
    if (auto stored = feature_store_->GetPopular(); stored.ok()) {
      std::vector<ScoredItem> items;
      items.reserve(stored->size());
      for (auto& item : *stored) items.push_back({std::move(item.item_id), item.score});
      AppendUnseen(out, items, k, seen);
    }
  }
  if (out.size() < k) {
    if (auto model = models_.Get().primary) AppendUnseen(out, model->Popular(k), k, seen);
  }
  return out;
}

RecommendationAnswer RecommendationChain::PopularAnswer(const ServingModel* model, uint32_t k,
                                                        std::string_view degraded_reason,
                                                        bool count_degraded) {
  RecommendationAnswer answer;
  answer.items = Popular(k);
  answer.model_version = model ? model->version() : "";
  answer.source = "popular";
  answer.degraded_reason = std::string(degraded_reason);
  if (!degraded_reason.empty() && count_degraded) metrics_.RecordDegraded(degraded_reason);
  return answer;
}

RecommendationAnswer RecommendationChain::Recommend(
    const std::shared_ptr<const ServingModel>& model, const RequestContext& ctx,
    std::string_view user_id, uint32_t k) {
  if (!model) {
    // Nothing worth caching: the popular list is a snapshot lookup, and caching it would hide
    // new events for the cache TTL.
    metrics_.cache_requests.WithLabels({"bypass"}).Inc();
    return PopularAnswer(nullptr, k, Label(DegradationReason::kNoModel));
  }
  std::string key;
  std::string_view cache_failure;  // why the cache could not be used, when it could not
  store::RecommendationCache* cache = ctx.use_cache ? cache_ : nullptr;
  if (cache != nullptr) {
    // The variant and the flags that change the list are part of the key, so a toggled flag or
    // a moved allocation never serves a list computed under other settings.
    key = store::RecommendationCacheKey(model->version() + "#" + ctx.cache_scope, user_id, k,
                                        live_.UserGeneration(user_id));
    auto cached = cache->Lookup(key);
    if (!cached.ok()) {
      bool skipped = cached.status().code() == StatusCode::kFailedPrecondition;
      metrics_.cache_requests.WithLabels({skipped ? "bypass" : "error"}).Inc();
      cache_failure = skipped ? Label(DegradationReason::kBreakerOpenCache)
                              : Label(DegradationReason::kTimeoutRedis);
    } else if (*cached) {
      metrics_.cache_requests.WithLabels({"hit"}).Inc();
      const store::CachedRecommendation& c = **cached;
      return RecommendationAnswer{
          FromCached(c.items), c.model_version, ctx.variant, c.source, c.degraded_reason, true};
    } else {
      metrics_.cache_requests.WithLabels({"miss"}).Inc();
    }
  } else {
    metrics_.cache_requests.WithLabels({"bypass"}).Inc();
  }
  RecommendationAnswer answer = Personalized(model, user_id, k, ctx);
  answer.variant = ctx.variant;
  if (!cache_failure.empty() && answer.degraded_reason.empty()) {
    answer.degraded_reason = std::string(cache_failure);
    metrics_.RecordDegraded(cache_failure);
  }
  // Degraded answers are not cached: the next request should try the full path again. Nor are
  // cold-start answers: they are the live popular snapshot every cold user shares, so one entry
  // per unknown user id would only let unique ids fill the cache.
  if (cache != nullptr && answer.degraded_reason.empty() && answer.source != "popular") {
    (void)cache->Store(
        key, std::make_shared<const store::CachedRecommendation>(store::CachedRecommendation{
                 ToCached(answer.items), answer.model_version, answer.source, ""}));
  }
  return answer;
}

RecommendationAnswer RecommendationChain::Personalized(
    const std::shared_ptr<const ServingModel>& model_ptr, std::string_view user_id, uint32_t k,
    const RequestContext& ctx, bool shadow) {
  const ServingModel& model = *model_ptr;
  RecommendationQuery query;
  query.user_id = std::string(user_id);
  query.k = k;
  query.recent_items = live_.RecentItems(user_id);
  std::string_view history_degraded;  // the feature store served from its fallback
  query.history = UserHistory(user_id, query.recent_items, history_degraded);
  query.recall = ctx.recall;
  bool has_signal =
      model.KnowsUser(user_id) ||
      std::any_of(query.history.begin(), query.history.end(),
                  [&model](const HistoryItem& h) { return model.KnowsItem(h.item_id); });
  if (!has_signal) {
    // Cold start — no history, or only items this model has never seen (they carry no signal:
    // recall would rank in catalogue order): popular items, not a degradation unless the
    // feature store was degraded.
    return PopularAnswer(&model, k, history_degraded);
  }
  // Recall runs once; ranking reorders exactly these candidates (their per-channel scores ride
  // along in the model's state), and recall order is the fallback when ranking fails.
  auto candidates = model.Recall(query);
  if (!candidates.ok() || candidates->items.empty()) {
    return PopularAnswer(&model, k, Label(DegradationReason::kRecallFailed),
                         /*count_degraded=*/!shadow);
  }
  std::string degraded_reason;
  std::vector<ScoredItem> ordered;
  Result<std::vector<ScoredItem>> ranked = FailedPrecondition("not ranked");
  std::string_view rank_failure = Label(DegradationReason::kErrorModelInference);
  // The shadow ranks inline on its own worker: its slowness or failures must not reach the
  // primary's ranking deadline pool or trip the primary's ranker breaker.
  if (!ctx.ranker) {
    rank_failure = ctx.ranker_off_reason;  // empty for a variant that ranks by recall order
  } else if (ranking_guard_ != nullptr && !shadow) {
    GuardedRanking guarded = ranking_guard_->Rank(model_ptr, query, *candidates, ctx.variant);
    if (guarded.failure == RankingFailure::kNone) {
      ranked = std::move(guarded.items);
    } else if (guarded.failure == RankingFailure::kTimeout) {
      rank_failure = Label(DegradationReason::kTimeoutModelInference);
    } else if (guarded.failure == RankingFailure::kBreakerOpen) {
      rank_failure = Label(DegradationReason::kBreakerOpenRanker);
    }
  } else {
    ranked = model.Rank(query, *candidates);
  }
  if (ranked.ok() && ctx.ranker) {
    ordered = std::move(ranked).value();
  } else {
    degraded_reason = std::string(rank_failure);
    ordered = std::move(candidates->items);  // already in recall order
  }
  // The model excludes everything it knows the user has seen; this also drops live history
  // items the model has never heard of.
  std::unordered_set<std::string> seen;
  for (const auto& h : query.history) seen.insert(h.item_id);
  RecommendationAnswer answer;
  AppendUnseen(answer.items, ordered, k, seen);
  if (answer.items.empty()) {
    // Every candidate was already seen: nothing personal is left to offer, so the user gets the
    // popular list, labelled as such (with the ranking's degradation, if it had one).
    return PopularAnswer(&model, k, degraded_reason, /*count_degraded=*/!shadow);
  }
  answer.model_version = model.version();
  answer.source = "personalized";
  if (degraded_reason.empty()) degraded_reason = std::string(history_degraded);
  answer.degraded_reason = degraded_reason;
  if (!degraded_reason.empty() && !shadow) metrics_.RecordDegraded(degraded_reason);
  return answer;
}

std::vector<HistoryItem> RecommendationChain::UserHistory(
    std::string_view user_id, const std::vector<std::string>& live_items,
    std::string_view& degraded_reason) {
  std::vector<HistoryItem> history;
  std::unordered_set<std::string> seen;
  int64_t now = UnixSecondsNow();
  for (const auto& item : live_items) {
    if (seen.insert(item).second) history.push_back({item, now});
  }
  if (feature_store_ != nullptr) {
    store::FeatureStore::UserRead read = feature_store_->ReadUser(user_id);
    if (read.degraded) degraded_reason = Label(*read.degraded);
    if (auto& features = read.features; features.ok()) {
      for (const auto& r : features->recent) {
        if (seen.insert(r.item_id).second) history.push_back({r.item_id, r.timestamp});
      }
    }
  }
  return history;
}

}  // namespace recserve::engine
