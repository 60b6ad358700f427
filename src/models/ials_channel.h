#pragma once
// IalsChannel: implicit ALS factors (models/ials_solver.h); score = user · item factors. A known
// user reads its trained row; an unknown user is folded in from the query's history with the
// same exact solve. With an ANN index over its item factors attached (models/ann_index.h), its
// Recall path (StartQuery with use_ann) takes candidates from the index instead of scoring the
// catalogue; the user vector is computed once per query for both. File: ials.bin (RSIALS).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/ann_index.h"
#include "models/ials_solver.h"
#include "models/interaction_matrix.h"
#include "models/model_files.h"
#include "models/recall_channel.h"

namespace recserve::models {

class IalsChannel final : public RecallChannel {
 public:
  static IalsChannel Train(const InteractionMatrix& m, const IalsParams& params);
  static Result<IalsChannel> Load(const ModelFiles& files);
  const std::string& name() const override;
  uint32_t num_items() const override { return num_items_; }
  std::optional<uint32_t> num_users() const override { return num_users_; }
  void Score(const UserQuery& query, std::span<float> out) const override;
  void ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                  std::span<float> out) const override;
  // Top() from the ANN index when one is attached and `use_ann`, else the dense selection;
  // ScoreItems() by Dot(). One user vector per query serves both.
  std::unique_ptr<ChannelQuery> StartQuery(const UserQuery& query, bool use_ann) const override;
  // Writes ials.bin only: the ANN index is a part of its own in the bundle (RecommenderModel
  // saves and loads it, and attaches it here).
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const override;

  // Makes `ann` the channel's candidate source for Recall. REQUIRES: not concurrent with any
  // other call; `ann` indexes item_factors() (size() == num_items(), dim() == factors()).
  void AttachAnn(std::unique_ptr<ItemAnnIndex> ann) { ann_ = std::move(ann); }
  const ItemAnnIndex* ann() const { return ann_.get(); }

  // user · item factors. REQUIRES: user.size() == factors(), item < num_items().
  float Dot(std::span<const float> user, uint32_t item) const;
  // User vector for the query: the trained row when known, else solved from the history.
  std::vector<float> UserVector(const UserQuery& query) const;
  // Score() for a user vector already computed. REQUIRES: user.size() == factors(),
  // out.size() == num_items().
  void ScoreUser(std::span<const float> user, std::span<float> out) const;
  uint32_t factors() const { return factors_; }
  // Row-major num_items × factors.
  const std::vector<float>& item_factors() const { return item_factors_; }

 private:
  uint32_t factors_ = 0;
  uint32_t num_users_ = 0;
  uint32_t num_items_ = 0;
  float regularization_ = 0;
  float alpha_ = 0;
  std::vector<float> user_factors_;  // row-major num_users × factors
  std::vector<float> item_factors_;
  // Column-major factors × factors: item factorsᵀ·item factors + regularization·I, so folding in
  // an unknown user costs O(f²·history + f³), not a pass over the whole catalogue.
  std::vector<float> fold_in_gram_;
  std::unique_ptr<ItemAnnIndex> ann_;  // null: no index (Recall scores the catalogue)
};

}  // namespace recserve::models
