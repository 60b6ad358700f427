#include "pipeline/training.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace recserve::pipeline {
namespace {

// Four taste clusters of users over 40 items, events spread over time.
InteractionTable ClusteredTable() {
  InteractionTable t;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 40; ++i) t.items.Intern("item" + std::to_string(i));
  for (int u = 0; u < 120; ++u) {
    uint32_t user = t.users.Intern("user" + std::to_string(u));
    for (int k = 0; k < 15; ++k) {
      uint32_t item = (u % 4) * 10 + static_cast<uint32_t>(rng() % 10);
      if (rng() % 5 == 0) item = static_cast<uint32_t>(rng() % 40);
      t.user.push_back(user);
      t.item.push_back(item);
      t.timestamp.push_back(1600000000 + k * 3600 + static_cast<int64_t>(rng() % 600));
      t.weight.push_back(1.0f);
      t.event_type.push_back(0);
    }
  }
  return t;
}

TrainingOptions SmallOptions() {
  TrainingOptions o;
  o.fast = true;
  o.model.ials.factors = 8;
  o.model.ials.iterations = 4;
  o.model.ranker.trees = 30;
  o.model.candidates = 30;
  o.threads = 1;
  return o;
}

TEST(TrainForServingTest, TrainsEveryPartDeterministically) {
  InteractionTable table = ClusteredTable();
  ItemCatalog catalog;
  TuningReport report;
  auto a = TrainForServing(table, catalog, SmallOptions(), &report);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_TRUE(a->has_ranker());
  EXPECT_NE(a->ann(), nullptr);
  EXPECT_GT(report.ranker_groups, 0u);
  EXPECT_FALSE(report.params.empty());
  auto b = TrainForServing(table, catalog, SmallOptions());
  ASSERT_TRUE(b.ok());
  for (uint32_t u = 0; u < 20; ++u) {
    auto user = a->users().Find("user" + std::to_string(u));
    ASSERT_TRUE(user.has_value());
    models::UserQuery q;
    q.user = *user;
    auto ra = a->Recommend(q, 10);
    auto rb = b->Recommend(q, 10);
    ASSERT_EQ(ra.size(), rb.size());
    for (size_t k = 0; k < ra.size(); ++k) {
      EXPECT_EQ(ra[k].item, rb[k].item);
      EXPECT_EQ(ra[k].score, rb[k].score);
    }
  }
  // A user's recommendations lean to their own cluster (the models learned something): the
  // cluster items user0 has not seen yet come first. Seen items are never recommended, so the
  // bar is the number of unseen cluster items (capped at 3).
  auto user0 = a->users().Find("user0");
  models::UserQuery q;
  q.user = *user0;
  auto top = a->Recommend(q, 5);
  ASSERT_FALSE(top.empty());
  auto seen = a->SeenItems(*user0);
  int unseen_in_cluster = 0;
  for (int i = 0; i < 10; ++i) {
    uint32_t item = *a->items().Find("item" + std::to_string(i));
    unseen_in_cluster += std::count(seen.begin(), seen.end(), item) == 0;
  }
  int in_cluster = 0;
  for (const auto& s : top) {
    EXPECT_EQ(std::count(seen.begin(), seen.end(), s.item), 0);
    int index = std::stoi(a->items().Name(s.item).substr(4));
    in_cluster += index < 10;
  }
  ASSERT_GT(unseen_in_cluster, 0);
  EXPECT_GE(in_cluster, std::min(unseen_in_cluster, 3));
}

TEST(SplitValidationUsersTest, DisjointSeededAndBounded) {
  std::vector<uint32_t> users;
  for (uint32_t u = 0; u < 1000; ++u) users.push_back(u * 3);
  ValidationUserSplit a = SplitValidationUsers(users, 50, 300, 42);
  EXPECT_EQ(a.holdout.size(), 50u);
  EXPECT_EQ(a.ranker.size(), 300u);
  EXPECT_TRUE(std::is_sorted(a.holdout.begin(), a.holdout.end()));
  EXPECT_TRUE(std::is_sorted(a.ranker.begin(), a.ranker.end()));
  for (size_t h : a.holdout) {
    EXPECT_FALSE(std::binary_search(a.ranker.begin(), a.ranker.end(), h));
  }
  // Same seed, same split; another seed, another sample.
  EXPECT_EQ(SplitValidationUsers(users, 50, 300, 42).ranker, a.ranker);
  EXPECT_NE(SplitValidationUsers(users, 50, 300, 7).ranker, a.ranker);
  // The hold-out never takes more than a fifth; 0 ranker users means all the rest.
  ValidationUserSplit b = SplitValidationUsers(users, 5000, 0, 42);
  EXPECT_EQ(b.holdout.size(), 200u);
  EXPECT_EQ(b.ranker.size(), 800u);
  ValidationUserSplit c = SplitValidationUsers(users, 0, 0, 42);
  EXPECT_TRUE(c.holdout.empty());
  EXPECT_EQ(c.ranker.size(), 1000u);
}

TEST(TrainForServingTest, HoldoutUsersGetEveryModelsMetrics) {
  InteractionTable table = ClusteredTable();
  ItemCatalog catalog;
  TrainingOptions options = SmallOptions();
  options.holdout_users = 10;
  options.ranker_max_users = 60;
  TuningReport report;
  auto model = TrainForServing(table, catalog, options, &report);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(report.holdout_users, 10u);
  EXPECT_EQ(report.ranker_users_sampled, 60u);
  ASSERT_FALSE(report.holdout.empty());
  EXPECT_EQ(report.holdout.front().first, "popularity");
  EXPECT_EQ(report.holdout.back().first, "final");
  // On clustered tastes the final list finds held-out items where popularity alone does worse.
  EXPECT_GT(report.holdout.back().second.recall20, report.holdout.front().second.recall20);
}

TEST(TrainForServingTest, EmptyTableIsAnError) {
  InteractionTable table;
  ItemCatalog catalog;
  EXPECT_EQ(TrainForServing(table, catalog, SmallOptions()).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recserve::pipeline
