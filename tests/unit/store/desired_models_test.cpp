// store::DesiredModelsStore against a private redis-server (stopped and restarted for the outage
// cases) and a real fallback file in a temporary MODEL_DIR.
#include "store/desired_models.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "private_redis.h"

namespace recserve::store {
namespace {

namespace fs = std::filesystem;

class DesiredModelsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("recserve-desired-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<DesiredModelsStore> Open(const std::string& url) {
    DesiredModelsStoreOptions options;
    options.file = dir_ / kDesiredModelsFileName;
    options.redis_url = url;
    options.timeouts = {std::chrono::milliseconds(500), std::chrono::milliseconds(500)};
    options.reconnect_interval = std::chrono::milliseconds(0);
    auto store = DesiredModelsStore::Open(options);
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return std::move(store).value();
  }

  static DesiredModels Record(std::string primary, std::string shadow = "", double rollout = 0) {
    DesiredModels d;
    d.primary = std::move(primary);
    d.shadow = std::move(shadow);
    d.shadow_rollout = rollout;
    return d;
  }

  fs::path dir_;
};

TEST_F(DesiredModelsTest, NoRecordAnywhereIsNone) {
  PrivateRedis redis;
  ASSERT_TRUE(redis.Start());
  auto read = Open(redis.url())->Read();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_FALSE(read->record.has_value());
  EXPECT_EQ(read->source, DesiredModelsSource::kNone);
  auto file_only = Open("")->Read();
  ASSERT_TRUE(file_only.ok());
  EXPECT_FALSE(file_only->record.has_value());
  EXPECT_EQ(DesiredModelsSourceName(file_only->source), "none");
}

TEST_F(DesiredModelsTest, CompareAndSetWritesRedisAndFileAndPublishes) {
  PrivateRedis redis;
  ASSERT_TRUE(redis.Start());
  auto a = Open(redis.url());
  auto b = Open(redis.url());
  // B subscribes first (the first call reports "maybe changed" once it is subscribed).
  auto subscribed = b->WaitForNotification(std::chrono::milliseconds(100));
  ASSERT_TRUE(subscribed.ok()) << subscribed.status().ToString();
  auto quiet = b->WaitForNotification(std::chrono::milliseconds(50));
  ASSERT_TRUE(quiet.ok());
  EXPECT_FALSE(*quiet);

  auto written = a->CompareAndSet(0, Record("bundles/v1", "bundles/v2", 0.25));
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->generation, 1u);
  EXPECT_GT(written->updated_ms, 0);
  auto notified = b->WaitForNotification(std::chrono::milliseconds(2000));
  ASSERT_TRUE(notified.ok());
  EXPECT_TRUE(*notified);

  auto read = b->Read();
  ASSERT_TRUE(read.ok());
  ASSERT_TRUE(read->record.has_value());
  EXPECT_EQ(*read->record, *written);
  EXPECT_EQ(read->source, DesiredModelsSource::kRedis);
  // The file holds the same record.
  auto file_only = Open("")->Read();
  ASSERT_TRUE(file_only.ok());
  ASSERT_TRUE(file_only->record.has_value());
  EXPECT_EQ(*file_only->record, *written);
  EXPECT_EQ(file_only->source, DesiredModelsSource::kFile);
}

TEST_F(DesiredModelsTest, OfTwoWritersFromOneGenerationOnlyOneWins) {
  PrivateRedis redis;
  ASSERT_TRUE(redis.Start());
  auto a = Open(redis.url());
  auto b = Open(redis.url());
  ASSERT_TRUE(a->CompareAndSet(0, Record("v1")).ok());
  auto won = a->CompareAndSet(1, Record("v2"));
  ASSERT_TRUE(won.ok());
  auto lost = b->CompareAndSet(1, Record("v3"));
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(lost.status().message().find("retry"), std::string::npos);
  auto read = b->Read();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->record->primary, "v2");
  EXPECT_EQ(read->record->generation, 2u);
  // A writer that re-read wins.
  auto retried = b->CompareAndSet(read->record->generation, Record("v3"));
  ASSERT_TRUE(retried.ok());
  EXPECT_EQ(retried->generation, 3u);
}

TEST_F(DesiredModelsTest, RedisDownFallsBackToTheFileAndTheNewerFileIsPushedBack) {
  PrivateRedis redis;
  ASSERT_TRUE(redis.Start());
  auto store = Open(redis.url());
  ASSERT_TRUE(store->CompareAndSet(0, Record("v1")).ok());

  redis.Stop();
  auto read = store->Read();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->source, DesiredModelsSource::kFile);
  EXPECT_EQ(read->record->primary, "v1");
  // A change while Redis is down is decided by the file.
  auto during = store->CompareAndSet(1, Record("v2"));
  ASSERT_TRUE(during.ok()) << during.status().ToString();
  EXPECT_EQ(during->generation, 2u);
  EXPECT_EQ(store->CompareAndSet(1, Record("v9")).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(store->WaitForNotification(std::chrono::milliseconds(10)).ok());

  // Redis comes back empty (no persistence): the file's newer record is written to it.
  ASSERT_TRUE(redis.Start());
  read = store->Read();
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->source, DesiredModelsSource::kRedis);
  EXPECT_EQ(read->record->primary, "v2");
  auto client = RedisClient::Connect(redis.endpoint(), {});
  ASSERT_TRUE(client.ok());
  auto stored = (*client)->Command({"HGET", kDesiredModelsKey, "generation"});
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->text, "2");
  auto primary = (*client)->Command({"HGET", kDesiredModelsKey, "primary"});
  EXPECT_EQ(primary->text, "v2");
}

TEST_F(DesiredModelsTest, NewerRedisRecordRefreshesAStaleFile) {
  PrivateRedis redis;
  ASSERT_TRUE(redis.Start());
  auto store = Open(redis.url());
  ASSERT_TRUE(store->CompareAndSet(0, Record("v1")).ok());
  // Another replica with its own MODEL_DIR wrote generation 2 to Redis only.
  fs::path other = dir_ / "other";
  fs::create_directories(other);
  DesiredModelsStoreOptions options;
  options.file = other / kDesiredModelsFileName;
  options.redis_url = redis.url();
  auto elsewhere = DesiredModelsStore::Open(options);
  ASSERT_TRUE(elsewhere.ok());
  ASSERT_TRUE((*elsewhere)->CompareAndSet(1, Record("v2")).ok());
  ASSERT_TRUE(store->Read().ok());
  auto file_only = Open("")->Read();
  ASSERT_TRUE(file_only.ok());
  EXPECT_EQ(file_only->record->generation, 2u);
  EXPECT_EQ(file_only->record->primary, "v2");
}

TEST_F(DesiredModelsTest, FileOnlyAndCorruptFile) {
  auto store = Open("");
  EXPECT_FALSE(store->has_redis());
  EXPECT_EQ(store->WaitForNotification(std::chrono::milliseconds(1)).status().code(),
            StatusCode::kFailedPrecondition);
  auto written = store->CompareAndSet(0, Record("v1", "v2", 0.5));
  ASSERT_TRUE(written.ok());
  auto read = store->Read();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(*read->record, *written);
  EXPECT_EQ(read->record->shadow_rollout, 0.5);
  std::ofstream(dir_ / kDesiredModelsFileName) << "{not json";
  EXPECT_EQ(store->Read().status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(store->CompareAndSet(1, Record("v3")).status().code(), StatusCode::kUnavailable);
}

TEST_F(DesiredModelsTest, BadUrlIsRefused) {
  DesiredModelsStoreOptions options;
  options.file = dir_ / kDesiredModelsFileName;
  options.redis_url = "http://nope";
  EXPECT_EQ(DesiredModelsStore::Open(options).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recserve::store
