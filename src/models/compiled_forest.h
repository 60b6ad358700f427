#pragma once
// The ranker's trees compiled for serving: XGBoost's own prediction visits every tree for every
// candidate through a generic node walk (~10 ns per tree and row); serving ranks 200 candidates
// through hundreds of trees per request, so that walk was the largest single cost of a request.
//
// CompiledForest reads the trees from XGBoost's JSON model (the documented, versioned format
// XGBoosterSaveModelToBuffer writes), pads each tree to a complete binary tree of its depth, and
// walks a block of 8 rows (copied feature-major) through all levels in lockstep with branch-free
// steps, so the CPU overlaps the rows' independent loads. It reproduces XGBoost's arithmetic
// exactly: go left when value < threshold, missing (NaN) values follow the node's default
// direction, and each row's margin is base_score plus the leaf values added in tree order in float
// — so its scores equal XGBoost's bit for bit (Ranker checks this on a probe set at every load;
// unit-tested).
//
// Supported: numerical splits, one output group, one parallel tree, an identity output
// transform (rank:* and reg:squarederror objectives), depth <= kMaxDepth. Anything else is
// refused with FailedPrecondition and the ranker keeps XGBoost's own prediction.
//
// Thread-safety: immutable after Compile(); Predict() is const and reuses one scratch block per
// thread (allocated on a thread's first call).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace recserve::models {

class CompiledForest {
 public:
  // Deeper trees would need 2^depth slots each; XGBoost's default max_depth is 6.
  static constexpr uint32_t kMaxDepth = 12;

  // `model_json` is XGBoost's JSON model; `num_features` the row width the caller will pass.
  static Result<CompiledForest> Compile(std::string_view model_json, size_t num_features);

  // out[r] = the model's margin for row r of the row-major `features` (rows × num_features()).
  // REQUIRES: features.size() == out.size() × num_features().
  void Predict(std::span<const float> features, std::span<float> out) const;

  // `rows` feature rows that sit on the model's decision boundaries: each value is one of the
  // thresholds split on for that feature, exactly or one float below it, or NaN (missing). Used
  // to check the compiled trees against XGBoost's own prediction where they could disagree.
  std::vector<float> BoundaryRows(size_t rows, uint64_t seed) const;

  size_t num_features() const { return num_features_; }
  size_t num_trees() const { return trees_.size(); }

 private:
  // One padded tree: internal nodes in breadth-first order (children of slot s at 2s+1, 2s+2),
  // then 2^depth leaf values.
  struct Tree {
    uint32_t depth = 0;
    uint32_t first_node = 0;  // index into nodes_
    uint32_t first_leaf = 0;  // index into leaves_
  };
  // 8 bytes: the low 31 bits of `column` are feature × kBlock (the feature's first slot in the
  // feature-major block Predict() walks), the top bit is set when a NaN value takes the right
  // child.
  struct Node {
    uint32_t column = 0;
    float threshold = 0.0f;
  };
  static constexpr uint32_t kMissingGoesRight = 1u << 31;
  static constexpr size_t kBlock = 8;  // rows walked together (see Predict)

  size_t num_features_ = 0;
  float base_score_ = 0.0f;
  std::vector<Tree> trees_;
  std::vector<Node> nodes_;
  std::vector<float> leaves_;
};

}  // namespace recserve::models
