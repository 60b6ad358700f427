// The in-process recommendation cache and the cache key every implementation shares.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "store/lru_recommendation_cache.h"
#include "store/recommendation_cache.h"

namespace recserve::store {
namespace {

TEST(LruCache, EvictsLeastRecentlyUsedAndExpires) {
  auto now = std::chrono::steady_clock::time_point{};
  // 16 shards with capacity 1 each: inserting many keys keeps at most 16.
  LruRecommendationCache cache(16, std::chrono::milliseconds(1000), [&] { return now; });
  auto value = std::make_shared<const CachedRecommendation>(
      CachedRecommendation{{{"i", 1.0}}, "v1", "personalized", ""});
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(cache.Store("key" + std::to_string(i), value).ok());
  EXPECT_LE(cache.size(), 16u);
  ASSERT_TRUE(cache.Store("fresh", value).ok());
  auto hit = cache.Lookup("fresh");
  ASSERT_TRUE(hit.ok());
  ASSERT_NE(*hit, nullptr);
  EXPECT_EQ((*hit)->model_version, "v1");
  EXPECT_EQ(*cache.Lookup("never-stored"), nullptr);
  now += std::chrono::milliseconds(1001);
  EXPECT_EQ(*cache.Lookup("fresh"), nullptr);  // expired
}

TEST(LruCache, KeyIncludesVersionUserKAndGeneration) {
  EXPECT_NE(RecommendationCacheKey("v1", "u", 10, 0), RecommendationCacheKey("v2", "u", 10, 0));
  EXPECT_NE(RecommendationCacheKey("v1", "u", 10, 0), RecommendationCacheKey("v1", "u", 11, 0));
  EXPECT_NE(RecommendationCacheKey("v1", "u", 10, 0), RecommendationCacheKey("v1", "u", 10, 1));
  EXPECT_NE(RecommendationCacheKey("v1", "u1", 0, 0), RecommendationCacheKey("v1", "u", 10, 0));
}

}  // namespace
}  // namespace recserve::store
