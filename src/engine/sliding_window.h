#pragma once
// Counts per item over a sliding time window, kept as time buckets that expire: an item that got
// 50 events two hours ago and none since counts 0 in a 1-hour window. Resolution is one bucket
// (the window may include up to one bucket of events older than its nominal length).
//
// Memory is bounded: each bucket tracks at most `max_items_per_bucket` items (BoundedCounter:
// the least counted item of a full bucket makes room for a new one), so a window holds at most
// (window / bucket) * max_items_per_bucket items whatever the number of distinct ids posted.

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/bounded_counter.h"

namespace recserve::engine {

// Not thread-safe; LiveState serialises access.
class SlidingWindowCounter {
 public:
  // REQUIRES: bucket_seconds > 0, window_seconds a multiple of bucket_seconds,
  // max_items_per_bucket > 0.
  SlidingWindowCounter(int64_t window_seconds, int64_t bucket_seconds,
                       size_t max_items_per_bucket = 1000);

  // Adds `count` for `item` at unix time `timestamp`, as seen at time `now`. Events older than
  // the window (relative to `now`) are ignored; events later than `now` count in now's bucket.
  void Add(std::string_view item, int64_t timestamp, int64_t now, uint64_t count = 1);

  // Drops buckets that have left the window at `now`.
  void Expire(int64_t now);

  // Up to k items with the highest counts in the window at `now`, highest first; ties by item id.
  std::vector<std::pair<std::string, uint64_t>> Top(int64_t now, size_t k);

  // Count of `item` in the window at `now`.
  uint64_t CountOf(std::string_view item, int64_t now);

  int64_t window_seconds() const { return window_seconds_; }
  // Items tracked in the window now, and items a full bucket has dropped so far.
  size_t items() const { return totals_.size(); }
  uint64_t evictions() const { return evictions_; }

 private:
  struct Bucket {
    int64_t index;  // timestamp / bucket_seconds
    BoundedCounter counts;
  };
  void Subtract(const std::string& item, uint64_t count);

  const int64_t window_seconds_;
  const int64_t bucket_seconds_;
  const size_t max_items_per_bucket_;
  std::deque<Bucket> buckets_;  // ascending index
  // Sum over the buckets of each tracked item: exactly the items some bucket tracks.
  std::unordered_map<std::string, uint64_t> totals_;
  uint64_t evictions_ = 0;
};

// An item id in some counting structure and its count.
using CountRef = std::pair<const std::string*, uint64_t>;

// Up to k of `refs`, higher count first, then item id ascending (the one order of a counted
// list), ids copied. Ranks pointers and copies only the k
// ids it returns, so a caller holding a lock pays for the ranking, not for copying every id.
std::vector<std::pair<std::string, uint64_t>> TopCounted(std::vector<CountRef> refs, size_t k);

}  // namespace recserve::engine
