#include "engine/recommender.h"

#include <algorithm>
#include <unordered_set>
#include <utility>

#include "core/wall_clock.h"
#include "store/logged_event.h"

namespace recserve::engine {

Recommender::Recommender(RecommenderDependencies deps)
    : live_(deps.live),
      models_(deps.models),
      metrics_(deps.metrics),
      variant_lists_(deps.variant_lists),
      journal_(deps.journal),
      follower_(deps.follower),
      configurator_(deps.flags, deps.experiments),
      exposure_(deps.exposure_log),
      chain_(deps.live, deps.models, deps.metrics, deps.cache, deps.feature_store,
             deps.ranking_guard),
      shadow_(std::move(deps.shadow_scorer), std::move(deps.shadow_rollout),
              std::move(deps.shadow_requests), chain_, exposure_, deps.variant_lists) {}

Result<std::vector<ScoredItem>> Recommender::Popular(int64_t k) {
  RECSERVE_RETURN_IF_ERROR(ValidateK(k));
  return chain_.Popular(static_cast<uint32_t>(k));
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

Result<RecommendationAnswer> Recommender::Recommend(const RequestContext& request_ctx,
                                                    std::string_view user_id, int64_t k) {
  RECSERVE_RETURN_IF_ERROR(ValidateK(k));
  RequestContext ctx = configurator_.Configure(request_ctx, user_id);
  uint32_t kk = static_cast<uint32_t>(k);
  std::shared_ptr<const ServingModel> model = models_.Get().primary;
  RecommendationAnswer answer = chain_.Recommend(model, ctx, user_id, kk);
  if (!model) {
    exposure_.Record(ctx, user_id, answer);  // no model: no list to compare or shadow
  } else {
    FinishPersonal(ctx, user_id, kk, answer);
  }
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
  RequestContext ctx = configurator_.Configure(request_ctx, *user_id);
  std::shared_ptr<const ServingModel> model = models_.Get().primary;
  if (!model) return similar;  // unloaded since Similar(): the similar items still stand
  RecommendationAnswer personal =
      chain_.Personalized(model, *user_id, static_cast<uint32_t>(k), ctx);
  // Blend: alternate similar and personal items, skipping duplicates and the page item itself.
  RecommendationAnswer answer = std::move(similar).value();
  std::vector<ScoredItem> blended;
  std::unordered_set<std::string> seen{std::string(item_id)};
  size_t i = 0, j = 0;
  size_t kk = static_cast<size_t>(k);
  while (blended.size() < kk && (i < answer.items.size() || j < personal.items.size())) {
    if (i < answer.items.size()) AppendUnseen(blended, {answer.items[i++]}, kk, seen);
    if (j < personal.items.size()) AppendUnseen(blended, {personal.items[j++]}, kk, seen);
  }
  answer.items = std::move(blended);
  answer.source = "personalized";
  answer.degraded_reason = personal.degraded_reason;
  answer.variant = ctx.variant;
  exposure_.Record(ctx, *user_id, answer);
  return answer;
}

Status Recommender::IngestEvents(std::vector<Event> events, std::string_view body, int64_t now) {
  Status valid = LiveState::Validate(events, now);
  if (!valid.ok()) {
    metrics_.events.WithLabels({"rejected"}).Inc(static_cast<double>(events.size()));
    return valid;
  }
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].event_id.empty()) events[i].event_id = store::DeriveEventId(body, i);
    if (!events[i].timestamp) events[i].timestamp = now;
  }
  const size_t accepted = events.size();
  if (journal_ == nullptr) {
    ApplyLoggedEvents(events, now);
  } else {
    std::vector<store::LoggedEvent> logged;
    logged.reserve(events.size());
    const int64_t accepted_ms = UnixMillisNow();
    for (const Event& e : events) {
      logged.push_back({e.event_id, e.user_id, e.item_id, e.event_type, *e.timestamp, accepted_ms,
                        journal_->origin()});
    }
    auto recorded = journal_->Record(logged);
    if (!recorded.ok()) {
      metrics_.events.WithLabels({"unrecorded"}).Inc(static_cast<double>(events.size()));
      return recorded.status();
    }
    std::vector<Event> here;
    here.reserve(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      if (recorded->apply_here[i]) here.push_back(std::move(events[i]));
    }
    ApplyLoggedEvents(here, now);
    events = std::move(here);
  }
  // Credited once, by the replica that accepted the events (a duplicate was credited when it was
  // first accepted); the followers on the other replicas only apply them.
  if (variant_lists_ != nullptr && !events.empty()) {
    std::vector<std::pair<std::string, std::string>> interactions;
    interactions.reserve(events.size());
    for (const Event& e : events) interactions.emplace_back(e.user_id, e.item_id);
    variant_lists_->CreditInteractions(interactions);
  }
  metrics_.events.WithLabels({"accepted"}).Inc(static_cast<double>(accepted));
  return Status::Ok();
}

void Recommender::ApplyLoggedEvents(const std::vector<Event>& events, int64_t now) {
  if (events.empty()) return;
  Status applied = live_.Apply(events, now);
  if (!applied.ok()) {
    // Only the log can hold an event this replica would not have accepted (a newer replica's
    // rules, a forged entry): apply the valid ones one by one.
    for (const Event& e : events) (void)live_.Apply({e}, now);
  }
}

EventsHealth Recommender::events_health() const {
  EventsHealth health;
  if (journal_ != nullptr) {
    health.recorded_in = journal_->mode();
    health.spooled = journal_->spooled_events();
  }
  if (follower_ != nullptr) health.caught_up = follower_->caught_up();
  return health;
}

void Recommender::SetPrimaryModel(std::shared_ptr<const ServingModel> model) {
  models_.ReplacePrimary(std::move(model));
}

void Recommender::FinishPersonal(const RequestContext& ctx, std::string_view user_id, uint32_t k,
                                 const RecommendationAnswer& answer) {
  exposure_.Record(ctx, user_id, answer);
  // A user's list is kept only where a comparison needs it: a shadow is loaded (its hit ratio is
  // read against the primary's) or the user is in an experiment variant. Otherwise every unique
  // user id would cost a record for nothing.
  // The shadow is read from the slots once per request, for both decisions.
  std::shared_ptr<const ServingModel> shadow = models_.Get().shadow;
  if (variant_lists_ != nullptr && (ctx.variant != "primary" || shadow != nullptr)) {
    variant_lists_->Record(user_id, answer.variant, ItemIds(answer.items));
  }
  shadow_.MaybeScore(ctx, user_id, k, answer.items, std::move(shadow));
}

}  // namespace recserve::engine
