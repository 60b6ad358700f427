#include "engine/sliding_window.h"

#include <algorithm>

namespace recserve::engine {

SlidingWindowCounter::SlidingWindowCounter(int64_t window_seconds, int64_t bucket_seconds)
    : window_seconds_(window_seconds), bucket_seconds_(bucket_seconds) {}

namespace {
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace

void SlidingWindowCounter::Expire(int64_t now) {
  int64_t buckets_in_window = window_seconds_ / bucket_seconds_;
  int64_t oldest_live = FloorDiv(now, bucket_seconds_) - buckets_in_window + 1;
  while (!buckets_.empty() && buckets_.front().index < oldest_live) {
    for (const auto& [item, count] : buckets_.front().counts) {
      auto it = totals_.find(item);
      if (it == totals_.end()) continue;
      if (it->second <= count) {
        totals_.erase(it);
      } else {
        it->second -= count;
      }
    }
    buckets_.pop_front();
  }
}

void SlidingWindowCounter::Add(std::string_view item, int64_t timestamp, int64_t now,
                               uint64_t count) {
  Expire(now);
  int64_t index = FloorDiv(std::min(timestamp, now), bucket_seconds_);
  int64_t oldest_live = FloorDiv(now, bucket_seconds_) - window_seconds_ / bucket_seconds_ + 1;
  if (index < oldest_live || count == 0) return;
  auto it = std::lower_bound(buckets_.begin(), buckets_.end(), index,
                             [](const Bucket& b, int64_t i) { return b.index < i; });
  if (it == buckets_.end() || it->index != index) it = buckets_.insert(it, Bucket{index, {}});
  std::string key(item);
  it->counts[key] += count;
  totals_[key] += count;
}

std::vector<std::pair<std::string, uint64_t>> SlidingWindowCounter::Top(int64_t now, size_t k) {
  Expire(now);
  std::vector<std::pair<std::string, uint64_t>> all(totals_.begin(), totals_.end());
  auto better = [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  };
  if (all.size() > k) {
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(), better);
    all.resize(k);
  } else {
    std::sort(all.begin(), all.end(), better);
  }
  return all;
}

uint64_t SlidingWindowCounter::CountOf(std::string_view item, int64_t now) {
  Expire(now);
  auto it = totals_.find(std::string(item));
  return it == totals_.end() ? 0 : it->second;
}

}  // namespace recserve::engine
