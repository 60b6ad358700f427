#pragma once
// The model bundle's manifest (`manifest.json`, schema in docs/BUNDLES.md). A bundle is an
// immutable directory of files written by the models room (binary formats are theirs) plus this
// manifest, which names every file with its size and sha256 and carries the metadata needed to
// trust and explain the model: versions, training-data fingerprint, hyper-parameters, offline
// metrics and the ranker's feature schema.

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace recserve::lifecycle {

// The manifest schema version this build writes and the only one it reads. Bump it (and keep a
// reader for the old one) whenever a field changes meaning.
inline constexpr int kBundleFormatVersion = 1;
inline constexpr const char* kManifestFileName = "manifest.json";

struct BundleFile {
  std::string path;  // relative to the bundle root, '/'-separated, never absolute or with ".."
  uint64_t size = 0;
  std::string sha256;  // lower-case hex
  bool operator==(const BundleFile&) const = default;
};

// What the producer of a bundle says about it; the file list is computed by the writer.
struct BundleMetadata {
  std::string model_version;  // also the directory name models/<model_version>/
  std::string created_at;     // RFC 3339 UTC, e.g. "2026-11-29T06:00:00Z"
  // Input file name -> sha256 of its bytes: which data the model was trained on.
  std::map<std::string, std::string> training_data_sha256;
  nlohmann::json hyper_parameters = nlohmann::json::object();  // flat name -> scalar
  std::map<std::string, double> offline_metrics;
  std::vector<std::string> feature_schema;  // the ranker's feature names, in column order
  bool operator==(const BundleMetadata&) const = default;
};

struct BundleManifest {
  int format_version = kBundleFormatVersion;
  BundleMetadata metadata;
  std::vector<BundleFile> files;  // sorted by path
  bool operator==(const BundleManifest&) const = default;
};

// Serialises with stable key order and 2-space indentation (byte-identical for equal manifests).
std::string ManifestToJson(const BundleManifest& manifest);

// Parses and checks the schema: InvalidArgument naming the field that is missing or of the wrong
// type, or an unsafe file path; FailedPrecondition for a format_version this build cannot read.
Result<BundleManifest> ParseManifest(std::string_view json_text);

// A model version becomes a directory name: 1-128 chars of [A-Za-z0-9._-], not starting with
// '.', and not one of the reserved names under the models root ("staging", "current",
// "model_registry.json").
Status CheckModelVersionName(const std::string& model_version);

// Relative '/'-separated paths of every regular file under `dir` (recursively, except
// manifest.json and the names in `ignored_names`), sorted. InvalidArgument naming a symlink or
// special file; NotFound when `dir` cannot be listed.
Result<std::vector<std::string>> ListBundleFilePaths(const std::filesystem::path& dir,
                                                     const std::vector<std::string>& ignored_names);

// ListBundleFilePaths with the size and sha256 of each file.
Result<std::vector<BundleFile>> ListBundleFiles(const std::filesystem::path& dir,
                                                const std::vector<std::string>& ignored_names);

}  // namespace recserve::lifecycle
