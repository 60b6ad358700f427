// `recserve stage <mlflow_run_dir> [--models-root models] [--deploy]`: checks an MLflow run and
// copies its bundle atomically to <models_root>/staging/run (src/lifecycle/staging.h).
#include <iostream>
#include <memory>
#include <string>

#include "app/commands.h"
#include "lifecycle/model_publishing.h"
#include "lifecycle/staging.h"

namespace recserve::app {

namespace {

struct StageFlags {
  std::string run_dir;
  std::string models_root = "models";
  bool deploy = false;
};

int RunStage(const StageFlags& flags) {
  lifecycle::StageOptions options;
  options.models_root = flags.models_root;
  options.deploy = flags.deploy;
  // Beyond manifest, sizes and checksums: the bundle must load and answer one request.
  options.smoke_test = lifecycle::SmokeTestModelBundle;
  Result<lifecycle::StageOutcome> outcome = lifecycle::StageRun(flags.run_dir, options);
  if (!outcome.ok()) {
    std::cerr << "stage: rejected " << flags.run_dir << ": " << outcome.status().ToString() << "\n";
    return 1;
  }
  const auto& m = outcome->bundle.manifest;
  std::cout << "stage: run " << outcome->run.run_id << " (model_version "
            << m.metadata.model_version << ", " << m.files.size() << " files) staged into "
            << outcome->bundle.dir.string() << "\n";
  if (outcome->deployed) {
    std::cout << "stage: deployed as " << outcome->deployed->string() << "; "
              << (options.models_root / lifecycle::kCurrentLinkName).string() << " -> "
              << m.metadata.model_version << "\n";
  }
  return 0;
}

}  // namespace

Command AddStageCommand(CLI::App& root) {
  auto flags = std::make_shared<StageFlags>();
  Command c;
  c.cli = root.add_subcommand(
      "stage", "Validate an MLflow run's model bundle and copy it to <models-root>/staging/run");
  c.cli->add_option("run_dir", flags->run_dir, "MLflow run directory (mlruns/<exp>/<run_id>)")
      ->required();
  c.cli->add_option("--models-root", flags->models_root, "Models root directory")
      ->capture_default_str();
  c.cli->add_flag("--deploy", flags->deploy,
                  "Also publish models/<version>/ and point models/current at it");
  c.run = [flags] { return RunStage(*flags); };
  return c;
}

}  // namespace recserve::app
