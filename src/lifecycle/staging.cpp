#include "lifecycle/staging.h"

#include "core/timestamp.h"
#include "core/wall_clock.h"
#include "lifecycle/bundle_publisher.h"
#include "lifecycle/durable_files.h"
#include "lifecycle/model_registry.h"
#include "lifecycle/path_safety.h"

namespace recserve::lifecycle {
namespace fs = std::filesystem;

Result<fs::path> DeployBundle(const ValidatedBundle& bundle, const std::string& run_id,
                              const std::string& experiment_id, const StageOptions& options) {
  Result<fs::path> published = PublishValidatedBundle(bundle, options.models_root);
  if (!published.ok()) return published.status();
  const std::string& version = bundle.manifest.metadata.model_version;
  RECSERVE_RETURN_IF_ERROR(ReplaceSymlink(options.models_root / kCurrentLinkName, version));

  const fs::path registry_path = options.models_root / kModelRegistryFileName;
  Result<ModelRegistry> registry = LoadModelRegistry(registry_path);
  if (!registry.ok()) return registry.status();
  RegistryEntry entry{
      version,
      run_id,
      experiment_id,
      version,
      bundle.manifest_sha256,
      options.now_rfc3339.empty() ? FormatIsoUtc(UnixSecondsNow()) : options.now_rfc3339};
  RECSERVE_RETURN_IF_ERROR(SaveModelRegistry(
      registry_path, RecordDeployment(std::move(registry).value(), std::move(entry))));
  return published;
}

Result<StageOutcome> StageRun(const fs::path& run_dir, const StageOptions& options) {
  StageOutcome out;
  Result<MlflowRunInfo> run = ReadMlflowRun(run_dir);
  if (!run.ok()) return run.status();
  out.run = std::move(run).value();
  if (out.run.status != static_cast<int>(MlflowRunStatus::kFinished)) {
    return FailedPrecondition("run " + out.run.run_id + " is " +
                              MlflowRunStatusName(out.run.status) +
                              ", not FINISHED; only finished runs can be staged");
  }
  if (out.run.lifecycle_stage != "active") {
    return FailedPrecondition("run " + out.run.run_id + " is " + out.run.lifecycle_stage);
  }
  Result<ValidatedBundle> source =
      ValidateBundle(run_dir / "artifacts" / "model", options.smoke_test);
  if (!source.ok()) return source.status();

  std::error_code ec;
  fs::create_directories(options.models_root, ec);
  if (ec) return Internal("cannot create " + options.models_root.string() + ": " + ec.message());
  Result<fs::path> staging_dir = ResolveInsideRoot(options.models_root, kStagingDirName);
  if (!staging_dir.ok()) return staging_dir.status();
  // A deploy must not be half-possible: refuse before staging when models/<version> holds
  // other content.
  if (options.deploy) {
    RECSERVE_RETURN_IF_ERROR(CheckVersionFreeOrIdentical(*source, options.models_root));
  }

  fs::create_directories(*staging_dir, ec);
  if (ec) return Internal("cannot create " + staging_dir->string() + ": " + ec.message());
  Result<fs::path> tmp = MakeTempDirIn(*staging_dir, ".tmp-run-");
  if (!tmp.ok()) return tmp.status();
  Status status = CopyTreeDurably(source->dir, *tmp);
  if (status.ok()) {
    // The copy is what will be served: check it again, and that it is what was checked above.
    Result<ValidatedBundle> copy = ValidateBundle(*tmp);
    if (!copy.ok()) {
      status = copy.status();
    } else if (copy->manifest_sha256 != source->manifest_sha256) {
      status = DataLoss("run " + run_dir.string() + " changed while it was being staged");
    }
  }
  const fs::path staged = *staging_dir / kStagedRunDirName;
  if (status.ok()) status = ReplaceDirectory(*tmp, staged);
  if (!status.ok()) {
    RemoveTreeQuietly(*tmp);
    return status;
  }
  out.bundle = std::move(source).value();
  out.bundle.dir = staged;

  if (options.deploy) {
    Result<fs::path> deployed =
        DeployBundle(out.bundle, out.run.run_id, out.run.experiment_id, options);
    if (!deployed.ok()) {
      return Status(
          deployed.status().code(),
          "staged into " + staged.string() + " but deploy failed: " + deployed.status().message());
    }
    out.deployed = std::move(deployed).value();
  }
  return out;
}

}  // namespace recserve::lifecycle
