#include "models/compiled_forest.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <string>

namespace recserve::models {
namespace {

using nlohmann::json;

// The fields of one tree in XGBoost's JSON model, checked for shape.
struct SourceTree {
  std::vector<int> left, right;
  std::vector<unsigned> feature;
  std::vector<float> condition;  // split threshold, or the leaf value at a leaf
  std::vector<int> default_left;
  uint32_t depth = 0;  // levels below the root to the deepest leaf

  bool IsLeaf(int n) const { return left[n] == -1; }
};

Result<SourceTree> ReadTree(const json& tree, size_t index, size_t num_features) {
  const std::string where = "ranker tree " + std::to_string(index) + ": ";
  SourceTree t;
  try {
    t.left = tree.at("left_children").get<std::vector<int>>();
    t.right = tree.at("right_children").get<std::vector<int>>();
    t.feature = tree.at("split_indices").get<std::vector<unsigned>>();
    t.condition = tree.at("split_conditions").get<std::vector<float>>();
    t.default_left = tree.at("default_left").get<std::vector<int>>();
    for (int type : tree.value("split_type", std::vector<int>())) {
      if (type != 0) return FailedPrecondition(where + "categorical splits are not compiled");
    }
  } catch (const json::exception& e) {
    return DataLoss(where + "unreadable (" + e.what() + ")");
  }
  const size_t n = t.left.size();
  if (n == 0 || t.right.size() != n || t.feature.size() != n || t.condition.size() != n ||
      t.default_left.size() != n) {
    return DataLoss(where + "node arrays of different lengths");
  }
  // Children come after their parents (checked below), so one pass in node order sees every
  // parent's level before its children's, with no recursion for a hostile file to exhaust.
  std::vector<uint32_t> level(n, 0);
  for (size_t i = 0; i < n; ++i) {
    t.depth = std::max(t.depth, level[i]);
    if (t.left[i] == -1) continue;
    // XGBoost numbers children after their parent; requiring it rules out cycles.
    auto child_ok = [&](int c) { return c > static_cast<int>(i) && c < static_cast<int>(n); };
    if (!child_ok(t.left[i]) || !child_ok(t.right[i])) {
      return DataLoss(where + "node " + std::to_string(i) + " has an invalid child");
    }
    if (t.feature[i] >= num_features) {
      return DataLoss(where + "splits on feature " + std::to_string(t.feature[i]) + " of " +
                      std::to_string(num_features));
    }
    level[t.left[i]] = level[t.right[i]] = level[i] + 1;
  }
  return t;
}

}  // namespace

Result<CompiledForest> CompiledForest::Compile(std::string_view model_json, size_t num_features) {
  json model = json::parse(model_json, nullptr, /*allow_exceptions=*/false);
  if (model.is_discarded()) return DataLoss("ranker model is not valid JSON");
  if (num_features == 0 || num_features * kBlock >= kMissingGoesRight) {
    return InvalidArgument("a compiled ranker needs 1 to 2^28 features");
  }
  CompiledForest forest;
  forest.num_features_ = num_features;
  const json* trees = nullptr;
  try {
    const json& learner = model.at("learner");
    const std::string objective = learner.at("objective").at("name").get<std::string>();
    if (objective.rfind("rank:", 0) != 0 && objective != "reg:squarederror") {
      return FailedPrecondition("objective " + objective + " has an output transform");
    }
    const json& param = learner.at("learner_model_param");
    if (std::stoi(param.value("num_class", std::string("0"))) > 1 ||
        std::stoi(param.value("num_target", std::string("1"))) != 1) {
      return FailedPrecondition("multi-output models are not compiled");
    }
    forest.base_score_ = std::stof(param.at("base_score").get<std::string>());
    const json& booster = learner.at("gradient_booster");
    if (booster.at("name").get<std::string>() != "gbtree") {
      return FailedPrecondition("booster " + booster.at("name").get<std::string>());
    }
    const json& gbtree = booster.at("model");
    if (gbtree.at("gbtree_model_param").at("num_parallel_tree").get<std::string>() != "1") {
      return FailedPrecondition("random-forest models are not compiled");
    }
    trees = &gbtree.at("trees");
  } catch (const std::exception& e) {  // json::exception, or std::sto* on a bad number
    return DataLoss(std::string("ranker model lacks an expected field (") + e.what() + ")");
  }

  for (size_t index = 0; index < trees->size(); ++index) {
    auto source = ReadTree((*trees)[index], index, num_features);
    if (!source.ok()) return source.status();
    const uint32_t depth = source->depth;
    if (depth > kMaxDepth) {
      return FailedPrecondition("tree " + std::to_string(index) + " has depth " +
                                std::to_string(depth) + " > " + std::to_string(kMaxDepth));
    }
    Tree tree{depth, static_cast<uint32_t>(forest.nodes_.size()),
              static_cast<uint32_t>(forest.leaves_.size())};
    const uint32_t internal = (1u << depth) - 1;
    forest.nodes_.resize(forest.nodes_.size() + internal);
    forest.leaves_.resize(forest.leaves_.size() + (internal + 1));
    Node* nodes = forest.nodes_.data() + tree.first_node;
    float* leaves = forest.leaves_.data() + tree.first_leaf;
    // Places source node `node` at padded slot `slot` of level `level`. A leaf above the last
    // level fills every slot beneath it, so the (arbitrary) pad nodes' directions do not matter.
    auto place = [&](auto&& self, int node, uint32_t slot, uint32_t level) -> void {
      if (level == depth) {
        leaves[slot - internal] = source->condition[node];
        return;
      }
      if (source->IsLeaf(node)) {
        nodes[slot] = Node{};
        self(self, node, 2 * slot + 1, level + 1);
        self(self, node, 2 * slot + 2, level + 1);
        return;
      }
      nodes[slot] = Node{static_cast<uint32_t>(source->feature[node] * kBlock) |
                             (source->default_left[node] ? 0u : kMissingGoesRight),
                         source->condition[node]};
      self(self, source->left[node], 2 * slot + 1, level + 1);
      self(self, source->right[node], 2 * slot + 2, level + 1);
    };
    place(place, 0, 0, 0);
    forest.trees_.push_back(tree);
  }
  return forest;
}

void CompiledForest::Predict(std::span<const float> features, std::span<float> out) const {
  const size_t rows = out.size();
  // The block's rows feature-major (block[feature × kBlock + r]), so one base register reaches
  // every row's value and a node's column is the offset of its feature: a row-major walk spilled
  // the eight row pointers to the stack. Rows past the end of the last block read zeros.
  thread_local std::vector<float> block;
  block.resize(num_features_ * kBlock);
  for (size_t begin = 0; begin < rows; begin += kBlock) {
    std::array<float, kBlock> margin{};
    for (size_t r = 0; r < kBlock; ++r) {
      const float* row = begin + r < rows ? features.data() + (begin + r) * num_features_ : nullptr;
      for (size_t f = 0; f < num_features_; ++f) block[f * kBlock + r] = row ? row[f] : 0.0f;
      margin[r] = base_score_;
    }
    const float* values = block.data();
    for (const Tree& tree : trees_) {
      const Node* nodes = nodes_.data() + tree.first_node;
      std::array<uint32_t, kBlock> slot{};
      for (uint32_t level = 0; level < tree.depth; ++level) {
        for (size_t r = 0; r < kBlock; ++r) {
          const Node& node = nodes[slot[r]];
          const float value = values[(node.column & ~kMissingGoesRight) + r];
          // XGBoost: left when value < threshold; a missing value takes the default child.
          const uint32_t right = std::isnan(value)
                                     ? node.column >> 31
                                     : static_cast<uint32_t>(!(value < node.threshold));
          slot[r] = 2 * slot[r] + 1 + right;
        }
      }
      const float* leaves = leaves_.data() + tree.first_leaf - ((1u << tree.depth) - 1);
      for (size_t r = 0; r < kBlock; ++r) margin[r] += leaves[slot[r]];
    }
    for (size_t r = 0; r < kBlock && begin + r < rows; ++r) out[begin + r] = margin[r];
  }
}

}  // namespace recserve::models

namespace recserve::models {

std::vector<float> CompiledForest::BoundaryRows(size_t rows, uint64_t seed) const {
  std::vector<std::vector<float>> thresholds(num_features_);
  for (const Node& node : nodes_) {
    thresholds[(node.column & ~kMissingGoesRight) / kBlock].push_back(node.threshold);
  }
  std::mt19937_64 rng(seed);
  std::vector<float> out(rows * num_features_);
  for (size_t r = 0; r < rows; ++r) {
    for (size_t f = 0; f < num_features_; ++f) {
      float& value = out[r * num_features_ + f];
      const auto& candidates = thresholds[f];
      const uint64_t pick = rng();
      if (candidates.empty() || pick % 10 == 0) {
        value = pick % 20 == 0 ? NAN : static_cast<float>(pick % 1000) / 100.0f;
      } else {
        value = candidates[(pick >> 8) % candidates.size()];
        if ((pick >> 4) % 2 == 0) value = std::nextafter(value, -INFINITY);
      }
    }
  }
  return out;
}

}  // namespace recserve::models
