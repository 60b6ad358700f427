// The fleet's shared exposure lists against a real (private) redis-server: a list one replica
// recorded is credited by another, once.
#include "store/shared_exposure_lists.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "observe/metrics.h"
#include "private_redis.h"

namespace recserve::store {
namespace {

class SharedExposureListsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.Start()); }
  SharedExposureListsOptions Options() {
    SharedExposureListsOptions options;
    options.endpoint = redis_.endpoint();
    return options;
  }
  PrivateRedis redis_;
  observe::Registry registry_a_;
  observe::Registry registry_b_;
};

TEST_F(SharedExposureListsTest, AListServedByOneReplicaIsCreditedOnceByAnother) {
  SharedExposureLists a(Options(), registry_a_);
  SharedExposureLists b(Options(), registry_b_);
  a.Record("u1", "primary", {"i1", "i2", "i3"});
  a.Record("u1", "shadow", {"i9", "i2"});
  a.Record("u2", "primary", {"i1"});
  a.Flush();
  auto credited = b.Credit({{"u1", "i2"}, {"u2", "i7"}, {"u1", "i3"}});
  ASSERT_TRUE(credited.ok()) << credited.status().ToString();
  ASSERT_EQ(credited->size(), 3u);
  std::vector<std::string> first = (*credited)[0];
  std::sort(first.begin(), first.end());
  EXPECT_EQ(first, (std::vector<std::string>{"primary", "shadow"}));
  EXPECT_TRUE((*credited)[1].empty());  // not in u2's list
  EXPECT_TRUE((*credited)[2].empty());  // u1's primary list was credited already
  // Another replica crediting the same list again gets nothing: once fleet-wide.
  auto again = a.Credit({{"u1", "i1"}});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)[0].empty());
  // A new list replaces the old one, not yet credited; an id that is a prefix of another
  // listed id does not match it.
  a.Record("u1", "primary", {"i10"});
  a.Flush();
  auto prefix = b.Credit({{"u1", "i1"}});
  ASSERT_TRUE(prefix.ok());
  EXPECT_TRUE((*prefix)[0].empty());
  auto fresh = b.Credit({{"u1", "i10"}});
  ASSERT_TRUE(fresh.ok());
  EXPECT_EQ((*fresh)[0], std::vector<std::string>{"primary"});
}

TEST_F(SharedExposureListsTest, ListsExpireAfterTheirTtl) {
  SharedExposureListsOptions options = Options();
  options.ttl = std::chrono::milliseconds(50);
  SharedExposureLists lists(options, registry_a_);
  lists.Record("u", "primary", {"i"});
  lists.Flush();
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto credited = lists.Credit({{"u", "i"}});
  ASSERT_TRUE(credited.ok());
  EXPECT_TRUE((*credited)[0].empty());
}

TEST_F(SharedExposureListsTest, CreditFailsFastWhileRedisIsDown) {
  SharedExposureLists lists(Options(), registry_a_);
  redis_.Stop();
  auto first = lists.Credit({{"u", "i"}});
  EXPECT_FALSE(first.ok());
  // The next call within the second does not try again (no connect timeout per batch).
  auto second = lists.Credit({{"u", "i"}});
  EXPECT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(second.status().message().find("failed recently"), std::string::npos);
  lists.Record("u", "primary", {"i"});
  lists.Flush();  // the write failed and was counted, not queued forever
  EXPECT_EQ(registry_a_.AddCounter("recommendation_exposure_lists_writes_total", "", {"result"})
                .WithLabels({"error"})
                .Value(),
            1.0);
}

}  // namespace
}  // namespace recserve::store
