// Against the suite's real redis-server (REDIS_TEST_URL, set by scripts/run-tests.sh). The
// feature keys have a fixed prefix, so the sync test works in a db index of its own (9..14) and
// flushes it, leaving db 0 of the shared server to everyone else.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "store/redis_feature_store.h"
#include "test_snapshot.h"

namespace recserve::store {
namespace {

namespace fs = std::filesystem;

class RedisFeatureStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* url = std::getenv("REDIS_TEST_URL");
    if (url == nullptr || *url == '\0')
      GTEST_SKIP() << "REDIS_TEST_URL not set (make test sets it)";
    auto endpoint = RedisEndpoint::Parse(url);
    ASSERT_TRUE(endpoint.ok());
    endpoint_ = *endpoint;
    endpoint_.db = 9 + static_cast<int>(::getpid() % 6);  // apart from db 0 and other runs
    dir_ = fs::temp_directory_path() / ("recserve-redis-fs-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  RedisEndpoint endpoint_;
  fs::path dir_;
};

TEST_F(RedisFeatureStoreTest, SyncThenReadEveryRecordAndSwitchVersions) {
  auto sqlite = SqliteFeatureStore::Open(dir_ / "fs.db");
  ASSERT_TRUE(sqlite.ok());
  auto writer = RedisClient::Connect(endpoint_, {});
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE((*writer)->Command({"FLUSHDB"}).ok());
  auto reader_client = RedisClient::Connect(endpoint_, {});
  ASSERT_TRUE(reader_client.ok());
  RedisFeatureStore reader(std::move(*reader_client), std::chrono::milliseconds(0));
  EXPECT_EQ(reader.GetUser("u1").status().code(), StatusCode::kFailedPrecondition);

  ASSERT_TRUE((*sqlite)->Publish(TestSnapshot("v1", 1000)).ok());
  auto report = SyncSnapshotToRedis(**sqlite, **writer, {});
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->records, 1000u + 1 + 2);
  EXPECT_EQ(reader.GetMetadata()->version, "v1");
  for (int u = 0; u < 1000; ++u) {
    auto user = reader.GetUser(std::string(1, 'u').append(std::to_string(u)));
    ASSERT_TRUE(user.ok()) << u << " " << user.status().ToString();
    EXPECT_EQ(user->interaction_count, static_cast<uint64_t>(u));
  }
  EXPECT_EQ(reader.GetUser("nobody").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(reader.GetItem("i")->title, "Item \"one\"");
  EXPECT_EQ(reader.GetPopular()->at(0).score, 1);
  EXPECT_TRUE(reader.GetTrending()->empty());

  ASSERT_TRUE((*sqlite)->Publish(TestSnapshot("v2", 10)).ok());
  report = SyncSnapshotToRedis(**sqlite, **writer, {});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->previous_version, "v1");
  EXPECT_EQ(reader.GetMetadata()->version, "v2");
  EXPECT_EQ(reader.GetUser("u500").status().code(), StatusCode::kNotFound);
  auto ttl = (*writer)->Command({"TTL", "recserve:features:v:v1:meta"});
  ASSERT_TRUE(ttl.ok());
  EXPECT_GT(ttl->integer, 0);
  EXPECT_LE(ttl->integer, 600);
  ASSERT_TRUE((*writer)->Command({"FLUSHDB"}).ok());
}

TEST_F(RedisFeatureStoreTest, PipelinedErrorsAreReportedAndConnectionStaysInStep) {
  auto client = RedisClient::Connect(endpoint_, {});
  ASSERT_TRUE(client.ok());
  const std::string k = "pipeline-test:" + std::to_string(::getpid());
  const std::string k2 = k + ":2";
  (*client)->Append({"SET", k, "1", "EX", "60"});
  (*client)->Append({"HSET", k, "f", "v"});  // WRONGTYPE
  (*client)->Append({"SET", k2, "2", "EX", "60"});
  Status st = (*client)->ReadPipelined();
  EXPECT_EQ(st.code(), StatusCode::kInternal);
  EXPECT_NE(st.message().find("WRONGTYPE"), std::string::npos);
  auto value = (*client)->Command({"GET", k2});
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(value->text, "2");
}

}  // namespace
}  // namespace recserve::store
