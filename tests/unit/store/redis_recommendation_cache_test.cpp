// RedisRecommendationCache against the suite's real redis-server (REDIS_TEST_URL, set by
// scripts/run-tests.sh), and against a closed loopback port for the failure path.
#include "store/redis_recommendation_cache.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

namespace recserve::store {
namespace {

using std::chrono::milliseconds;

TEST(RedisRecommendationCache, StoresAndReadsBackUnderTheSameKey) {
  const char* url = std::getenv("REDIS_TEST_URL");
  if (url == nullptr) GTEST_SKIP() << "REDIS_TEST_URL not set (make test sets it)";
  observe::Registry registry;
  Status first;
  auto cache = RedisRecommendationCache::Create(url, milliseconds(1000), milliseconds(60000),
                                                registry, nullptr, &first);
  ASSERT_TRUE(cache.ok()) << cache.status().message();
  ASSERT_TRUE(first.ok()) << first.message();
  EXPECT_TRUE((*cache)->available());
  std::string key = RecommendationCacheKey("vtest", "user-" + std::to_string(getpid()), 3, 1);
  auto miss = (*cache)->Lookup(key);
  ASSERT_TRUE(miss.ok());
  EXPECT_EQ(*miss, nullptr);
  auto value = std::make_shared<const CachedRecommendation>(
      CachedRecommendation{{{"i1", 0.5}, {"i\"2", 0.25}}, "vtest", "personalized", ""});
  ASSERT_TRUE((*cache)->Store(key, value).ok());
  auto hit = (*cache)->Lookup(key);
  ASSERT_TRUE(hit.ok()) << hit.status().message();
  ASSERT_NE(*hit, nullptr);
  EXPECT_EQ((*hit)->items.size(), 2u);
  EXPECT_EQ((*hit)->items[1].item_id, "i\"2");
  EXPECT_EQ((*hit)->items[1].score, 0.25);
  EXPECT_EQ((*hit)->model_version, "vtest");
  EXPECT_EQ((*hit)->source, "personalized");
}

TEST(RedisRecommendationCache, UnreachableRedisFailsThenBreakerSkips) {
  observe::Registry registry;
  Status first;
  // Port 1 on loopback: nothing listens there, so connecting is refused at once.
  auto cache = RedisRecommendationCache::Create("redis://127.0.0.1:1", milliseconds(200),
                                                milliseconds(60000), registry, nullptr, &first);
  ASSERT_TRUE(cache.ok());
  EXPECT_FALSE(first.ok());
  EXPECT_FALSE((*cache)->available());
  int failed = 0, skipped = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = (*cache)->Lookup("k");
    ASSERT_FALSE(r.ok());
    (r.status().code() == StatusCode::kFailedPrecondition ? skipped : failed)++;
  }
  EXPECT_EQ(failed, 5);  // the breaker's min_requests, all failures: it opens
  EXPECT_EQ(skipped, 5);
  auto& transitions =
      registry.AddCounter("circuit_breaker_transitions_total", "", {"dependency", "to"});
  EXPECT_EQ(transitions.WithLabels({"cache", "open"}).Value(), 1);
}

TEST(RedisRecommendationCache, ReconnectClosesAnOpenBreakerAtOnce) {
  const char* url = std::getenv("REDIS_TEST_URL");
  if (url == nullptr) GTEST_SKIP() << "REDIS_TEST_URL not set (make test sets it)";
  observe::Registry registry;
  resilience::FaultInjector faults;
  ASSERT_TRUE(faults.Set(resilience::FaultOperation::kRedis, {milliseconds(0), 1.0}).ok());
  Status first;
  auto cache = RedisRecommendationCache::Create(url, milliseconds(1000), milliseconds(60000),
                                                registry, &faults, &first);
  ASSERT_TRUE(cache.ok());
  ASSERT_TRUE(first.ok()) << first.message();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE((*cache)->Lookup("k").ok());
  EXPECT_FALSE((*cache)->available());  // breaker open (cool-down 2 s)
  EXPECT_EQ((*cache)->Lookup("k").status().code(), StatusCode::kFailedPrecondition);
  faults.ClearAll();
  ASSERT_TRUE((*cache)->Reconnect().ok());
  EXPECT_TRUE((*cache)->available());
  EXPECT_TRUE((*cache)->Lookup(RecommendationCacheKey("v", "reconnect", 1, 0)).ok());
  auto& state = registry.AddGauge("circuit_breaker_state", "", {"dependency"});
  EXPECT_EQ(state.WithLabels({"cache"}).Value(), 0);
  auto& transitions =
      registry.AddCounter("circuit_breaker_transitions_total", "", {"dependency", "to"});
  EXPECT_EQ(transitions.WithLabels({"cache", "closed"}).Value(), 1);
}

TEST(RedisRecommendationCache, BadUrlIsRefused) {
  observe::Registry registry;
  auto cache = RedisRecommendationCache::Create("http://nope", milliseconds(200),
                                                milliseconds(1000), registry, nullptr, nullptr);
  EXPECT_EQ(cache.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recserve::store
