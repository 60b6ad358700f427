#include "engine/recommender.h"

#include <algorithm>
#include <chrono>
#include <unordered_set>

#include "resilience/degradation_reason.h"

namespace recserve::engine {

Status ValidateK(int64_t k) {
  if (k < kMinK || k > kMaxK) return InvalidArgument("k must be within 1..200");
  return Status::Ok();
}

EngineMetrics::EngineMetrics(observe::Registry& registry)
    : degraded(registry.AddCounter("recommendation_degraded_total",
                                   "Responses served by a fallback, by reason.", {"reason"})),
      cache_requests(registry.AddCounter("recommendation_cache_requests_total",
                                         "Recommendation-cache look-ups by result.", {"result"})),
      events(registry.AddCounter("recommendation_events_total",
                                 "Events received by POST /events, by result.", {"result"})),
      requests(registry.AddCounter("recommendation_requests_total",
                                   "Requests answered, by route template, HTTP status and variant.",
                                   {"endpoint", "status", "variant"})),
      latency(registry.AddHistogram(
          "recommendation_latency_seconds",
          "Time from request read to response written, by route template and variant.",
          {"endpoint", "variant"}, observe::LatencyBuckets())) {
  // Every known label value exists at 0 from the start: a fresh /metrics shows the series and
  // the first increment is visible to rate() (docs/METRICS.md).
  for (resilience::DegradationReason reason : resilience::kAllDegradationReasons) {
    degraded.WithLabels({resilience::DegradationReasonLabel(reason)});
  }
  for (const char* result : {"hit", "miss", "bypass", "error"}) cache_requests.WithLabels({result});
  for (const char* result : {"accepted", "rejected"}) events.WithLabels({result});
}

Recommender::Recommender(LiveState& live, ModelSlot& models, store::RecommendationCache* cache,
                         observe::ExposureLog* exposure_log, EngineMetrics& metrics)
    : live_(live), models_(models), cache_(cache), exposure_log_(exposure_log), metrics_(metrics) {}

void Recommender::RecordDegraded(std::string_view reason) {
  metrics_.degraded.WithLabels({reason}).Inc();
}

namespace {

using resilience::DegradationReason;

// The reason's label: what responses carry and recommendation_degraded_total counts.
std::string_view Label(DegradationReason reason) {
  return resilience::DegradationReasonLabel(reason);
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
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

// Appends items of `more` not yet in `out` until `out` has k items.
void FillUnique(std::vector<ScoredItem>& out, const std::vector<ScoredItem>& more, size_t k,
                std::unordered_set<std::string>& seen) {
  for (const auto& item : more) {
    if (out.size() >= k) return;
    if (seen.insert(item.item_id).second) out.push_back(item);
  }
}

}  // namespace

Result<std::vector<ScoredItem>> Recommender::Popular(int64_t k) {
  RECSERVE_RETURN_IF_ERROR(ValidateK(k));
  auto live = live_.Popular();
  std::vector<ScoredItem> out;
  size_t n = std::min<size_t>(static_cast<size_t>(k), live->size());
  out.reserve(static_cast<size_t>(k));
  for (size_t i = 0; i < n; ++i) {
    out.push_back({(*live)[i].first, static_cast<double>((*live)[i].second)});
  }
  std::unordered_set<std::string> seen;
  for (const auto& item : out) seen.insert(item.item_id);
  if (out.size() < static_cast<size_t>(k) && feature_store_ != nullptr) {
    if (auto stored = feature_store_->GetPopular(); stored.ok()) {
      std::vector<ScoredItem> items;
      items.reserve(stored->size());
      for (auto& item : *stored) items.push_back({std::move(item.item_id), item.score});
      FillUnique(out, items, static_cast<size_t>(k), seen);
    }
  }
  if (out.size() < static_cast<size_t>(k)) {
    if (auto model = models_.Get().primary) {
      FillUnique(out, model->Popular(static_cast<uint32_t>(k)), static_cast<size_t>(k), seen);
    }
  }
  return out;
}

Result<std::vector<ScoredItem>> Recommender::Trending(std::string_view timeframe, int64_t k) {
  auto window = ParseTrendingWindow(timeframe);
  if (!window.ok()) return window.status();
  RECSERVE_RETURN_IF_ERROR(ValidateK(k));
  auto live = live_.Trending(*window);
  std::vector<ScoredItem> out;
  size_t n = std::min<size_t>(static_cast<size_t>(k), live->size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back({(*live)[i].first, static_cast<double>((*live)[i].second)});
  }
  return out;
}

RecommendationAnswer Recommender::PopularAnswer(const ServingModel* model, uint32_t k,
                                                std::string_view degraded_reason,
                                                bool count_degraded) {
  RecommendationAnswer answer;
  auto popular = Popular(k);
  if (popular.ok()) answer.items = std::move(popular).value();
  answer.model_version = model ? model->version() : "";
  answer.source = "popular";
  answer.degraded_reason = std::string(degraded_reason);
  if (!degraded_reason.empty() && count_degraded) RecordDegraded(degraded_reason);
  return answer;
}

RecommendationAnswer Recommender::Personalized(const std::shared_ptr<const ServingModel>& model_ptr,
                                               std::string_view user_id, uint32_t k,
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
  FillUnique(answer.items, ordered, k, seen);
  if (answer.items.empty()) {
    // Every candidate was already seen: nothing personal is left to offer, so the user gets the
    // popular list, labelled as such (with the ranking's degradation, if it had one).
    return PopularAnswer(&model, k, degraded_reason, /*count_degraded=*/!shadow);
  }
  answer.model_version = model.version();
  answer.source = "personalized";
  if (degraded_reason.empty()) degraded_reason = std::string(history_degraded);
  answer.degraded_reason = degraded_reason;
  if (!degraded_reason.empty() && !shadow) RecordDegraded(degraded_reason);
  return answer;
}

std::vector<HistoryItem> Recommender::UserHistory(std::string_view user_id,
                                                  const std::vector<std::string>& live_items,
                                                  std::string_view& degraded_reason) {
  std::vector<HistoryItem> history;
  std::unordered_set<std::string> seen;
  int64_t now = static_cast<int64_t>(NowSeconds());
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

RequestContext Recommender::Configure(const RequestContext& request_ctx,
                                      std::string_view user_id) const {
  RequestContext ctx = request_ctx;
  if (experiments_ != nullptr) {
    auto experiments = experiments_->Get();
    auto assignments = experiments->Assign(user_id);
    ctx.variant = lifecycle::ReportedVariant(assignments);
    lifecycle::VariantParameters params = lifecycle::MergedParameters(assignments);
    if (params.candidates) ctx.recall.candidates = *params.candidates;
    for (const auto& [channel, weight] : params.channel_weights) {
      ctx.recall.channel_weights.emplace_back(channel, weight);
    }
    if (params.ranker) ctx.ranker = *params.ranker;
  }
  if (flags_ != nullptr) {
    auto flags = flags_->Get();
    ctx.use_cache = flags->cache;
    ctx.score_shadow = flags->shadow;
    if (!flags->ranker) {
      ctx.ranker = false;
      ctx.ranker_off_reason = Label(DegradationReason::kFlagOffRanker);
    }
    for (std::string_view channel : recserve::kRecallChannelNames) {
      if (!flags->RecallChannelEnabled(channel)) {
        // A weight listed first wins in the model's lookup; the flag overrides any variant.
        ctx.recall.channel_weights.insert(ctx.recall.channel_weights.begin(),
                                          {std::string(channel), 0.0});
      }
    }
  }
  ctx.cache_scope = ctx.variant;
  if (!ctx.ranker) ctx.cache_scope += "|norank";
  for (const auto& [channel, weight] : ctx.recall.channel_weights) {
    if (weight == 0) ctx.cache_scope += "|-" + channel;
  }
  return ctx;
}

Result<RecommendationAnswer> Recommender::Recommend(const RequestContext& request_ctx,
                                                    std::string_view user_id, int64_t k) {
  RECSERVE_RETURN_IF_ERROR(ValidateK(k));
  RequestContext ctx = Configure(request_ctx, user_id);
  uint32_t kk = static_cast<uint32_t>(k);
  std::shared_ptr<const ServingModel> model = models_.Get().primary;
  if (!model) {
    // Nothing worth caching: the popular list is a snapshot lookup, and caching it would hide
    // new events for the cache TTL.
    metrics_.cache_requests.WithLabels({"bypass"}).Inc();
    RecommendationAnswer answer = PopularAnswer(nullptr, kk, Label(DegradationReason::kNoModel));
    LogExposure(ctx, user_id, answer);
    return answer;
  }
  std::string key;
  std::string_view cache_failure;  // why the cache could not be used, when it could not
  store::RecommendationCache* cache = ctx.use_cache ? cache_ : nullptr;
  if (cache != nullptr) {
    // The variant and the flags that change the list are part of the key, so a toggled flag or
    // a moved allocation never serves a list computed under other settings.
    key = store::RecommendationCacheKey(model->version() + "#" + ctx.cache_scope, user_id, kk,
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
      RecommendationAnswer answer{
          FromCached(c.items), c.model_version, ctx.variant, c.source, c.degraded_reason, true};
      FinishPersonal(ctx, user_id, kk, answer);
      return answer;
    } else {
      metrics_.cache_requests.WithLabels({"miss"}).Inc();
    }
  } else {
    metrics_.cache_requests.WithLabels({"bypass"}).Inc();
  }
  RecommendationAnswer answer = Personalized(model, user_id, kk, ctx);
  answer.variant = ctx.variant;
  if (!cache_failure.empty() && answer.degraded_reason.empty()) {
    answer.degraded_reason = std::string(cache_failure);
    RecordDegraded(cache_failure);
  }
  // Degraded answers are not cached: the next request should try the full path again. Nor are
  // cold-start answers: they are the live popular snapshot every cold user shares, so one entry
  // per unknown user id would only let unique ids fill the cache.
  if (cache != nullptr && answer.degraded_reason.empty() && answer.source != "popular") {
    (void)cache->Store(
        key, std::make_shared<const store::CachedRecommendation>(store::CachedRecommendation{
                 ToCached(answer.items), answer.model_version, answer.source, ""}));
  }
  FinishPersonal(ctx, user_id, kk, answer);
  return answer;
}

Result<RecommendationAnswer> Recommender::Similar(std::string_view item_id, int64_t k) {
  RECSERVE_RETURN_IF_ERROR(ValidateK(k));
  std::shared_ptr<const ServingModel> model = models_.Get().primary;
  if (!model || !model->KnowsItem(item_id)) {
    return NotFound("unknown item '" + std::string(item_id) + "'");
  }
  auto similar = model->Similar(item_id, static_cast<uint32_t>(k));
  if (!similar.ok()) return similar.status();
  RecommendationAnswer answer;
  answer.items = std::move(similar).value();
  answer.model_version = model->version();
  answer.source = "similar";
  return answer;
}

Result<RecommendationAnswer> Recommender::Detail(const RequestContext& request_ctx,
                                                 std::string_view item_id,
                                                 std::optional<std::string_view> user_id,
                                                 int64_t k) {
  auto similar = Similar(item_id, k);
  if (!similar.ok() || !user_id) return similar;
  RequestContext ctx = Configure(request_ctx, *user_id);
  std::shared_ptr<const ServingModel> model = models_.Get().primary;
  if (!model) return similar;  // unloaded since Similar(): the similar items still stand
  RecommendationAnswer personal = Personalized(model, *user_id, static_cast<uint32_t>(k), ctx);
  // Blend: alternate similar and personal items, skipping duplicates and the page item itself.
  RecommendationAnswer answer = std::move(similar).value();
  std::vector<ScoredItem> blended;
  std::unordered_set<std::string> seen{std::string(item_id)};
  size_t i = 0, j = 0;
  size_t kk = static_cast<size_t>(k);
  while (blended.size() < kk && (i < answer.items.size() || j < personal.items.size())) {
    if (i < answer.items.size()) FillUnique(blended, {answer.items[i++]}, kk, seen);
    if (j < personal.items.size()) FillUnique(blended, {personal.items[j++]}, kk, seen);
  }
  answer.items = std::move(blended);
  answer.source = "personalized";
  answer.degraded_reason = personal.degraded_reason;
  answer.variant = ctx.variant;
  LogExposure(ctx, *user_id, answer);
  return answer;
}

Status Recommender::IngestEvents(const std::vector<Event>& events, int64_t now) {
  Status status = live_.Apply(events, now);
  metrics_.events.WithLabels({status.ok() ? "accepted" : "rejected"})
      .Inc(static_cast<double>(events.size()));
  if (status.ok() && variant_lists_ != nullptr) {
    for (const auto& event : events)
      variant_lists_->CreditInteraction(event.user_id, event.item_id);
  }
  return status;
}

void Recommender::SetPrimaryModel(std::shared_ptr<const ServingModel> model) {
  models_.ReplacePrimary(std::move(model));
}

namespace {

std::vector<std::string> ItemIds(const std::vector<ScoredItem>& items) {
  std::vector<std::string> ids;
  ids.reserve(items.size());
  for (const auto& item : items) ids.push_back(item.item_id);
  return ids;
}

}  // namespace

void Recommender::FinishPersonal(const RequestContext& ctx, std::string_view user_id, uint32_t k,
                                 const RecommendationAnswer& answer) {
  LogExposure(ctx, user_id, answer);
  // A user's list is kept only where a comparison needs it: a shadow is loaded (its hit ratio is
  // read against the primary's) or the user is in an experiment variant. Otherwise every unique
  // user id would cost a record for nothing.
  // The shadow is read from the slots once per request, for both decisions.
  std::shared_ptr<const ServingModel> shadow = models_.Get().shadow;
  if (variant_lists_ != nullptr && (ctx.variant != "primary" || shadow != nullptr)) {
    variant_lists_->Record(user_id, answer.variant, ItemIds(answer.items));
  }
  MaybeScoreShadow(ctx, user_id, k, answer.items, std::move(shadow));
}

void Recommender::MaybeScoreShadow(const RequestContext& ctx, std::string_view user_id, uint32_t k,
                                   const std::vector<ScoredItem>& primary_items,
                                   std::shared_ptr<const ServingModel> shadow) {
  if (shadow_scorer_ == nullptr || !shadow_rollout_ || !ctx.score_shadow) return;
  if (!shadow || !shadow_scorer_->InCohort(user_id, shadow_rollout_())) return;
  // The task owns copies of everything it reads (the request's stack is gone when it runs) and
  // the shadow bundle through its shared_ptr, so a reload meanwhile cannot free it under the task.
  shadow_scorer_->Submit(
      [this, shadow = std::move(shadow), ctx, user = std::string(user_id), k,
       primary = ItemIds(primary_items)] { ScoreShadow(shadow, ctx, user, k, primary); });
}

void Recommender::ScoreShadow(const std::shared_ptr<const ServingModel>& shadow,
                              const RequestContext& ctx, const std::string& user_id, uint32_t k,
                              const std::vector<std::string>& primary) {
  auto started = std::chrono::steady_clock::now();
  RequestContext shadow_ctx = ctx;
  shadow_ctx.variant = std::string(kVariantShadow);
  // With the ranker flag off both variants serve recall order; for the shadow that is the
  // comparison, not a failed scoring (ShadowErrorRate must not fire on a flag).
  shadow_ctx.ranker_off_reason = {};
  RecommendationAnswer answer = Personalized(shadow, user_id, k, shadow_ctx, /*shadow=*/true);
  answer.variant = std::string(kVariantShadow);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  // A shadow that could not produce its own full list (recall or ranking failed) counts as a
  // failed scoring: that is what ShadowErrorRate watches before a promotion.
  bool failed = !answer.degraded_reason.empty();
  metrics_.requests.WithLabels({ctx.endpoint, failed ? "500" : "200", kVariantShadow}).Inc();
  metrics_.latency.WithLabels({ctx.endpoint, kVariantShadow}).Observe(seconds);
  size_t shared = 0;
  for (const auto& item : answer.items) {
    if (std::find(primary.begin(), primary.end(), item.item_id) != primary.end()) ++shared;
  }
  shadow_scorer_->RecordOverlap(k == 0 ? 0 : static_cast<double>(shared) / k);
  if (variant_lists_ != nullptr)
    variant_lists_->Record(user_id, kVariantShadow, ItemIds(answer.items));
  LogExposure(ctx, user_id, answer);
}

void Recommender::LogExposure(const RequestContext& ctx, std::string_view user_id,
                              const RecommendationAnswer& answer) {
  if (exposure_log_ == nullptr) return;
  observe::ExposureRecord record;
  record.request_id = ctx.request_id;
  record.user_id = std::string(user_id);
  record.endpoint = ctx.endpoint;
  record.items.reserve(answer.items.size());
  for (const auto& item : answer.items) record.items.emplace_back(item.item_id, item.score);
  record.model_version = answer.model_version;
  record.variant = answer.variant;
  record.degraded_reason = answer.degraded_reason;
  record.timestamp = NowSeconds();
  exposure_log_->Append(std::move(record));
}

}  // namespace recserve::engine
