#pragma once
// Publishing immutable bundles under the models root as `<models_root>/<model_version>/`.
// A published version is never overwritten: the bundle is assembled in a hidden temporary
// directory in the same filesystem, fsynced, and renamed into place with RENAME_NOREPLACE, so a
// concurrent or repeated publish of the same version fails instead of replacing it.

#include <filesystem>

#include "core/status.h"
#include "lifecycle/bundle_manifest.h"
#include "lifecycle/bundle_validator.h"

namespace recserve::lifecycle {

// Copies every file of `files_dir` (the models room's output: plain files, subdirectories
// allowed, no symlinks), computes their sizes and sha256s, writes manifest.json from `metadata`
// and publishes the result as `<models_root>/<metadata.model_version>/`. `models_root` is created
// when missing. Returns the published directory.
// Errors: AlreadyExists when that version exists; InvalidArgument for a bad model_version or a
// symlink/special file in `files_dir`; I/O errors as NotFound/Internal. On error nothing is left
// behind under `models_root` except a directory that already existed.
Result<std::filesystem::path> PublishBundle(const std::filesystem::path& files_dir,
                                            const BundleMetadata& metadata,
                                            const std::filesystem::path& models_root);

// OK when `<models_root>/<model_version>/` is free or already holds a byte-identical manifest (and
// validates); AlreadyExists naming the directory otherwise. Lets a caller refuse early, before it
// changes anything else.
Status CheckVersionFreeOrIdentical(const ValidatedBundle& bundle,
                                   const std::filesystem::path& models_root);

// Publishes a copy of an already validated bundle as `<models_root>/<model_version>/`, checking the
// copy again before it becomes visible. Idempotent: when that version already exists with a
// byte-identical manifest (and validates), returns it; with a different manifest, AlreadyExists.
Result<std::filesystem::path> PublishValidatedBundle(const ValidatedBundle& bundle,
                                                     const std::filesystem::path& models_root);

}  // namespace recserve::lifecycle
