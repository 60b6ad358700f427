// The evaluation driver (evaluation.h): runs a RankingFunction over a fold's test users on a fixed
// split of worker threads (EvaluateFold, EvaluateFoldUsers) and builds the ranking functions
// evaluated: a channel alone (ChannelRanking) and what serving serves (FinalRanking). Inputs are
// in evaluation_inputs.cpp, splits in evaluation_splits.cpp, metrics in evaluation_metrics.cpp.
#include "pipeline/evaluation.h"

#include <algorithm>
#include <thread>

namespace recserve::pipeline {

Metrics EvaluateFold(const Fold& fold, const RankingFunction& rank, int threads) {
  std::vector<size_t> positions(fold.users.size());
  for (size_t k = 0; k < positions.size(); ++k) positions[k] = k;
  return EvaluateFoldUsers(fold, positions, rank, threads);
}

Metrics EvaluateFoldUsers(const Fold& fold, const std::vector<size_t>& positions,
                          const RankingFunction& rank, int threads) {
  const size_t n = positions.size();
  std::vector<std::vector<uint32_t>> ranked(n);
  std::vector<std::vector<uint32_t>> targets(n);
  const size_t workers = static_cast<size_t>(std::max(1, threads));
  const size_t chunk = (n + workers - 1) / workers;
  auto run = [&](size_t begin, size_t end) {
    std::vector<char> mask(fold.train.num_items, 0);
    for (size_t k = begin; k < end; ++k) {
      models::UserQuery query =
          models::UserQuery::ForTrainingUser(fold.train, fold.users[positions[k]]);
      for (uint32_t i : query.items) mask[i] = 1;
      ranked[k] = rank(query, mask);
      if (ranked[k].size() > 20) ranked[k].resize(20);
      for (uint32_t i : query.items) mask[i] = 0;
      targets[k] = fold.targets[positions[k]];
    }
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) {
    size_t begin = std::min(n, w * chunk), end = std::min(n, begin + chunk);
    pool.emplace_back(run, begin, end);
  }
  run(0, std::min(n, chunk));
  for (auto& t : pool) t.join();
  return ComputeMetrics(ranked, targets, fold.catalogue);
}

RankingFunction ChannelRanking(const models::RecallChannel& channel) {
  return [&channel](const models::UserQuery& query, const std::vector<char>& mask) {
    std::vector<float> scores(mask.size(), 0.0f);
    channel.Score(query, scores);
    std::vector<uint32_t> out;
    for (const auto& s : models::TopK(scores, 20, mask)) out.push_back(s.item);
    return out;
  };
}

namespace {

// Recall, then `score` replaces the recall scores (a failure keeps recall order, exactly as
// serving falls back); sorted by score, ties by item index, masked items dropped.
template <typename ScoreCandidates>
RankingFunction RecallAndScore(const models::RecommenderModel& model, uint32_t candidates,
                               ScoreCandidates score) {
  return
      [&model, candidates, score](const models::UserQuery& query, const std::vector<char>& mask) {
        models::RecallParams params;
        params.candidates = candidates;
        models::CandidateSet set = model.Recall(query, params);
        score(query, set);
        std::vector<models::ScoredItem> scored;
        for (size_t k = 0; k < set.items.size(); ++k) {
          if (!mask[set.items[k]]) scored.push_back({set.items[k], set.scores[k]});
        }
        std::sort(scored.begin(), scored.end(),
                  [](const auto& a, const auto& b) { return models::RanksBefore(a, b); });
        std::vector<uint32_t> out;
        for (size_t k = 0; k < std::min<size_t>(20, scored.size()); ++k)
          out.push_back(scored[k].item);
        return out;
      };
}

}  // namespace

RankingFunction FinalRanking(const models::RecommenderModel& model, uint32_t candidates) {
  return RecallAndScore(model, candidates,
                        [&model](const models::UserQuery& query, models::CandidateSet& set) {
                          (void)model.Rank(query, set);
                        });
}

RankingFunction FinalRanking(const models::RecommenderModel& model, const models::Ranker& ranker,
                             uint32_t candidates) {
  return RecallAndScore(
      model, candidates,
      [&model, &ranker](const models::UserQuery& query, models::CandidateSet& set) {
        auto scores = ranker.Predict(model.Features(query, set), set.items.size());
        if (scores.ok()) set.scores = std::move(scores).value();
      });
}

}  // namespace recserve::pipeline
