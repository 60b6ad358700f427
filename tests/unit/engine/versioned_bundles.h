#pragma once
// Test doubles shared by the engine's model-manager tests: a ServingModel that says which bundle
// produced an answer, and a models root of "bundles" that are directories holding a VERSION file
// (a BROKEN file makes the loader refuse one).
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "engine/model_manager.h"
#include "engine/serving_model.h"

namespace recserve::engine::testing_bundles {

// prefix + number (built by appending: GCC 12's -Wrestrict misfires on `"literal" + string`).
inline std::string Name(std::string prefix, size_t n) {
  prefix += std::to_string(n);
  return prefix;
}

// A model whose every list is "<version>-0", "<version>-1", ...: any answer tells which bundle
// produced it. Knows every user.
class VersionedModel final : public ServingModel {
 public:
  explicit VersionedModel(std::string version) : version_(std::move(version)) {}
  const std::string& version() const override { return version_; }
  bool KnowsUser(std::string_view) const override { return true; }
  bool KnowsItem(std::string_view) const override { return true; }
  Result<RecalledCandidates> Recall(const RecommendationQuery&) const override {
    RecalledCandidates out;
    for (int i = 0; i < 20; ++i) {
      out.items.push_back({Name(version_ + "-", static_cast<size_t>(i)), 20.0 - i});
    }
    return out;
  }
  Result<std::vector<ScoredItem>> Rank(const RecommendationQuery&,
                                       const RecalledCandidates& c) const override {
    return c.items;
  }
  Result<std::vector<ScoredItem>> Similar(std::string_view, uint32_t) const override {
    return std::vector<ScoredItem>{};
  }
  std::vector<ScoredItem> Popular(uint32_t) const override { return {}; }

 private:
  std::string version_;
};

// Creates `root` with bundles v1, v2, v3 and `current` -> v1.
inline void MakeVersionedModelsRoot(const std::filesystem::path& root) {
  std::filesystem::remove_all(root);
  std::filesystem::create_directories(root);
  for (const char* v : {"v1", "v2", "v3"}) {
    std::filesystem::create_directories(root / v);
    std::ofstream(root / v / "VERSION") << v;
  }
  std::filesystem::create_directory_symlink("v1", root / "current");
}

// "Loads" a bundle directory by reading its VERSION file (a VersionedModel), counting each load
// in `loads`; refuses one that holds a BROKEN file (DataLoss, as a checksum mismatch would).
inline ModelManager::Loader VersionFileLoader(std::atomic<int>& loads) {
  return [&loads](const std::filesystem::path& dir) -> Result<std::shared_ptr<const ServingModel>> {
    ++loads;
    if (std::filesystem::exists(dir / "BROKEN")) {
      return DataLoss("checksum mismatch in " + dir.string());
    }
    std::string version;
    std::ifstream(dir / "VERSION") >> version;
    return std::shared_ptr<const ServingModel>(std::make_shared<VersionedModel>(version));
  };
}

}  // namespace recserve::engine::testing_bundles
