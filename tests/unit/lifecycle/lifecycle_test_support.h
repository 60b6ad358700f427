#pragma once
// Helpers for the lifecycle unit tests: a temporary directory removed at the end of the test and
// small file writers. Real files on the real filesystem; nothing is mocked.

#include <filesystem>
#include <fstream>
#include <string>

#include "lifecycle/bundle_manifest.h"
#include "lifecycle/durable_files.h"

namespace recserve::lifecycle::testing {

class TempDir {
 public:
  TempDir() {
    path_ = MakeTempDirIn(std::filesystem::temp_directory_path(), "recserve-lifecycle-").value();
  }
  ~TempDir() { RemoveTreeQuietly(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline void WriteFile(const std::filesystem::path& path, const std::string& contents) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

inline std::string ReadFile(const std::filesystem::path& path) {
  return ReadWholeFile(path).value();
}

inline BundleMetadata SampleMetadata(const std::string& version = "20261129-a") {
  BundleMetadata m;
  m.model_version = version;
  m.created_at = "2026-11-29T06:00:00Z";
  m.training_data_sha256 = {{"interactions.csv", std::string(64, 'a')}};
  m.hyper_parameters = {{"factors", 64}, {"regularization", 0.01}, {"objective", "rank:ndcg"}};
  m.offline_metrics = {{"ndcg_at_10", 0.15}, {"recall_at_20", 0.3}};
  m.feature_schema = {"als_score", "als_rank", "item_popularity"};
  return m;
}

// The models room's output, as plain files: two top-level files and one in a subdirectory.
inline void WriteSampleModelFiles(const std::filesystem::path& dir) {
  WriteFile(dir / "factors.bin", std::string(1000, 'f'));
  WriteFile(dir / "ranker.json", "{\"learner\":{}}");
  WriteFile(dir / "vocab" / "items.txt", "i1\ni2\ni3\n");
}

}  // namespace recserve::lifecycle::testing
