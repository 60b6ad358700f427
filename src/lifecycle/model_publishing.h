#pragma once
// From a trained RecommenderModel to a served one: the model's files become an immutable bundle
// models/<version>/, the run is logged as an MLflow file-store run whose artifacts/model/ holds
// that bundle, and (unless asked not to) the bundle is deployed as models/current with a
// registry entry. Also the smoke test every bundle must pass before it is staged or published:
// it loads and answers one request.

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/status.h"
#include "lifecycle/bundle_manifest.h"
#include "models/recommender.h"

namespace recserve::lifecycle {

struct ModelPublishOptions {
  std::filesystem::path models_root = "models";
  std::filesystem::path mlruns_root = "mlruns";
  std::string experiment_id = "0";  // MLflow's default experiment
  std::string run_name;             // defaults to the model version
  bool deploy = true;               // point models/current at the new bundle
  int64_t start_time_ms = 0;        // when training started (MLflow run start)
};

struct PublishedModel {
  std::filesystem::path bundle_dir;  // models/<version>
  std::filesystem::path run_dir;     // mlruns/<experiment>/<run_id>
  std::string run_id;
  bool deployed = false;
};

// Saves `model`, publishes it with `metadata` (model_version must be free), validates the
// published bundle with SmokeTestModelBundle, writes the MLflow run and deploys when asked.
// On error before the bundle is published nothing is left under the models root; an error after
// it leaves the (valid, immutable) bundle in place but never moves models/current.
Result<PublishedModel> PublishTrainedModel(const models::RecommenderModel& model,
                                           BundleMetadata metadata,
                                           const ModelPublishOptions& options);

// Loads the model files of a bundle and answers one request (the first known user, and the
// popular list): FailedPrecondition naming what failed. Usable as a BundleSmokeTest.
Status SmokeTestModelBundle(const std::filesystem::path& bundle_dir,
                            const BundleManifest& manifest);

}  // namespace recserve::lifecycle
