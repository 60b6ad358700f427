#include "store/lru_recommendation_cache.h"

#include <algorithm>

namespace recserve::store {

LruRecommendationCache::LruRecommendationCache(size_t capacity, std::chrono::milliseconds ttl,
                                               std::function<Clock::time_point()> now)
    : per_shard_capacity_(std::max<size_t>(1, (capacity + kShards - 1) / kShards)),
      ttl_(ttl),
      now_(std::move(now)),
      shards_(new Shard[kShards]) {}

LruRecommendationCache::Shard& LruRecommendationCache::ShardFor(const std::string& key) {
  return shards_[std::hash<std::string>{}(key) % kShards];
}

Result<std::shared_ptr<const CachedRecommendation>> LruRecommendationCache::Lookup(
    const std::string& key) {
  Shard& shard = ShardFor(key);
  Clock::time_point now = now_();
  core::MutexLock lock(shard.mu);
  auto it = shard.index.find(key);
  if (it == shard.index.end()) return std::shared_ptr<const CachedRecommendation>();
  if (it->second->expires_at <= now) {
    auto entry = it->second;
    shard.index.erase(it);
    shard.order.erase(entry);
    return std::shared_ptr<const CachedRecommendation>();
  }
  shard.order.splice(shard.order.begin(), shard.order, it->second);
  return it->second->value;
}

Status LruRecommendationCache::Store(const std::string& key,
                                     std::shared_ptr<const CachedRecommendation> value) {
  Shard& shard = ShardFor(key);
  Clock::time_point expires_at = now_() + ttl_;
  core::MutexLock lock(shard.mu);
  auto it = shard.index.find(key);
  if (it != shard.index.end()) {
    it->second->value = std::move(value);
    it->second->expires_at = expires_at;
    shard.order.splice(shard.order.begin(), shard.order, it->second);
    return Status::Ok();
  }
  shard.order.push_front(Entry{key, std::move(value), expires_at});
  shard.index.emplace(shard.order.front().key, shard.order.begin());
  while (shard.order.size() > per_shard_capacity_) {
    shard.index.erase(shard.order.back().key);
    shard.order.pop_back();
  }
  return Status::Ok();
}

size_t LruRecommendationCache::size() const {
  size_t n = 0;
  for (size_t i = 0; i < kShards; ++i) {
    core::MutexLock lock(shards_[i].mu);
    n += shards_[i].order.size();
  }
  return n;
}

}  // namespace recserve::store
