#include "lifecycle/staging.h"

#include <gtest/gtest.h>

#include "lifecycle/bundle_publisher.h"
#include "lifecycle/model_registry.h"
#include "lifecycle_test_support.h"

namespace recserve::lifecycle {
namespace {
namespace fs = std::filesystem;
using testing::ReadFile;
using testing::SampleMetadata;
using testing::TempDir;
using testing::WriteSampleModelFiles;

class StagingTest : public ::testing::Test {
 protected:
  fs::path MakeRun(const std::string& version, MlflowRunStatus status) {
    const fs::path out = tmp_.path() / ("out-" + version);
    WriteSampleModelFiles(out);
    testing::WriteFile(out / "version.txt", version);
    fs::path bundle = PublishBundle(out, SampleMetadata(version), tmp_.path() / "built").value();
    MlflowRunSpec spec;
    spec.experiment_id = "1";
    spec.run_name = version;
    spec.status = status;
    spec.start_time_ms = 1;
    spec.end_time_ms = 2;
    return WriteMlflowRun(tmp_.path() / "mlruns", spec, bundle).value();
  }
  StageOptions Options(bool deploy) {
    StageOptions o;
    o.models_root = tmp_.path() / "models";
    o.deploy = deploy;
    o.now_rfc3339 = "2026-11-29T07:00:00Z";
    return o;
  }
  TempDir tmp_;
};

TEST_F(StagingTest, StagesAFinishedRunAndReplacesThePreviousStagedRun) {
  Result<StageOutcome> first = StageRun(MakeRun("v1", MlflowRunStatus::kFinished), Options(false));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const fs::path staged = tmp_.path() / "models" / "staging" / "run";
  EXPECT_EQ(ReadFile(staged / "version.txt"), "v1");
  EXPECT_TRUE(ValidateBundle(staged).ok());
  EXPECT_FALSE(first->deployed.has_value());
  EXPECT_FALSE(fs::exists(tmp_.path() / "models" / "current"));

  ASSERT_TRUE(StageRun(MakeRun("v2", MlflowRunStatus::kFinished), Options(false)).ok());
  EXPECT_EQ(ReadFile(staged / "version.txt"), "v2");
  // Nothing but run/ remains in staging/: no temporary or set-aside directories.
  EXPECT_EQ(std::distance(fs::directory_iterator(staged.parent_path()), fs::directory_iterator()),
            1);
}

TEST_F(StagingTest, RunningRunIsRefusedAndStagingIsUntouched) {
  Result<StageOutcome> r = StageRun(MakeRun("v1", MlflowRunStatus::kRunning), Options(false));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("RUNNING"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp_.path() / "models" / "staging"));
}

TEST_F(StagingTest, SmokeTestFailureRefusesTheRun) {
  StageOptions o = Options(false);
  o.smoke_test = [](const fs::path&, const BundleManifest&) { return Internal("no answer"); };
  Result<StageOutcome> r = StageRun(MakeRun("v1", MlflowRunStatus::kFinished), o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("smoke test failed"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp_.path() / "models" / "staging"));
}

TEST_F(StagingTest, StagingSymlinkedOutsideTheModelsRootIsRefused) {
  fs::create_directories(tmp_.path() / "models");
  fs::create_directories(tmp_.path() / "elsewhere");
  fs::create_directory_symlink(tmp_.path() / "elsewhere", tmp_.path() / "models" / "staging");
  Result<StageOutcome> r = StageRun(MakeRun("v1", MlflowRunStatus::kFinished), Options(false));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(fs::is_empty(tmp_.path() / "elsewhere"));
}

TEST_F(StagingTest, DeployPublishesPointsCurrentAndRecordsHistory) {
  Result<StageOutcome> a = StageRun(MakeRun("v1", MlflowRunStatus::kFinished), Options(true));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  Result<StageOutcome> b = StageRun(MakeRun("v2", MlflowRunStatus::kFinished), Options(true));
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const fs::path models = tmp_.path() / "models";
  EXPECT_EQ(fs::read_symlink(models / "current"), fs::path("v2"));
  EXPECT_EQ(ReadFile(models / "current" / "version.txt"), "v2");
  EXPECT_TRUE(ValidateBundle(models / "v1").ok());
  // Readable by a server running as another user (mkdtemp alone would make them 0700).
  for (const fs::path& dir : {models / "v1", models / "staging" / "run"}) {
    EXPECT_NE(fs::status(dir).permissions() & fs::perms::others_read, fs::perms::none) << dir;
  }
  ModelRegistry reg = LoadModelRegistry(models / kModelRegistryFileName).value();
  ASSERT_TRUE(reg.current.has_value());
  EXPECT_EQ(reg.current->model_version, "v2");
  EXPECT_EQ(reg.current->run_id, b->run.run_id);
  EXPECT_EQ(reg.current->deployed_at, "2026-11-29T07:00:00Z");
  ASSERT_EQ(reg.history.size(), 1u);
  EXPECT_EQ(reg.history[0].model_version, "v1");
  // Deploying the same content again is idempotent.
  EXPECT_TRUE(StageRun(b->run.run_dir, Options(true)).ok());
}

}  // namespace
}  // namespace recserve::lifecycle
