#include "pipeline/ingest.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace recserve::pipeline {
namespace {

namespace fs = std::filesystem;

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("recserve-ingest-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Write(const char* name, const std::string& text) { std::ofstream(dir_ / name) << text; }
  IngestOptions Options(bool with_items) {
    IngestOptions o;
    o.interactions_path = dir_ / "interactions.csv";
    if (with_items) o.items_path = dir_ / "items.csv";
    o.quarantine_dir = dir_ / "q";
    o.now = 1800000000;
    return o;
  }
  fs::path dir_;
};

TEST_F(IngestTest, AcceptsGoodRowsAndCountsEachRejectReason) {
  Write("items.csv", "item_id,title,tags\na,Alpha,x|y\nb,\"Beta, the\",\na,dup,\n");
  Write("interactions.csv",
        "user_id,item_id,timestamp,weight,event_type\n"
        "u1,a,1700000000,2,click\n"
        "u1,b,1700000100,,\n"
        "u1,a,1700000000,2,click\n"  // duplicate
        "u2,c,1700000000,1,view\n"   // unknown item
        "u2,a,1900000000,1,view\n"   // future
        "u2,a,1700000000,-1,view\n"  // negative weight
        "u2,a,1700000000,x,view\n"   // bad number
        "u2,a,soon,1,view\n"         // bad time
        "u2,a,1700000000\n");        // field count
  auto r = Ingest(Options(true));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->table.size(), 2u);
  EXPECT_EQ(r->table.users.size(), 1u);  // u2 only had rejected rows
  EXPECT_EQ(r->table.weight[1], 1.0f);
  EXPECT_EQ(r->interactions.input_rows, 9u);
  EXPECT_EQ(r->interactions.rejected_rows, 7u);
  using R = RejectReason;
  for (R reason : {R::kDuplicate, R::kUnknownItem, R::kFutureTimestamp, R::kNegativeWeight,
                   R::kBadNumber, R::kBadTimestamp, R::kBadFieldCount}) {
    EXPECT_EQ(r->interactions.rejected_by_reason[static_cast<size_t>(reason)], 1u)
        << RejectReasonName(reason);
  }
  ASSERT_TRUE(r->items.has_value());
  EXPECT_EQ(r->items->accepted_rows, 2u);
  EXPECT_EQ(r->items->duplicate_rows, 1u);
  EXPECT_EQ(r->catalog.title[1], "Beta, the");
  EXPECT_EQ(r->catalog.tags[0], (std::vector<std::string>{"x", "y"}));
  ASSERT_EQ(r->files.size(), 2u);
  EXPECT_EQ(r->files[0].rows, 9u);
  EXPECT_EQ(r->files[0].sha256.size(), 64u);

  std::ifstream q(r->rejected_path);
  std::string header, first;
  std::getline(q, header);
  std::getline(q, first);
  EXPECT_EQ(header, "file,line_number,reason,line");
  EXPECT_EQ(first, "items.csv,4,duplicate,\"a,dup,\"");
}

// The one id rule of every input (core/external_id.h): an id that POST /events would refuse is
// quarantined here too, never rewritten (bytes \xff\xfe used to reach serving as U+FFFD).
TEST_F(IngestTest, IdsBreakingTheIdRuleAreQuarantinedNotRewritten) {
  Write("items.csv", "item_id,title,tags\na,A,\nb\xff\xfe,B,\n" + std::string(257, 'i') + ",C,\n");
  Write("interactions.csv",
        "user_id,item_id,timestamp,weight\n"
        "u1,a,1700000000,1\n"
        "u\xc0\x80,a,1700000000,1\n"         // overlong encoding
        "u2,a\x7f,1700000000,1\n"            // DEL
        "u3\xe2\x82\xac,a,1700000000,1\n" +  // a valid euro sign: accepted
            std::string(257, 'u') +
            ",a,1700000000,1\n");
  auto r = Ingest(Options(true));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const size_t invalid = static_cast<size_t>(RejectReason::kInvalidId);
  EXPECT_EQ(r->items->rejected_by_reason[invalid], 2u);
  EXPECT_EQ(r->interactions.rejected_by_reason[invalid], 3u);
  EXPECT_EQ(r->table.size(), 2u);
  EXPECT_TRUE(r->table.users.Find("u3\xe2\x82\xac"));
  EXPECT_EQ(RejectReasonName(RejectReason::kInvalidId), "invalid_id");
}

TEST_F(IngestTest, ApiEventsShareValidationQuarantineAndDedupByEventId) {
  Write("interactions.csv",
        "user_id,item_id,timestamp,weight,event_type\n"
        "u1,a,1700000000,1,view\n");
  const std::string header = "user_id,item_id,timestamp,weight,event_type,event_id,decode_error\n";
  Write("events-1.csv", header +
                            "u2,new,1700000100,5,purchase,e1,\n"
                            "u3,new,1700000200,,like,e2,\n"
                            "u4,x,yesterday,1,view,e3,stream entry 1-0: event field ts: bad\n"
                            "u5,x,1700000300,1,view,\"bad\x01id\",\n");
  // A re-export: e1 again (same event id) is a duplicate; e4 is new. A second file may carry
  // fewer optional columns.
  Write("events-2.csv",
        header + "u2,new,1700000100,5,purchase,e1,\nu6,new,1700000400,2,click,e4,\n");
  Write("events-3.csv", "user_id,item_id,timestamp,weight\nu7,new,1700000500,1\n");
  auto options = Options(false);
  options.event_paths = {dir_ / "events-1.csv", dir_ / "events-2.csv", dir_ / "events-3.csv"};
  auto r = Ingest(options);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->interactions.input_rows, 1u);
  ASSERT_TRUE(r->api_events.has_value());
  const TableStats& ev = *r->api_events;
  EXPECT_EQ(ev.input_rows, 7u);
  EXPECT_EQ(ev.accepted_rows, 4u);  // e1, e2, e4, the id-less row of events-3
  EXPECT_EQ(ev.rejected_rows, 3u);
  using R = RejectReason;
  EXPECT_EQ(ev.rejected_by_reason[static_cast<size_t>(R::kMalformedEvent)], 1u);
  EXPECT_EQ(ev.rejected_by_reason[static_cast<size_t>(R::kInvalidId)], 1u);
  EXPECT_EQ(ev.rejected_by_reason[static_cast<size_t>(R::kDuplicate)], 1u);
  EXPECT_EQ(ev.columns.size(), 7u);
  EXPECT_EQ(r->table.size(), 5u);
  EXPECT_TRUE(r->table.items.Find("new").has_value());
  ASSERT_EQ(r->files.size(), 4u);
  EXPECT_EQ(r->files[0].role, "interactions");
  EXPECT_EQ(r->files[3].role, "api_events");
  std::ifstream q(r->rejected_path);
  std::string text((std::istreambuf_iterator<char>(q)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("events-1.csv,4,malformed_event,"), std::string::npos) << text;
  EXPECT_NE(text.find("events-2.csv,2,duplicate,"), std::string::npos) << text;
  EXPECT_EQ(RejectReasonName(R::kMalformedEvent), "malformed_event");
}

TEST_F(IngestTest, WithoutEventPathsThereIsNoApiEventsSection) {
  Write("interactions.csv", "user_id,item_id,timestamp,weight\nu1,a,1700000000,1\n");
  auto r = Ingest(Options(false));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->api_events.has_value());
}

TEST_F(IngestTest, WithoutItemsEveryItemIsKnown) {
  Write("interactions.csv", "user_id,item_id,timestamp,weight\nu,new,1,1\n");
  auto r = Ingest(Options(false));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->table.size(), 1u);
  EXPECT_FALSE(r->catalog.loaded);
  EXPECT_EQ(r->catalog.title.size(), 1u);  // aligned with items
}

TEST_F(IngestTest, WholeFileProblemsAreErrors) {
  Write("interactions.csv", "");
  EXPECT_EQ(Ingest(Options(false)).status().code(), StatusCode::kInvalidArgument);
  Write("interactions.csv", "user_id,item,timestamp,weight\n");
  auto r = Ingest(Options(false));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("wrong header"), std::string::npos);
  fs::remove(dir_ / "interactions.csv");
  EXPECT_EQ(Ingest(Options(false)).status().code(), StatusCode::kNotFound);
}

// Found by fuzz/ingest_file_fuzzer: a weight beyond float's range used to enter the table as inf.
TEST_F(IngestTest, WeightBeyondFloatRangeIsAnUnparsableNumber) {
  Write("interactions.csv", "user_id,item_id,timestamp,weight\nu1,i1,1,1e39\nu1,i2,1,3.4e38\n");
  auto r = Ingest(Options(false));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->interactions.accepted_rows, 1u);
  EXPECT_EQ(r->interactions.rejected_by_reason[static_cast<size_t>(RejectReason::kBadNumber)], 1u);
}

}  // namespace
}  // namespace recserve::pipeline
