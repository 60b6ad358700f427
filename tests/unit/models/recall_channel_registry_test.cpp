#include "models/recall_channel_registry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "models/model_files.h"
#include "models/recommender.h"

namespace recserve::models {
namespace {

// An empty directory of its own under gtest's temporary directory.
std::filesystem::path FreshDir(const std::string& name) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) / ("registry_" + name);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// `users` users with 6..14 events each over `items` items, items of one user mostly from one of
// three bands, times spread over ten days: every channel has something to score.
InteractionMatrix BandedMatrix(uint32_t users, uint32_t items, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint32_t> us, is;
  std::vector<int64_t> ts;
  const uint32_t band = items / 3;
  for (uint32_t u = 0; u < users; ++u) {
    std::set<uint32_t> taken;
    const size_t events = 6 + rng() % 9;
    while (taken.size() < events) {
      const uint32_t item = rng() % 4 == 0 ? static_cast<uint32_t>(rng() % items)
                                           : (u % 3) * band + static_cast<uint32_t>(rng() % band);
      if (!taken.insert(item).second) continue;
      us.push_back(u);
      is.push_back(item);
      ts.push_back(2'000'000 + static_cast<int64_t>(rng() % (10 * 86400)));
    }
  }
  return InteractionMatrix::Build(users, items, us, is, ts);
}

ModelConfig SmallConfig() {
  ModelConfig config;
  config.ials.factors = 6;
  config.ials.iterations = 4;
  config.knn_neighbours = 20;
  config.ranker.trees = 10;
  config.candidates = 20;
  return config;
}

IdVocabulary Numbered(uint32_t n, const std::string& prefix) {
  IdVocabulary v;
  for (uint32_t i = 0; i < n; ++i) v.Intern(prefix + std::to_string(i));
  return v;
}

// Queries a known user, an unknown user with history, and an empty query would send.
std::vector<UserQuery> Queries(const InteractionMatrix& m) {
  std::vector<UserQuery> queries = {UserQuery::ForTrainingUser(m, 1),
                                    UserQuery::ForTrainingUser(m, 17), UserQuery{}};
  queries[1].user.reset();
  queries[2].now = 2'000'000 + 5 * 86400;
  return queries;
}

TEST(RecallChannelRegistryTest, RowsAreTheChannelNamesInOrderAndUnique) {
  const auto registry = RecallChannelRegistry();
  ASSERT_EQ(registry.size(), kRecallChannelNames.size());
  std::set<std::string_view> names;
  for (size_t i = 0; i < registry.size(); ++i) {
    EXPECT_EQ(registry[i].name, kRecallChannelNames[i]);
    EXPECT_TRUE(names.insert(registry[i].name).second) << registry[i].name;
    EXPECT_EQ(FindRecallChannel(registry[i].name), &registry[i]);
    EXPECT_NE(registry[i].train, nullptr);
    EXPECT_NE(registry[i].load, nullptr);
    EXPECT_NE(registry[i].tuning_grid, nullptr);
  }
  EXPECT_EQ(FindRecallChannel("rp3beta"), nullptr);  // evaluation-only, never in a bundle
  EXPECT_EQ(FindRecallChannel(""), nullptr);
}

// Every row: train, Save, load through the row, and the reloaded channel is the same channel —
// same name and item count, the same scores bit for bit, the same Top() and the same per-query
// Recall view.
TEST(RecallChannelRegistryTest, EveryChannelRoundTripsThroughSaveAndItsLoad) {
  const InteractionMatrix m = BandedMatrix(60, 30, 5);
  const ModelConfig config = SmallConfig();
  ChannelTrainingData data(m);
  const std::vector<UserQuery> queries = Queries(m);
  for (const RecallChannelEntry& entry : RecallChannelRegistry()) {
    SCOPED_TRACE(std::string(entry.name));
    auto trained = entry.train(data, config);
    ASSERT_TRUE(trained.ok()) << trained.status().ToString();
    ASSERT_NE(*trained, nullptr);
    const RecallChannel& original = **trained;
    EXPECT_EQ(original.name(), entry.name);
    EXPECT_EQ(original.num_items(), 30u);

    const auto dir = FreshDir(std::string(entry.name));
    std::vector<std::string> written;
    ASSERT_TRUE(original.Save(dir, written).ok());
    EXPECT_EQ(written, std::vector<std::string>{std::string(entry.name) + ".bin"});
    auto files = ModelFiles::ReadDirectory(dir);
    ASSERT_TRUE(files.ok()) << files.status().ToString();
    auto loaded = entry.load(*files);
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    const RecallChannel& reloaded = **loaded;
    EXPECT_EQ(reloaded.name(), original.name());
    EXPECT_EQ(reloaded.num_items(), original.num_items());
    EXPECT_EQ(reloaded.num_users(), original.num_users());

    std::vector<char> excluded(30, 0);
    excluded[3] = excluded[11] = 1;
    const std::vector<uint32_t> some = {0, 4, 9, 29};
    for (size_t q = 0; q < queries.size(); ++q) {
      std::vector<float> before(30), after(30);
      original.Score(queries[q], before);
      reloaded.Score(queries[q], after);
      EXPECT_EQ(before, after) << "query " << q;
      const auto top_before = original.Top(queries[q], 8, excluded);
      const auto top_after = reloaded.Top(queries[q], 8, excluded);
      ASSERT_EQ(top_before.size(), top_after.size()) << "query " << q;
      for (size_t k = 0; k < top_before.size(); ++k) {
        EXPECT_EQ(top_before[k].item, top_after[k].item) << "query " << q << " rank " << k;
        EXPECT_EQ(top_before[k].score, top_after[k].score) << "query " << q << " rank " << k;
      }
      std::vector<float> column_before(some.size()), column_after(some.size()), direct(some.size());
      original.StartQuery(queries[q], true)->ScoreItems(some, column_before);
      reloaded.StartQuery(queries[q], true)->ScoreItems(some, column_after);
      EXPECT_EQ(column_before, column_after) << "query " << q;
      // Recall's per-query view without an ANN index is the channel itself: the same Top() and
      // the same ScoreItems().
      original.ScoreItems(queries[q], some, direct);
      EXPECT_EQ(column_before, direct) << "query " << q;
      const auto viewed = reloaded.StartQuery(queries[q], false)->Top(8, excluded);
      ASSERT_EQ(viewed.size(), top_after.size()) << "query " << q;
      for (size_t k = 0; k < viewed.size(); ++k) {
        EXPECT_EQ(viewed[k].item, top_after[k].item) << "query " << q << " rank " << k;
        EXPECT_EQ(viewed[k].score, top_after[k].score) << "query " << q << " rank " << k;
      }
    }
    std::filesystem::remove_all(dir);
  }
}

// A bundle whose <name>.bin was trained on another catalogue is refused with the same
// FailedPrecondition for every channel, EASE included: its item count differs from the
// vocabulary in model_set.bin.
TEST(RecallChannelRegistryTest, EveryChannelOfAnotherCatalogueSizeIsRefusedAtLoad) {
  const InteractionMatrix m = BandedMatrix(60, 30, 8);
  const ModelConfig config = SmallConfig();
  auto model =
      RecommenderModel::TrainChannels(m, Numbered(60, "u"), Numbered(30, "i"), ItemSide{}, config);
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_EQ(model->channels().size(), RecallChannelRegistry().size());  // EASE included
  const auto dir = FreshDir("sizes");
  ASSERT_TRUE(model->Save(dir).ok());
  ASSERT_TRUE(RecommenderModel::Load(dir).ok());

  for (uint32_t other_items : {27u, 33u}) {
    const InteractionMatrix other = BandedMatrix(60, other_items, 9);  // same users
    ChannelTrainingData data(other);
    for (const RecallChannelEntry& entry : RecallChannelRegistry()) {
      SCOPED_TRACE(std::string(entry.name) + " with " + std::to_string(other_items) + " items");
      const std::string file = std::string(entry.name) + ".bin";
      auto original = ModelFiles::ReadDirectory(dir);
      ASSERT_TRUE(original.ok());
      const std::string original_bytes(original->Bytes(file).value());
      auto mismatched = entry.train(data, config);
      ASSERT_TRUE(mismatched.ok() && *mismatched);
      std::vector<std::string> written;
      ASSERT_TRUE((*mismatched)->Save(dir, written).ok());

      auto loaded = RecommenderModel::Load(dir);
      ASSERT_FALSE(loaded.ok());
      EXPECT_EQ(loaded.status().code(), StatusCode::kFailedPrecondition);
      EXPECT_EQ(loaded.status().message(), file + " covers " + std::to_string(other_items) +
                                               " items, the model_set.bin vocabulary has 30");

      std::vector<std::string> restored;
      auto channel = entry.load(*original);
      ASSERT_TRUE(channel.ok());
      ASSERT_TRUE((*channel)->Save(dir, restored).ok());
      auto back = ModelFiles::ReadDirectory(dir);
      ASSERT_TRUE(back.ok());
      EXPECT_EQ(back->Bytes(file).value(), original_bytes);  // the format round-trips exactly
      ASSERT_TRUE(RecommenderModel::Load(dir).ok());
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace recserve::models
