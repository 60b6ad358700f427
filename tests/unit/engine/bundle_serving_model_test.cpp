// BundleServingModel over a real bundle: trained with TrainForServing on a small table, saved by
// the models room, published by the lifecycle room, loaded through MODEL_DIR/current.
#include "engine/bundle_serving_model.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>

#include "engine/recommender.h"
#include "lifecycle/bundle_publisher.h"
#include "pipeline/training.h"

namespace recserve::engine {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kBase = 1600000000;

// Four taste clusters of users over 40 items.
pipeline::InteractionTable ClusteredTable() {
  pipeline::InteractionTable t;
  std::mt19937_64 rng(7);
  for (int i = 0; i < 40; ++i) t.items.Intern("item" + std::to_string(i));
  for (int u = 0; u < 80; ++u) {
    uint32_t user = t.users.Intern("user" + std::to_string(u));
    for (int k = 0; k < 12; ++k) {
      uint32_t item = (u % 4) * 10 + static_cast<uint32_t>(rng() % 10);
      t.user.push_back(user);
      t.item.push_back(item);
      t.timestamp.push_back(kBase + k * 3600);
      t.weight.push_back(1.0f);
      t.event_type.push_back(0);
    }
  }
  return t;
}

// Serves a fixed history for every user, with fixed timestamps (so a test can build the same
// model query); NotFound for users it was not given.
class FixedHistoryStore final : public store::FeatureStore {
 public:
  std::map<std::string, std::vector<store::RecentInteraction>> recent;
  Result<store::UserFeatures> GetUser(std::string_view user_id) override {
    auto it = recent.find(std::string(user_id));
    if (it == recent.end()) return NotFound("no user");
    store::UserFeatures f;
    f.user_id = it->first;
    f.recent = it->second;
    return f;
  }
  Result<store::ItemFeatures> GetItem(std::string_view) override { return NotFound("no item"); }
  Result<std::vector<store::RankedItem>> GetPopular() override { return NotFound("none"); }
  Result<std::vector<store::RankedItem>> GetTrending() override { return NotFound("none"); }
  Result<store::SnapshotMetadata> GetMetadata() override { return NotFound("none"); }
  std::string_view backend() const override { return "fixed"; }
};

class BundleFixture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = fs::temp_directory_path() / ("recserve_bundle_test_" + std::to_string(getpid()));
    fs::remove_all(root_);
    pipeline::TrainingOptions options;
    options.fast = true;
    options.model.ials.factors = 8;
    options.model.ials.iterations = 3;
    options.model.ranker.trees = 20;
    options.model.candidates = 30;
    pipeline::ItemCatalog catalog;
    auto model = pipeline::TrainForServing(ClusteredTable(), catalog, options);
    ASSERT_TRUE(model.ok()) << model.status().message();
    ASSERT_TRUE(model->Save(root_ / "files").ok());
    lifecycle::BundleMetadata metadata;
    metadata.model_version = "v-test-1";
    metadata.created_at = "2026-11-29T06:00:00Z";
    auto published = lifecycle::PublishBundle(root_ / "files", metadata, root_ / "models");
    ASSERT_TRUE(published.ok()) << published.status().message();
    fs::create_directory_symlink("v-test-1", root_ / "models" / "current");
  }
  static void TearDownTestSuite() { fs::remove_all(root_); }

  static fs::path root_;
};
fs::path BundleFixture::root_;

TEST_F(BundleFixture, LoadsCurrentAndAnswersLikeTheModel) {
  auto bundle = LoadCurrentBundle(root_ / "models");
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  const BundleServingModel& serving = **bundle;
  EXPECT_EQ(serving.version(), "v-test-1");
  EXPECT_TRUE(serving.KnowsUser("user3"));
  EXPECT_FALSE(serving.KnowsUser("stranger"));

  FixedHistoryStore store;
  store.recent["user3"] = {{"item31", kBase + 7200}, {"item35", kBase + 3600}};
  observe::Registry registry;
  EngineMetrics metrics{registry};
  LiveState live;
  ModelSlot slot;
  Recommender recommender{
      {.live = live, .models = slot, .metrics = metrics, .feature_store = &store}};
  recommender.SetPrimaryModel(*bundle);

  auto answer = recommender.Recommend({"r", "/recommendations/{user_id}"}, "user3", 10);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->source, "personalized");
  EXPECT_EQ(answer->degraded_reason, "");
  EXPECT_EQ(answer->model_version, "v-test-1");

  // The same user and history straight through the models room.
  RecommendationQuery query;
  query.user_id = "user3";
  query.history = {{"item31", kBase + 7200}, {"item35", kBase + 3600}};
  auto expected = serving.model().Recommend(serving.ToModelQuery(query), 10);
  ASSERT_EQ(answer->items.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(answer->items[i].item_id, serving.model().items().Name(expected[i].item)) << i;
    EXPECT_NE(answer->items[i].item_id, "item31");
    EXPECT_NE(answer->items[i].item_id, "item35");
  }

  // An event for the top item removes it from the next answer (seen items are dropped).
  std::string top = answer->items[0].item_id;
  ASSERT_TRUE(
      recommender.IngestEvents({Event{"user3", top, "view", std::nullopt, ""}}, "", kBase).ok());
  auto after = recommender.Recommend({"r2", "/recommendations/{user_id}"}, "user3", 10);
  ASSERT_TRUE(after.ok());
  for (const auto& item : after->items) EXPECT_NE(item.item_id, top);

  // A user with no history anywhere gets popular items, not a degradation.
  auto cold = recommender.Recommend({"r3", "/recommendations/{user_id}"}, "stranger", 5);
  ASSERT_TRUE(cold.ok());
  EXPECT_EQ(cold->source, "popular");
  EXPECT_EQ(cold->degraded_reason, "");
  EXPECT_EQ(cold->items.size(), 5u);

  auto similar = recommender.Similar("item12", 5);
  ASSERT_TRUE(similar.ok());
  auto expected_similar = serving.model().Similar(*serving.model().items().Find("item12"), 5);
  ASSERT_EQ(similar->items.size(), expected_similar.size());
  ASSERT_FALSE(expected_similar.empty());
  EXPECT_EQ(similar->items[0].item_id, serving.model().items().Name(expected_similar[0].item));
  EXPECT_EQ(recommender.Similar("no-such-item", 5).status().code(), StatusCode::kNotFound);
}

TEST_F(BundleFixture, ExcludesEveryTrainingItemAndHonoursRecallOptions) {
  auto bundle = LoadCurrentBundle(root_ / "models");
  ASSERT_TRUE(bundle.ok()) << bundle.status().message();
  const BundleServingModel& serving = **bundle;
  const models::RecommenderModel& model = serving.model();
  uint32_t user = *model.users().Find("user3");
  std::span<const uint32_t> trained = model.SeenItems(user);
  ASSERT_FALSE(trained.empty());

  // Only one recent item is sent, yet nothing from the user's whole training row comes back.
  RecommendationQuery query;
  query.user_id = "user3";
  query.history = {{"item31", kBase + 7200}};
  auto recalled = serving.Recall(query);
  ASSERT_TRUE(recalled.ok());
  ASSERT_FALSE(recalled->items.empty());
  for (const auto& c : recalled->items) {
    uint32_t item = *model.items().Find(c.item_id);
    EXPECT_EQ(std::count(trained.begin(), trained.end(), item), 0) << c.item_id;
  }
  auto ranked = serving.Rank(query, *recalled);
  ASSERT_TRUE(ranked.ok()) << ranked.status().message();
  EXPECT_EQ(ranked->size(), recalled->items.size());  // the same candidates, reordered

  // Popularity alone, 5 candidates: the 5 most popular items the user has not seen, in order.
  query.recall.candidates = 5;
  for (std::string_view name : models::kRecallChannelNames) {
    if (name != models::kPopularityChannel) query.recall.channel_weights.emplace_back(name, 0.0);
  }
  auto popular_only = serving.Recall(query);
  ASSERT_TRUE(popular_only.ok());
  std::vector<std::string> expected;
  for (const auto& p : model.Popular(model.num_items())) {
    bool seen = std::count(trained.begin(), trained.end(), p.item) != 0 ||
                model.items().Name(p.item) == "item31";
    if (!seen && expected.size() < 5) expected.push_back(model.items().Name(p.item));
  }
  ASSERT_EQ(popular_only->items.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(popular_only->items[i].item_id, expected[i]) << i;
  }

  // Candidates recalled by another bundle object are refused, not misread.
  auto other = BundleServingModel::Load(root_ / "models" / "v-test-1");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)->Rank(query, *popular_only).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(BundleFixture, RefusesACorruptedBundle) {
  fs::path copy = root_ / "corrupt";
  fs::remove_all(copy);
  fs::copy(root_ / "models" / "v-test-1", copy, fs::copy_options::recursive);
  fs::path victim;
  for (const auto& entry : fs::directory_iterator(copy)) {
    if (entry.is_regular_file() && entry.path().filename() != "manifest.json") {
      victim = entry.path();
      break;
    }
  }
  ASSERT_FALSE(victim.empty());
  {
    std::ofstream out(victim, std::ios::binary | std::ios::app);
    out << "x";
  }
  auto bundle = BundleServingModel::Load(copy);
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(bundle.status().message().find(copy.string()), std::string::npos);
}

// The contract the engine relies on to recall once and rank those exact candidates: a bundle
// ranks only what it recalled itself, never another bundle's candidates (even of the same files).
TEST_F(BundleFixture, RankRefusesCandidatesRecalledByAnotherBundle) {
  auto a = LoadCurrentBundle(root_ / "models");
  auto b = LoadCurrentBundle(root_ / "models");
  ASSERT_TRUE(a.ok() && b.ok());
  RecommendationQuery query;
  query.user_id = "user3";
  query.k = 5;
  auto recalled = (*a)->Recall(query);
  ASSERT_TRUE(recalled.ok()) << recalled.status().message();
  ASSERT_FALSE(recalled->items.empty());
  auto ranked = (*a)->Rank(query, *recalled);
  ASSERT_TRUE(ranked.ok()) << ranked.status().message();
  EXPECT_EQ(ranked->size(), recalled->items.size());  // a reordering of the same candidates
  EXPECT_EQ((*b)->Rank(query, *recalled).status().code(), StatusCode::kInvalidArgument);
  RecalledCandidates stateless{recalled->items, nullptr};
  EXPECT_EQ((*a)->Rank(query, stateless).status().code(), StatusCode::kInvalidArgument);
}

// The load-time smoke test refuses answers no working model gives: nothing for a catalogue
// with other items, an index outside the catalogue, a score that is not a number, a list that is
// not best first.
TEST(SmokeTest, RefusesAnswersNoWorkingModelGives) {
  using Items = std::vector<models::ScoredItem>;
  EXPECT_TRUE(CheckSmokeAnswer(Items{{3, 0.9f}, {1, 0.5f}, {2, 0.5f}}, 40).ok());
  EXPECT_TRUE(CheckSmokeAnswer(Items{}, 1).ok());  // only the probe's own item exists
  EXPECT_EQ(CheckSmokeAnswer(Items{}, 40).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckSmokeAnswer(Items{{40, 0.9f}}, 40).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckSmokeAnswer(Items{{1, std::nanf("")}}, 40).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckSmokeAnswer(Items{{1, 0.1f}, {2, 0.9f}}, 40).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(CheckSmokeAnswer(Items(kSmokeProbeK + 1, {1, 0.5f}), 40).code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(BundleFixture, MissingCurrentIsNotFound) {
  auto bundle = LoadCurrentBundle(root_ / "nowhere");
  EXPECT_EQ(bundle.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace recserve::engine
