#include "engine/live_state.h"

#include <algorithm>

#include "core/external_id.h"

namespace recserve::engine {

namespace {

// One-minute buckets for the hour, fifteen-minute buckets for the day: 60 and 96 buckets.
constexpr int64_t kHourSeconds = 3600;
constexpr int64_t kDaySeconds = 24 * 3600;

}  // namespace

Result<TrendingWindow> ParseTrendingWindow(std::string_view text) {
  if (text == "1h") return TrendingWindow::kOneHour;
  if (text == "24h") return TrendingWindow::kOneDay;
  return InvalidArgument("timeframe must be 1h or 24h");
}

LiveState::LiveState(LiveStateLimits limits, observe::Registry* registry)
    : histories_(kHistoryLength, limits.max_users, limits.max_history_bytes),
      popularity_(limits.max_items),
      hour_(kHourSeconds, 60, limits.max_items_per_bucket),
      day_(kDaySeconds, 900, limits.max_items_per_bucket),
      pairs_(limits.distinct_pair_slots) {
  if (registry == nullptr) return;
  auto& evictions = registry->AddCounter(
      "recommendation_live_state_evictions_total",
      "Entries the bounded live state dropped to stay within its limits, by structure: users "
      "(least recently active history), items (least counted popularity entry), window_items "
      "(least counted item of a full trending bucket).",
      {"structure"});
  evicted_users_ = &evictions.WithLabels({"users"});
  evicted_items_ = &evictions.WithLabels({"items"});
  evicted_window_items_ = &evictions.WithLabels({"window_items"});
  auto& sizes =
      registry->AddGauge("recommendation_live_state_entries",
                         "Entries held by the live state now, by structure.", {"structure"});
  live_users_ = &sizes.WithLabels({"users"});
  live_items_ = &sizes.WithLabels({"items"});
}

Status LiveState::Validate(const std::vector<Event>& events, int64_t now) {
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    std::string where = "events[" + std::to_string(i) + "].";
    RECSERVE_RETURN_IF_ERROR(ValidateExternalId(e.user_id, where + "user_id"));
    RECSERVE_RETURN_IF_ERROR(ValidateExternalId(e.item_id, where + "item_id"));
    if (!e.event_id.empty()) {
      RECSERVE_RETURN_IF_ERROR(ValidateExternalId(e.event_id, where + "event_id"));
    }
    // An event type is an id with a shorter limit.
    if (e.event_type.size() > kMaxEventTypeBytes ||
        !ValidateExternalId(e.event_type, "event_type").ok()) {
      return InvalidArgument(where +
                             "event_type: must be 1..64 bytes of UTF-8 without control "
                             "characters");
    }
    if (e.timestamp) {
      if (*e.timestamp < 0) return InvalidArgument(where + "timestamp: must not be negative");
      if (*e.timestamp > now + kMaxFutureSkewSeconds) {
        return InvalidArgument(where + "timestamp: more than 300 s in the future");
      }
    }
  }
  return Status::Ok();
}

Status LiveState::Apply(const std::vector<Event>& events, int64_t now) {
  RECSERVE_RETURN_IF_ERROR(Validate(events, now));
  {
    core::MutexLock lock(mu_);
    for (const Event& e : events) {
      int64_t ts = e.timestamp.value_or(now);
      histories_.Push(e.user_id, e.item_id);
      DistinctPairFilter::Counts counts = pairs_.Record(e.user_id, e.item_id, ts);
      if (counts.all_time && popularity_.Add(e.item_id)) ++popularity_evictions_;
      if (counts.hour) hour_.Add(e.item_id, ts, now);
      if (counts.day) day_.Add(e.item_id, ts, now);
    }
    events_applied_ += events.size();
    PublishSizesLocked();
  }
  applied_cv_.notify_all();
  return Status::Ok();
}

void LiveState::PublishSizesLocked() {
  if (evicted_users_ == nullptr) return;
  evicted_users_->Set(static_cast<double>(histories_.evictions()));
  evicted_items_->Set(static_cast<double>(popularity_evictions_));
  evicted_window_items_->Set(static_cast<double>(hour_.evictions() + day_.evictions()));
  live_users_->Set(static_cast<double>(histories_.users()));
  live_items_->Set(static_cast<double>(popularity_.size()));
}

std::vector<std::string> LiveState::RecentItems(std::string_view user_id) const {
  core::MutexLock lock(mu_);
  return histories_.Items(user_id);
}

uint64_t LiveState::UserGeneration(std::string_view user_id) const {
  core::MutexLock lock(mu_);
  return histories_.Generation(user_id);
}

std::shared_ptr<const CountedItems> LiveState::Popular() const {
  core::MutexLock lock(lists_mu_);
  return lists_.popular;
}

std::shared_ptr<const CountedItems> LiveState::Trending(TrendingWindow window) const {
  core::MutexLock lock(lists_mu_);
  return window == TrendingWindow::kOneHour ? lists_.hour : lists_.day;
}

void LiveState::RebuildLists(int64_t now) {
  Lists fresh;
  {
    core::MutexLock lock(mu_);
    std::vector<CountRef> refs;
    refs.reserve(popularity_.size());
    popularity_.ForEach(
        [&](const std::string& item, uint64_t count) { refs.emplace_back(&item, count); });
    fresh.popular =
        std::make_shared<const CountedItems>(TopCounted(std::move(refs), kMaxListLength));
    fresh.hour = std::make_shared<const CountedItems>(hour_.Top(now, kMaxListLength));
    fresh.day = std::make_shared<const CountedItems>(day_.Top(now, kMaxListLength));
    PublishSizesLocked();
  }
  core::MutexLock lock(lists_mu_);
  lists_ = std::move(fresh);
}

uint64_t LiveState::events_applied() const {
  core::MutexLock lock(mu_);
  return events_applied_;
}

uint64_t LiveState::WaitForEvents(uint64_t seen, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  core::MutexLock lock(mu_);
  while (events_applied_ <= seen) {
    if (applied_cv_.wait_until(mu_, deadline) == std::cv_status::timeout) break;
  }
  return events_applied_;
}

}  // namespace recserve::engine
