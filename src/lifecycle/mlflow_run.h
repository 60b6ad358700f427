#pragma once
// MLflow file-store runs, written and read without MLflow: the layout of
// mlflow/store/tracking/file_store.py, so a stock `mlflow ui --backend-store-uri file:mlruns`
// lists the pipeline's runs with their parameters, metrics, tags and the bundle as an artifact.
//
//   mlruns/0/meta.yaml                       default experiment (created when missing)
//   mlruns/<experiment_id>/meta.yaml         the experiment (created when missing, never rewritten)
//   mlruns/<experiment_id>/<run_id>/
//     meta.yaml                              run info; status 1 RUNNING, 3 FINISHED, 4 FAILED
//     params/<key>                           the value, no newline
//     metrics/<key>                          "<timestamp_ms> <value> <step>" lines
//     tags/<key>                             the value, no newline
//     artifacts/model/                       the bundle (manifest.json + files) and MLmodel
//
// A run is assembled in a hidden temporary directory under mlruns/ and renamed into place, so a
// reader never sees a half-written run.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "lifecycle/bundle_manifest.h"

namespace recserve::lifecycle {

// MLflow's RunStatus numbers, as stored in meta.yaml.
enum class MlflowRunStatus {
  kRunning = 1,
  kScheduled = 2,
  kFinished = 3,
  kFailed = 4,
  kKilled = 5
};

// "RUNNING", "FINISHED", ...; "UNKNOWN(<n>)" for a number MLflow does not define.
std::string MlflowRunStatusName(int status);

struct MlflowMetric {
  std::string key;
  double value = 0;
  int64_t timestamp_ms = 0;
  int64_t step = 0;
};

struct MlflowRunSpec {
  std::string experiment_id = "0";  // digits; "0" is MLflow's default experiment
  std::string experiment_name = "Default";
  std::string run_id;  // [A-Za-z0-9][A-Za-z0-9_-]*; a random 32-hex id when empty
  std::string run_name;
  std::string user_id;
  MlflowRunStatus status = MlflowRunStatus::kFinished;
  int64_t start_time_ms = 0;
  std::optional<int64_t> end_time_ms;  // absent for a RUNNING run
  std::map<std::string, std::string> params;
  std::vector<MlflowMetric> metrics;
  // mlflow.runName, mlflow.user and mlflow.source.type are added; entries here win.
  std::map<std::string, std::string> tags;
};

// Adds the manifest's hyper-parameters as params, offline metrics as metrics (at end_time or
// start_time, step 0) and the tags recserve.model_version / recserve.bundle_format_version.
// Existing entries in `spec` are kept.
void AddBundleToRunSpec(const BundleManifest& manifest, MlflowRunSpec& spec);

// Writes the run under `mlruns_root` (created when missing), copying the bundle at `bundle_dir`
// (validated first; empty path = no model artifact) into artifacts/model/ with an MLmodel file.
// Returns the run directory. AlreadyExists when the run id is taken; InvalidArgument for a bad
// id or key; the bundle's own validation errors as they are.
Result<std::filesystem::path> WriteMlflowRun(const std::filesystem::path& mlruns_root,
                                             const MlflowRunSpec& spec,
                                             const std::filesystem::path& bundle_dir);

// What staging needs from a run's meta.yaml.
struct MlflowRunInfo {
  std::filesystem::path run_dir;
  std::string run_id;
  std::string experiment_id;
  std::string run_name;
  std::string user_id;
  int status = static_cast<int>(MlflowRunStatus::kRunning);  // MLflow's default when absent
  std::string lifecycle_stage;
  std::string artifact_uri;
  int64_t start_time_ms = 0;
  std::optional<int64_t> end_time_ms;
};

// Reads `<run_dir>/meta.yaml`. NotFound when it is missing; InvalidArgument when it is not YAML
// or lacks run_id/run_uuid or experiment_id.
Result<MlflowRunInfo> ReadMlflowRun(const std::filesystem::path& run_dir);

}  // namespace recserve::lifecycle
