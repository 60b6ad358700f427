// Evaluation metrics (evaluation.h): rule 5's figures (Recall, NDCG, HitRate at 10 and 20,
// Coverage@10) of ranked lists against targets, averaged over test users. Pure: no I/O, no
// threads.
#include <algorithm>
#include <cmath>
#include <unordered_set>

#include "pipeline/evaluation.h"

namespace recserve::pipeline {

Metrics ComputeMetrics(const std::vector<std::vector<uint32_t>>& ranked,
                       const std::vector<std::vector<uint32_t>>& targets, uint32_t catalogue) {
  Metrics m;
  if (ranked.empty()) return m;
  std::unordered_set<uint32_t> covered;
  for (size_t u = 0; u < ranked.size(); ++u) {
    const auto& target = targets[u];
    auto is_hit = [&](uint32_t item) {
      return std::find(target.begin(), target.end(), item) != target.end();
    };
    double dcg10 = 0, dcg20 = 0;
    size_t hits10 = 0, hits20 = 0;
    for (size_t r = 0; r < std::min<size_t>(20, ranked[u].size()); ++r) {
      if (r < 10) covered.insert(ranked[u][r]);
      if (!is_hit(ranked[u][r])) continue;
      double gain = 1.0 / std::log2(static_cast<double>(r) + 2.0);
      dcg20 += gain;
      ++hits20;
      if (r < 10) dcg10 += gain, ++hits10;
    }
    auto idcg = [&](size_t k) {
      double s = 0;
      for (size_t r = 0; r < std::min(k, target.size()); ++r) s += 1.0 / std::log2(r + 2.0);
      return s;
    };
    const double n = static_cast<double>(target.size());
    m.recall10 += hits10 / n;
    m.recall20 += hits20 / n;
    m.ndcg10 += dcg10 / idcg(10);
    m.ndcg20 += dcg20 / idcg(20);
    m.hitrate10 += hits10 > 0 ? 1.0 : 0.0;
  }
  const double users = static_cast<double>(ranked.size());
  m.recall10 /= users;
  m.recall20 /= users;
  m.ndcg10 /= users;
  m.ndcg20 /= users;
  m.hitrate10 /= users;
  m.coverage10 = catalogue == 0 ? 0.0 : static_cast<double>(covered.size()) / catalogue;
  return m;
}

}  // namespace recserve::pipeline
