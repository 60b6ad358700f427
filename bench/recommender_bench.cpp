// Per-request cost of the serving path's model stages, single thread: Recall (200 candidates
// from every channel), Rank (feature rows + the ranker over those candidates), the ranker alone
// (XGBoost vs the compiled trees), Recall+Rank+top 10, and the channels' candidate selection
// dense vs sparse.
// Figures go to docs/PERFORMANCE.md ("serving: model stages").
//
// The model bundle is a directory written by RecommenderModel::Save() (e.g. the `model` part of
// a `recserve pipeline` output), given by RECSERVE_BENCH_MODEL_DIR; the bench reports an error
// and measures nothing without it. Queries are deterministic (seed 7): a known user index with
// a history of 20 random catalogue items, timestamps one minute apart, ending in the bundle's last
// 30 days.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "models/recommender.h"

namespace {

using recserve::models::CandidateSet;
using recserve::models::RecallParams;
using recserve::models::RecommenderModel;
using recserve::models::UserQuery;

// Null when RECSERVE_BENCH_MODEL_DIR is unset or the bundle cannot be loaded (reason in `error`).
const RecommenderModel* BenchModel(std::string& error) {
  static std::string load_error;
  static const RecommenderModel* model = []() -> const RecommenderModel* {
    const char* dir = std::getenv("RECSERVE_BENCH_MODEL_DIR");
    if (dir == nullptr || *dir == '\0') {
      load_error = "set RECSERVE_BENCH_MODEL_DIR to a model bundle directory";
      return nullptr;
    }
    auto loaded = RecommenderModel::Load(dir);
    if (!loaded.ok()) {
      load_error = loaded.status().ToString();
      return nullptr;
    }
    return new RecommenderModel(std::move(loaded).value());
  }();
  error = load_error;
  return model;
}

// Queries end at a random time in the bundle's last 30 days, as a real user's history does (a
// reference time outside the data would empty the trending window and measure its worst case).
std::vector<UserQuery> Queries(const RecommenderModel& model, size_t count) {
  std::mt19937_64 rng(7);
  int64_t latest = 0;
  if (const auto* trending = dynamic_cast<const recserve::models::TrendingChannel*>(
          model.channel(std::string(recserve::models::kTrendingChannel)))) {
    const auto& times = trending->timeline().times;
    if (!times.empty()) latest = *std::max_element(times.begin(), times.end());
  }
  std::vector<UserQuery> queries(count);
  for (UserQuery& q : queries) {
    if (model.users().size() > 0) {
      q.user = static_cast<uint32_t>(rng() % model.users().size());
    }
    const int64_t end = latest - static_cast<int64_t>(rng() % (30 * 86400));
    for (int h = 0; h < 20; ++h) {
      q.items.push_back(static_cast<uint32_t>(rng() % model.num_items()));
      q.timestamps.push_back(end - 60 * (19 - h));
    }
  }
  return queries;
}

void BM_Recall(benchmark::State& state) {
  std::string error;
  const RecommenderModel* model = BenchModel(error);
  if (model == nullptr) return state.SkipWithError(error.c_str());
  auto queries = Queries(*model, 256);
  RecallParams params;
  size_t q = 0;
  for (auto _ : state) {
    CandidateSet c = model->Recall(queries[q++ % queries.size()], params);
    benchmark::DoNotOptimize(c.items.data());
  }
}
BENCHMARK(BM_Recall)->Unit(benchmark::kMicrosecond);

void BM_Rank(benchmark::State& state) {
  std::string error;
  const RecommenderModel* model = BenchModel(error);
  if (model == nullptr) return state.SkipWithError(error.c_str());
  if (!model->has_ranker()) return state.SkipWithError("the bundle has no ranker");
  auto queries = Queries(*model, 256);
  std::vector<CandidateSet> recalled;
  for (const UserQuery& query : queries) recalled.push_back(model->Recall(query, RecallParams()));
  size_t q = 0;
  for (auto _ : state) {
    size_t k = q++ % queries.size();
    CandidateSet c = recalled[k];
    auto status = model->Rank(queries[k], c);
    if (!status.ok()) return state.SkipWithError(status.ToString().c_str());
    benchmark::DoNotOptimize(c.scores.data());
  }
}
BENCHMARK(BM_Rank)->Unit(benchmark::kMicrosecond);

// The ranker alone on the recalled candidates' feature rows: Arg 0 = XGBoost's own in-place
// prediction, Arg 1 = the compiled trees Rank() uses (models/compiled_forest.h).
void BM_RankerPredict(benchmark::State& state) {
  std::string error;
  const RecommenderModel* model = BenchModel(error);
  if (model == nullptr) return state.SkipWithError(error.c_str());
  if (!model->has_ranker()) return state.SkipWithError("the bundle has no ranker");
  const recserve::models::Ranker& ranker = *model->ranker();
  if (state.range(0) == 1 && !ranker.compiled()) {
    return state.SkipWithError(ranker.prediction_note().c_str());
  }
  auto queries = Queries(*model, 64);
  std::vector<std::vector<float>> rows;
  std::vector<size_t> counts;
  for (const UserQuery& query : queries) {
    CandidateSet c = model->Recall(query, RecallParams());
    rows.push_back(model->Features(query, c));
    counts.push_back(c.items.size());
  }
  size_t q = 0;
  for (auto _ : state) {
    size_t k = q++ % rows.size();
    auto scores = state.range(0) == 1 ? ranker.Predict(rows[k], counts[k])
                                      : ranker.PredictWithXgboost(rows[k], counts[k]);
    benchmark::DoNotOptimize(scores);
  }
  state.SetLabel(state.range(0) == 1 ? "compiled" : "xgboost");
}
BENCHMARK(BM_RankerPredict)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

void BM_RecallRankTop10(benchmark::State& state) {
  std::string error;
  const RecommenderModel* model = BenchModel(error);
  if (model == nullptr) return state.SkipWithError(error.c_str());
  auto queries = Queries(*model, 256);
  size_t q = 0;
  for (auto _ : state) {
    auto top = model->Recommend(queries[q++ % queries.size()], 10);
    benchmark::DoNotOptimize(top.data());
  }
}
BENCHMARK(BM_RecallRankTop10)->Unit(benchmark::kMicrosecond);

// Every non-iALS channel's candidate selection for one request (200 candidates / channels each),
// arg 0: dense (Score() over the whole catalogue + TopK, what Recall did before sparse recall),
// arg 1: sparse (Top()). The difference is what sparse recall saves per request.
void BM_ChannelSelection(benchmark::State& state) {
  std::string error;
  const RecommenderModel* model = BenchModel(error);
  if (model == nullptr) return state.SkipWithError(error.c_str());
  const bool sparse = state.range(0) == 1;
  auto queries = Queries(*model, 256);
  const size_t quota = (200 + model->channels().size() - 1) / model->channels().size();
  std::vector<float> scores(model->num_items());
  size_t q = 0;
  for (auto _ : state) {
    const UserQuery& query = queries[q++ % queries.size()];
    std::vector<char> seen = model->SeenMask(query);
    for (const auto& channel : model->channels()) {
      if (channel.get() == model->ials()) continue;  // iALS uses the ANN index either way
      if (sparse) {
        auto top = channel->Top(query, quota, seen);
        benchmark::DoNotOptimize(top.data());
      } else {
        channel->Score(query, scores);
        auto top = recserve::models::TopK(scores, quota, seen);
        benchmark::DoNotOptimize(top.data());
      }
    }
  }
  state.SetLabel(sparse ? "sparse" : "dense");
}
BENCHMARK(BM_ChannelSelection)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
