#pragma once
// EaseChannel: EASE (Steck 2019), B = I - P·diag(1/diag(P)), P = (XᵀX + λI)⁻¹, diagonal zeroed;
// score(i) = Σ over history items j of B[j][i]. Dense n × n, so Train refuses catalogues above
// `max_items` (FailedPrecondition). File: ease.bin (RSEASE).

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

class EaseChannel final : public RecallChannel {
 public:
  static Result<EaseChannel> Train(const InteractionMatrix& m, float lambda, uint32_t max_items);
  static Result<EaseChannel> Load(const ModelFiles& files);
  const std::string& name() const override;
  uint32_t num_items() const override { return num_items_; }
  // Top() stays the dense default: every history item's weight row spans the catalogue.
  void Score(const UserQuery& query, std::span<float> out) const override;
  void ScoreItems(const UserQuery& query, std::span<const uint32_t> items,
                  std::span<float> out) const override;
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const override;

 private:
  uint32_t num_items_ = 0;
  std::vector<float> weights_;  // row-major n × n; row j holds item j's contribution
};

}  // namespace recserve::models
