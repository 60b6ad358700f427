#include "models/recommender.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <unordered_map>

#include "models/binary_io.h"
#include "models/recall_channel_registry.h"

namespace recserve::models {
namespace {

constexpr uint32_t kModelSetVersion = 1;
constexpr uint32_t kUserSeenVersion = 1;
constexpr const char* kUserSeenFile = "user_seen.bin";
constexpr const char* kModelSetFile = "model_set.bin";
constexpr double kDay = 86400.0;
// Reciprocal-rank fusion constant (Cormack et al. 2009): damps the head so one channel's top
// item does not dominate the fused recall order.
constexpr float kFusionK = 60.0f;
// The ranker's features after the per-channel score and rank columns, in row order.
constexpr std::array<const char*, 11> kProfileFeatures = {
    "recall_fused_score", "item_log_count",    "item_count_1d",       "item_count_7d",
    "item_count_30d",     "item_age_days",     "item_idle_days",      "user_log_history",
    "user_span_days",     "user_tag_affinity", "last_item_similarity"};

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

Result<std::vector<std::string>> RecommenderModel::Save(const std::filesystem::path& dir) const {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir.string() + ": " + ec.message());
  std::vector<std::string> files;
  BinaryWriter w("RSMODELS", kModelSetVersion);
  w.StringArray(users_.names());
  w.StringArray(items_.names());
  w.StringArray(side_.tag_names);
  w.U64(side_.tags.size());
  for (const auto& tags : side_.tags) w.U32Array(tags);
  std::vector<std::string> channel_names;
  for (const auto& c : channels_) channel_names.push_back(c->name());
  w.StringArray(channel_names);
  w.U32(ann() ? 1 : 0);
  w.U32(ranker_ ? 1 : 0);
  files.push_back(kModelSetFile);
  RECSERVE_RETURN_IF_ERROR(w.WriteTo(dir / files.back()));
  for (const auto& c : channels_) RECSERVE_RETURN_IF_ERROR(c->Save(dir, files));
  if (ann()) RECSERVE_RETURN_IF_ERROR(ann()->Save(dir, files));
  if (ranker_) RECSERVE_RETURN_IF_ERROR(ranker_->Save(dir, files));
  if (!seen_offsets_.empty()) {
    BinaryWriter seen("RSSEEN", kUserSeenVersion);
    seen.U64Array(seen_offsets_);
    seen.U32Array(seen_items_);
    files.push_back(kUserSeenFile);
    RECSERVE_RETURN_IF_ERROR(seen.WriteTo(dir / files.back()));
  }
  return files;
}

Result<RecommenderModel> RecommenderModel::Load(const std::filesystem::path& dir) {
  Result<ModelFiles> files = ModelFiles::ReadDirectory(dir);
  if (!files.ok()) return files.status();
  return Load(*files);
}

Result<RecommenderModel> RecommenderModel::Load(const ModelFiles& files) {
  BinaryReader r;
  RECSERVE_RETURN_IF_ERROR(r.Open(files, kModelSetFile, "RSMODELS", kModelSetVersion));
  RecommenderModel m;
  for (const std::string& u : r.StringArray()) m.users_.Intern(u);
  for (const std::string& i : r.StringArray()) m.items_.Intern(i);
  m.side_.tag_names = r.StringArray();
  uint64_t tagged = r.U64();
  if (tagged > m.items_.size()) return DataLoss("model_set.bin: more tag rows than items");
  for (uint64_t i = 0; i < tagged; ++i) m.side_.tags.push_back(r.U32Array());
  std::vector<std::string> channel_names = r.StringArray();
  bool has_ann = r.U32() != 0;
  bool has_ranker = r.U32() != 0;
  RECSERVE_RETURN_IF_ERROR(r.Finish());
  const uint32_t n = m.items_.size();
  for (const auto& tags : m.side_.tags) {
    for (uint32_t t : tags) {
      if (t >= m.side_.tag_names.size()) return DataLoss("model_set.bin: tag index out of range");
    }
  }
  // Every part is indexed by the vocabulary's item indices: a part of another size would be read
  // (or written, by a catalogue-sized Score) out of bounds, so it refuses the whole set.
  auto check_count = [&](const std::string& file, size_t count, size_t expected,
                         const char* what) -> Status {
    if (count == expected) return Status::Ok();
    return FailedPrecondition(file + " covers " + std::to_string(count) + " " + what + ", the " +
                              kModelSetFile + " vocabulary has " + std::to_string(expected));
  };
  auto check_items = [&](const std::string& file, size_t items) {
    return check_count(file, items, n, "items");
  };
  for (const std::string& name : channel_names) {
    const RecallChannelEntry* entry = FindRecallChannel(name);
    if (!entry) return DataLoss("model_set.bin names an unknown channel '" + name + "'");
    auto channel = entry->load(files);
    if (!channel.ok()) return channel.status();
    const std::string file = name + ".bin";
    RECSERVE_RETURN_IF_ERROR(check_items(file, (*channel)->num_items()));
    if (const std::optional<uint32_t> users = (*channel)->num_users()) {
      RECSERVE_RETURN_IF_ERROR(check_count(file, *users, m.users_.size(), "users"));
    }
    m.channels_.push_back(std::move(channel).value());
  }
  if (!m.FindRequiredChannels()) return DataLoss("model_set.bin lacks a required channel");
  if (has_ann) {
    auto ann = ItemAnnIndex::Load(files);
    if (!ann.ok()) return ann.status();
    RECSERVE_RETURN_IF_ERROR(check_items("ann_header.bin", (*ann)->size()));
    if ((*ann)->dim() != m.ials_->factors()) {
      return DataLoss("ann_header.bin: dimension does not match the iALS factors");
    }
    m.ials_->AttachAnn(std::move(ann).value());
  }
  if (has_ranker) {
    auto ranker = Ranker::Load(files, m.FeatureNames().size());
    if (!ranker.ok()) return ranker.status();
    m.ranker_ = std::move(ranker).value();
  }
  // Optional: bundles written before it existed serve with history-only exclusion.
  if (files.Contains(kUserSeenFile)) {
    BinaryReader seen;
    RECSERVE_RETURN_IF_ERROR(seen.Open(files, kUserSeenFile, "RSSEEN", kUserSeenVersion));
    m.seen_offsets_ = seen.U64Array();
    m.seen_items_ = seen.U32Array();
    RECSERVE_RETURN_IF_ERROR(seen.Finish());
    if (m.seen_offsets_.size() != m.users_.size() + size_t{1} || m.seen_offsets_.front() != 0 ||
        !std::is_sorted(m.seen_offsets_.begin(), m.seen_offsets_.end()) ||
        m.seen_offsets_.back() != m.seen_items_.size() ||
        std::any_of(m.seen_items_.begin(), m.seen_items_.end(),
                    [n](uint32_t i) { return i >= n; })) {
      return DataLoss(std::string(kUserSeenFile) + ": inconsistent with the vocabularies");
    }
  }
  return m;
}

}  // namespace recserve::models
