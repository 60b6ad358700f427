// RecommenderModel's ranker side: the feature rows (per-channel score and rank, then the item and
// user profile columns of kProfileFeatures) and Rank, which scores candidates with the attached
// ranker. Training (pipeline/training.h) and serving build features here, so they cannot drift.
#include <algorithm>
#include <array>
#include <cmath>
#include <unordered_map>

#include "models/recommender.h"

namespace recserve::models {
namespace {

constexpr double kDay = 86400.0;
// The ranker's features after the per-channel score and rank columns, in row order.
constexpr std::array<const char*, 11> kProfileFeatures = {
    "recall_fused_score", "item_log_count",    "item_count_1d",       "item_count_7d",
    "item_count_30d",     "item_age_days",     "item_idle_days",      "user_log_history",
    "user_span_days",     "user_tag_affinity", "last_item_similarity"};

}  // namespace

std::vector<std::string> RecommenderModel::FeatureNames() const {
  std::vector<std::string> names;
  for (const auto& c : channels_) {
    names.push_back(c->name() + "_score");
    names.push_back(c->name() + "_rank");
  }
  for (const char* name : kProfileFeatures) names.emplace_back(name);
  return names;
}

std::vector<float> RecommenderModel::Features(const UserQuery& query,
                                              const CandidateSet& cands) const {
  const size_t num_features = 2 * channels_.size() + kProfileFeatures.size();
  const size_t rows = cands.items.size();
  const size_t nc = cands.num_channels;
  std::vector<float> f(rows * num_features, 0.0f);
  const int64_t now = query.ReferenceTime();
  const ItemTimeline& timeline = trending_->timeline();

  // Per-channel rank among the candidates (1 = best).
  std::vector<size_t> order(rows);
  for (size_t c = 0; c < nc; ++c) {
    for (size_t k = 0; k < rows; ++k) order[k] = k;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return RanksBefore(cands.channel_scores[a * nc + c], cands.items[a],
                         cands.channel_scores[b * nc + c], cands.items[b]);
    });
    for (size_t r = 0; r < rows; ++r) {
      f[order[r] * num_features + 2 * c] = cands.channel_scores[order[r] * nc + c];
      f[order[r] * num_features + 2 * c + 1] = static_cast<float>(r + 1);
    }
  }
  // User profile: history length, span, tag shares, last item's neighbours.
  std::unordered_map<uint32_t, float> tag_share;
  int64_t first_time = now;
  for (size_t h = 0; h < query.items.size(); ++h) {
    first_time = std::min(first_time, query.timestamps[h]);
    if (query.items[h] >= side_.tags.size()) continue;
    for (uint32_t t : side_.tags[query.items[h]]) tag_share[t] += 1.0f;
  }
  for (auto& [t, share] : tag_share) share /= static_cast<float>(query.items.size());
  std::unordered_map<uint32_t, float> last_neighbours;
  if (!query.items.empty() && query.items.back() < num_items()) {
    const ItemNeighbours& nb = item_knn_->neighbours();
    uint32_t last = query.items.back();
    for (uint64_t k = nb.offsets[last]; k < nb.offsets[last + 1]; ++k) {
      last_neighbours[nb.neighbour[k]] = nb.similarity[k];
    }
  }
  const float log_history = std::log1p(static_cast<float>(query.items.size()));
  const float span_days = static_cast<float>((now - first_time) / kDay);
  for (size_t k = 0; k < rows; ++k) {
    uint32_t item = cands.items[k];
    float* row = f.data() + k * num_features + 2 * nc;
    row[0] = cands.scores.empty() ? 0.0f : cands.scores[k];
    row[1] = std::log1p(static_cast<float>(timeline.Count(item)));
    const std::span<const int64_t> past = timeline.UpTo(item, now);
    row[2] = static_cast<float>(ItemTimeline::CountAfter(past, now - 86400));
    row[3] = static_cast<float>(ItemTimeline::CountAfter(past, now - 7 * 86400));
    row[4] = static_cast<float>(ItemTimeline::CountAfter(past, now - 30 * 86400));
    auto first = timeline.First(item);
    row[5] = first ? static_cast<float>((now - *first) / kDay) : NAN;
    row[6] = past.empty() ? NAN : static_cast<float>((now - past.back()) / kDay);
    row[7] = log_history;
    row[8] = span_days;
    float affinity = 0.0f;
    if (item < side_.tags.size() && !side_.tags[item].empty()) {
      for (uint32_t t : side_.tags[item]) {
        auto it = tag_share.find(t);
        if (it != tag_share.end()) affinity += it->second;
      }
      affinity /= static_cast<float>(side_.tags[item].size());
    }
    row[9] = affinity;
    auto nb = last_neighbours.find(item);
    row[10] = nb == last_neighbours.end() ? 0.0f : nb->second;
  }
  return f;
}

Status RecommenderModel::Rank(const UserQuery& query, CandidateSet& candidates) const {
  if (!ranker_) return FailedPrecondition("the model set has no ranker");
  std::vector<float> features = Features(query, candidates);
  auto scores = ranker_->Predict(features, candidates.items.size());
  if (!scores.ok()) return scores.status();
  candidates.scores = std::move(scores).value();
  candidates.ranked = true;
  return Status::Ok();
}

}  // namespace recserve::models
