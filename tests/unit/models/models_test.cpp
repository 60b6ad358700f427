#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <thread>

#include "models/binary_io.h"
#include "models/ease_channel.h"
#include "models/recommender.h"
#include "models/top_k.h"

namespace recserve::models {
namespace {

std::filesystem::path TempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() /
             ("recserve_models_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Users 0..2 over items 0..3: item 0 is the most popular.
InteractionMatrix SmallMatrix() {
  return InteractionMatrix::Build(3, 4, {0, 0, 1, 1, 2, 2, 0}, {0, 1, 0, 2, 0, 1, 3},
                                  {10, 20, 30, 40, 50, 60, 5});
}

// A power-law-ish random matrix: clustered users so collaborative channels have signal.
InteractionMatrix RandomMatrix(uint32_t users, uint32_t items, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint32_t> us, is;
  std::vector<int64_t> ts;
  for (uint32_t u = 0; u < users; ++u) {
    uint32_t cluster = u % 4;
    std::vector<char> taken(items, 0);
    for (int k = 0; k < 12; ++k) {
      uint32_t item = (rng() % 3 == 0)
                          ? static_cast<uint32_t>(rng() % items)
                          : cluster * (items / 4) + static_cast<uint32_t>(rng() % (items / 4));
      if (taken[item]) continue;
      taken[item] = 1;
      us.push_back(u);
      is.push_back(item);
      ts.push_back(1000000 + static_cast<int64_t>(rng() % 100000));
    }
  }
  return InteractionMatrix::Build(users, items, us, is, ts);
}

IdVocabulary NumberedVocabulary(uint32_t n, const std::string& prefix) {
  IdVocabulary v;
  for (uint32_t i = 0; i < n; ++i) v.Intern(prefix + std::to_string(i));
  return v;
}

TEST(InteractionMatrixTest, RowsAreOrderedByTime) {
  InteractionMatrix m = SmallMatrix();
  auto row = m.RowItems(0);
  ASSERT_EQ(row.size(), 3u);
  EXPECT_EQ(row[0], 3u);  // timestamp 5
  EXPECT_EQ(row[1], 0u);
  EXPECT_EQ(row[2], 1u);
  ItemTimeline t = ItemTimeline::Build(m);
  EXPECT_EQ(t.Count(0), 3u);
  EXPECT_EQ(t.CountIn(0, 10, 50), 2u);  // 30 and 50; 10 is outside (from, to]
  EXPECT_EQ(*t.First(0), 10);
  EXPECT_EQ(t.UpTo(0, 45).back(), 30);
  EXPECT_TRUE(t.UpTo(0, 5).empty());
}

// CountAfter gallops back from the end of the prefix; it must equal a plain count for every
// boundary position, including none, all, and runs of equal times.
TEST(InteractionMatrixTest, CountAfterEqualsAPlainCount) {
  std::mt19937_64 rng(9);
  for (int trial = 0; trial < 300; ++trial) {
    std::vector<int64_t> times(rng() % 70);
    for (auto& t : times) t = static_cast<int64_t>(rng() % 40);
    std::sort(times.begin(), times.end());
    for (int64_t from = -1; from <= 41; ++from) {
      const auto expected = static_cast<uint64_t>(
          std::count_if(times.begin(), times.end(), [&](int64_t t) { return t > from; }));
      ASSERT_EQ(ItemTimeline::CountAfter(times, from), expected)
          << "trial " << trial << " from " << from;
    }
  }
}

TEST(BinaryIoTest, RoundTripAndTruncation) {
  auto dir = TempDir("io");
  BinaryWriter w("TESTFILE", 3);
  w.U32(7);
  w.I64(-5);
  w.F32Array({1.5f, -2.0f});
  w.StringArray({"a", "bc"});
  ASSERT_TRUE(w.WriteTo(dir / "f.bin").ok());
  BinaryReader r;
  ASSERT_TRUE(r.Open(dir / "f.bin", "TESTFILE", 3).ok());
  EXPECT_EQ(r.U32(), 7u);
  EXPECT_EQ(r.I64(), -5);
  EXPECT_EQ(r.F32Array(), (std::vector<float>{1.5f, -2.0f}));
  EXPECT_EQ(r.StringArray(), (std::vector<std::string>{"a", "bc"}));
  EXPECT_TRUE(r.Finish().ok());

  BinaryReader wrong_version;
  EXPECT_EQ(wrong_version.Open(dir / "f.bin", "TESTFILE", 4).code(), StatusCode::kDataLoss);
  // Truncate: the array length then points past the end.
  std::filesystem::resize_file(dir / "f.bin", 30);
  BinaryReader truncated;
  ASSERT_TRUE(truncated.Open(dir / "f.bin", "TESTFILE", 3).ok());
  truncated.U32();
  truncated.I64();
  truncated.F32Array();
  truncated.StringArray();
  EXPECT_EQ(truncated.Finish().code(), StatusCode::kDataLoss);
  std::filesystem::remove_all(dir);
}

TEST(ChannelsTest, PopularityCountsAndItemKnnCosine) {
  InteractionMatrix m = SmallMatrix();
  PopularityChannel pop = PopularityChannel::Train(m);
  EXPECT_EQ(pop.counts(), (std::vector<float>{3, 2, 1, 1}));
  // Item 0 users {0,1,2}, item 1 users {0,2}: cosine 2 / sqrt(3·2), no shrink.
  auto nb = std::make_shared<const ItemNeighbours>(ItemNeighbours::Build(m, 10, 0.0f, 2));
  ItemKnnChannel knn("item_knn", nb, 0);
  UserQuery q;
  q.items = {1};
  q.timestamps = {0};
  std::vector<float> scores(4);
  knn.Score(q, scores);
  EXPECT_NEAR(scores[0], 2.0 / std::sqrt(6.0), 1e-6);
  EXPECT_NEAR(scores[3], 1.0 / std::sqrt(2.0), 1e-6);  // item 3 only by user 0
  EXPECT_EQ(scores[2], 0.0f);
  // Shrinkage lowers every similarity.
  auto shrunk = ItemNeighbours::Build(m, 10, 5.0f, 1);
  EXPECT_LT(shrunk.similarity[0], nb->similarity[0]);
  // Top-N keeps at most N neighbours.
  EXPECT_LE(ItemNeighbours::Build(m, 1, 0.0f, 1).offsets[1], 1u);
}

TEST(ChannelsTest, RecentKnnReadsOnlyTheLastItems) {
  InteractionMatrix m = SmallMatrix();
  auto nb = std::make_shared<const ItemNeighbours>(ItemNeighbours::Build(m, 10, 0.0f, 1));
  ItemKnnChannel recent("recent_knn", nb, 1);
  UserQuery q;
  q.items = {3, 2};  // item 2 is the most recent; item 3's neighbours must not count
  q.timestamps = {1, 2};
  std::vector<float> scores(4);
  recent.Score(q, scores);
  EXPECT_EQ(scores[1], 0.0f);  // item 1 co-occurs with 3 (user 0), not with 2
  EXPECT_GT(scores[0], 0.0f);
}

TEST(ChannelsTest, IalsIsDeterministicAcrossThreadCounts) {
  InteractionMatrix m = RandomMatrix(60, 40, 7);
  IalsParams p;
  p.factors = 8;
  p.iterations = 3;
  p.threads = 1;
  IalsChannel one = IalsChannel::Train(m, p);
  p.threads = 2;
  IalsChannel two = IalsChannel::Train(m, p);
  EXPECT_EQ(one.item_factors(), two.item_factors());
  // Observed items of a user score above the average item.
  UserQuery q = UserQuery::ForTrainingUser(m, 0);
  std::vector<float> scores(40);
  one.Score(q, scores);
  double seen = 0, all = 0;
  for (uint32_t i : q.items) seen += scores[i];
  for (float s : scores) all += s;
  EXPECT_GT(seen / q.items.size(), all / 40);
}

// An unknown user is folded in with the same exact solve training makes, so a user whose trained
// row and fold-in read the same history and the same (converged) item factors gets the same vector
// back: nearly parallel (cosine > 0.999), of nearly the same length (within 5%), and with the same
// best unseen item.
TEST(ChannelsTest, IalsFoldInOfATrainingHistoryIsCloseToTheTrainedVector) {
  InteractionMatrix m = RandomMatrix(60, 40, 7);
  IalsParams p;
  p.factors = 8;
  p.iterations = 30;
  p.cg_steps = 0;  // exact solves: the trained rows are what a fold-in computes at convergence
  IalsChannel channel = IalsChannel::Train(m, p);
  int checked = 0;
  for (uint32_t u = 0; u < 60; u += 7) {
    UserQuery known = UserQuery::ForTrainingUser(m, u);
    ASSERT_TRUE(known.user.has_value());
    UserQuery fresh = known;
    fresh.user.reset();
    const std::vector<float> trained = channel.UserVector(known);
    const std::vector<float> folded = channel.UserVector(fresh);
    ASSERT_EQ(folded.size(), trained.size());
    double dot = 0, trained_norm = 0, folded_norm = 0;
    for (size_t f = 0; f < trained.size(); ++f) {
      dot += double{trained[f]} * folded[f];
      trained_norm += double{trained[f]} * trained[f];
      folded_norm += double{folded[f]} * folded[f];
    }
    ASSERT_GT(trained_norm, 0.0) << "user " << u;
    ASSERT_GT(folded_norm, 0.0) << "user " << u;
    EXPECT_GT(dot / std::sqrt(trained_norm * folded_norm), 0.999) << "user " << u;
    EXPECT_NEAR(std::sqrt(folded_norm / trained_norm), 1.0, 0.05) << "user " << u;
    std::vector<char> seen(40, 0);
    for (uint32_t i : known.items) seen[i] = 1;
    std::vector<float> known_scores(40), fresh_scores(40);
    channel.Score(known, known_scores);
    channel.Score(fresh, fresh_scores);
    EXPECT_EQ(TopK(fresh_scores, 1, seen)[0].item, TopK(known_scores, 1, seen)[0].item)
        << "user " << u;
    ++checked;
  }
  EXPECT_EQ(checked, 9);
  // An empty history folds in to the zero vector (no signal), not to someone's row.
  UserQuery empty;
  for (float v : channel.UserVector(empty)) EXPECT_EQ(v, 0.0f);
}

TEST(ChannelsTest, EaseRefusesLargeCatalogues) {
  InteractionMatrix m = SmallMatrix();
  EXPECT_EQ(EaseChannel::Train(m, 10.0f, 3).status().code(), StatusCode::kFailedPrecondition);
  auto ease = EaseChannel::Train(m, 1.0f, 100);
  ASSERT_TRUE(ease.ok());
  UserQuery q;
  q.items = {1};
  q.timestamps = {0};
  std::vector<float> scores(4);
  ease->Score(q, scores);
  EXPECT_EQ(scores[1], 0.0f);  // zero diagonal: an item never recommends itself
  EXPECT_GT(scores[0], scores[2]);
}

TEST(AnnIndexTest, MatchesExactSearchOnSmallIndex) {
  std::mt19937_64 rng(3);
  std::normal_distribution<float> normal;
  const uint32_t n = 200, dim = 8;
  std::vector<float> vectors(n * dim);
  for (float& v : vectors) v = normal(rng);
  auto index = ItemAnnIndex::Build(vectors, n, dim, AnnParams{});
  ASSERT_TRUE(index.ok());
  std::vector<float> query(dim, 0.5f);
  std::vector<char> excluded(n, 0);
  excluded[0] = 1;
  auto found = (*index)->Search(query, 5, excluded);
  ASSERT_EQ(found.size(), 5u);
  std::vector<float> exact(n);
  for (uint32_t i = 0; i < n; ++i) {
    exact[i] = 0;
    for (uint32_t f = 0; f < dim; ++f) exact[i] += vectors[i * dim + f] * query[f];
  }
  auto top = TopK(exact, 5, excluded);
  for (size_t k = 0; k < 5; ++k) EXPECT_EQ(found[k].first, top[k].item);
}

// Trains channels and a ranker on synthetic clustered data.
RecommenderModel TrainSmallModel() {
  InteractionMatrix m = RandomMatrix(80, 48, 11);
  ModelConfig config;
  config.ials.factors = 8;
  config.ials.iterations = 3;
  config.ranker.trees = 20;
  config.candidates = 30;
  ItemSide side;
  side.tag_names = {"a", "b"};
  side.tags.resize(48);
  for (uint32_t i = 0; i < 48; ++i) side.tags[i] = {i % 2};
  auto model = RecommenderModel::TrainChannels(m, NumberedVocabulary(80, "u"),
                                               NumberedVocabulary(48, "i"), side, config);
  EXPECT_TRUE(model.ok());
  RankingExamples ex;
  ex.num_features = model->FeatureNames().size();
  for (uint32_t u = 0; u < 80; ++u) {
    UserQuery q = UserQuery::ForTrainingUser(m, u);
    CandidateSet c = model->Recall(q, RecallParams{30, true});
    auto f = model->Features(q, c);
    ex.features.insert(ex.features.end(), f.begin(), f.end());
    for (uint32_t item : c.items) ex.labels.push_back(item / 12 == u % 4 ? 1.0f : 0.0f);
    ex.group_sizes.push_back(static_cast<unsigned>(c.items.size()));
  }
  auto ranker = Ranker::Train(ex, config.ranker);
  EXPECT_TRUE(ranker.ok()) << ranker.status().ToString();
  model->SetRanker(std::move(ranker).value());
  return std::move(model).value();
}

TEST(TopKTest, EqualsTheFullSortPrefixWithTiesAndExclusions) {
  std::mt19937_64 rng(3);
  for (size_t n : {0u, 1u, 7u, 500u}) {
    std::vector<float> scores(n);
    // Few distinct values so ties are common; ties must break by item index.
    for (float& s : scores) s = static_cast<float>(rng() % 5);
    std::vector<char> excluded(n / 2);
    for (char& e : excluded) e = rng() % 3 == 0;
    std::vector<ScoredItem> reference;
    for (uint32_t i = 0; i < n; ++i) {
      if (i < excluded.size() && excluded[i]) continue;
      reference.push_back({i, scores[i]});
    }
    std::sort(reference.begin(), reference.end(), [](const ScoredItem& a, const ScoredItem& b) {
      return a.score != b.score ? a.score > b.score : a.item < b.item;
    });
    for (size_t k : {0u, 1u, 10u, 1000u}) {
      auto top = TopK(scores, k, excluded);
      ASSERT_EQ(top.size(), std::min(k, reference.size())) << "n=" << n << " k=" << k;
      for (size_t r = 0; r < top.size(); ++r) {
        EXPECT_EQ(top[r].item, reference[r].item) << "n=" << n << " k=" << k << " rank " << r;
        EXPECT_EQ(top[r].score, reference[r].score);
      }
    }
  }
}

TEST(RankerTest, ConcurrentPredictionsMatchSequentialOnes) {
  std::mt19937_64 rng(5);
  RankingExamples ex;
  ex.num_features = 4;
  for (int g = 0; g < 40; ++g) {
    for (int r = 0; r < 10; ++r) {
      float relevant = static_cast<float>(rng() % 2);
      ex.features.push_back(relevant + static_cast<float>(rng() % 100) / 100.0f);
      for (size_t f = 1; f < ex.num_features; ++f) {
        ex.features.push_back(static_cast<float>(rng() % 100) / 100.0f);
      }
      ex.labels.push_back(relevant);
    }
    ex.group_sizes.push_back(10);
  }
  RankerParams params;
  params.trees = 20;
  auto ranker = Ranker::Train(ex, params);
  ASSERT_TRUE(ranker.ok()) << ranker.status().ToString();
  // Eight inputs of different sizes (incl. a NaN = missing feature), scored sequentially first.
  std::vector<std::vector<float>> inputs;
  std::vector<std::vector<float>> expected;
  for (size_t rows = 1; rows <= 8; ++rows) {
    std::vector<float> input(ex.features.begin(), ex.features.begin() + rows * ex.num_features);
    if (rows == 8) input[2] = NAN;
    auto scores = (*ranker)->Predict(input, rows);
    ASSERT_TRUE(scores.ok()) << scores.status().ToString();
    ASSERT_EQ(scores->size(), rows);
    inputs.push_back(std::move(input));
    expected.push_back(std::move(scores).value());
  }
  // The model separates relevant from irrelevant rows, so the scores are not a constant.
  EXPECT_NE(expected[7][0], expected[7][1]);
  EXPECT_FALSE((*ranker)->Predict(inputs[0], 2).ok());
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        size_t k = static_cast<size_t>(round + t) % inputs.size();
        auto scores = (*ranker)->Predict(inputs[k], k + 1);
        if (!scores.ok() || *scores != expected[k]) ++mismatches[t];
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < 4; ++t) EXPECT_EQ(mismatches[t], 0) << "thread " << t;
}

// Random ranking examples with `features` columns, some missing (NaN), and a signal in column 0.
RankingExamples RandomRankingExamples(size_t features, uint64_t seed) {
  std::mt19937_64 rng(seed);
  RankingExamples ex;
  ex.num_features = features;
  for (int g = 0; g < 60; ++g) {
    for (int r = 0; r < 12; ++r) {
      float relevant = static_cast<float>(rng() % 2);
      ex.features.push_back(relevant + static_cast<float>(rng() % 100) / 100.0f);
      for (size_t f = 1; f < features; ++f) {
        ex.features.push_back(rng() % 9 == 0 ? NAN : static_cast<float>(rng() % 1000) / 37.0f);
      }
      ex.labels.push_back(relevant);
    }
    ex.group_sizes.push_back(12);
  }
  return ex;
}

// The compiled trees must score exactly what XGBoost scores: for both ranking objectives and
// depths from stumps to deep trees, on the training rows, on rows placed on every threshold (and
// one float below it), with missing values, and for row counts that are not multiples of the
// compiled walk's block.
TEST(CompiledForestTest, ScoresEqualXgboostBitForBit) {
  for (const char* objective : {"rank:pairwise", "rank:ndcg"}) {
    for (uint32_t depth : {1u, 3u, 6u, 9u}) {
      RankerParams params;
      params.objective = objective;
      params.depth = depth;
      params.trees = 40;
      const RankingExamples ex = RandomRankingExamples(7, depth);
      auto ranker = Ranker::Train(ex, params);
      ASSERT_TRUE(ranker.ok()) << ranker.status().ToString();
      ASSERT_TRUE((*ranker)->compiled()) << (*ranker)->prediction_note();
      for (size_t rows : {size_t{1}, size_t{7}, size_t{8}, size_t{9}, ex.rows()}) {
        std::vector<float> input(ex.features.begin(), ex.features.begin() + rows * 7);
        auto compiled = (*ranker)->Predict(input, rows);
        auto reference = (*ranker)->PredictWithXgboost(input, rows);
        ASSERT_TRUE(compiled.ok() && reference.ok());
        EXPECT_EQ(*compiled, *reference) << objective << " depth " << depth << " rows " << rows;
      }
      auto forest = CompiledForest::Compile(
          [&] {
            // The same JSON the ranker compiled from, via a saved bundle file.
            auto dir = TempDir("forest");
            std::vector<std::string> files;
            EXPECT_TRUE((*ranker)->Save(dir, files).ok());
            std::ifstream in(dir / "ranker.json");
            return std::string(std::istreambuf_iterator<char>(in), {});
          }(),
          7);
      ASSERT_TRUE(forest.ok()) << forest.status().ToString();
      const std::vector<float> boundary = forest->BoundaryRows(301, depth + 100);
      EXPECT_GT(
          std::count_if(boundary.begin(), boundary.end(), [](float v) { return std::isnan(v); }),
          0);
      auto compiled = (*ranker)->Predict(boundary, 301);
      auto reference = (*ranker)->PredictWithXgboost(boundary, 301);
      ASSERT_TRUE(compiled.ok() && reference.ok());
      EXPECT_EQ(*compiled, *reference) << objective << " depth " << depth << " boundary rows";
      // Not a constant model: the comparison above compares something.
      EXPECT_NE(*std::min_element(reference->begin(), reference->end()),
                *std::max_element(reference->begin(), reference->end()));
    }
  }
}

TEST(CompiledForestTest, RefusesWhatItCannotReproduce) {
  EXPECT_EQ(CompiledForest::Compile("{not json", 3).status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(CompiledForest::Compile("{}", 3).status().code(), StatusCode::kDataLoss);
  const std::string logistic = R"({"learner": {"objective": {"name": "binary:logistic"},
      "learner_model_param": {"base_score": "5E-1"}, "gradient_booster": {"name": "gbtree",
      "model": {"gbtree_model_param": {"num_parallel_tree": "1"}, "trees": []}}}})";
  EXPECT_EQ(CompiledForest::Compile(logistic, 3).status().code(), StatusCode::kFailedPrecondition);
  // A split on a feature the rows do not have, and a child pointing back at its parent.
  auto with_tree = [](const std::string& tree) {
    return R"({"learner": {"objective": {"name": "rank:pairwise"},
      "learner_model_param": {"base_score": "5E-1"}, "gradient_booster": {"name": "gbtree",
      "model": {"gbtree_model_param": {"num_parallel_tree": "1"}, "trees": [)" +
           tree + "]}}}}";
  };
  const std::string wide = R"({"left_children": [1, -1, -1], "right_children": [2, -1, -1],
      "split_indices": [5, 0, 0], "split_conditions": [0.5, 1, 2], "default_left": [1, 0, 0]})";
  EXPECT_EQ(CompiledForest::Compile(with_tree(wide), 3).status().code(), StatusCode::kDataLoss);
  const std::string cycle = R"({"left_children": [1, 0, -1], "right_children": [2, 0, -1],
      "split_indices": [0, 0, 0], "split_conditions": [0.5, 1, 2], "default_left": [1, 0, 0]})";
  EXPECT_EQ(CompiledForest::Compile(with_tree(cycle), 3).status().code(), StatusCode::kDataLoss);
  // The well-formed stump: value < 0.5 → 1, else 2, missing → left; plus base_score 0.5.
  const std::string stump = R"({"left_children": [1, -1, -1], "right_children": [2, -1, -1],
      "split_indices": [2, 0, 0], "split_conditions": [0.5, 1, 2], "default_left": [1, 0, 0]})";
  auto forest = CompiledForest::Compile(with_tree(stump), 3);
  ASSERT_TRUE(forest.ok()) << forest.status().ToString();
  std::vector<float> rows = {0, 0, 0.25f, 0, 0, 0.5f, 0, 0, NAN};
  std::vector<float> out(3);
  forest->Predict(rows, out);
  EXPECT_EQ(out, (std::vector<float>{1.5f, 2.5f, 1.5f}));
}

TEST(RecommenderModelTest, RecallExcludesHistoryAndRankFillsScores) {
  RecommenderModel model = TrainSmallModel();
  UserQuery q;
  q.items = {0, 1, 2};
  q.timestamps = {1000000, 1000001, 1000002};  // a brand-new user with events
  CandidateSet c = model.Recall(q, RecallParams{30, true});
  ASSERT_FALSE(c.items.empty());
  for (uint32_t item : c.items) EXPECT_GT(item, 2u);
  EXPECT_EQ(c.channel_scores.size(), c.items.size() * c.num_channels);
  ASSERT_TRUE(model.Rank(q, c).ok());
  EXPECT_TRUE(c.ranked);
  EXPECT_EQ(c.scores.size(), c.items.size());
  EXPECT_EQ(model.Similar(0, 3).size(), 3u);
  EXPECT_TRUE(model.Similar(999, 3).empty());
  auto popular = model.Popular(5);
  ASSERT_EQ(popular.size(), 5u);
  EXPECT_GE(popular[0].score, popular[4].score);
}

// The sparse serving path of every channel against the dense reference: Top() equals TopK over
// Score() (kNN channels: restricted to non-zero scores), and ScoreItems() equals
// Score() bit for bit, for random histories with random exclusions and reference times.
TEST(RecommenderModelTest, SparseTopAndScoreItemsMatchDenseScoring) {
  RecommenderModel model = TrainSmallModel();
  const uint32_t n = model.num_items();
  std::mt19937_64 rng(3);
  int checked_channels = 0;
  for (int trial = 0; trial < 40; ++trial) {
    UserQuery q;
    size_t history = rng() % 8;  // includes empty histories
    for (size_t h = 0; h < history; ++h) {
      q.items.push_back(static_cast<uint32_t>(rng() % n));
      q.timestamps.push_back(1000000 + static_cast<int64_t>(rng() % 100000));
    }
    std::vector<char> excluded(n, 0);
    for (uint32_t i = 0; i < n; ++i) excluded[i] = rng() % 5 == 0;
    size_t count = 1 + rng() % 20;
    for (const auto& channel : model.channels()) {
      std::vector<float> dense(n, 0.0f);
      channel->Score(q, dense);
      bool neighbour_based =
          channel->name() == kItemKnnChannel || channel->name() == kRecentKnnChannel;
      std::vector<char> reference_mask = excluded;
      if (neighbour_based) {
        for (uint32_t i = 0; i < n; ++i) reference_mask[i] |= dense[i] == 0.0f;
      }
      auto expected = TopK(dense, count, reference_mask);
      auto sparse = channel->Top(q, count, excluded);
      ASSERT_EQ(sparse.size(), expected.size()) << channel->name() << " trial " << trial;
      for (size_t k = 0; k < expected.size(); ++k) {
        EXPECT_EQ(sparse[k].item, expected[k].item) << channel->name() << " rank " << k;
        EXPECT_EQ(sparse[k].score, expected[k].score) << channel->name() << " rank " << k;
      }
      std::vector<uint32_t> items;
      for (uint32_t i = 0; i < n; i += 3) items.push_back(i);
      std::vector<float> some(items.size(), -1.0f);
      channel->ScoreItems(q, items, some);
      for (size_t k = 0; k < items.size(); ++k) {
        if (channel->name() == kIalsChannel) {
          EXPECT_NEAR(some[k], dense[items[k]], 1e-4f) << channel->name();
        } else {
          EXPECT_EQ(some[k], dense[items[k]]) << channel->name() << " item " << items[k];
        }
      }
      ++checked_channels;
    }
  }
  EXPECT_EQ(checked_channels, 40 * static_cast<int>(model.channels().size()));
}

// Trending's branch and bound orders items by their peak window count: with bursty items, a
// window much shorter than the data's span and reference times all over (and before and after)
// it, Top() must still equal the dense selection exactly.
TEST(ChannelsTest, TrendingTopMatchesDenseSelectionForBurstyItemsAndAnyReferenceTime) {
  constexpr uint32_t kUsers = 400, kItems = 150;
  constexpr int64_t kDay = 86400, kStart = 1'600'000'000;
  std::mt19937_64 rng(11);
  std::vector<uint32_t> us, is;
  std::vector<int64_t> ts;
  for (uint32_t item = 0; item < kItems; ++item) {
    // Each item has a burst somewhere in 100 days plus a thin background.
    const int64_t burst = kStart + static_cast<int64_t>(rng() % 100) * kDay;
    const uint32_t burst_events = static_cast<uint32_t>(rng() % 40);
    const uint32_t background = static_cast<uint32_t>(rng() % 25);
    for (uint32_t e = 0; e < burst_events + background; ++e) {
      us.push_back(static_cast<uint32_t>(rng() % kUsers));
      is.push_back(item);
      ts.push_back(e < burst_events ? burst + static_cast<int64_t>(rng() % (2 * kDay))
                                    : kStart + static_cast<int64_t>(rng() % (100 * kDay)));
    }
  }
  const auto m = InteractionMatrix::Build(kUsers, kItems, us, is, ts);
  const auto channel = TrendingChannel::Train(m, 2 * kDay);
  for (int trial = 0; trial < 200; ++trial) {
    UserQuery q;
    q.now = kStart - 5 * kDay + static_cast<int64_t>(rng() % (110 * kDay));
    std::vector<char> excluded(kItems, 0);
    for (uint32_t i = 0; i < kItems; ++i) excluded[i] = rng() % 7 == 0;
    const size_t count = 1 + rng() % 30;
    std::vector<float> dense(kItems);
    channel.Score(q, dense);
    const auto expected = TopK(dense, count, excluded);
    const auto sparse = channel.Top(q, count, excluded);
    ASSERT_EQ(sparse.size(), expected.size()) << "trial " << trial;
    for (size_t k = 0; k < expected.size(); ++k) {
      EXPECT_EQ(sparse[k].item, expected[k].item) << "trial " << trial << " rank " << k;
      EXPECT_EQ(sparse[k].score, expected[k].score) << "trial " << trial << " rank " << k;
    }
  }
}

TEST(RecommenderModelTest, RecallWeightsTurnChannelsOffAndSplitTheQuota) {
  RecommenderModel model = TrainSmallModel();
  UserQuery q;
  q.items = {0, 13, 25};
  q.timestamps = {1000000, 1000001, 1000002};
  RecallParams popular_only;
  popular_only.candidates = 7;
  for (std::string_view name : kRecallChannelNames) {
    if (name != kPopularityChannel) popular_only.channel_weights.emplace_back(name, 0.0f);
  }
  CandidateSet c = model.Recall(q, popular_only);
  std::vector<char> seen(model.num_items(), 0);
  for (uint32_t i : q.items) seen[i] = 1;
  auto expected =
      TopK(static_cast<const PopularityChannel*>(model.channel("popularity"))->counts(), 7, seen);
  ASSERT_EQ(c.items.size(), expected.size());
  for (size_t k = 0; k < expected.size(); ++k) EXPECT_EQ(c.items[k], expected[k].item);
  // Every channel's column is still filled (the ranker's inputs), e.g. popularity = the count.
  size_t popularity_column = 0;
  while (model.channels()[popularity_column]->name() != kPopularityChannel) ++popularity_column;
  EXPECT_EQ(c.channel_scores[popularity_column], expected[0].score);

  // Every channel off: nothing recalled (the engine falls back to popular items).
  RecallParams none;
  for (std::string_view name : kRecallChannelNames) none.channel_weights.emplace_back(name, 0.0f);
  EXPECT_TRUE(model.Recall(q, none).items.empty());

  // Odd weights from a config are bounded, not undefined: infinity, NaN and negatives.
  RecallParams odd;
  odd.candidates = 20;
  odd.channel_weights = {{"ials", INFINITY}, {"item_knn", NAN}, {"popularity", -3.0f}};
  CandidateSet odd_set = model.Recall(q, odd);
  EXPECT_FALSE(odd_set.items.empty());
  EXPECT_LE(odd_set.items.size(), 20u + model.channels().size());

  // Default weights: more candidates asked, more (or equal) returned; never a seen item.
  size_t previous = 0;
  for (uint32_t candidates : {6u, 30u, 60u}) {
    CandidateSet all = model.Recall(q, RecallParams{candidates, true});
    EXPECT_GE(all.items.size(), previous);
    previous = all.items.size();
    for (uint32_t item : all.items) EXPECT_FALSE(seen[item]) << item;
  }
}

TEST(RecommenderModelTest, KnownUserNeverGetsATrainingItemBack) {
  RecommenderModel model = TrainSmallModel();
  InteractionMatrix m = RandomMatrix(80, 48, 11);  // the matrix TrainSmallModel trained on
  auto dir = TempDir("seen");
  ASSERT_TRUE(model.Save(dir).ok());
  auto loaded = RecommenderModel::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  for (uint32_t u = 0; u < 80; ++u) {
    auto row = m.RowItems(u);
    ASSERT_EQ(loaded->SeenItems(u).size(), row.size());
    UserQuery q;
    q.user = u;  // the query carries no history at all
    for (uint32_t item : loaded->Recall(q, RecallParams{30, true}).items) {
      EXPECT_EQ(std::count(row.begin(), row.end(), item), 0) << "user " << u << " item " << item;
    }
  }
  EXPECT_TRUE(loaded->SeenItems(80).empty());  // unknown index: nothing, not a crash
  // A seen file that disagrees with the vocabulary is refused.
  {
    BinaryWriter w("RSSEEN", 1);
    w.U64Array({0, 5});
    w.U32Array({1, 2, 3, 4, 999});
    ASSERT_TRUE(w.WriteTo(dir / "user_seen.bin").ok());
  }
  EXPECT_EQ(RecommenderModel::Load(dir).status().code(), StatusCode::kDataLoss);
  std::filesystem::remove_all(dir);
}

TEST(RecommenderModelTest, SaveLoadRecommendsIdentically) {
  RecommenderModel model = TrainSmallModel();
  auto dir = TempDir("roundtrip");
  auto files = model.Save(dir);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  for (const std::string& f : *files) EXPECT_TRUE(std::filesystem::exists(dir / f)) << f;
  auto loaded = RecommenderModel::Load(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(loaded->has_ranker());
  EXPECT_EQ(loaded->items().names(), model.items().names());
  for (uint32_t u = 0; u < 10; ++u) {
    UserQuery q;
    q.user = u;
    q.items = {u, u + 10, u + 20};
    q.timestamps = {1000000, 1000100, 1000200};
    auto a = model.Recommend(q, 10);
    auto b = loaded->Recommend(q, 10);
    ASSERT_EQ(a.size(), b.size());
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_EQ(a[k].item, b[k].item);
      EXPECT_EQ(a[k].score, b[k].score);
    }
  }
  // A corrupted part is a clear error, not a crash.
  std::filesystem::resize_file(dir / "ials.bin", 20);
  EXPECT_EQ(RecommenderModel::Load(dir).status().code(), StatusCode::kDataLoss);
  std::filesystem::remove(dir / "popularity.bin");
  EXPECT_FALSE(RecommenderModel::Load(dir).ok());
  std::filesystem::remove_all(dir);
}

// A part of the model set whose item (or user) count differs from model_set.bin's vocabulary is
// refused, naming the file and without the server's directory: EASE's catalogue-sized Score()
// would otherwise write past the catalogue-sized buffer Recall hands it.
TEST(RecommenderModelTest, APartWhoseItemCountDiffersFromTheVocabularyIsRefused) {
  RecommenderModel model = TrainSmallModel();  // 80 users, 48 items
  ASSERT_NE(model.channel("ease"), nullptr);
  auto dir = TempDir("counts");
  ASSERT_TRUE(model.Save(dir).ok());
  auto original = ModelFiles::ReadDirectory(dir);
  ASSERT_TRUE(original.ok()) << original.status().ToString();
  auto restore = [&](const std::string& file) {
    std::ofstream out(dir / file, std::ios::binary | std::ios::trunc);
    out << original->Bytes(file).value();
  };
  auto ease_with = [](uint32_t items) {
    BinaryWriter w("RSEASE", 1);
    w.U32(items);
    w.F32Array(std::vector<float>(size_t{items} * items, 0.5f));
    return w;
  };
  auto popularity_with = [](uint32_t items) {
    BinaryWriter w("RSPOPUL", 1);
    w.F32Array(std::vector<float>(items, 1.0f));
    return w;
  };
  auto ials_with = [](uint32_t users, uint32_t items) {
    BinaryWriter w("RSIALS", 1);
    w.U32(8);
    w.U32(users);
    w.U32(items);
    w.F32(1.0f);
    w.F32(1.0f);
    w.F32Array(std::vector<float>(size_t{users} * 8, 0.1f));
    w.F32Array(std::vector<float>(size_t{items} * 8, 0.1f));
    return w;
  };
  const std::vector<std::pair<std::string, BinaryWriter>> cases = {
      {"ease.bin", ease_with(47)},
      {"ease.bin", ease_with(49)},
      {"popularity.bin", popularity_with(60)},
      {"ials.bin", ials_with(80, 50)},
      {"ials.bin", ials_with(79, 48)},
  };
  for (const auto& [file, writer] : cases) {
    ASSERT_TRUE(writer.WriteTo(dir / file).ok());
    auto loaded = RecommenderModel::Load(dir);
    ASSERT_FALSE(loaded.ok()) << file;
    EXPECT_EQ(loaded.status().code(), StatusCode::kFailedPrecondition) << file;
    EXPECT_NE(loaded.status().message().find(file), std::string::npos)
        << loaded.status().ToString();
    EXPECT_EQ(loaded.status().message().find(dir.string()), std::string::npos)
        << loaded.status().ToString();
    restore(file);
    ASSERT_TRUE(RecommenderModel::Load(dir).ok()) << "restored " << file;
  }
  std::filesystem::remove_all(dir);
}

// Load(ModelFiles) parses the bytes it is handed: once they are in memory, what happens to the
// directory they came from no longer matters, and a file absent from the set is missing even
// when the directory has it.
TEST(RecommenderModelTest, LoadParsesTheGivenBytesAndOpensNoFile) {
  RecommenderModel model = TrainSmallModel();
  auto dir = TempDir("bytes");
  ASSERT_TRUE(model.Save(dir).ok());
  auto files = ModelFiles::ReadDirectory(dir);
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  std::filesystem::remove_all(dir);
  auto loaded = RecommenderModel::Load(*files);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_TRUE(loaded->has_ranker());
  EXPECT_NE(loaded->ann(), nullptr);
  UserQuery q;
  q.user = 3;
  q.items = {3, 13};
  q.timestamps = {1000000, 1000100};
  auto a = model.Recommend(q, 10);
  auto b = loaded->Recommend(q, 10);
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) EXPECT_EQ(a[k].item, b[k].item);

  ModelFiles::Contents partial;
  partial.emplace("model_set.bin", std::string(files->Bytes("model_set.bin").value()));
  auto missing = RecommenderModel::Load(ModelFiles(std::move(partial)));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "missing popularity.bin");
}

TEST(BinaryIoTest, ReaderOverModelFilesNamesTheFileOnly) {
  BinaryWriter w("TESTFILE", 3);
  w.U32(7);
  w.F32Array({1.5f});
  auto dir = TempDir("named");
  ASSERT_TRUE(w.WriteTo(dir / "f.bin").ok());
  auto files = ModelFiles::ReadDirectory(dir);
  ASSERT_TRUE(files.ok());
  BinaryReader r;
  ASSERT_TRUE(r.Open(*files, "f.bin", "TESTFILE", 3).ok());
  EXPECT_EQ(r.U32(), 7u);
  EXPECT_EQ(r.U64Array().size(), 0u);  // reads the float array's length as u64s: too long
  EXPECT_EQ(r.Finish().code(), StatusCode::kDataLoss);
  EXPECT_EQ(r.Finish().message().rfind("f.bin: ", 0), 0u) << r.Finish().message();
  BinaryReader absent;
  EXPECT_EQ(absent.Open(*files, "g.bin", "TESTFILE", 3).code(), StatusCode::kNotFound);
  std::filesystem::remove_all(dir);
}

// Found by fuzz/model_files_fuzzer.cpp: row offsets that decrease (item_knn.bin's reverse lists
// were built reading past the neighbours) and trending times so extreme that a feature's time
// difference overflowed int64 are refused as malformed files.
TEST(RecommenderModelTest, MalformedOffsetsAndOutOfRangeTimesAreDataLoss) {
  RecommenderModel model = TrainSmallModel();  // 48 items
  auto dir = TempDir("malformed");
  ASSERT_TRUE(model.Save(dir).ok());
  {
    BinaryWriter w("RSITEMNN", 1);
    w.U32(0);
    w.U32(48);
    std::vector<uint64_t> offsets(49, 2);
    offsets[0] = 0;
    offsets[1] = 40;  // row 0 claims 40 entries of the 2 stored, row 1 goes backwards
    w.U64Array(offsets);
    w.U32Array({1, 2});
    w.F32Array({0.5f, 0.5f});
    ASSERT_TRUE(w.WriteTo(dir / "item_knn.bin").ok());
  }
  auto knn = RecommenderModel::Load(dir);
  EXPECT_EQ(knn.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(knn.status().message().find("item_knn.bin"), std::string::npos);
  ASSERT_TRUE(model.Save(dir).ok());
  {
    BinaryWriter w("RSTREND", 1);
    w.I64(86400);
    std::vector<uint64_t> offsets(49, 1);
    offsets[0] = 0;
    w.U64Array(offsets);
    w.I64Array({std::numeric_limits<int64_t>::min()});
    ASSERT_TRUE(w.WriteTo(dir / "trending.bin").ok());
  }
  auto trending = RecommenderModel::Load(dir);
  EXPECT_EQ(trending.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(trending.status().message().find("trending.bin"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace recserve::models
