#include "resilience/fault_injector.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>
#include <vector>

namespace recserve::resilience {
namespace {

using std::chrono::milliseconds;

TEST(FaultInjector, InjectsNothingByDefault) {
  FaultInjector injector;
  for (int i = 0; i < 1000; ++i) {
    FaultInjector::Decision d = injector.Decide(FaultOperation::kRanking);
    ASSERT_FALSE(d.fail);
    ASSERT_EQ(d.delay, milliseconds(0));
  }
  EXPECT_TRUE(injector.Inject(FaultOperation::kRedis).ok());
}

TEST(FaultInjector, FailureShareMatchesRateAndOperationsAreIndependent) {
  FaultInjector injector(1);
  ASSERT_TRUE(injector.Set(FaultOperation::kRedis, {milliseconds(25), 0.3}).ok());
  int failures = 0;
  for (int i = 0; i < 20000; ++i) {
    FaultInjector::Decision d = injector.Decide(FaultOperation::kRedis);
    ASSERT_EQ(d.delay, milliseconds(25));
    failures += d.fail;
    ASSERT_FALSE(injector.Decide(FaultOperation::kRanking).fail);
  }
  EXPECT_NEAR(failures / 20000.0, 0.3, 0.015);
}

TEST(FaultInjector, RatesZeroAndOneAreExact) {
  FaultInjector injector(2);
  ASSERT_TRUE(injector.Set(FaultOperation::kRanking, {milliseconds(0), 1.0}).ok());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(injector.Decide(FaultOperation::kRanking).fail);
  Status s = injector.Inject(FaultOperation::kRanking);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_EQ(s.message(), "injected failure: ranking");
  injector.ClearAll();
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(injector.Decide(FaultOperation::kRanking).fail);
}

TEST(FaultInjector, InjectWithinTurnsALongDelayIntoATimeoutAndShortOnesIntoWaits) {
  FaultInjector injector;
  EXPECT_TRUE(injector.InjectWithin(FaultOperation::kRedis, milliseconds(5)).ok());
  ASSERT_TRUE(injector.Set(FaultOperation::kRedis, {milliseconds(20), 0.0}).ok());
  EXPECT_EQ(injector.InjectWithin(FaultOperation::kRedis, milliseconds(5)).code(),
            StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(injector.InjectWithin(FaultOperation::kRedis, milliseconds(1000)).ok());
  ASSERT_TRUE(injector.Set(FaultOperation::kRedis, {milliseconds(1), 1.0}).ok());
  Status failed = injector.InjectWithin(FaultOperation::kRedis, milliseconds(1000));
  EXPECT_EQ(failed.code(), StatusCode::kUnavailable);
  EXPECT_EQ(failed.message(), "injected failure: redis");
  EXPECT_TRUE(injector.InjectWithin(FaultOperation::kRanking, milliseconds(5)).ok());
}

TEST(FaultInjector, SameSeedSameFailuresOtherSeedOthers) {
  FaultInjector a(7), b(7), c(8);
  for (FaultInjector* f : {&a, &b, &c}) {
    ASSERT_TRUE(f->Set(FaultOperation::kRanking, {milliseconds(0), 0.5}).ok());
  }
  int differences = 0;
  for (int i = 0; i < 200; ++i) {
    const bool fa = a.Decide(FaultOperation::kRanking).fail;
    ASSERT_EQ(fa, b.Decide(FaultOperation::kRanking).fail) << "call " << i;
    differences += fa != c.Decide(FaultOperation::kRanking).fail;
  }
  EXPECT_GT(differences, 50);
}

TEST(FaultInjector, RejectsOutOfRangeSettingsAndKeepsTheOldOnes) {
  FaultInjector injector;
  ASSERT_TRUE(injector.Set(FaultOperation::kRanking, {milliseconds(10), 0.1}).ok());
  EXPECT_FALSE(injector.Set(FaultOperation::kRanking, {milliseconds(-1), 0.1}).ok());
  EXPECT_FALSE(injector.Set(FaultOperation::kRanking, {milliseconds(60001), 0.1}).ok());
  EXPECT_FALSE(injector.Set(FaultOperation::kRanking, {milliseconds(1), 1.5}).ok());
  EXPECT_FALSE(injector.Set(FaultOperation::kRanking, {milliseconds(1), -0.1}).ok());
  EXPECT_EQ(injector.Get(FaultOperation::kRanking).delay, milliseconds(10));
  EXPECT_DOUBLE_EQ(injector.Get(FaultOperation::kRanking).failure_rate, 0.1);
}

TEST(FaultInjector, OperationNamesRoundTrip) {
  EXPECT_EQ(FaultOperationName(FaultOperation::kRanking), "ranking");
  EXPECT_EQ(FaultOperationName(FaultOperation::kRedis), "redis");
  EXPECT_EQ(ParseFaultOperation("redis"), FaultOperation::kRedis);
  EXPECT_EQ(ParseFaultOperation("ranking"), FaultOperation::kRanking);
  EXPECT_FALSE(ParseFaultOperation("Redis").has_value());
}

class FaultInjectorEnvTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const char* v : {"FAULT_RANKING_DELAY_MS", "FAULT_RANKING_FAILURE_RATE",
                          "FAULT_REDIS_DELAY_MS", "FAULT_REDIS_FAILURE_RATE", "FAULT_SEED"}) {
      unsetenv(v);
    }
  }
};

TEST_F(FaultInjectorEnvTest, ReadsEveryVariable) {
  setenv("FAULT_RANKING_DELAY_MS", "50", 1);
  setenv("FAULT_RANKING_FAILURE_RATE", "0.25", 1);
  setenv("FAULT_REDIS_DELAY_MS", "7", 1);
  setenv("FAULT_REDIS_FAILURE_RATE", "1", 1);
  setenv("FAULT_SEED", "3", 1);
  Result<std::unique_ptr<FaultInjector>> injector = FaultInjector::FromEnv();
  ASSERT_TRUE(injector.ok()) << injector.status().ToString();
  EXPECT_EQ((*injector)->Get(FaultOperation::kRanking).delay, milliseconds(50));
  EXPECT_DOUBLE_EQ((*injector)->Get(FaultOperation::kRanking).failure_rate, 0.25);
  EXPECT_EQ((*injector)->Get(FaultOperation::kRedis).delay, milliseconds(7));
  EXPECT_TRUE((*injector)->Decide(FaultOperation::kRedis).fail);
}

TEST_F(FaultInjectorEnvTest, UnsetMeansNoFaults) {
  Result<std::unique_ptr<FaultInjector>> injector = FaultInjector::FromEnv();
  ASSERT_TRUE(injector.ok());
  EXPECT_EQ((*injector)->Get(FaultOperation::kRanking).delay, milliseconds(0));
  EXPECT_DOUBLE_EQ((*injector)->Get(FaultOperation::kRedis).failure_rate, 0.0);
}

TEST_F(FaultInjectorEnvTest, MalformedValuesNameTheVariable) {
  for (auto [name, value] :
       std::vector<std::pair<const char*, const char*>>{{"FAULT_RANKING_DELAY_MS", "slow"},
                                                        {"FAULT_RANKING_DELAY_MS", "-5"},
                                                        {"FAULT_REDIS_FAILURE_RATE", "2"},
                                                        {"FAULT_REDIS_FAILURE_RATE", "half"},
                                                        {"FAULT_SEED", "x"}}) {
    setenv(name, value, 1);
    Result<std::unique_ptr<FaultInjector>> injector = FaultInjector::FromEnv();
    ASSERT_FALSE(injector.ok()) << name << "=" << value;
    EXPECT_NE(injector.status().message().find(name), std::string::npos)
        << injector.status().message();
    unsetenv(name);
  }
}

TEST(FaultInjectorConcurrency, SettersAndDecidersRunTogether) {
  FaultInjector injector(9);
  std::atomic<bool> stop{false};
  std::thread setter([&] {
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE(
          injector.Set(FaultOperation::kRedis, {milliseconds(i % 3), (i % 10) / 10.0}).ok());
    }
    stop = true;
  });
  std::vector<std::thread> deciders;
  for (int t = 0; t < 3; ++t) {
    deciders.emplace_back([&] {
      while (!stop) {
        FaultInjector::Decision d = injector.Decide(FaultOperation::kRedis);
        ASSERT_LE(d.delay, milliseconds(2));
      }
    });
  }
  setter.join();
  for (std::thread& t : deciders) t.join();
}

}  // namespace
}  // namespace recserve::resilience
