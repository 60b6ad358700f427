#include <gtest/gtest.h>

#include <set>

#include "lifecycle/bundle_publisher.h"
#include "lifecycle/mlflow_run.h"
#include "lifecycle_test_support.h"

namespace recserve::lifecycle {
namespace {
namespace fs = std::filesystem;
using testing::ReadFile;
using testing::SampleMetadata;
using testing::TempDir;
using testing::WriteSampleModelFiles;

std::set<std::string> TreeOf(const fs::path& root) {
  std::set<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    out.insert(fs::relative(e.path(), root).generic_string() + (e.is_directory() ? "/" : ""));
  }
  return out;
}

class MlflowRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteSampleModelFiles(tmp_.path() / "out");
    bundle_ = PublishBundle(tmp_.path() / "out", SampleMetadata(), tmp_.path() / "models").value();
    spec_.experiment_id = "7";
    spec_.experiment_name = "recserve";
    spec_.run_id = "0123456789abcdef0123456789abcdef";
    spec_.run_name = "nightly";
    spec_.user_id = "pipeline";
    spec_.start_time_ms = 1764396000000;
    spec_.end_time_ms = 1764396060000;
    spec_.metrics = {{"loss", 0.5, 1764396010000, 0}, {"loss", 0.25, 1764396020000, 1}};
    AddBundleToRunSpec(ParseManifest(ReadFile(bundle_ / kManifestFileName)).value(), spec_);
    mlruns_ = tmp_.path() / "mlruns";
  }

  TempDir tmp_;
  fs::path bundle_;
  fs::path mlruns_;
  MlflowRunSpec spec_;
};

TEST_F(MlflowRunTest, WritesTheFileStoreLayoutExactly) {
  fs::path run = WriteMlflowRun(mlruns_, spec_, bundle_).value();
  const fs::path root = fs::canonical(mlruns_);
  EXPECT_EQ(run, root / "7" / spec_.run_id);
  const std::set<std::string> expected = {
      ".trash/",
      "0/",
      "0/meta.yaml",
      "7/",
      "7/meta.yaml",
      "7/" + spec_.run_id + "/",
      "7/" + spec_.run_id + "/meta.yaml",
      "7/" + spec_.run_id + "/params/",
      "7/" + spec_.run_id + "/params/factors",
      "7/" + spec_.run_id + "/params/objective",
      "7/" + spec_.run_id + "/params/regularization",
      "7/" + spec_.run_id + "/metrics/",
      "7/" + spec_.run_id + "/metrics/loss",
      "7/" + spec_.run_id + "/metrics/ndcg_at_10",
      "7/" + spec_.run_id + "/metrics/recall_at_20",
      "7/" + spec_.run_id + "/tags/",
      "7/" + spec_.run_id + "/tags/mlflow.runName",
      "7/" + spec_.run_id + "/tags/mlflow.user",
      "7/" + spec_.run_id + "/tags/mlflow.source.type",
      "7/" + spec_.run_id + "/tags/recserve.model_version",
      "7/" + spec_.run_id + "/tags/recserve.bundle_format_version",
      "7/" + spec_.run_id + "/artifacts/",
      "7/" + spec_.run_id + "/artifacts/model/",
      "7/" + spec_.run_id + "/artifacts/model/MLmodel",
      "7/" + spec_.run_id + "/artifacts/model/manifest.json",
      "7/" + spec_.run_id + "/artifacts/model/factors.bin",
      "7/" + spec_.run_id + "/artifacts/model/ranker.json",
      "7/" + spec_.run_id + "/artifacts/model/vocab/",
      "7/" + spec_.run_id + "/artifacts/model/vocab/items.txt",
  };
  EXPECT_EQ(TreeOf(mlruns_), expected);

  EXPECT_EQ(ReadFile(run / "meta.yaml"), "artifact_uri: 'file://" + run.string() +
                                             "/artifacts'\n"
                                             "end_time: 1764396060000\n"
                                             "entry_point_name: ''\n"
                                             "experiment_id: '7'\n"
                                             "lifecycle_stage: active\n"
                                             "run_id: '0123456789abcdef0123456789abcdef'\n"
                                             "run_name: 'nightly'\n"
                                             "run_uuid: '0123456789abcdef0123456789abcdef'\n"
                                             "source_name: ''\n"
                                             "source_type: 4\n"
                                             "source_version: ''\n"
                                             "start_time: 1764396000000\n"
                                             "status: 3\n"
                                             "tags: []\n"
                                             "user_id: 'pipeline'\n");
  EXPECT_EQ(ReadFile(run / "params" / "factors"), "64");
  EXPECT_EQ(ReadFile(run / "params" / "objective"), "rank:ndcg");
  EXPECT_EQ(ReadFile(run / "metrics" / "loss"), "1764396010000 0.5 0\n1764396020000 0.25 1\n");
  EXPECT_EQ(ReadFile(run / "metrics" / "ndcg_at_10"), "1764396060000 0.15 0\n");
  EXPECT_EQ(ReadFile(run / "tags" / "mlflow.runName"), "nightly");
  EXPECT_EQ(ReadFile(run / "tags" / "mlflow.source.type"), "LOCAL");
  EXPECT_EQ(ReadFile(run / "tags" / "recserve.model_version"), "20261129-a");
  EXPECT_EQ(ReadFile(run / "artifacts" / "model" / "manifest.json"),
            ReadFile(bundle_ / kManifestFileName));

  const std::string experiment = ReadFile(mlruns_ / "7" / "meta.yaml");
  EXPECT_NE(experiment.find("artifact_location: 'file://" + (root / "7").string() + "'\n"),
            std::string::npos);
  EXPECT_NE(experiment.find("experiment_id: '7'\n"), std::string::npos);
  EXPECT_NE(experiment.find("lifecycle_stage: active\n"), std::string::npos);
  EXPECT_NE(experiment.find("name: 'recserve'\n"), std::string::npos);
  EXPECT_NE(ReadFile(mlruns_ / "0" / "meta.yaml").find("name: 'Default'\n"), std::string::npos);
  const std::string mlmodel = ReadFile(run / "artifacts" / "model" / "MLmodel");
  EXPECT_NE(mlmodel.find("artifact_path: model\n"), std::string::npos);
  EXPECT_NE(mlmodel.find("run_id: '0123456789abcdef0123456789abcdef'\n"), std::string::npos);
}

TEST_F(MlflowRunTest, ReaderReadsWhatTheWriterWrote) {
  fs::path run = WriteMlflowRun(mlruns_, spec_, bundle_).value();
  MlflowRunInfo info = ReadMlflowRun(run).value();
  EXPECT_EQ(info.run_id, spec_.run_id);
  EXPECT_EQ(info.experiment_id, "7");
  EXPECT_EQ(info.run_name, "nightly");
  EXPECT_EQ(info.user_id, "pipeline");
  EXPECT_EQ(info.status, 3);
  EXPECT_EQ(info.lifecycle_stage, "active");
  EXPECT_EQ(info.start_time_ms, 1764396000000);
  EXPECT_EQ(info.end_time_ms, 1764396060000);
}

TEST_F(MlflowRunTest, RunningRunHasNullEndTime) {
  spec_.status = MlflowRunStatus::kRunning;
  spec_.end_time_ms.reset();
  fs::path run = WriteMlflowRun(mlruns_, spec_, {}).value();
  EXPECT_NE(ReadFile(run / "meta.yaml").find("end_time: null\nentry"), std::string::npos);
  MlflowRunInfo info = ReadMlflowRun(run).value();
  EXPECT_EQ(info.status, 1);
  EXPECT_FALSE(info.end_time_ms.has_value());
  EXPECT_EQ(MlflowRunStatusName(info.status), "RUNNING");
}

TEST_F(MlflowRunTest, ExistingRunIdIsNotOverwritten) {
  ASSERT_TRUE(WriteMlflowRun(mlruns_, spec_, bundle_).ok());
  Result<fs::path> again = WriteMlflowRun(mlruns_, spec_, {});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
}

TEST_F(MlflowRunTest, BadIdsAndKeysAreRejectedAndLeaveNoRun) {
  MlflowRunSpec bad = spec_;
  bad.run_id = "../escape";
  EXPECT_EQ(WriteMlflowRun(mlruns_, bad, {}).status().code(), StatusCode::kInvalidArgument);
  bad = spec_;
  bad.experiment_id = "x";
  EXPECT_EQ(WriteMlflowRun(mlruns_, bad, {}).status().code(), StatusCode::kInvalidArgument);
  bad = spec_;
  bad.params["../../etc"] = "x";
  EXPECT_EQ(WriteMlflowRun(mlruns_, bad, {}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(fs::exists(mlruns_ / "7" / spec_.run_id));
  for (const auto& e : fs::directory_iterator(mlruns_)) {
    EXPECT_NE(e.path().filename().string().rfind(".tmp-", 0), 0u) << e.path();
  }
}

TEST_F(MlflowRunTest, GeneratedRunIdIs32Hex) {
  spec_.run_id.clear();
  fs::path run = WriteMlflowRun(mlruns_, spec_, {}).value();
  EXPECT_EQ(run.filename().string().size(), 32u);
  EXPECT_EQ(ReadMlflowRun(run)->run_id, run.filename().string());
}

TEST(MlflowRunReaderTest, MissingOrMalformedMetaYaml) {
  TempDir tmp;
  EXPECT_EQ(ReadMlflowRun(tmp.path()).status().code(), StatusCode::kNotFound);
  testing::WriteFile(tmp.path() / "meta.yaml", "run_id: [unclosed\n");
  EXPECT_EQ(ReadMlflowRun(tmp.path()).status().code(), StatusCode::kInvalidArgument);
  fs::remove(tmp.path() / "meta.yaml");
  testing::WriteFile(tmp.path() / "meta.yaml", "experiment_id: '1'\n");
  EXPECT_EQ(ReadMlflowRun(tmp.path()).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recserve::lifecycle
