#include "lifecycle/bundle_validator.h"

#include <set>

#include "core/hashing.h"
#include "lifecycle/durable_files.h"
#include "lifecycle/path_safety.h"

namespace recserve::lifecycle {
namespace fs = std::filesystem;

Result<ValidatedBundle> ValidateBundle(const fs::path& dir, const BundleSmokeTest& smoke_test) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    return NotFound("bundle directory " + dir.string() + " not found");
  ValidatedBundle out;
  out.dir = fs::canonical(dir, ec);
  if (ec) return NotFound("bundle directory " + dir.string() + ": " + ec.message());

  const fs::path manifest_path = out.dir / kManifestFileName;
  if (fs::is_symlink(fs::symlink_status(manifest_path, ec))) {
    return InvalidArgument("manifest.json in " + dir.string() + " is a symlink");
  }
  Result<std::string> manifest_text = ReadWholeFile(manifest_path);
  if (!manifest_text.ok()) return NotFound("bundle " + dir.string() + " has no manifest.json");
  Result<BundleManifest> manifest = ParseManifest(*manifest_text);
  if (!manifest.ok()) {
    return Status(manifest.status().code(),
                  "manifest.json in " + dir.string() + ": " + manifest.status().message());
  }
  out.manifest = std::move(manifest).value();
  out.manifest_sha256 = Sha256Hex(*manifest_text);

  std::set<std::string> listed;
  for (const BundleFile& f : out.manifest.files) {
    listed.insert(f.path);
    Result<fs::path> resolved = ResolveInsideRoot(out.dir, f.path);
    if (!resolved.ok()) {
      return InvalidArgument("file " + f.path +
                             " escapes the bundle: " + resolved.status().message());
    }
    const fs::path path = out.dir / f.path;
    const fs::file_status st = fs::symlink_status(path, ec);
    if (!fs::exists(st)) return NotFound("missing file " + f.path + " listed in the manifest");
    if (!fs::is_regular_file(st)) {
      return InvalidArgument("file " + f.path + " is not a regular file (symlink or special)");
    }
    const uint64_t size = fs::file_size(path, ec);
    if (ec) return Internal("size of " + f.path + ": " + ec.message());
    if (size != f.size) {
      return DataLoss("size mismatch for " + f.path + ": manifest says " + std::to_string(f.size) +
                      " bytes, file has " + std::to_string(size) +
                      (size < f.size ? " (truncated)" : ""));
    }
    Result<std::string> sha = Sha256File(path);
    if (!sha.ok()) return sha.status();
    if (*sha != f.sha256) {
      return DataLoss("checksum mismatch for " + f.path + ": manifest sha256 " + f.sha256 +
                      ", file sha256 " + *sha);
    }
  }

  Result<std::vector<std::string>> present =
      ListBundleFilePaths(out.dir, UnlistedFilesAllowedInBundle());
  if (!present.ok()) return present.status();
  for (const std::string& p : *present) {
    if (!listed.count(p)) return InvalidArgument("file " + p + " is not listed in the manifest");
  }

  if (smoke_test) {
    Status smoke = smoke_test(out.dir, out.manifest);
    if (!smoke.ok()) return FailedPrecondition("smoke test failed: " + smoke.ToString());
  }
  return out;
}

}  // namespace recserve::lifecycle
