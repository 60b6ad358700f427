#pragma once
// The recall channels a bundle can hold, as one table: per channel its name, how it is trained
// from a ModelConfig, how it is loaded from a bundle, and the settings validation tuning tries.
// RecommenderModel::TrainChannels and ::Load, and pipeline/training's TuneChannels iterate it, in
// table order (the order of kRecallChannelNames, which is the bundle's channel order). Adding a
// channel is one file implementing RecallChannel and one row here.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "models/interaction_matrix.h"
#include "models/model_config.h"
#include "models/model_files.h"
#include "models/neighbour_graph.h"
#include "models/recall_channel.h"

namespace recserve::models {

// The training matrix and what channels trained on it share, built on first use: the kNN
// neighbour lists serve item_knn and recent_knn (and every recent_knn setting tuning tries).
// Not thread-safe; `matrix` must outlive it.
class ChannelTrainingData {
 public:
  explicit ChannelTrainingData(const InteractionMatrix& matrix) : matrix_(matrix) {}
  const InteractionMatrix& matrix() const { return matrix_; }
  // ItemNeighbours::Build(matrix, neighbours, shrink, threads), kept until a call asks for
  // another setting.
  std::shared_ptr<const ItemNeighbours> Neighbours(uint32_t neighbours, float shrink, int threads);

 private:
  const InteractionMatrix& matrix_;
  std::shared_ptr<const ItemNeighbours> neighbours_;
  uint32_t neighbours_k_ = 0;
  float neighbours_shrink_ = 0.0f;
};

struct RecallChannelEntry {
  std::string_view name;
  // Trains the channel with `config` on data.matrix(); nullptr (not an error) when the
  // configuration leaves the channel out (EASE when off or above ease_max_items).
  Result<std::unique_ptr<RecallChannel>> (*train)(ChannelTrainingData& data,
                                                  const ModelConfig& config);
  // Parses "<name>.bin" from a bundle's files (NotFound / DataLoss naming the file).
  Result<std::unique_ptr<RecallChannel>> (*load)(const ModelFiles& files);
  // The settings validation tuning tries, in order (the first of equal scores wins): copies of
  // `base` differing only in this channel's fields. Empty: nothing to tune. `fast` asks for a
  // smaller grid where the channel dominates tuning time.
  std::vector<ModelConfig> (*tuning_grid)(const ModelConfig& base, bool fast);
};

// Every row, in kRecallChannelNames order.
std::span<const RecallChannelEntry> RecallChannelRegistry();
// The row named `name`; nullptr for a name that is not a bundle channel.
const RecallChannelEntry* FindRecallChannel(std::string_view name);

}  // namespace recserve::models
