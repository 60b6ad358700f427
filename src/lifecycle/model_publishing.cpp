#include "lifecycle/model_publishing.h"

#include "core/wall_clock.h"
#include "lifecycle/bundle_publisher.h"
#include "lifecycle/bundle_validator.h"
#include "lifecycle/durable_files.h"
#include "lifecycle/mlflow_run.h"
#include "lifecycle/staging.h"

namespace recserve::lifecycle {
namespace fs = std::filesystem;

Status SmokeTestModelBundle(const fs::path& bundle_dir, const BundleManifest& manifest) {
  Result<models::RecommenderModel> model = models::RecommenderModel::Load(bundle_dir);
  if (!model.ok()) {
    return FailedPrecondition("smoke test: model files do not load: " + model.status().ToString());
  }
  if (model->num_items() == 0) return FailedPrecondition("smoke test: the model has no items");
  if (model->Popular(10).empty()) {
    return FailedPrecondition("smoke test: the model answers no popular items");
  }
  if (model->users().size() > 0) {
    models::UserQuery query;
    query.user = 0;
    if (model->Recommend(query, 10).empty()) {
      return FailedPrecondition("smoke test: no recommendation for user '" +
                                model->users().Name(0) + "'");
    }
  }
  if (!manifest.metadata.feature_schema.empty() &&
      manifest.metadata.feature_schema != model->FeatureNames()) {
    return FailedPrecondition(
        "smoke test: the manifest's feature_schema differs from the model's features");
  }
  return Status::Ok();
}

Result<PublishedModel> PublishTrainedModel(const models::RecommenderModel& model,
                                           BundleMetadata metadata,
                                           const ModelPublishOptions& options) {
  RECSERVE_RETURN_IF_ERROR(CheckModelVersionName(metadata.model_version));
  std::error_code ec;
  fs::create_directories(options.models_root, ec);
  if (ec) return Internal("cannot create " + options.models_root.string() + ": " + ec.message());
  if (metadata.feature_schema.empty()) metadata.feature_schema = model.FeatureNames();

  // The model's files go to a scratch directory beside the bundles; PublishBundle copies them
  // into an immutable models/<version>/.
  Result<fs::path> scratch = MakeTempDirIn(options.models_root, ".train-");
  if (!scratch.ok()) return scratch.status();
  Result<std::vector<std::string>> saved = model.Save(*scratch);
  Result<fs::path> published =
      saved.ok() ? PublishBundle(*scratch, metadata, options.models_root) : saved.status();
  RemoveTreeQuietly(*scratch);
  if (!published.ok()) return published.status();

  Result<ValidatedBundle> bundle = ValidateBundle(*published, SmokeTestModelBundle);
  if (!bundle.ok()) return bundle.status();

  MlflowRunSpec spec;
  spec.experiment_id = options.experiment_id;
  spec.run_name = options.run_name.empty() ? metadata.model_version : options.run_name;
  spec.status = MlflowRunStatus::kFinished;
  spec.start_time_ms = options.start_time_ms ? options.start_time_ms : UnixMillisNow();
  spec.end_time_ms = UnixMillisNow();
  spec.tags["mlflow.source.name"] = "recserve pipeline";
  AddBundleToRunSpec(bundle->manifest, spec);
  Result<fs::path> run_dir = WriteMlflowRun(options.mlruns_root, spec, bundle->dir);
  if (!run_dir.ok()) return run_dir.status();

  PublishedModel out;
  out.bundle_dir = bundle->dir;
  out.run_dir = *run_dir;
  out.run_id = run_dir->filename().string();
  if (options.deploy) {
    StageOptions deploy_options;
    deploy_options.models_root = options.models_root;
    Result<fs::path> deployed =
        DeployBundle(*bundle, out.run_id, options.experiment_id, deploy_options);
    if (!deployed.ok()) return deployed.status();
    out.deployed = true;
  }
  return out;
}

}  // namespace recserve::lifecycle
