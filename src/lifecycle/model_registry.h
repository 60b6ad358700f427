#pragma once
// models/model_registry.json: which bundle is deployed now and which were deployed before it, so
// an operator (or POST /models/reload's rollback) can go back. The history is bounded; the file
// is rewritten atomically (temp + fsync + rename), never edited in place.

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"

namespace recserve::lifecycle {

inline constexpr const char* kModelRegistryFileName = "model_registry.json";
inline constexpr size_t kRegistryHistoryLimit = 20;

struct RegistryEntry {
  std::string model_version;
  std::string run_id;         // the MLflow run it came from ("" when unknown)
  std::string experiment_id;  // ditto
  std::string bundle_path;    // relative to the models root, e.g. "20261129-a"
  std::string manifest_sha256;
  std::string deployed_at;  // RFC 3339 UTC
  bool operator==(const RegistryEntry&) const = default;
};

struct ModelRegistry {
  std::optional<RegistryEntry> current;
  std::vector<RegistryEntry> history;  // earlier deployments, newest first, at most the limit
  bool operator==(const ModelRegistry&) const = default;
};

// Returns `registry` with `entry` as current; the old current moves to the front of the history,
// which is trimmed to `history_limit` entries (the oldest are dropped).
ModelRegistry RecordDeployment(ModelRegistry registry, RegistryEntry entry,
                               size_t history_limit = kRegistryHistoryLimit);

// Reads the registry. A missing file is an empty registry; a malformed one is InvalidArgument.
Result<ModelRegistry> LoadModelRegistry(const std::filesystem::path& path);

// Replaces the file atomically.
Status SaveModelRegistry(const std::filesystem::path& path, const ModelRegistry& registry);

}  // namespace recserve::lifecycle
