// FailoverFeatureStore against real redis-servers: a private one per test (started, killed and
// restarted to make real outages; see private_redis.h) and a real SQLite fallback. Redis holds
// snapshot "rd" with 20 users, SQLite snapshot "sq" with 10, so every answer shows which store
// gave it (u15 exists only in Redis).
#include "store/failover_feature_store.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "private_redis.h"
#include "store/redis_feature_store.h"
#include "store/sqlite_feature_store.h"
#include "test_snapshot.h"

namespace recserve::store {
namespace {

namespace fs = std::filesystem;
using resilience::BreakerState;
using resilience::DegradationReason;
using std::chrono::milliseconds;

class FailoverFeatureStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("recserve-failover-fs-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    auto fallback = SqliteFeatureStore::Open(dir_ / "fallback.db");
    ASSERT_TRUE(fallback.ok());
    fallback_ = std::move(fallback).value();
    ASSERT_TRUE(fallback_->Publish(TestSnapshot("sq", 10)).ok());
    auto source = SqliteFeatureStore::Open(dir_ / "source.db");
    ASSERT_TRUE(source.ok());
    source_ = std::move(source).value();
    ASSERT_TRUE(source_->Publish(TestSnapshot("rd", 20)).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  // What `recserve sync` does: copies snapshot "rd" into `redis`.
  void Sync(const PrivateRedis& redis) {
    auto client = RedisClient::Connect(redis.endpoint(), {});
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    auto report = SyncSnapshotToRedis(*source_, **client, {});
    ASSERT_TRUE(report.ok()) << report.status().ToString();
  }

  // Short cool-down so the half-open probe comes quickly; two failures open the breaker.
  FailoverFeatureStoreOptions Options(const std::string& url) {
    FailoverFeatureStoreOptions options;
    options.redis_url = url;
    options.timeout = milliseconds(500);
    options.pointer_refresh = milliseconds(0);
    options.breaker.min_requests = 2;
    options.breaker.open_duration = milliseconds(50);
    return options;
  }

  std::unique_ptr<FailoverFeatureStore> Make(FailoverFeatureStoreOptions options,
                                             Status* first_connect,
                                             resilience::FaultInjector* faults = nullptr) {
    auto store = FailoverFeatureStore::Create(
        std::move(options), fallback_.get(), registry_,
        [this](std::string_view dependency, BreakerState, BreakerState to) {
          std::lock_guard lock(mu_);
          EXPECT_EQ(dependency, "feature_store");
          transitions_.push_back(to);
        },
        faults, first_connect);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Starts `redis`, syncs "rd" into it and makes a store on it that found the snapshot.
  std::unique_ptr<FailoverFeatureStore> StartSyncedRedisAndStore(PrivateRedis& redis) {
    EXPECT_TRUE(redis.Start());
    Sync(redis);
    Status first;
    auto store = Make(Options(redis.url()), &first);
    EXPECT_TRUE(first.ok()) << first.ToString();
    return store;
  }

  size_t CountTransitions(BreakerState to) {
    std::lock_guard lock(mu_);
    return static_cast<size_t>(std::count(transitions_.begin(), transitions_.end(), to));
  }

  double Timeouts() {
    return registry_.AddCounter("recommendation_timeouts_total", "", {"operation"})
        .WithLabels({"redis_feature_store"})
        .Value();
  }

  // Reads u5 (in both stores) until Redis answers it again, at most 10 s. Returns whether it did.
  static bool ReadUntilRedisServes(FailoverFeatureStore& store) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto read = store.ReadUser("u5");
      if (read.features.ok() && !read.degraded && store.backend() == "redis") return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  }

  fs::path dir_;
  std::unique_ptr<SqliteFeatureStore> fallback_;
  std::unique_ptr<SqliteFeatureStore> source_;
  observe::Registry registry_;
  std::mutex mu_;
  std::vector<BreakerState> transitions_;
};

TEST_F(FailoverFeatureStoreTest, ServesFromRedisAndAMissIsNotAFailure) {
  PrivateRedis redis;
  auto store = StartSyncedRedisAndStore(redis);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->backend(), "redis");
  auto only_in_redis = store->ReadUser("u15");
  ASSERT_TRUE(only_in_redis.features.ok()) << only_in_redis.features.status().ToString();
  EXPECT_EQ(only_in_redis.features->interaction_count, 15u);
  EXPECT_FALSE(only_in_redis.degraded);
  EXPECT_EQ(store->GetMetadata()->version, "rd");
  EXPECT_EQ(store->GetItem("i")->title, "Item \"one\"");
  EXPECT_EQ(store->GetPopular()->at(0).item_id, "i");
  EXPECT_TRUE(store->GetTrending()->empty());
  // Misses in a row: normal answers, never failures, so the breaker stays closed.
  for (int i = 0; i < 5; ++i) {
    auto miss = store->ReadUser("nobody");
    EXPECT_EQ(miss.features.status().code(), StatusCode::kNotFound);
    EXPECT_FALSE(miss.degraded);
  }
  EXPECT_EQ(store->GetItem("nothing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->breaker_state(), BreakerState::kClosed);
  EXPECT_EQ(store->backend(), "redis");
  EXPECT_TRUE(transitions_.empty());
  EXPECT_EQ(registry_.AddGauge("circuit_breaker_state", "", {"dependency"})
                .WithLabels({"feature_store"})
                .Value(),
            0);
}

TEST_F(FailoverFeatureStoreTest, StartsOnSqliteWithoutRedisAndPicksRedisUpWhenItAppears) {
  PrivateRedis redis;  // not started yet: nothing listens on its port
  Status first;
  auto store = Make(Options(redis.url()), &first);
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(first.code(), StatusCode::kUnavailable);
  EXPECT_NE(first.message().find("Redis connection failed"), std::string::npos) << first.message();
  EXPECT_EQ(store->backend(), "sqlite");

  auto read = store->ReadUser("u5");
  ASSERT_TRUE(read.features.ok());
  EXPECT_EQ(read.features->interaction_count, 5u);
  EXPECT_EQ(read.degraded, DegradationReason::kTimeoutRedis);
  EXPECT_EQ(store->ReadUser("u15").features.status().code(), StatusCode::kNotFound);  // SQLite's
  EXPECT_EQ(CountTransitions(BreakerState::kOpen), 1u);  // two failures out of two
  EXPECT_EQ(store->GetMetadata()->version, "sq");

  ASSERT_TRUE(redis.Start());
  // Redis is up but empty: not usable yet, still served by SQLite.
  const auto until = std::chrono::steady_clock::now() + milliseconds(300);
  while (std::chrono::steady_clock::now() < until) {
    EXPECT_TRUE(store->ReadUser("u5").degraded.has_value());
    std::this_thread::sleep_for(milliseconds(20));
  }
  EXPECT_EQ(store->backend(), "sqlite");
  Sync(redis);
  ASSERT_TRUE(ReadUntilRedisServes(*store));
  EXPECT_EQ(store->GetMetadata()->version, "rd");
  EXPECT_TRUE(store->GetUser("u15").ok());
  EXPECT_EQ(store->breaker_state(), BreakerState::kClosed);
  EXPECT_GE(CountTransitions(BreakerState::kOpen), 1u);
  EXPECT_GE(CountTransitions(BreakerState::kHalfOpen), 1u);
  EXPECT_EQ(CountTransitions(BreakerState::kClosed), 1u);
}

TEST_F(FailoverFeatureStoreTest, OutageAtRunTimeFallsBackAndRecoversAfterResync) {
  PrivateRedis redis;
  auto store = StartSyncedRedisAndStore(redis);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->GetUser("u15").ok());

  redis.Stop();
  for (int i = 0; i < 20; ++i) {
    auto read = store->ReadUser("u5");
    ASSERT_TRUE(read.features.ok()) << i << " " << read.features.status().ToString();
    ASSERT_TRUE(read.degraded.has_value()) << i;
    EXPECT_EQ(store->backend(), "sqlite");
  }
  EXPECT_EQ(store->GetMetadata()->version, "sq");
  EXPECT_GE(CountTransitions(BreakerState::kOpen), 1u);

  // Back, empty (no persistence), then resynced as the runbook says.
  ASSERT_TRUE(redis.Start());
  Sync(redis);
  ASSERT_TRUE(ReadUntilRedisServes(*store));
  EXPECT_EQ(store->GetMetadata()->version, "rd");
  EXPECT_GE(CountTransitions(BreakerState::kClosed), 1u);
}

TEST_F(FailoverFeatureStoreTest, InjectedDelayPastTheTimeoutCountsATimeoutAndFallsBack) {
  PrivateRedis redis;
  ASSERT_TRUE(redis.Start());
  Sync(redis);
  resilience::FaultInjector faults;
  ASSERT_TRUE(faults.Set(resilience::FaultOperation::kRedis, {milliseconds(30), 0.0}).ok());
  auto options = Options(redis.url());
  options.timeout = milliseconds(10);
  options.breaker.min_requests = 100;  // keep it closed: every read tries Redis
  Status first;
  auto store = Make(options, &first, &faults);
  ASSERT_NE(store, nullptr);
  for (int i = 0; i < 3; ++i) {
    auto read = store->ReadUser("u15");
    EXPECT_EQ(read.degraded, DegradationReason::kTimeoutRedis);
    EXPECT_EQ(read.features.status().code(), StatusCode::kNotFound);  // SQLite has no u15
  }
  EXPECT_EQ(Timeouts(), 3);
  EXPECT_EQ(store->backend(), "sqlite");
  faults.ClearAll();
  auto read = store->ReadUser("u15");
  EXPECT_TRUE(read.features.ok());
  EXPECT_FALSE(read.degraded);
  EXPECT_EQ(store->backend(), "redis");
}

TEST_F(FailoverFeatureStoreTest, ReconnectClosesTheBreakerAtOnce) {
  PrivateRedis redis;
  ASSERT_TRUE(redis.Start());
  Sync(redis);
  resilience::FaultInjector faults;
  ASSERT_TRUE(faults.Set(resilience::FaultOperation::kRedis, {milliseconds(0), 1.0}).ok());
  auto options = Options(redis.url());
  options.breaker.open_duration = std::chrono::hours(1);  // no probe would come in this test
  Status first;
  auto store = Make(options, &first, &faults);
  ASSERT_NE(store, nullptr);
  store->ReadUser("u5");
  store->ReadUser("u5");
  ASSERT_EQ(store->breaker_state(), BreakerState::kOpen);
  EXPECT_EQ(store->ReadUser("u5").degraded, DegradationReason::kBreakerOpenFeatureStore);

  // Reconnect checks Redis directly (not through fault injection, which only applies to reads).
  redis.Stop();
  EXPECT_FALSE(store->Reconnect().ok());
  EXPECT_EQ(store->breaker_state(), BreakerState::kOpen);
  ASSERT_TRUE(redis.Start());
  EXPECT_EQ(store->Reconnect().code(), StatusCode::kFailedPrecondition);  // empty: not synced
  EXPECT_EQ(store->breaker_state(), BreakerState::kOpen);
  Sync(redis);
  faults.ClearAll();
  ASSERT_TRUE(store->Reconnect().ok());
  EXPECT_EQ(store->breaker_state(), BreakerState::kClosed);
  EXPECT_EQ(store->backend(), "redis");
  auto read = store->ReadUser("u15");
  EXPECT_TRUE(read.features.ok());
  EXPECT_FALSE(read.degraded);
}

TEST_F(FailoverFeatureStoreTest, WithoutFallbackTheRedisErrorIsReturned) {
  PrivateRedis redis;  // never started
  auto options = Options(redis.url());
  options.breaker.open_duration = std::chrono::hours(1);
  Status first;
  auto store = FailoverFeatureStore::Create(options, nullptr, registry_, nullptr, nullptr, &first);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->backend(), "none");
  auto read = (*store)->ReadUser("u5");
  EXPECT_EQ(read.features.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(read.degraded, DegradationReason::kTimeoutRedis);
  (*store)->ReadUser("u5");
  read = (*store)->ReadUser("u5");
  EXPECT_EQ(read.features.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(read.degraded, DegradationReason::kBreakerOpenFeatureStore);
}

TEST_F(FailoverFeatureStoreTest, BadUrlOrBreakerOptionsAreRefused) {
  Status first;
  auto bad_url = FailoverFeatureStore::Create(Options("http://127.0.0.1:6379"), fallback_.get(),
                                              registry_, nullptr, nullptr, &first);
  EXPECT_EQ(bad_url.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_url.status().message().find("http://127.0.0.1:6379"), std::string::npos);
  auto options = Options("redis://127.0.0.1:1");
  options.breaker.failure_ratio = 0;
  auto bad_breaker =
      FailoverFeatureStore::Create(options, fallback_.get(), registry_, nullptr, nullptr, &first);
  EXPECT_EQ(bad_breaker.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recserve::store
