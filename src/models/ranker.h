#pragma once
// The learning-to-rank stage: an XGBoost booster (rank:ndcg) over per-candidate feature rows.
// Stored in XGBoost's own JSON model format (XGBoosterSaveModel) so any XGBoost can read it.
//
// Prediction: the trees compiled by models/compiled_forest.h, checked at Train/Load against
// XGBoost's own prediction on rows that sit on the split thresholds; when the model cannot be
// compiled or the check finds any difference, XGBoost's in-place prediction serves instead and
// prediction_note() says why.
//
// Thread-safety: Predict() is const and may be called concurrently without a lock: the compiled
// forest is immutable, and XGBoost's in-place prediction keeps its output buffer thread-local per
// booster (XGBoost >= 1.4) and runs one OpenMP thread per call so concurrent requests do not
// oversubscribe the cores.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "models/compiled_forest.h"
#include "models/model_files.h"

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
  // Parses ranker.json (written by Save()) from `files`' bytes (XGBoost's load from a buffer).
  // NotFound / DataLoss on a missing or unreadable model.
  static Result<std::unique_ptr<Ranker>> Load(const ModelFiles& files, size_t num_features);
  Status Save(const std::filesystem::path& dir, std::vector<std::string>& files) const;

  // One score per row (higher ranks first). REQUIRES: features.size() == rows × num_features().
  Result<std::vector<float>> Predict(const std::vector<float>& features, size_t rows) const;
  // XGBoost's own prediction, whatever the compiled path: the reference the compiled trees are
  // checked against (and what benchmarks compare with).
  Result<std::vector<float>> PredictWithXgboost(const std::vector<float>& features,
                                                size_t rows) const;
  size_t num_features() const { return num_features_; }
  // True when Predict() uses the compiled trees; otherwise prediction_note() says why not.
  bool compiled() const { return forest_.has_value(); }
  const std::string& prediction_note() const { return prediction_note_; }

 private:
  Ranker() = default;
  // Compiles the booster's trees and keeps them only if they match XGBoost on boundary rows.
  void CompileTrees();
  void* booster_ = nullptr;  // BoosterHandle
  size_t num_features_ = 0;
  std::optional<CompiledForest> forest_;
  std::string prediction_note_;
};

}  // namespace recserve::models
