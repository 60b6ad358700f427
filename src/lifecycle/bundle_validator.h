#pragma once
// Deciding whether a bundle directory can be trusted, before anything serves it: the manifest
// parses and has a supported format version, every listed file exists inside the bundle as a
// regular file with the listed size and sha256, nothing unlisted sits beside them, and an
// optional smoke test (the models room's loader: load the model, answer one request) passes.
//
// Every check reads through one BundleDirectory (the directory opened once, O_NOFOLLOW on each
// component), never by path again. ReadVerifiedBundle also returns the bytes it hashed, so a
// loader parses exactly what was checked: no file is re-opened between checksum and parse.

#include <filesystem>
#include <functional>
#include <map>
#include <string>

#include "core/status.h"
#include "lifecycle/bundle_directory.h"
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
// Reads every byte of every file once, streamed (memory stays flat); thread-compatible.
Result<ValidatedBundle> ValidateBundle(const std::filesystem::path& dir,
                                       const BundleSmokeTest& smoke_test = nullptr);

// A bundle checked like ValidateBundle (without a smoke test) together with the bytes of every
// listed file, exactly the bytes whose sizes and sha256s matched the manifest.
struct VerifiedBundle {
  ValidatedBundle bundle;
  std::map<std::string, FileBytes, std::less<>> contents;  // manifest path -> bytes
};

// ValidateBundle's checks over an already opened directory, keeping the bytes. Holds every
// listed file in memory at once (the caller is about to parse them all). Errors as ValidateBundle.
Result<VerifiedBundle> ReadVerifiedBundle(const BundleDirectory& dir);
// Opens `dir` (BundleDirectory::Open) and reads it.
Result<VerifiedBundle> ReadVerifiedBundle(const std::filesystem::path& dir);

// manifest.json longer than this is refused (InvalidArgument) before it is parsed.
inline constexpr uint64_t kMaxManifestBytes = 16u << 20;

}  // namespace recserve::lifecycle
