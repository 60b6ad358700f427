// RecommenderModel's serving calls over the recall channels: training the channels, the seen-item
// mask, Recall (weighted reciprocal-rank fusion over every channel's Top share), Recommend and the
// item lookups (Similar, Popular). The ranker's features and Rank live in
// recommender_features.cpp; the bundle format (Save, Load) in recommender_files.cpp.
#include "models/recommender.h"

#include <algorithm>
#include <cmath>

#include "models/recall_channel_registry.h"

namespace recserve::models {
namespace {

// Reciprocal-rank fusion constant (Cormack et al. 2009): damps the head so one channel's top
// item does not dominate the fused recall order.
constexpr float kFusionK = 60.0f;

}  // namespace

Result<RecommenderModel> RecommenderModel::TrainChannels(const InteractionMatrix& train,
                                                         IdVocabulary users, IdVocabulary items,
                                                         ItemSide side, const ModelConfig& config) {
  if (users.size() != train.num_users || items.size() != train.num_items) {
    return InvalidArgument("vocabularies do not match the interaction matrix");
  }
  RecommenderModel m;
  m.users_ = std::move(users);
  m.items_ = std::move(items);
  m.side_ = std::move(side);
  m.side_.tags.resize(train.num_items);
  m.seen_offsets_ = train.row_offsets;
  m.seen_items_ = train.items;

  ChannelTrainingData data(train);
  for (const RecallChannelEntry& entry : RecallChannelRegistry()) {
    auto channel = entry.train(data, config);
    if (!channel.ok()) return channel.status();
    if (*channel) m.channels_.push_back(std::move(channel).value());
  }
  if (!m.FindRequiredChannels()) return Internal("training left out a required channel");
  if (config.ann) {
    auto ann = ItemAnnIndex::Build(m.ials_->item_factors(), m.ials_->num_items(),
                                   m.ials_->factors(), config.ann_params);
    if (!ann.ok()) return ann.status();
    m.ials_->AttachAnn(std::move(ann).value());
  }
  return m;
}

const RecallChannel* RecommenderModel::channel(const std::string& name) const {
  for (const auto& c : channels_) {
    if (c->name() == name) return c.get();
  }
  return nullptr;
}

bool RecommenderModel::FindRequiredChannels() {
  auto find = [this](std::string_view name) -> RecallChannel* {
    for (const auto& c : channels_) {
      if (c->name() == name) return c.get();
    }
    return nullptr;
  };
  popularity_ = dynamic_cast<const PopularityChannel*>(find(kPopularityChannel));
  trending_ = dynamic_cast<const TrendingChannel*>(find(kTrendingChannel));
  item_knn_ = dynamic_cast<const ItemKnnChannel*>(find(kItemKnnChannel));
  ials_ = dynamic_cast<IalsChannel*>(find(kIalsChannel));
  return popularity_ && trending_ && item_knn_ && ials_;
}

float RecallParams::WeightOf(std::string_view channel) const {
  // Bounded so quotas stay finite whatever a config says: NaN and negatives turn a channel off,
  // and one channel can outweigh another by at most kMaxChannelWeight.
  constexpr float kMaxChannelWeight = 1000.0f;
  for (const auto& [name, weight] : channel_weights) {
    if (name == channel) return weight > 0.0f ? std::min(weight, kMaxChannelWeight) : 0.0f;
  }
  return 1.0f;
}

std::span<const uint32_t> RecommenderModel::SeenItems(uint32_t user) const {
  if (user + size_t{1} >= seen_offsets_.size()) return {};
  return {seen_items_.data() + seen_offsets_[user], seen_items_.data() + seen_offsets_[user + 1]};
}

std::vector<char> RecommenderModel::SeenMask(const UserQuery& query) const {
  const uint32_t n = num_items();
  std::vector<char> mask(n, 0);
  for (uint32_t i : query.items) {
    if (i < n) mask[i] = 1;
  }
  if (query.user) {
    for (uint32_t i : SeenItems(*query.user)) mask[i] = 1;
  }
  return mask;
}

CandidateSet RecommenderModel::Recall(const UserQuery& query, const RecallParams& params) const {
  const size_t num_channels = channels_.size();
  const std::vector<char> seen = SeenMask(query);
  std::vector<float> weights(num_channels);
  float total_weight = 0.0f;
  for (size_t c = 0; c < num_channels; ++c) {
    weights[c] = params.WeightOf(channels_[c]->name());
    total_weight += weights[c];
  }

  // One view per channel for this query: a channel's per-query work (iALS's user vector) is done
  // once for its candidates and its score column.
  std::vector<std::unique_ptr<ChannelQuery>> views;
  views.reserve(num_channels);
  for (const auto& channel : channels_) views.push_back(channel->StartQuery(query, params.use_ann));
  // (item, fused contribution) from every channel, in channel order; merged per item below.
  std::vector<std::pair<uint32_t, float>> contributions;
  contributions.reserve(params.candidates + num_channels);
  for (size_t c = 0; c < num_channels; ++c) {
    if (weights[c] <= 0.0f) continue;
    const size_t quota = static_cast<size_t>(
        std::ceil(static_cast<double>(params.candidates) * weights[c] / total_weight));
    const std::vector<ScoredItem> top = views[c]->Top(quota, seen);
    for (size_t r = 0; r < top.size(); ++r) {
      contributions.emplace_back(top[r].item, weights[c] / (kFusionK + static_cast<float>(r + 1)));
    }
  }
  // Stable by item, so each item's contributions are summed in channel order.
  std::stable_sort(contributions.begin(), contributions.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<uint32_t> items;
  std::vector<float> fused;
  for (const auto& [item, contribution] : contributions) {
    if (items.empty() || items.back() != item) {
      items.push_back(item);
      fused.push_back(0.0f);
    }
    fused.back() += contribution;
  }

  // Recall order: fused score descending, ties by item index.
  std::vector<size_t> order(items.size());
  for (size_t k = 0; k < order.size(); ++k) order[k] = k;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return RanksBefore(fused[a], items[a], fused[b], items[b]);
  });
  CandidateSet out;
  out.num_channels = num_channels;
  out.items.reserve(order.size());
  out.scores.reserve(order.size());
  for (size_t k : order) {
    out.items.push_back(items[k]);
    out.scores.push_back(fused[k]);
  }
  // Every channel's score for every candidate, channel-major first, then interleaved row-major.
  std::vector<float> column(out.items.size());
  out.channel_scores.assign(out.items.size() * num_channels, 0.0f);
  for (size_t c = 0; c < num_channels; ++c) {
    views[c]->ScoreItems(out.items, column);
    for (size_t k = 0; k < out.items.size(); ++k) {
      out.channel_scores[k * num_channels + c] = column[k];
    }
  }
  return out;
}

std::vector<ScoredItem> RecommenderModel::Recommend(const UserQuery& query, size_t k) const {
  RecallParams params;
  CandidateSet candidates = Recall(query, params);
  if (ranker_) {
    CandidateSet ranked = candidates;
    if (Rank(query, ranked).ok()) candidates = std::move(ranked);
  }
  std::vector<ScoredItem> out;
  for (size_t i = 0; i < candidates.items.size(); ++i) {
    out.push_back({candidates.items[i], candidates.scores[i]});
  }
  std::sort(out.begin(), out.end(),
            [](const ScoredItem& a, const ScoredItem& b) { return RanksBefore(a, b); });
  if (out.size() > k) out.resize(k);
  return out;
}

std::vector<ScoredItem> RecommenderModel::Similar(uint32_t item, size_t k) const {
  std::vector<ScoredItem> out;
  if (item >= num_items()) return out;
  const ItemNeighbours& nb = item_knn_->neighbours();
  for (uint64_t j = nb.offsets[item]; j < nb.offsets[item + 1] && out.size() < k; ++j) {
    out.push_back({nb.neighbour[j], nb.similarity[j]});
  }
  return out;
}

std::vector<ScoredItem> RecommenderModel::Popular(size_t k) const {
  return TopK(popularity_->counts(), k, {});
}

}  // namespace recserve::models
