#pragma once
// Counts per item over a sliding time window, kept as time buckets that expire: an item that got
// 50 events two hours ago and none since counts 0 in a 1-hour window. Resolution is one bucket
// (the window may include up to one bucket of events older than its nominal length).

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace recserve::engine {

// Not thread-safe; LiveState serialises access.
class SlidingWindowCounter {
 public:
  // REQUIRES: bucket_seconds > 0, window_seconds a multiple of bucket_seconds.
  SlidingWindowCounter(int64_t window_seconds, int64_t bucket_seconds);

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

 private:
  struct Bucket {
    int64_t index;  // timestamp / bucket_seconds
    std::unordered_map<std::string, uint64_t> counts;
  };

  const int64_t window_seconds_;
  const int64_t bucket_seconds_;
  std::deque<Bucket> buckets_;  // ascending index
  std::unordered_map<std::string, uint64_t> totals_;
};

}  // namespace recserve::engine
