#pragma once
// ItemKnnChannel: score(i) = Σ over the user's last `recent_items` history items j (all history
// when 0) that are among i's top-N neighbours (models/neighbour_graph.h), of sim(j, i).
// "item_knn" uses the whole history, "recent_knn" the most recent items; RP3beta
// (models/rp3beta.h) is the same channel over its walk weights. File: <name>.bin (RSITEMNN).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/interaction_matrix.h"
#include "models/model_files.h"
#include "models/neighbour_graph.h"
#include "models/recall_channel.h"

namespace recserve::models {

class ItemKnnChannel final : public RecallChannel {
 public:
  ItemKnnChannel(std::string name, std::shared_ptr<const ItemNeighbours> neighbours,
                 uint32_t recent_items);
  // Reads "<name>.bin".
  static Result<ItemKnnChannel> Load(const ModelFiles& files, const std::string& name);
  const std::string& name() const override { return name_; }
  uint32_t num_items() const override { return neighbours_->num_items; }
  void Score(const UserQuery& query, std::span<float> out) const override;
  // Accumulates over the reverse neighbour lists of the history items only.
  std::vector<ScoredItem> Top(const UserQuery& query, size_t count,
                              const std::vector<char>& excluded) const override;
  void ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                  std::span<float> out) const override;
  // Saves the neighbour lists (shared by both kNN channels) under the channel name.
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const override;
  const ItemNeighbours& neighbours() const { return *neighbours_; }
  uint32_t recent_items() const { return recent_items_; }

 private:
  // Calls add(item, similarity) for every neighbour-list entry the query's history reaches, in a
  // fixed order (so sums are bitwise equal whichever entry point uses them).
  template <typename AddFn>
  void ForEachContribution(const UserQuery& query, AddFn add) const;

  std::string name_;
  std::shared_ptr<const ItemNeighbours> neighbours_;
  uint32_t recent_items_ = 0;
};

}  // namespace recserve::models
