#pragma once
// Staging an MLflow run for serving (runbook section 3, `scripts/stage_model.py`): the run is
// checked completely first, and only a run that passes every check changes anything on disk.
//
//   <models_root>/staging/run        the staged bundle (replaced atomically by the next stage)
//   <models_root>/<model_version>/   with --deploy: the immutable published copy
//   <models_root>/current            with --deploy: symlink to "<model_version>", swapped
//                                    atomically; what a fresh `recserve serve` loads
//   <models_root>/model_registry.json with --deploy: current deployment + bounded history

#include <filesystem>
#include <optional>
#include <string>

#include "core/status.h"
#include "lifecycle/bundle_validator.h"
#include "lifecycle/mlflow_run.h"
#include "lifecycle/path_safety.h"  // kCurrentLinkName

namespace recserve::lifecycle {

inline constexpr const char* kStagingDirName = "staging";
inline constexpr const char* kStagedRunDirName = "run";

struct StageOptions {
  std::filesystem::path models_root = "models";
  bool deploy = false;
  BundleSmokeTest smoke_test;  // null: checksums only
  std::string now_rfc3339;     // deployment time for the registry; "" = the current UTC time
};

struct StageOutcome {
  MlflowRunInfo run;
  ValidatedBundle bundle;                         // as staged (dir = models/staging/run)
  std::optional<std::filesystem::path> deployed;  // models/<version> when deploy was asked
};

// Checks, in order: `<run_dir>/meta.yaml` present and parseable (NotFound/InvalidArgument), the
// run FINISHED (FailedPrecondition naming its status), the bundle under artifacts/model/ valid
// (ValidateBundle's errors, smoke test included), models/staging inside the models root. Then
// copies the bundle to a temporary directory in models/staging/, validates the copy and swaps it
// in as models/staging/run. On any error before that swap, models/staging/ is left as it was.
// Not safe to run concurrently with itself on the same models root (the last swap wins).
Result<StageOutcome> StageRun(const std::filesystem::path& run_dir, const StageOptions& options);

// Makes a validated bundle the one a fresh start loads: publishes it as models/<version>/
// (idempotent for identical content), swaps the models/current symlink to it and records the
// deployment (with the MLflow run it came from) in models/model_registry.json.
Result<std::filesystem::path> DeployBundle(const ValidatedBundle& bundle, const std::string& run_id,
                                           const std::string& experiment_id,
                                           const StageOptions& options);

}  // namespace recserve::lifecycle
