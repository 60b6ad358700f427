#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "store/redis_client.h"
#include "store/sqlite_feature_store.h"
#include "test_snapshot.h"

namespace recserve::store {
namespace {

namespace fs = std::filesystem;

TEST(FeatureTypes, RoundTripAndCorruptBytes) {
  auto s = TestSnapshot("v", 1);
  auto u = DecodeUser(EncodeUser(s.users[0]));
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->user_id, "u0");
  EXPECT_EQ(u->recent[0].timestamp, 5);
  auto i = DecodeItem(EncodeItem(s.items[0]));
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->title, "Item \"one\"");
  EXPECT_EQ(i->decayed_popularity, 0.25);
  EXPECT_EQ(DecodeUser("{not json").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(DecodeItem("{}").status().code(), StatusCode::kDataLoss);
}

// The hand-written encoder must escape everything data can hold (quotes, backslashes, control
// characters, event types as object keys) and never emit bytes a decoder rejects.
TEST(FeatureTypes, EncoderEscapesDataAndRepairsInvalidUtf8) {
  UserFeatures user;
  user.user_id = "a\"b\\c\n\x01d";
  user.recent = {{"caf\xc3\xa9", -7}, {"x,y", 9}};
  user.event_counts = {{"cl\"ick", 3}, {"", 1}};
  user.interaction_count = 18446744073709551615ULL;
  user.first_seen = -1;
  user.last_seen = 1735689600;
  auto u = DecodeUser(EncodeUser(user));
  ASSERT_TRUE(u.ok()) << u.status().ToString();
  EXPECT_EQ(u->user_id, user.user_id);
  EXPECT_EQ(u->recent[0].item_id, "caf\xc3\xa9");
  EXPECT_EQ(u->recent[0].timestamp, -7);
  EXPECT_EQ(u->recent[1].item_id, "x,y");
  EXPECT_EQ(u->interaction_count, user.interaction_count);
  EXPECT_EQ(u->first_seen, -1);
  ASSERT_EQ(u->event_counts.size(), 2u);

  ItemFeatures item;
  item.item_id = "i\xff\xc3";  // invalid UTF-8: a stray byte and a truncated sequence
  item.title = "\xed\xa0\x80 surrogate";
  item.tags = {"t|1", "\t"};
  item.decayed_popularity = 0.1 + 0.2;
  auto i = DecodeItem(EncodeItem(item));
  ASSERT_TRUE(i.ok()) << i.status().ToString();
  EXPECT_EQ(i->item_id, "i\xef\xbf\xbd\xef\xbf\xbd");
  EXPECT_EQ(i->title, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd surrogate");
  EXPECT_EQ(i->tags, item.tags);
  EXPECT_EQ(i->decayed_popularity, 0.1 + 0.2);  // shortest form still round-trips exactly

  auto list = DecodeRankedList(EncodeRankedList({{"a", 1.5}, {"b\"", 1e-300}}));
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[1].item_id, "b\"");
  EXPECT_EQ((*list)[1].score, 1e-300);
  EXPECT_EQ(EncodeRankedList({}), "[]");
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("recserve-fs-" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(SqliteStoreTest, MissSemanticsAndSwitch) {
  auto store = SqliteFeatureStore::Open(dir_ / "fs.db");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto& s = **store;
  EXPECT_EQ(s.GetUser("u0").status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(s.GetMetadata().status().code(), StatusCode::kFailedPrecondition);

  ASSERT_TRUE(s.Publish(TestSnapshot("v1", 2)).ok());
  EXPECT_EQ(s.GetMetadata()->version, "v1");
  EXPECT_TRUE(s.GetUser("u1").ok());
  EXPECT_EQ(s.GetUser("nobody").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(s.GetItem("i")->tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.GetPopular()->size(), 1u);
  EXPECT_TRUE(s.GetTrending()->empty());

  ASSERT_TRUE(s.Publish(TestSnapshot("v2", 1)).ok());
  EXPECT_EQ(s.GetMetadata()->version, "v2");
  EXPECT_EQ(s.GetUser("u1").status().code(), StatusCode::kNotFound);  // not in v2
  EXPECT_EQ(s.Publish(TestSnapshot("v1", 3)).code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.GetMetadata()->version, "v2");  // a failed publish changes nothing

  int users = 0;
  auto exported = s.ExportCurrent([&](RecordKind kind, std::string_view, std::string_view) {
    users += kind == RecordKind::kUser;
    return Status::Ok();
  });
  ASSERT_TRUE(exported.ok());
  EXPECT_EQ(exported->version, "v2");
  EXPECT_EQ(users, 1);
}

TEST_F(SqliteStoreTest, NotADatabaseIsUnavailable) {
  { std::ofstream(dir_ / "junk.db") << std::string(8192, 'x'); }
  auto store = SqliteFeatureStore::Open(dir_ / "junk.db");
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
}

TEST(RedisEndpoint, Parse) {
  auto e = RedisEndpoint::Parse("redis://:secret@10.0.0.1:6380/2");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "10.0.0.1");
  EXPECT_EQ(e->port, 6380);
  EXPECT_EQ(e->db, 2);
  EXPECT_EQ(e->password, "secret");
  EXPECT_EQ(RedisEndpoint::Parse("redis://localhost")->port, 6379);
  for (const char* bad :
       {"http://x", "redis://", "redis://h:0", "redis://h:99999", "redis://h/x"}) {
    EXPECT_EQ(RedisEndpoint::Parse(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST(RedisClient, ConnectFailureIsUnavailable) {
  RedisEndpoint e;
  e.port = 1;  // nothing listens on port 1 on loopback
  auto c = RedisClient::Connect(e, {});
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.status().message().find("Redis connection failed"), std::string::npos);
}

}  // namespace
}  // namespace recserve::store
