#pragma once
// The learning-to-rank stage: an XGBoost booster (rank:ndcg) over per-candidate feature rows.
// Stored in XGBoost's own JSON model format (XGBoosterSaveModel) so any XGBoost can read it.
//
// Thread-safety: Predict() is const and may be called concurrently without a lock: it uses
// XGBoost's in-place prediction, whose output buffer is thread-local per booster (XGBoost >= 1.4),
// and runs one OpenMP thread per call so concurrent requests do not oversubscribe the cores.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

namespace recserve::models {

struct RankerParams {
  std::string objective = "rank:ndcg";
  uint32_t trees = 300;
  uint32_t depth = 6;
  float learning_rate = 0.05f;
  float min_child_weight = 1.0f;
  float subsample = 0.8f;
  float colsample = 0.8f;
  uint64_t seed = 42;
  int threads = 1;  // training threads; prediction always uses one
};

// Training rows, grouped by query: group_sizes[g] consecutive rows belong to query g.
struct RankingExamples {
  size_t num_features = 0;
  std::vector<float> features;  // row-major rows × num_features
  std::vector<float> labels;    // 1 relevant, 0 not
  std::vector<unsigned> group_sizes;
  size_t rows() const { return labels.size(); }
};

class Ranker {
 public:
  ~Ranker();
  Ranker(const Ranker&) = delete;
  Ranker& operator=(const Ranker&) = delete;

  // InvalidArgument for empty or inconsistent examples; Internal when XGBoost fails.
  static Result<std::unique_ptr<Ranker>> Train(const RankingExamples& examples,
                                               const RankerParams& params);
  // Reads ranker.json written by Save(). NotFound / DataLoss on a missing or unreadable model.
  static Result<std::unique_ptr<Ranker>> Load(const std::filesystem::path& dir,
                                              size_t num_features);
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const;

  // One score per row (higher ranks first). REQUIRES: features.size() == rows × num_features().
  Result<std::vector<float>> Predict(const std::vector<float>& features, size_t rows) const;
  size_t num_features() const { return num_features_; }

 private:
  Ranker() = default;
  void* booster_ = nullptr;  // BoosterHandle
  size_t num_features_ = 0;
};

}  // namespace recserve::models
