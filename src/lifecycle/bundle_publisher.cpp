#include "lifecycle/bundle_publisher.h"

#include "lifecycle/durable_files.h"

namespace recserve::lifecycle {
namespace fs = std::filesystem;

namespace {

Status EnsureDirectory(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir.string() + ": " + ec.message());
  return Status::Ok();
}

// Publishes through a hidden temporary directory in the models root (model versions cannot
// start with '.', so it never collides with a bundle).
Result<fs::path> PublishThroughTempDir(const fs::path& models_root, const fs::path& target,
                                       const std::function<Status(const fs::path&)>& fill) {
  RECSERVE_RETURN_IF_ERROR(BuildDirectoryThenPublish(models_root, ".tmp-publish-", target, fill));
  return target;
}

}  // namespace

Result<fs::path> PublishBundle(const fs::path& files_dir, const BundleMetadata& metadata,
                               const fs::path& models_root) {
  RECSERVE_RETURN_IF_ERROR(CheckModelVersionName(metadata.model_version));
  RECSERVE_RETURN_IF_ERROR(EnsureDirectory(models_root));
  const fs::path target = models_root / metadata.model_version;
  std::error_code ec;
  if (fs::exists(fs::symlink_status(target, ec))) {
    return Status(StatusCode::kAlreadyExists, "model version " + metadata.model_version +
                                                  " already exists at " + target.string() +
                                                  "; published bundles are immutable");
  }
  return PublishThroughTempDir(models_root, target, [&](const fs::path& tmp) -> Status {
    RECSERVE_RETURN_IF_ERROR(CopyTreeDurably(files_dir, tmp));
    std::error_code exists_ec;
    if (fs::exists(tmp / kManifestFileName, exists_ec)) {
      return InvalidArgument(files_dir.string() + " already holds a manifest.json");
    }
    // Hash the copies, not the originals: the manifest then describes exactly what is published.
    Result<std::vector<BundleFile>> files = ListBundleFiles(tmp, {});
    if (!files.ok()) return files.status();
    BundleManifest manifest;
    manifest.metadata = metadata;
    manifest.files = std::move(files).value();
    return WriteFileAtomically(tmp / kManifestFileName, ManifestToJson(manifest));
  });
}

Status CheckVersionFreeOrIdentical(const ValidatedBundle& bundle, const fs::path& models_root) {
  const fs::path target = models_root / bundle.manifest.metadata.model_version;
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(target, ec))) return Status::Ok();
  Result<ValidatedBundle> existing = ValidateBundle(target);
  if (existing.ok() && existing->manifest_sha256 == bundle.manifest_sha256) return Status::Ok();
  return Status(StatusCode::kAlreadyExists,
                "model version " + bundle.manifest.metadata.model_version + " already exists at " +
                    target.string() + " with different content; published bundles are immutable");
}

Result<fs::path> PublishValidatedBundle(const ValidatedBundle& bundle,
                                        const fs::path& models_root) {
  RECSERVE_RETURN_IF_ERROR(EnsureDirectory(models_root));
  const fs::path target = models_root / bundle.manifest.metadata.model_version;
  RECSERVE_RETURN_IF_ERROR(CheckVersionFreeOrIdentical(bundle, models_root));
  std::error_code ec;
  if (fs::exists(fs::symlink_status(target, ec))) return target;  // identical content
  return PublishThroughTempDir(models_root, target, [&](const fs::path& tmp) -> Status {
    RECSERVE_RETURN_IF_ERROR(CopyTreeDurably(bundle.dir, tmp));
    Result<ValidatedBundle> copy = ValidateBundle(tmp);
    if (!copy.ok()) return copy.status();
    if (copy->manifest_sha256 != bundle.manifest_sha256) {
      return DataLoss("bundle " + bundle.dir.string() + " changed while it was being copied");
    }
    return Status::Ok();
  });
}

}  // namespace recserve::lifecycle
