#include "datagen/generator.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/hashing.h"
#include "core/text_input.h"

namespace recserve::datagen {
namespace {

namespace fs = std::filesystem;

class GeneratorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/recserve-datagen-unit-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  DatagenOptions Small(const std::string& name) const {
    DatagenOptions o;
    o.output_dir = dir_ / name;
    o.users = 200;
    o.items = 100;
    o.interactions = 3000;
    o.seed = 11;
    return o;
  }

  fs::path dir_;
};

TEST_F(GeneratorTest, WritesExactlyTheAskedRowsAndReportsThem) {
  DatagenOptions o = Small("a");
  o.bad_row_fraction = 0.1;
  Result<DatagenReport> r = GenerateDataset(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows_written, 3000u);
  uint64_t by_kind = 0;
  for (uint64_t n : r->bad_rows_by_kind) {
    EXPECT_GT(n, 0u);
    by_kind += n;
  }
  EXPECT_EQ(by_kind, r->bad_rows);
  EXPECT_NEAR(static_cast<double>(r->bad_rows) / 3000.0, 0.1, 0.03);

  LineReader reader;
  ASSERT_TRUE(reader.Open(r->interactions_path).ok());
  std::string line;
  uint64_t lines = 0;
  while (reader.Next(line)) ++lines;
  EXPECT_TRUE(reader.status().ok());
  EXPECT_EQ(lines, 3001u);  // header + rows
  EXPECT_FALSE(fs::exists(r->interactions_path.string() + ".partial"));
}

TEST_F(GeneratorTest, DeterministicForTheSameOptions) {
  Result<DatagenReport> a = GenerateDataset(Small("a"));
  Result<DatagenReport> b = GenerateDataset(Small("b"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*Sha256File(a->interactions_path), *Sha256File(b->interactions_path));
  EXPECT_EQ(*Sha256File(a->items_path), *Sha256File(b->items_path));
}

TEST_F(GeneratorTest, ProgressIsReportedPerMillionRowsOnly) {
  int calls = 0;
  Result<DatagenReport> r = GenerateDataset(Small("a"), [&](uint64_t) { ++calls; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(calls, 0);
}

TEST_F(GeneratorTest, TinyWorldsStillFinish) {
  DatagenOptions o = Small("tiny");
  o.users = 1;
  o.items = 1;
  o.days = 1;
  o.interactions = 50;
  Result<DatagenReport> r = GenerateDataset(o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->rows_written, 50u);

  o.interactions = 0;
  o.output_dir = dir_ / "empty";
  r = GenerateDataset(o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->rows_written, 0u);
}

TEST_F(GeneratorTest, OneUserOneItemLongPeriodFinishesForManySeeds) {
  for (uint64_t seed = 0; seed < 50; ++seed) {
    DatagenOptions o = Small("one-" + std::to_string(seed));
    o.users = 1;
    o.items = 1;
    o.days = 30;
    o.interactions = 200;
    o.seed = seed;
    Result<DatagenReport> r = GenerateDataset(o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->rows_written, 200u);
  }
}

TEST_F(GeneratorTest, FailedRunLeavesNoFiles) {
  DatagenOptions o = Small("blocked");
  fs::create_directories(o.output_dir / "interactions.csv.partial");  // cannot be opened as a file
  Result<DatagenReport> r = GenerateDataset(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("interactions.csv.partial"), std::string::npos);
  EXPECT_FALSE(fs::exists(o.output_dir / "items.csv"));
  EXPECT_FALSE(fs::exists(o.output_dir / "items.csv.partial"));
  EXPECT_FALSE(fs::exists(o.output_dir / "interactions.csv"));
}

TEST_F(GeneratorTest, RejectsBadOptionsAndUnwritableDirectories) {
  DatagenOptions o = Small("x");
  o.bad_row_fraction = 0.9;
  EXPECT_EQ(GenerateDataset(o).status().code(), StatusCode::kInvalidArgument);
  o = Small("x");
  o.users = 0;
  EXPECT_EQ(GenerateDataset(o).status().code(), StatusCode::kInvalidArgument);
  o = Small("x");
  o.output_dir = "";
  EXPECT_EQ(GenerateDataset(o).status().code(), StatusCode::kInvalidArgument);

  std::ofstream(dir_ / "a-file") << "x";
  o = Small("x");
  o.output_dir = dir_ / "a-file" / "sub";
  Result<DatagenReport> r = GenerateDataset(o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("a-file"), std::string::npos);
}

TEST(BadRowKindName, NamesAreStableAndDistinct) {
  EXPECT_EQ(BadRowKindName(BadRowKind::kMissingFields), "missing_fields");
  EXPECT_EQ(BadRowKindName(BadRowKind::kNonNumericTimestamp), "non_numeric_timestamp");
  EXPECT_EQ(BadRowKindName(BadRowKind::kNegativeWeight), "negative_weight");
  EXPECT_EQ(BadRowKindName(BadRowKind::kUnknownItem), "unknown_item");
  EXPECT_EQ(BadRowKindName(BadRowKind::kDuplicateRow), "duplicate_row");
  EXPECT_EQ(BadRowKindName(BadRowKind::kFutureTimestamp), "future_timestamp");
}

}  // namespace
}  // namespace recserve::datagen
