#pragma once
// DistinctPairFilter: remembers, for recent (user, item) pairs, when the pair was last counted
// in each trending window, so popularity and trending count distinct users per item per window:
// one user (or one forged client posting as one user) repeating an event cannot move an item.
//
// A fixed table of `slots` entries (16 bytes each), indexed by a 64-bit hash of the pair; a new
// pair takes the slot of whatever pair hashed there before. Forgetting a pair can only make it
// count again (an over-count bounded by the churn of the table), never drop a distinct user.
//
// Not thread-safe; LiveState serialises access.

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace recserve::engine {

class DistinctPairFilter {
 public:
  // REQUIRES: slots > 0.
  explicit DistinctPairFilter(size_t slots);

  // What an event of `user` on `item` at `timestamp` (unix seconds) adds.
  struct Counts {
    bool all_time;  // first time the pair is seen (as far as the table remembers)
    bool hour;      // not counted in the last hour
    bool day;       // not counted in the last 24 hours
  };
  // Records the event and says which counts it increments. Events older than the one a window
  // last counted for the pair count nothing there.
  Counts Record(std::string_view user, std::string_view item, int64_t timestamp);

  size_t memory_bytes() const { return slots_.size() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t pair = 0;  // 0: empty
    uint32_t hour_counted_at = 0;
    uint32_t day_counted_at = 0;
  };
  std::vector<Slot> slots_;
};

}  // namespace recserve::engine
