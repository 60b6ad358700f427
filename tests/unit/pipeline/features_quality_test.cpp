#include <gtest/gtest.h>

#include <cmath>

#include "pipeline/data_quality.h"
#include "pipeline/features.h"

namespace recserve::pipeline {
namespace {

InteractionTable Table() {
  InteractionTable t;
  const uint32_t none = t.event_types.Intern("");
  const uint32_t click = t.event_types.Intern("click");
  auto add = [&](const char* u, const char* i, int64_t ts, float w, uint32_t e) {
    t.user.push_back(t.users.Intern(u));
    t.item.push_back(t.items.Intern(i));
    t.timestamp.push_back(ts);
    t.weight.push_back(w);
    t.event_type.push_back(e);
  };
  const int64_t ref = 1'000'000;
  add("u1", "a", ref - 7 * 86400, 1, none);  // one half-life old
  add("u1", "b", ref - 1800, 1, click);      // within the last hour
  add("u2", "b", ref, 2, click);             // reference time
  add("u2", "c", ref - 2 * 86400, 1, none);
  return t;
}

TEST(BuildFeatures, UserAndItemFeatures) {
  InteractionTable t = Table();
  ItemCatalog catalog;
  catalog.title = {"A", "B", "C"};
  catalog.tags = {{"x"}, {}, {}};
  catalog.created_at = {0, 1'000'000 - 100, 0};
  FeatureOptions o;
  o.version = "v";
  o.history_length = 1;
  o.half_life_days = 7;
  auto s = BuildFeatures(t, catalog, o);
  EXPECT_EQ(s.metadata.reference_time, 1'000'000);
  ASSERT_EQ(s.users.size(), 2u);
  const auto& u1 = s.users[0];
  EXPECT_EQ(u1.interaction_count, 2u);
  ASSERT_EQ(u1.recent.size(), 1u);
  EXPECT_EQ(u1.recent[0].item_id, "b");
  EXPECT_EQ(u1.first_seen, 1'000'000 - 7 * 86400);
  EXPECT_EQ(u1.last_seen, 1'000'000 - 1800);
  EXPECT_EQ(u1.event_counts,
            (std::vector<std::pair<std::string, uint64_t>>{{"unspecified", 1}, {"click", 1}}));
  const auto& a = s.items[0];
  EXPECT_NEAR(a.decayed_popularity, 0.5, 1e-9);
  EXPECT_EQ(a.age_seconds, 7 * 86400);  // no created_at: first interaction
  EXPECT_EQ(a.tags, std::vector<std::string>{"x"});
  const auto& b = s.items[1];
  EXPECT_EQ(b.popularity, 2u);
  EXPECT_EQ(b.trending_1h, 2u);
  EXPECT_EQ(b.trending_24h, 2u);
  EXPECT_EQ(b.age_seconds, 100);
  ASSERT_EQ(s.popular.size(), 3u);
  EXPECT_EQ(s.popular[0].item_id, "b");
  ASSERT_EQ(s.trending.size(), 1u);  // only b has events in the last 24h
  EXPECT_EQ(s.trending[0].item_id, "b");
}

TEST(DataQuality, GiniAndPsi) {
  EXPECT_DOUBLE_EQ(Gini({1, 1, 1, 1}), 0);
  EXPECT_NEAR(Gini({0, 0, 0, 10}), 0.75, 1e-12);
  EXPECT_DOUBLE_EQ(PopulationStabilityIndex({1, 2, 3}, {2, 4, 6}), 0);
  const double psi = PopulationStabilityIndex({50, 50}, {90, 10});
  EXPECT_NEAR(psi, 0.4 * std::log(0.9 / 0.5) + (-0.4) * std::log(0.1 / 0.5), 1e-12);
}

TEST(DataQuality, ScoreFollowsChecksAndPromIsRendered) {
  IngestResult in;
  in.table = Table();
  in.interactions.columns = {"user_id", "item_id", "timestamp", "weight"};
  in.interactions.empty_by_column = {0, 0, 0, 0};
  in.interactions.input_rows = 10;
  in.interactions.well_formed_rows = 10;
  in.interactions.accepted_rows = 4;
  in.interactions.rejected_rows = 6;
  QualityOptions o{"r", 1'000'000, 0.05, "q/rejected.csv"};
  auto report = BuildQualityReport(in, o, std::nullopt);
  EXPECT_EQ(report.json["schema_version"], 2);
  EXPECT_EQ(report.status, "fail");  // 60% rejected
  EXPECT_EQ(report.json["checks"][0]["status"], "fail");
  EXPECT_GT(report.score, 0);
  EXPECT_LT(report.score, 100);
  EXPECT_FALSE(report.json["alerts"].empty());
  std::string prom = RenderQualityMetrics(report, 42);
  EXPECT_NE(prom.find("data_quality_check_status{check=\"rejected_ratio\"} 2"), std::string::npos);
  EXPECT_NE(prom.find("data_pipeline_last_success_timestamp_seconds 42"), std::string::npos);

  // Same data against itself: drift is measured and zero.
  auto again = BuildQualityReport(in, o, report.json);
  EXPECT_EQ(again.json["drift"]["psi_item_popularity"], 0.0);
}

}  // namespace
}  // namespace recserve::pipeline
