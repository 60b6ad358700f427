#include "engine/sliding_window.h"

#include <algorithm>

#include "models/scored_order.h"

namespace recserve::engine {

SlidingWindowCounter::SlidingWindowCounter(int64_t window_seconds, int64_t bucket_seconds,
                                           size_t max_items_per_bucket)
    : window_seconds_(window_seconds),
      bucket_seconds_(bucket_seconds),
      max_items_per_bucket_(max_items_per_bucket) {}

namespace {
int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
}  // namespace

std::vector<std::pair<std::string, uint64_t>> TopCounted(std::vector<CountRef> refs, size_t k) {
  auto before = [](const CountRef& a, const CountRef& b) {
    return models::RanksBefore(a.second, *a.first, b.second, *b.first);
  };
  size_t n = std::min(k, refs.size());
  std::partial_sort(refs.begin(), refs.begin() + static_cast<std::ptrdiff_t>(n), refs.end(),
                    before);
  std::vector<std::pair<std::string, uint64_t>> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.emplace_back(*refs[i].first, refs[i].second);
  return out;
}

void SlidingWindowCounter::Subtract(const std::string& item, uint64_t count) {
  auto it = totals_.find(item);
  if (it == totals_.end()) return;
  if (it->second <= count) {
    totals_.erase(it);
  } else {
    it->second -= count;
  }
}

void SlidingWindowCounter::Expire(int64_t now) {
  int64_t buckets_in_window = window_seconds_ / bucket_seconds_;
  int64_t oldest_live = FloorDiv(now, bucket_seconds_) - buckets_in_window + 1;
  while (!buckets_.empty() && buckets_.front().index < oldest_live) {
    buckets_.front().counts.ForEach(
        [this](const std::string& item, uint64_t count) { Subtract(item, count); });
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
  if (it == buckets_.end() || it->index != index) {
    it = buckets_.insert(it, Bucket{index, BoundedCounter(max_items_per_bucket_)});
  }
  if (auto evicted = it->counts.Add(item, count)) {
    Subtract(evicted->item, evicted->count);
    ++evictions_;
  }
  totals_[std::string(item)] += count;
}

std::vector<std::pair<std::string, uint64_t>> SlidingWindowCounter::Top(int64_t now, size_t k) {
  Expire(now);
  std::vector<CountRef> refs;
  refs.reserve(totals_.size());
  for (const auto& [item, count] : totals_) refs.emplace_back(&item, count);
  return TopCounted(std::move(refs), k);
}

uint64_t SlidingWindowCounter::CountOf(std::string_view item, int64_t now) {
  Expire(now);
  auto it = totals_.find(std::string(item));
  return it == totals_.end() ? 0 : it->second;
}

}  // namespace recserve::engine
