#pragma once
// RecommenderModel: the trained model set the rest of the system uses — vocabularies, recall
// channels, the item ANN index and the ranker — with the exact calls the serving engine makes.
// `recserve evaluate` scores its "final" list through the same Recall() + Rank(), so the
// offline figure is what serving would serve.
//
// Lifecycle: built by pipeline/training.h (TrainForServing) or loaded with Load(); immutable
// afterwards. Every const method is thread-safe. Move-only (owns the index and booster).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/id_vocabulary.h"
#include "core/status.h"
#include "models/ann_index.h"
#include "models/ials_channel.h"
#include "models/interaction_matrix.h"
#include "models/item_knn_channel.h"
#include "models/model_config.h"
#include "models/popularity_channel.h"
#include "models/ranker.h"
#include "models/recall_channel.h"
#include "models/scored_order.h"
#include "models/top_k.h"
#include "models/trending_channel.h"

namespace recserve::models {

// Side information per catalogue item (aligned with the item vocabulary).
struct ItemSide {
  std::vector<std::vector<uint32_t>> tags;  // tag indices per item (may be empty)
  std::vector<std::string> tag_names;
};

struct RecallParams {
  uint32_t candidates = 200;  // merged candidates wanted (fewer when channels reach fewer items)
  bool use_ann = true;        // iALS candidates from the ANN index when it exists
  // Weight per channel (by name, see kRecallChannelNames) in both the candidate quota (a channel
  // gets candidates · w / Σw) and the fused recall order (w / (60 + rank)). Channels not listed
  // weigh 1; weights above 1000 count as 1000. A weight <= 0 (or NaN) turns the channel's recall
  // off, but its scores still feed the ranker's features for every candidate, so the ranker sees
  // the inputs it was trained on. Names the bundle does not have are ignored.
  std::vector<std::pair<std::string, float>> channel_weights = {};

  // The weight of `channel` under these params (1 when not listed, 0 when turned off).
  float WeightOf(std::string_view channel) const;
};

// Candidates for one query, in recall order until Rank() replaces `scores`.
struct CandidateSet {
  std::vector<uint32_t> items;
  size_t num_channels = 0;
  std::vector<float> channel_scores;  // row-major items × num_channels
  std::vector<float> scores;          // fused recall score, then the ranker's score
  bool ranked = false;
};

class RecommenderModel {
 public:
  RecommenderModel() = default;
  RecommenderModel(RecommenderModel&&) = default;
  RecommenderModel& operator=(RecommenderModel&&) = default;

  // Trains every recall channel of models/recall_channel_registry.h (and the ANN index over the
  // iALS factors) on `train`; no ranker yet. `users`/`items` must describe train's indices. EASE
  // is skipped (not an error) above ease_max_items.
  static Result<RecommenderModel> TrainChannels(const InteractionMatrix& train, IdVocabulary users,
                                                IdVocabulary items, ItemSide side,
                                                const ModelConfig& config);

  // Candidates from every channel with a positive weight (each contributes its sparse Top() share
  // of params.candidates through RecallChannel::StartQuery, see RecallParams), merged without
  // duplicates and ordered by weighted reciprocal-rank fusion, with every channel's score for every
  // candidate (ScoreItems). Items the user has seen never appear: the query's history and, for a
  // known user, every training interaction stored in the bundle (SeenItems).
  CandidateSet Recall(const UserQuery& query, const RecallParams& params) const;
  // The catalogue-sized exclusion mask Recall() uses: 1 for every item the query's user has seen.
  std::vector<char> SeenMask(const UserQuery& query) const;
  // Items a known user interacted with in the training data (empty for an unknown index or a
  // bundle saved before user_seen.bin existed).
  std::span<const uint32_t> SeenItems(uint32_t user) const;

  // Fills candidates.scores with the ranker's scores. FailedPrecondition when the model has no
  // ranker; the candidates keep their recall order on any error, so a caller can fall back.
  Status Rank(const UserQuery& query, CandidateSet& candidates) const;

  // Recall + Rank (recall order when there is no ranker), sorted, top k.
  std::vector<ScoredItem> Recommend(const UserQuery& query, size_t k) const;

  // Item-kNN neighbours of `item`, best first; empty for an unknown item.
  std::vector<ScoredItem> Similar(uint32_t item, size_t k) const;
  // All-time most popular items, ties by index.
  std::vector<ScoredItem> Popular(size_t k) const;

  // Feature rows for the candidates (row-major candidates × FeatureNames().size()).
  std::vector<float> Features(const UserQuery& query, const CandidateSet& candidates) const;
  std::vector<std::string> FeatureNames() const;

  void SetRanker(std::unique_ptr<Ranker> ranker) { ranker_ = std::move(ranker); }
  bool has_ranker() const { return ranker_ != nullptr; }
  const Ranker* ranker() const { return ranker_.get(); }
  const std::vector<std::unique_ptr<RecallChannel>>& channels() const { return channels_; }
  const RecallChannel* channel(const std::string& name) const;
  const IalsChannel* ials() const { return ials_; }
  // The iALS channel's ANN index; null when the model has none.
  const ItemAnnIndex* ann() const { return ials_ ? ials_->ann() : nullptr; }
  const IdVocabulary& users() const { return users_; }
  const IdVocabulary& items() const { return items_; }
  uint32_t num_items() const { return items_.size(); }

  // Writes every part as plain files into `dir` (created if missing) and returns their names.
  Result<std::vector<std::string>> Save(const std::filesystem::path& dir) const;
  // Parses a model set written by Save() from `files` (every part from the bytes given, no file
  // opened), each channel by its registry row. NotFound / DataLoss name the missing or malformed
  // file; FailedPrecondition names the file whose item (or user) count differs from the
  // vocabulary in model_set.bin (the same check for every channel), since every part is indexed
  // by the vocabulary's item indices.
  static Result<RecommenderModel> Load(const ModelFiles& files);
  // Load over ModelFiles::ReadDirectory(dir): tools and tests reading Save()'s output.
  static Result<RecommenderModel> Load(const std::filesystem::path& dir);

 private:
  IdVocabulary users_;
  IdVocabulary items_;
  ItemSide side_;
  // Sets the typed pointers below from channels_ by name; false when one is missing.
  bool FindRequiredChannels();

  std::vector<std::unique_ptr<RecallChannel>> channels_;
  // Channels the model reads beyond recall (Popular, Similar, features, the ANN index); they
  // point into channels_.
  const PopularityChannel* popularity_ = nullptr;
  const TrendingChannel* trending_ = nullptr;
  const ItemKnnChannel* item_knn_ = nullptr;
  IalsChannel* ials_ = nullptr;
  std::unique_ptr<Ranker> ranker_;
  // Training interactions per user (CSR: user u's items are seen_items_[offsets[u], offsets[u+1])),
  // so serving excludes everything a user has seen, not only the recent history it is sent.
  std::vector<uint64_t> seen_offsets_;
  std::vector<uint32_t> seen_items_;
};

}  // namespace recserve::models
