#pragma once
// PopularityChannel: all-time interaction count per item, the popularity baseline. Ignores the
// query. File: popularity.bin (RSPOPUL).

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/interaction_matrix.h"
#include "models/model_files.h"
#include "models/recall_channel.h"

namespace recserve::models {

class PopularityChannel final : public RecallChannel {
 public:
  static PopularityChannel Train(const InteractionMatrix& m);
  static Result<PopularityChannel> Load(const ModelFiles& files);
  const std::string& name() const override;
  uint32_t num_items() const override { return static_cast<uint32_t>(counts_.size()); }
  void Score(const UserQuery& query, std::span<float> out) const override;
  // Walks the precomputed popularity order: O(count + excluded items passed).
  std::vector<ScoredItem> Top(const UserQuery& query, size_t count,
                              const std::vector<char>& excluded) const override;
  void ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                  std::span<float> out) const override;
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const override;
  const std::vector<float>& counts() const { return counts_; }

 private:
  std::vector<float> counts_;
  std::vector<uint32_t> order_;  // items by count desc, index asc (derived, never stored)
};

}  // namespace recserve::models
