#pragma once
// Live state fed by POST /events: each user's recent items (a bounded ring), all-time popularity
// counts and the trending windows (1h and 24h sliding windows of time buckets). Requests read it
// to filter seen items, to seed recall with recent history and to answer /popular and
// /hot/trending.
//
// Thread-safe. Writers take one mutex; the /popular and /hot/trending lists are immutable
// snapshots rebuilt at most once per second (or after new events), so a busy read path copies a
// shared_ptr and does not sort.

#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/status.h"
#include "engine/sliding_window.h"

namespace recserve::engine {

struct Event {
  std::string user_id;
  std::string item_id;
  std::string event_type;
  std::optional<int64_t> timestamp;  // unix seconds; nullopt means "now"
};

enum class TrendingWindow { kOneHour, kOneDay };

// "1h" or "24h"; InvalidArgument otherwise.
Result<TrendingWindow> ParseTrendingWindow(std::string_view text);

// (item id, count) best first.
using CountedItems = std::vector<std::pair<std::string, uint64_t>>;

class LiveState {
 public:
  static constexpr size_t kHistoryLength = 50;   // recent items kept per user
  static constexpr size_t kMaxListLength = 200;  // longest /popular or /hot/trending list
  static constexpr size_t kMaxIdBytes = 256;     // user_id / item_id
  static constexpr size_t kMaxEventTypeBytes = 64;
  static constexpr int64_t kMaxFutureSkewSeconds = 300;

  LiveState();
  LiveState(const LiveState&) = delete;
  LiveState& operator=(const LiveState&) = delete;

  // Checks every event of a batch; the first bad one is reported as InvalidArgument naming its
  // index and field ("events[3].item_id: must be a non-empty string of at most 256 bytes").
  // Nothing is changed.
  static Status Validate(const std::vector<Event>& events, int64_t now);

  // Validates the whole batch first and applies nothing when any event is invalid.
  Status Apply(const std::vector<Event>& events, int64_t now);

  // The user's recent items, newest first (empty for a user without events).
  std::vector<std::string> RecentItems(std::string_view user_id) const;
  // Number of events applied for this user so far; changes whenever their history changes
  // (used in cache keys so a new event never serves a stale cached list).
  uint64_t UserGeneration(std::string_view user_id) const;

  // Top kMaxListLength items by all-time event count.
  std::shared_ptr<const CountedItems> Popular();
  // Top kMaxListLength items in the window at `now`.
  std::shared_ptr<const CountedItems> Trending(TrendingWindow window, int64_t now);

 private:
  struct UserHistory {
    std::deque<std::string> items;  // newest first, at most kHistoryLength
    uint64_t generation = 0;
  };
  struct Snapshot {
    std::shared_ptr<const CountedItems> items;
    int64_t computed_at = 0;
    uint64_t events_seen = 0;
  };

  mutable std::mutex mu_;
  std::unordered_map<std::string, UserHistory> users_;
  std::unordered_map<std::string, uint64_t> popularity_;
  SlidingWindowCounter hour_;
  SlidingWindowCounter day_;
  uint64_t events_applied_ = 0;
  Snapshot popular_snapshot_;
  Snapshot hour_snapshot_;
  Snapshot day_snapshot_;
};

}  // namespace recserve::engine
