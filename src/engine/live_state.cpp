#include "engine/live_state.h"

#include <algorithm>

namespace recserve::engine {

namespace {

// One-minute buckets for the hour, fifteen-minute buckets for the day: 60 and 96 buckets.
constexpr int64_t kHourSeconds = 3600;
constexpr int64_t kDaySeconds = 24 * 3600;

bool ValidId(std::string_view s, size_t max_bytes) {
  if (s.empty() || s.size() > max_bytes) return false;
  return std::none_of(s.begin(), s.end(),
                      [](char c) { return static_cast<unsigned char>(c) < 0x20; });
}

}  // namespace

Result<TrendingWindow> ParseTrendingWindow(std::string_view text) {
  if (text == "1h") return TrendingWindow::kOneHour;
  if (text == "24h") return TrendingWindow::kOneDay;
  return InvalidArgument("timeframe must be 1h or 24h");
}

LiveState::LiveState() : hour_(kHourSeconds, 60), day_(kDaySeconds, 900) {}

Status LiveState::Validate(const std::vector<Event>& events, int64_t now) {
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    std::string where = "events[" + std::to_string(i) + "].";
    if (!ValidId(e.user_id, kMaxIdBytes)) {
      return InvalidArgument(where +
                             "user_id: must be a non-empty string of at most 256 bytes without "
                             "control characters");
    }
    if (!ValidId(e.item_id, kMaxIdBytes)) {
      return InvalidArgument(where +
                             "item_id: must be a non-empty string of at most 256 bytes without "
                             "control characters");
    }
    if (!ValidId(e.event_type, kMaxEventTypeBytes)) {
      return InvalidArgument(where +
                             "event_type: must be a non-empty string of at most 64 bytes without "
                             "control characters");
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
  std::lock_guard lock(mu_);
  for (const Event& e : events) {
    int64_t ts = e.timestamp.value_or(now);
    UserHistory& history = users_[e.user_id];
    history.items.push_front(e.item_id);
    if (history.items.size() > kHistoryLength) history.items.pop_back();
    ++history.generation;
    ++popularity_[e.item_id];
    hour_.Add(e.item_id, ts, now);
    day_.Add(e.item_id, ts, now);
  }
  events_applied_ += events.size();
  return Status::Ok();
}

std::vector<std::string> LiveState::RecentItems(std::string_view user_id) const {
  std::lock_guard lock(mu_);
  auto it = users_.find(std::string(user_id));
  if (it == users_.end()) return {};
  return {it->second.items.begin(), it->second.items.end()};
}

uint64_t LiveState::UserGeneration(std::string_view user_id) const {
  std::lock_guard lock(mu_);
  auto it = users_.find(std::string(user_id));
  return it == users_.end() ? 0 : it->second.generation;
}

std::shared_ptr<const CountedItems> LiveState::Popular() {
  std::lock_guard lock(mu_);
  if (popular_snapshot_.items && popular_snapshot_.events_seen == events_applied_) {
    return popular_snapshot_.items;
  }
  CountedItems all(popularity_.begin(), popularity_.end());
  auto better = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  size_t k = std::min(all.size(), kMaxListLength);
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), better);
  all.resize(k);
  popular_snapshot_.items = std::make_shared<const CountedItems>(std::move(all));
  popular_snapshot_.events_seen = events_applied_;
  return popular_snapshot_.items;
}

std::shared_ptr<const CountedItems> LiveState::Trending(TrendingWindow window, int64_t now) {
  std::lock_guard lock(mu_);
  bool hour = window == TrendingWindow::kOneHour;
  Snapshot& snapshot = hour ? hour_snapshot_ : day_snapshot_;
  if (snapshot.items && snapshot.events_seen == events_applied_ && snapshot.computed_at == now) {
    return snapshot.items;
  }
  SlidingWindowCounter& counter = hour ? hour_ : day_;
  snapshot.items = std::make_shared<const CountedItems>(counter.Top(now, kMaxListLength));
  snapshot.events_seen = events_applied_;
  snapshot.computed_at = now;
  return snapshot.items;
}

}  // namespace recserve::engine
