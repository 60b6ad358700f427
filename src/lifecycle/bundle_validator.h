#pragma once
// Deciding whether a bundle directory can be trusted, before anything serves it: the manifest
// parses and has a supported format version, every listed file exists inside the bundle as a
// regular file with the listed size and sha256, nothing unlisted sits beside them, and an
// optional smoke test (the models room's loader: load the model, answer one request) passes.

#include <filesystem>
#include <functional>
#include <string>

#include "core/status.h"
#include "lifecycle/bundle_manifest.h"

namespace recserve::lifecycle {

// Loads the bundle for real and answers one request; OK when the model is usable. Called only
// after every checksum matched. Must not modify the bundle directory.
using BundleSmokeTest =
    std::function<Status(const std::filesystem::path& bundle_dir, const BundleManifest&)>;

// Top-level files a bundle may hold that the manifest does not list: the MLflow `MLmodel` file,
// written beside the bundle when it is an MLflow run's artifacts/model/.
inline const std::vector<std::string>& UnlistedFilesAllowedInBundle() {
  static const std::vector<std::string> kNames = {"MLmodel"};
  return kNames;
}

struct ValidatedBundle {
  std::filesystem::path dir;  // canonical
  BundleManifest manifest;
  std::string manifest_sha256;  // of manifest.json's bytes: identifies the bundle's content
};

// Checks the bundle at `dir`. Errors name the file and the problem:
//   NotFound          the directory, manifest.json or a listed file is missing
//   InvalidArgument   the manifest is malformed, a path escapes the bundle or is a symlink,
//                     or an unlisted file is present
//   FailedPrecondition unsupported format_version, or the smoke test failed
//   DataLoss          a size (truncated/extended file) or sha256 mismatch
// Reads every byte of every file once; thread-compatible (no shared state).
Result<ValidatedBundle> ValidateBundle(const std::filesystem::path& dir,
                                       const BundleSmokeTest& smoke_test = nullptr);

}  // namespace recserve::lifecycle
