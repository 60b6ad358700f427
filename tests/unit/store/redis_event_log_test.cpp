// The shared event log against a real redis-server (a private one per test: the tests count the
// streams' entries and stop Redis).
#include "store/redis_event_log.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>

#include "core/wall_clock.h"
#include "observe/metrics.h"
#include "private_redis.h"
#include "store/redis_event_log_reader.h"

namespace recserve::store {
namespace {

LoggedEvent MakeEvent(std::string id, std::string user, std::string item, int64_t ts = 1000) {
  return {std::move(id), std::move(user), std::move(item), "click", ts, UnixMillisNow(), 7};
}

class RedisEventLogTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(redis_.Start()) << "redis-server did not start"; }

  std::unique_ptr<RedisEventLog> MakeLog(uint32_t shards = 4, uint64_t max_length = 1'000'000) {
    RedisEventLogOptions options;
    options.url = redis_.url();
    options.shards = shards;
    options.max_length = max_length;
    Status first;
    auto log = RedisEventLog::Create(options, registry_, &first);
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_TRUE(first.ok()) << first.ToString();
    return std::move(log).value();
  }

  std::vector<RedisEventLogReader::Entry> ReadAll(int64_t from_ms = 0) {
    auto reader = RedisEventLogReader::Connect(redis_.endpoint(), std::chrono::milliseconds(1000),
                                               std::chrono::milliseconds(100), 4, from_ms);
    EXPECT_TRUE(reader.ok()) << reader.status().ToString();
    std::vector<RedisEventLogReader::Entry> all;
    for (;;) {
      auto got = (*reader)->Read(1000, {});
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (!got.ok() || got->empty()) break;
      for (auto& e : *got) all.push_back(std::move(e));
    }
    return all;
  }

  long long Count(const std::string& key, const char* command = "XLEN") {
    auto client = RedisClient::Connect(redis_.endpoint(), {});
    auto reply = (*client)->Command({command, key});
    return reply.ok() ? reply->integer : -1;
  }

  PrivateRedis redis_;
  observe::Registry registry_;
};

TEST_F(RedisEventLogTest, AppendsEachEventOnceAndReadersSeeThemInUserOrder) {
  auto log = MakeLog();
  std::vector<LoggedEvent> batch;
  for (int i = 0; i < 50; ++i) {
    batch.push_back(MakeEvent(fmt::format("id-{}", i), fmt::format("user-{}", i % 5),
                              fmt::format("item-{}", i), 1000 + i));
  }
  auto added = log->Append(batch);
  ASSERT_TRUE(added.ok()) << added.status().ToString();
  EXPECT_EQ(std::count(added->begin(), added->end(), true), 50);

  // A retried batch (same ids, one new event) adds only the new one.
  batch.push_back(MakeEvent("id-new", "user-1", "item-x", 2000));
  auto retried = log->Append(batch);
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(std::count(retried->begin(), retried->end(), true), 1);
  EXPECT_TRUE(retried->back());

  auto all = ReadAll();
  ASSERT_EQ(all.size(), 51u);
  std::map<std::string, std::vector<int64_t>> per_user;
  for (const auto& entry : all) {
    ASSERT_TRUE(entry.event.ok()) << entry.event.status().ToString();
    EXPECT_EQ(entry.shard, EventShardFor(entry.event->user_id, 4));
    EXPECT_EQ(entry.event->origin, 7u);
    per_user[entry.event->user_id].push_back(entry.event->timestamp);
  }
  EXPECT_EQ(per_user.size(), 5u);
  for (const auto& [user, times] : per_user) {
    EXPECT_TRUE(std::is_sorted(times.begin(), times.end())) << user;
  }
  // The events spread over more than one shard's stream.
  int used = 0;
  for (uint32_t s = 0; s < 4; ++s) used += Count(EventStreamKey(s)) > 0;
  EXPECT_GT(used, 1);
}

TEST_F(RedisEventLogTest, EveryReplicaUsesTheShardCountTheFleetRecorded) {
  auto first = MakeLog(3);
  auto second = MakeLog(8);
  EXPECT_EQ(first->shards(), 3u);
  EXPECT_EQ(second->shards(), 3u);
  ASSERT_TRUE(second->Append({MakeEvent("a", "u", "i")}).ok());
  EXPECT_EQ(Count(EventStreamKey(EventShardFor("u", 3))), 1);
}

TEST_F(RedisEventLogTest, RefusesWithoutWritingWhenUnexportedEventsFillTheShard) {
  auto log = MakeLog(1, 1000);
  auto client = RedisClient::Connect(redis_.endpoint(), {});
  // A pipeline has exported up to a point: everything after it must be kept for its next run.
  ASSERT_TRUE((*client)->Command({"SET", EventExportedKey(0), "1-0"}).ok());
  std::vector<LoggedEvent> batch;
  for (int i = 0; i < 1000; ++i) batch.push_back(MakeEvent(fmt::format("e{}", i), "u", "i"));
  ASSERT_TRUE(log->Append(batch).ok());
  auto refused = log->Append({MakeEvent("one-more", "u", "i")});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("event log full"), std::string::npos);
  EXPECT_EQ(Count(EventStreamKey(0)), 1000);
  // Its dedup marker was not taken either: once there is room the event is added.
  ASSERT_TRUE((*client)->Command({"DEL", EventExportedKey(0)}).ok());
  auto later = log->Append({MakeEvent("one-more", "u", "i")});
  ASSERT_TRUE(later.ok()) << later.status().ToString();
  EXPECT_TRUE(later->front());
}

TEST_F(RedisEventLogTest, TrimsByAgeButNeverPastThePipelineCheckpoint) {
  auto log = MakeLog(1);
  auto client = RedisClient::Connect(redis_.endpoint(), {});
  const std::string stream = EventStreamKey(0);
  // 600 entries written "long ago" (explicit old ids), older than any retention.
  for (int i = 1; i <= 600; ++i) {
    ASSERT_TRUE((*client)
                    ->Command({"XADD", stream, fmt::format("{}-0", i), "id", "old", "u", "u", "i",
                               "i", "t", "t", "ts", "1", "at", "1", "o", "0000000000000007"})
                    .ok());
  }
  // The pipeline has read only up to entry 300: the 300 after it must stay.
  ASSERT_TRUE((*client)->Command({"SET", EventExportedKey(0), "300-0"}).ok());
  ASSERT_TRUE(log->Append({MakeEvent("now-1", "u", "i")}).ok());
  long long kept = Count(stream);
  EXPECT_GE(kept, 301);  // 300 unexported + the new one (approximate trim may keep a few more)
  EXPECT_LT(kept, 601);  // but the exported old ones went
  auto oldest = (*client)->Command({"XRANGE", stream, "-", "+", "COUNT", "1"});
  ASSERT_TRUE(oldest.ok());
  std::string first_id = oldest->elements[0].elements[0].text;
  EXPECT_LE(std::stoll(first_id), 300) << first_id;

  // Once the pipeline has read everything, the old entries go.
  ASSERT_TRUE((*client)->Command({"SET", EventExportedKey(0), "600-0"}).ok());
  ASSERT_TRUE(log->Append({MakeEvent("now-2", "u", "i")}).ok());
  EXPECT_LT(Count(stream), 200);
}

TEST_F(RedisEventLogTest, ReaderStartsAtTheCatchUpWindow) {
  auto log = MakeLog(2);
  ASSERT_TRUE(log->Append({MakeEvent("before", "u1", "i")}).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  int64_t cut = UnixMillisNow();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(log->Append({MakeEvent("after", "u2", "i")}).ok());
  auto all = ReadAll(cut);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].event->event_id, "after");
}

TEST_F(RedisEventLogTest, FailsFastWhileRedisIsDownAndRecovers) {
  auto log = MakeLog();
  redis_.Stop();
  for (int i = 0; i < 5; ++i) {
    auto failed = log->Append({MakeEvent(fmt::format("x{}", i), "u", "i")});
    ASSERT_FALSE(failed.ok());
  }
  EXPECT_FALSE(log->available());  // the breaker opened: callers spool without waiting
  ASSERT_TRUE(redis_.Start());
  ASSERT_TRUE(log->Reconnect().ok());
  EXPECT_TRUE(log->available());
  auto added = log->Append({MakeEvent("back", "u", "i")});
  ASSERT_TRUE(added.ok()) << added.status().ToString();
}

}  // namespace
}  // namespace recserve::store
