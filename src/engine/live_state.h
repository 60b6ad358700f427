#pragma once
// Live state fed by POST /events: each user's recent items, popularity counts and the trending
// windows (1h and 24h sliding windows of time buckets). Requests read it to filter seen items,
// to seed recall with recent history and to answer /popular and /hot/trending.
//
// Bounded whatever clients send (LiveStateLimits, docs/CONFIGURATION.md): histories are kept for
// the most recently active users (RecentHistories), counts for the items that keep getting
// events (BoundedCounter), and every eviction is counted in
// recommendation_live_state_evictions_total{structure}.
//
// Popularity and trending count distinct users: an item gains at most one per user per window
// (all time, 1h, 24h; DistinctPairFilter), so one client repeating events cannot put an item on
// top. The user's history still records every event.
//
// Thread-safe. Writers take one mutex. The /popular and /hot/trending lists are immutable
// snapshots that RebuildLists() publishes (LiveListsRefresher calls it off the request path);
// readers copy a shared_ptr and never sort.

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "engine/bounded_counter.h"
#include "engine/distinct_pair_filter.h"
#include "engine/recent_histories.h"
#include "engine/sliding_window.h"
#include "observe/metrics.h"

namespace recserve::engine {

struct Event {
  std::string user_id;
  std::string item_id;
  std::string event_type;
  std::optional<int64_t> timestamp;  // unix seconds; nullopt means "now"
  std::string event_id;              // empty: derived at acceptance (Recommender::IngestEvents)
};

enum class TrendingWindow { kOneHour, kOneDay };

// "1h" or "24h"; InvalidArgument otherwise.
Result<TrendingWindow> ParseTrendingWindow(std::string_view text);

// (item id, count) best first.
using CountedItems = std::vector<std::pair<std::string, uint64_t>>;

// The memory bounds of LiveState (LIVE_* env vars, docs/CONFIGURATION.md). At the defaults and
// 256-byte ids the state stays under about 230 MB; typical ids take a fraction of that.
struct LiveStateLimits {
  size_t max_users = 100'000;            // users with a live history
  size_t max_history_bytes = 48 << 20;   // bytes of those histories (ids + overhead)
  size_t max_items = 50'000;             // items with an all-time popularity count
  size_t max_items_per_bucket = 1'000;   // items per trending time bucket (60 + 96 buckets)
  size_t distinct_pair_slots = 1 << 20;  // (user, item) pairs remembered, 16 bytes each
};

class LiveState {
 public:
  static constexpr size_t kHistoryLength = 50;   // recent items kept per user
  static constexpr size_t kMaxListLength = 200;  // longest /popular or /hot/trending list
  static constexpr size_t kMaxEventTypeBytes = 64;
  static constexpr int64_t kMaxFutureSkewSeconds = 300;

  // `registry` (may be null) gets the eviction counters and size gauges.
  explicit LiveState(LiveStateLimits limits = {}, observe::Registry* registry = nullptr);
  LiveState(const LiveState&) = delete;
  LiveState& operator=(const LiveState&) = delete;

  // Checks every event of a batch; the first bad one is reported as InvalidArgument naming its
  // index and field ("events[3].item_id: too long: 300 bytes (...)"). Ids follow
  // core/external_id.h. Nothing is changed.
  static Status Validate(const std::vector<Event>& events, int64_t now);

  // Validates the whole batch first and applies nothing when any event is invalid.
  Status Apply(const std::vector<Event>& events, int64_t now);

  // The user's recent items, newest first (empty for a user without events).
  std::vector<std::string> RecentItems(std::string_view user_id) const;
  // Changes whenever the user's history changes and never repeats a value (used in cache keys
  // so a new event never serves a stale cached list); 0 for a user without live history.
  uint64_t UserGeneration(std::string_view user_id) const;

  // Top kMaxListLength items by distinct users, all time / in the window, as of the last
  // RebuildLists() (empty before the first).
  std::shared_ptr<const CountedItems> Popular() const;
  std::shared_ptr<const CountedItems> Trending(TrendingWindow window) const;

  // Recomputes the three lists at `now` and publishes them. Takes the writers' mutex only to
  // rank pointers into the bounded tables (no id is copied but the listed ones).
  void RebuildLists(int64_t now);

  // Events applied so far (a change counter for LiveListsRefresher).
  uint64_t events_applied() const;
  // Blocks until more than `seen` events were applied or `timeout` passed; returns
  // events_applied() then.
  uint64_t WaitForEvents(uint64_t seen, std::chrono::milliseconds timeout) const;

 private:
  struct Lists {
    std::shared_ptr<const CountedItems> popular = std::make_shared<const CountedItems>();
    std::shared_ptr<const CountedItems> hour = std::make_shared<const CountedItems>();
    std::shared_ptr<const CountedItems> day = std::make_shared<const CountedItems>();
  };
  // Eviction counters and sizes, exported after each change.
  void PublishSizesLocked() EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable core::Mutex mu_;
  mutable std::condition_variable_any applied_cv_;  // waits on mu_
  RecentHistories histories_ GUARDED_BY(mu_);
  BoundedCounter popularity_ GUARDED_BY(mu_);
  SlidingWindowCounter hour_ GUARDED_BY(mu_);
  SlidingWindowCounter day_ GUARDED_BY(mu_);
  DistinctPairFilter pairs_ GUARDED_BY(mu_);
  uint64_t events_applied_ GUARDED_BY(mu_) = 0;
  uint64_t popularity_evictions_ GUARDED_BY(mu_) = 0;

  mutable core::Mutex lists_mu_;  // never held with mu_
  Lists lists_ GUARDED_BY(lists_mu_);

  observe::Counter* evicted_users_ = nullptr;
  observe::Counter* evicted_items_ = nullptr;
  observe::Counter* evicted_window_items_ = nullptr;
  observe::Gauge* live_users_ = nullptr;
  observe::Gauge* live_items_ = nullptr;
};

}  // namespace recserve::engine
