#pragma once
// BoundedCounter: counts per item with at most `capacity` items tracked, so a flood of unique
// ids costs a fixed amount of memory. When an untracked item arrives and the table is full, the
// tracked item with the smallest count goes (the least recently counted among equals) and the
// newcomer starts from its own count.
//
// The trade-off: a newcomer is never credited with the evicted item's count (Space-Saving does
// that, and under a flood of unique ids it would lift junk ids over real ones), so an item that
// arrives while the table is full has to out-count the churn before it sticks. Items that keep
// getting events — the ones a top-N list shows — stay; one-off ids evict each other.
//
// Not thread-safe; LiveState serialises access.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>

namespace recserve::engine {

class BoundedCounter {
 public:
  // REQUIRES: capacity > 0.
  explicit BoundedCounter(size_t capacity);
  BoundedCounter(const BoundedCounter&) = delete;
  BoundedCounter& operator=(const BoundedCounter&) = delete;
  BoundedCounter(BoundedCounter&&) = default;
  BoundedCounter& operator=(BoundedCounter&&) = default;

  struct Eviction {
    std::string item;
    uint64_t count;
  };
  // Adds `count` (> 0) to `item`. Returns the item evicted to make room, if one was.
  std::optional<Eviction> Add(std::string_view item, uint64_t count = 1);

  // Count of `item`; 0 when it is not tracked.
  uint64_t CountOf(std::string_view item) const;
  size_t size() const { return counts_.size(); }
  size_t capacity() const { return capacity_; }

  // Calls f(item, count) for every tracked item, in no particular order.
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [item, entry] : counts_) f(item, entry.count);
  }

 private:
  struct Entry {
    uint64_t count;
    uint64_t sequence;  // when it was last counted
  };
  // (count, sequence, item): begin() is the next to evict.
  using OrderKey = std::tuple<uint64_t, uint64_t, const std::string*>;

  size_t capacity_;
  uint64_t next_sequence_ = 0;
  std::unordered_map<std::string, Entry> counts_;  // node-based: key addresses are stable
  std::set<OrderKey> order_;
};

}  // namespace recserve::engine
