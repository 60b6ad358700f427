#include "engine/distinct_pair_filter.h"

#include <algorithm>
#include <cassert>

#include "core/hashing.h"

namespace recserve::engine {

namespace {

constexpr int64_t kHourSeconds = 3600;
constexpr int64_t kDaySeconds = 24 * 3600;

uint64_t PairHash(std::string_view user, std::string_view item) {
  // The user hash is mixed before the item's is added, so (a, b) and (b, a) differ; 0 marks an
  // empty slot.
  uint64_t h = MixBits64(Fnv1a64(user)) ^ (Fnv1a64(item) * 0x9E3779B97F4A7C15ULL);
  h = MixBits64(h);
  return h == 0 ? 1 : h;
}

// Timestamps are stored as unsigned 32-bit unix seconds (until 2106); 0 means never.
uint32_t Stored(int64_t timestamp) {
  return static_cast<uint32_t>(std::clamp<int64_t>(timestamp, 1, UINT32_MAX));
}

}  // namespace

DistinctPairFilter::DistinctPairFilter(size_t slots) : slots_(slots) { assert(slots > 0); }

DistinctPairFilter::Counts DistinctPairFilter::Record(std::string_view user, std::string_view item,
                                                      int64_t timestamp) {
  uint64_t pair = PairHash(user, item);
  Slot& slot = slots_[pair % slots_.size()];
  uint32_t ts = Stored(timestamp);
  if (slot.pair != pair) {
    slot = Slot{pair, ts, ts};
    return {true, true, true};
  }
  auto due = [&](uint32_t counted_at, int64_t window) {
    return counted_at == 0 || static_cast<int64_t>(ts) - counted_at >= window;
  };
  Counts counts{false, due(slot.hour_counted_at, kHourSeconds),
                due(slot.day_counted_at, kDaySeconds)};
  if (counts.hour) slot.hour_counted_at = ts;
  if (counts.day) slot.day_counted_at = ts;
  return counts;
}

}  // namespace recserve::engine
