// ExportEventLog and the forward-only checkpoint against a private real redis-server
// (private_redis.h): pages, shards, malformed entries, the file written before the checkpoints,
// and the compare-and-set that never moves a checkpoint back.
#include "store/event_log_export.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "private_redis.h"

namespace recserve::store {
namespace {

namespace fs = std::filesystem;

std::string ReadText(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class EventLogExportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!redis_.Start()) GTEST_SKIP() << "redis-server could not be started";
    auto client = RedisClient::Connect(redis_.endpoint(), {});
    ASSERT_TRUE(client.ok()) << client.status().message();
    client_ = std::move(client).value();
    dir_ = fs::temp_directory_path() /
           (std::string("recserve-export-test-") + std::to_string(redis_.port()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // XADDs `event` to `shard`'s stream; returns the entry id.
  std::string Add(uint32_t shard, const LoggedEvent& event) {
    std::vector<std::string> args = {"XADD", EventStreamKey(shard), "*"};
    for (auto& [field, value] : EventFields(event)) {
      args.push_back(field);
      args.push_back(value);
    }
    return Run(args).text;
  }
  RedisReply Run(const std::vector<std::string>& args) {
    std::vector<std::string_view> views(args.begin(), args.end());
    auto reply = client_->Command(views);
    EXPECT_TRUE(reply.ok()) << reply.status().message();
    return reply.ok() ? *reply : RedisReply{};
  }
  std::string Get(const std::string& key) { return Run({"GET", key}).text; }

  Result<EventExportSummary> Export(const std::string& name, size_t page_size = 10000) {
    EventExportOptions options;
    options.out = dir_ / name;
    options.page_size = page_size;
    return ExportEventLog(*client_, options);
  }

  static LoggedEvent Event(const std::string& id, const std::string& type = "view") {
    return LoggedEvent{
        id, std::string("u-") + id, std::string("i-") + id, type, 1735689600, 1735689600123, 0xab};
  }

  PrivateRedis redis_;
  std::unique_ptr<RedisClient> client_;
  fs::path dir_;
};

TEST_F(EventLogExportTest, EmptyLogWritesTheHeaderAloneAndNoCheckpoint) {
  auto summary = Export("empty.csv");
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->events, 0u);
  ASSERT_EQ(summary->shards.size(), 1u);  // no recserve:events:shards: one shard
  EXPECT_FALSE(summary->shards[0].to.has_value());
  EXPECT_EQ(ReadText(dir_ / "empty.csv"), std::string(kExportedEventsHeader) + "\n");
  EXPECT_EQ(Run({"EXISTS", EventExportedKey(0)}).integer, 0);
}

TEST_F(EventLogExportTest, ExportsEveryShardInPagesThenNothingNew) {
  Run({"SET", std::string(kEventShardCountKey), "3"});
  std::string last0, last2;
  for (int n = 0; n < 7; ++n) last0 = Add(0, Event(std::string("a") + std::to_string(n), "click"));
  last2 = Add(2, Event("c0", "purchase"));
  auto summary = Export("first.csv", /*page_size=*/3);  // 7 entries: pages of 3, 3, 1
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->events, 8u);
  ASSERT_EQ(summary->shards.size(), 3u);
  EXPECT_EQ(summary->shards[0].events, 7u);
  EXPECT_EQ(summary->shards[1].events, 0u);
  EXPECT_EQ(summary->shards[2].events, 1u);
  EXPECT_EQ(summary->shards[0].to, last0);
  EXPECT_TRUE(summary->shards[0].checkpoint_advanced);
  EXPECT_EQ(Get(EventExportedKey(0)), last0);
  EXPECT_EQ(Get(EventExportedKey(2)), last2);
  const std::string text = ReadText(dir_ / "first.csv");
  EXPECT_NE(text.find("\nu-a0,i-a0,1735689600,2,click,a0,\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\nu-c0,i-c0,1735689600,5,purchase,c0,\n"), std::string::npos) << text;

  auto again = Export("second.csv");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->events, 0u);
  EXPECT_EQ(again->shards[0].from, last0);
  EXPECT_EQ(ReadText(dir_ / "second.csv"), std::string(kExportedEventsHeader) + "\n");

  const std::string later = Add(0, Event("a-late"));
  auto third = Export("third.csv");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->events, 1u);
  EXPECT_EQ(Get(EventExportedKey(0)), later);
}

TEST_F(EventLogExportTest, MalformedEntriesAreWrittenWithTheirReasonAndCounted) {
  Add(0, Event("good"));
  const std::string bad_ts = Run({"XADD", EventStreamKey(0), "*", "id", "b1", "u", "u1", "i", "i1",
                                  "t", "view", "ts", "soon", "at", "1", "o", "ab"})
                                 .text;
  Run({"XADD", EventStreamKey(0), "*", "id", "b2", "i", "i2", "t", "view", "ts", "5", "at", "1",
       "o", "ab"});  // no user
  Run({"XADD", EventStreamKey(0), "*", "id", "b3", "u", "line\nbreak", "i", "i3", "t", "view", "ts",
       "5", "at", "1", "o", "ab"});
  auto summary = Export("mixed.csv");
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(summary->events, 4u);
  EXPECT_EQ(summary->malformed, 3u);
  EXPECT_EQ(summary->shards[0].malformed, 3u);
  ASSERT_EQ(summary->samples.size(), 3u);
  EXPECT_EQ(summary->samples[0].stream_id, bad_ts);
  EXPECT_EQ(summary->samples[0].error, "event field ts: not an integer");
  EXPECT_EQ(summary->samples[1].error, "event field u: missing");
  EXPECT_EQ(summary->samples[2].error, "event field u: holds a line break");
  const std::string text = ReadText(dir_ / "mixed.csv");
  EXPECT_NE(text.find("u1,i1,soon,1,view,b1,stream entry " + bad_ts +
                      ": event field ts: not an integer\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("\n,i2,5,1,view,b2,stream entry "), std::string::npos) << text;
  // One line per entry: the header and four rows.
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 5) << text;
  EXPECT_NE(text.find("line\\nbreak"), std::string::npos) << text;
  const std::string json = EventExportSummaryJson(*summary);
  EXPECT_NE(json.find("\"malformed\":3"), std::string::npos) << json;
}

TEST_F(EventLogExportTest, CheckpointOnlyMovesForward) {
  EXPECT_EQ(AdvanceEventCheckpoint(*client_, 0, "1700000000000-5").value(), true);
  EXPECT_EQ(AdvanceEventCheckpoint(*client_, 0, "1700000000000-4").value(), false);
  EXPECT_EQ(AdvanceEventCheckpoint(*client_, 0, "999999999999-9").value(), false);   // shorter ms
  EXPECT_EQ(AdvanceEventCheckpoint(*client_, 0, "1700000000000-5").value(), false);  // equal
  EXPECT_EQ(Get(EventExportedKey(0)), "1700000000000-5");
  EXPECT_EQ(AdvanceEventCheckpoint(*client_, 0, "1700000000000-10").value(), true);  // not text
  EXPECT_EQ(AdvanceEventCheckpoint(*client_, 0, "1700000000001-0").value(), true);
  EXPECT_EQ(Get(EventExportedKey(0)), "1700000000001-0");
  EXPECT_FALSE(AdvanceEventCheckpoint(*client_, 0, "garbage").ok());
  Run({"SET", EventExportedKey(1), "not-an-id"});
  EXPECT_FALSE(AdvanceEventCheckpoint(*client_, 1, "1-1").ok());
  EXPECT_EQ(Get(EventExportedKey(1)), "not-an-id");
}

TEST_F(EventLogExportTest, SlowerExporterDoesNotMoveTheCheckpointBack) {
  const std::string first = Add(0, Event("e1"));
  const std::string second = Add(0, Event("e2"));
  // A faster exporter already exported both; a slower one that read only e1 finishes after it.
  ASSERT_TRUE(AdvanceEventCheckpoint(*client_, 0, second).value());
  EXPECT_FALSE(AdvanceEventCheckpoint(*client_, 0, first).value());
  EXPECT_EQ(Get(EventExportedKey(0)), second);
}

TEST_F(EventLogExportTest, CorruptShardCountOrCheckpointIsAnErrorAndWritesNoFile) {
  Run({"SET", std::string(kEventShardCountKey), "zero"});
  auto bad_count = Export("count.csv");
  EXPECT_EQ(bad_count.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_ / "count.csv"));
  Run({"SET", std::string(kEventShardCountKey), "1"});
  Run({"SET", EventExportedKey(0), "yesterday"});
  auto bad_checkpoint = Export("checkpoint.csv");
  EXPECT_EQ(bad_checkpoint.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad_checkpoint.status().message().find(EventExportedKey(0)), std::string::npos);
  EXPECT_FALSE(fs::exists(dir_ / "checkpoint.csv"));
}

TEST_F(EventLogExportTest, FailedFileWriteLeavesTheCheckpointWhereItWas) {
  Add(0, Event("e1"));
  EventExportOptions options;
  options.out = dir_ / "no-such-dir" / "events.csv";
  auto summary = ExportEventLog(*client_, options);
  EXPECT_FALSE(summary.ok());
  EXPECT_EQ(Run({"EXISTS", EventExportedKey(0)}).integer, 0);
}

TEST(EventLogExportRows, WeightsAndQuoting) {
  EXPECT_EQ(ExportedEventWeight("view"), "1");
  EXPECT_EQ(ExportedEventWeight("click"), "2");
  EXPECT_EQ(ExportedEventWeight("purchase"), "5");
  EXPECT_EQ(ExportedEventWeight("rating"), "");
  LoggedEvent e{"id,1", "u\"1", "i1", "like", 7, 0, 0};
  EXPECT_EQ(ExportedEventRow(e), "\"u\"\"1\",i1,7,,like,\"id,1\",");
  EXPECT_TRUE(IsStreamId("1-0"));
  EXPECT_FALSE(IsStreamId("1-"));
  EXPECT_FALSE(IsStreamId("-1"));
  EXPECT_FALSE(IsStreamId("1"));
  EXPECT_FALSE(IsStreamId("a-1"));
}

}  // namespace
}  // namespace recserve::store
