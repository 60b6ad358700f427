#include "pipeline/evaluation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/hashing.h"

namespace recserve::pipeline {
namespace {

std::filesystem::path WriteFile(const std::string& name, const std::string& text) {
  auto path = std::filesystem::temp_directory_path() /
              ("recserve_eval_" + std::to_string(::getpid()) + "_" + name);
  std::ofstream(path) << text;
  return path;
}

TEST(LoadPositivesTest, MinWeightDropsRowsAndDuplicatesKeepEarliest) {
  auto path = WriteFile("a.csv",
                        "user_id,item_id,timestamp,weight\n"
                        "1,10,100,5\n"
                        "1,10,50,4\n"   // duplicate pair, earlier: wins
                        "1,11,60,2\n"   // below min weight: dropped entirely
                        "2,10,70,\n");  // empty weight counts as 1: dropped at W=4
  auto set = LoadPositives(path, 4.0);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  ASSERT_EQ(set->rows.size(), 1u);
  EXPECT_EQ(set->rows[0].timestamp, 50);
  auto all = LoadPositives(path, std::nullopt);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->rows.size(), 3u);
  std::filesystem::remove(path);
}

TEST(LoadPositivesTest, MalformedRowNamesTheLine) {
  auto path = WriteFile("b.csv", "user_id,item_id,timestamp,weight\n1,10,100,5\n1,11,abc,5\n");
  auto set = LoadPositives(path, std::nullopt);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(set.status().message().find(":3:"), std::string::npos) << set.status().message();
  auto missing = LoadPositives("/nonexistent/interactions.csv", std::nullopt);
  EXPECT_FALSE(missing.ok());
  std::filesystem::remove(path);
}

PositiveSet MakeSet(const std::vector<std::tuple<std::string, std::string, int64_t>>& rows) {
  PositiveSet set;
  for (const auto& [u, i, t] : rows)
    set.rows.push_back({set.users.Intern(u), set.items.Intern(i), t});
  set.numeric_users = AllDigitIds(set.users.names());
  set.numeric_items = AllDigitIds(set.items.names());
  return set;
}

TEST(SplitTest, UserTemporalTakesLastByTimeThenNumericItemId) {
  // User 1: five positives; floor(0.2·5 + 0.5) = 1 test row. Items 9 and 10 tie at t=5; numeric
  // order puts 10 last, so 10 is the test item (string order would pick 9).
  PositiveSet set = MakeSet({{"1", "10", 5},
                             {"1", "9", 5},
                             {"1", "3", 1},
                             {"1", "4", 2},
                             {"1", "5", 3},
                             {"2", "3", 1},
                             {"2", "4", 2}});
  auto split = SplitPositives(set, set.rows, SplitKind::kUserTemporal, 0.2);
  ASSERT_TRUE(split.ok());
  ASSERT_EQ(split->test.size(), 1u);  // user 2: floor(0.4 + 0.5) = 0 test rows
  EXPECT_EQ(set.items.Name(split->test[0].item), "10");
  EXPECT_EQ(split->train.size(), 6u);
}

TEST(SplitTest, TemporalCutsAtTheGlobalPosition) {
  // 10 positives at t=0..9: t_cut = time at position floor(0.8·10) = 8; test = t >= 8.
  std::vector<std::tuple<std::string, std::string, int64_t>> rows;
  for (int t = 0; t < 10; ++t) rows.emplace_back(std::to_string(t % 3), std::to_string(t), t);
  PositiveSet set = MakeSet(rows);
  auto split = SplitPositives(set, set.rows, SplitKind::kTemporal, 0.2);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->test.size(), 2u);
  for (const Positive& p : split->test) EXPECT_GE(p.timestamp, 8);
  for (const Positive& p : split->train) EXPECT_LT(p.timestamp, 8);
}

TEST(SplitTest, RandomHashOrdersByFnvOfSeededPair) {
  PositiveSet set =
      MakeSet({{"u", "a", 0}, {"u", "b", 0}, {"u", "c", 0}, {"u", "d", 0}, {"u", "e", 0}});
  set.all_timestamps = false;
  auto split = SplitPositives(set, set.rows, SplitKind::kRandomHash, 0.2);
  ASSERT_TRUE(split.ok());
  ASSERT_EQ(split->test.size(), 1u);
  std::string smallest;
  uint64_t best = UINT64_MAX;
  for (std::string item : {"a", "b", "c", "d", "e"}) {
    uint64_t h = Fnv1a64("42:u:" + item);
    if (h < best) best = h, smallest = item;
  }
  EXPECT_EQ(set.items.Name(split->test[0].item), smallest);
  // Time-based splits refuse rows without timestamps.
  EXPECT_EQ(SplitPositives(set, set.rows, SplitKind::kTemporal, 0.2).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST(FoldTest, FiltersUnknownUsersItemsAndTrainPairs) {
  PositiveSet set = MakeSet({{"1", "1", 0}, {"1", "2", 0}, {"2", "1", 0}});
  std::vector<Positive> train = set.rows;
  std::vector<Positive> test = {
      {set.users.Intern("1"), set.items.Intern("2"), 1},  // pair in train: dropped
      {set.users.Intern("2"), set.items.Intern("2"), 1},  // kept
      {set.users.Intern("3"), set.items.Intern("1"), 1},  // unknown user: dropped
      {set.users.Intern("1"), set.items.Intern("9"), 1},  // unknown item: dropped
  };
  IndexSpace space = SortedIndexSpace(set, train);
  Fold fold = BuildFold(set, space, train, test);
  ASSERT_EQ(fold.users.size(), 1u);
  EXPECT_EQ(space.users.Name(fold.users[0]), "2");
  EXPECT_EQ(fold.targets[0], std::vector<uint32_t>{*space.items.Find("2")});
  EXPECT_EQ(fold.catalogue, 2u);
  EXPECT_EQ(fold.target_pairs, 1u);
}

TEST(MetricsTest, HandComputedValues) {
  // User A: targets {1, 2}; hit at ranks 1 and 3. User B: target {7}; no hit.
  std::vector<std::vector<uint32_t>> ranked = {{1, 5, 2, 6, 8, 9, 10, 11, 12, 13},
                                               {3, 4, 5, 6, 8, 9, 10, 11, 12, 13}};
  std::vector<std::vector<uint32_t>> targets = {{1, 2}, {7}};
  Metrics m = ComputeMetrics(ranked, targets, 20);
  const double dcg = 1.0 + 1.0 / std::log2(4.0);
  const double idcg = 1.0 + 1.0 / std::log2(3.0);
  EXPECT_NEAR(m.recall10, (1.0 + 0.0) / 2, 1e-12);
  EXPECT_NEAR(m.recall20, 0.5, 1e-12);
  EXPECT_NEAR(m.ndcg10, (dcg / idcg) / 2, 1e-12);
  EXPECT_NEAR(m.hitrate10, 0.5, 1e-12);
  // Distinct items in top-10 lists: {1,5,2,6,8,9,10,11,12,13,3,4} = 12 of 20.
  EXPECT_NEAR(m.coverage10, 12.0 / 20.0, 1e-12);
}

TEST(MetricsTest, HitBeyondTenCountsOnlyAtTwenty) {
  std::vector<uint32_t> list;
  for (uint32_t i = 100; i < 120; ++i) list.push_back(i);
  list[14] = 7;  // rank 15
  Metrics m = ComputeMetrics({list}, {{7}}, 50);
  EXPECT_EQ(m.recall10, 0.0);
  EXPECT_EQ(m.recall20, 1.0);
  EXPECT_NEAR(m.ndcg20, 1.0 / std::log2(16.0), 1e-12);
}

TEST(MetricsTest, SubsetOfUsersIsScoredAlone) {
  // Users "1" and "2" each have one held-out item; a ranking that finds only user 1's item
  // scores 1 on {user 1}, 0 on {user 2} and 1/2 on both.
  PositiveSet set = MakeSet({{"1", "1", 0}, {"1", "2", 0}, {"2", "1", 0}, {"2", "3", 0}});
  std::vector<Positive> train = set.rows;
  std::vector<Positive> test = {{set.users.Intern("1"), set.items.Intern("3"), 1},
                                {set.users.Intern("2"), set.items.Intern("2"), 1}};
  IndexSpace space = SortedIndexSpace(set, train);
  Fold fold = BuildFold(set, space, train, test);
  ASSERT_EQ(fold.users.size(), 2u);
  const uint32_t item3 = *space.items.Find("3");
  RankingFunction always_item3 = [&](const models::UserQuery&, const std::vector<char>& mask) {
    return mask[item3] ? std::vector<uint32_t>{} : std::vector<uint32_t>{item3};
  };
  EXPECT_EQ(EvaluateFoldUsers(fold, {0}, always_item3, 1).recall10, 1.0);
  EXPECT_EQ(EvaluateFoldUsers(fold, {1}, always_item3, 1).recall10, 0.0);
  EXPECT_EQ(EvaluateFoldUsers(fold, {0, 1}, always_item3, 2).recall10, 0.5);
  EXPECT_EQ(EvaluateFold(fold, always_item3, 2).recall10, 0.5);
}

TEST(ItemSideTest, TagsAlignWithVocabulary) {
  auto path = WriteFile("items.csv", "item_id,title,tags\n1,A,x|y\n2,\"B, the\",y\n3,C,\n");
  IdVocabulary items;
  items.Intern("2");
  items.Intern("1");
  auto side = LoadItemSide(path, items);
  ASSERT_TRUE(side.ok());
  EXPECT_EQ(side->tags[0].size(), 1u);  // item "2": y
  EXPECT_EQ(side->tags[1].size(), 2u);  // item "1": x, y
  EXPECT_EQ(side->tag_names.size(), 2u);
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace recserve::pipeline
