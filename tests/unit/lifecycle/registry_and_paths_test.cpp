#include <gtest/gtest.h>

#include "lifecycle/model_registry.h"
#include "lifecycle/path_safety.h"
#include "lifecycle_test_support.h"

namespace recserve::lifecycle {
namespace {
namespace fs = std::filesystem;
using testing::TempDir;
using testing::WriteFile;

RegistryEntry Entry(int i) {
  RegistryEntry e;
  e.model_version = std::string("v").append(std::to_string(i));
  e.run_id = std::string("run").append(std::to_string(i));
  e.experiment_id = "1";
  e.bundle_path = e.model_version;
  e.manifest_sha256 = std::string(64, 'a');
  e.deployed_at = "2026-11-29T06:00:00Z";
  return e;
}

TEST(ModelRegistryTest, HistoryIsBoundedNewestFirst) {
  ModelRegistry r;
  for (int i = 0; i < 25; ++i) r = RecordDeployment(std::move(r), Entry(i));
  ASSERT_TRUE(r.current.has_value());
  EXPECT_EQ(r.current->model_version, "v24");
  ASSERT_EQ(r.history.size(), kRegistryHistoryLimit);
  EXPECT_EQ(r.history.front().model_version, "v23");
  EXPECT_EQ(r.history.back().model_version, "v4");
}

TEST(ModelRegistryTest, SaveLoadRoundTripAndMissingFileIsEmpty) {
  TempDir tmp;
  const fs::path path = tmp.path() / kModelRegistryFileName;
  EXPECT_EQ(LoadModelRegistry(path).value(), ModelRegistry{});
  ModelRegistry r = RecordDeployment(RecordDeployment({}, Entry(1)), Entry(2), 5);
  ASSERT_TRUE(SaveModelRegistry(path, r).ok());
  EXPECT_EQ(LoadModelRegistry(path).value(), r);
  // Only the registry itself is left: the temporary file was renamed over it.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);
}

TEST(ModelRegistryTest, MalformedFileIsInvalidArgument) {
  TempDir tmp;
  const fs::path path = tmp.path() / kModelRegistryFileName;
  WriteFile(path, "{\"format_version\":1,\"current\":{\"model_version\":3}}");
  EXPECT_EQ(LoadModelRegistry(path).status().code(), StatusCode::kInvalidArgument);
  fs::remove(path);
  WriteFile(path, "garbage");
  EXPECT_EQ(LoadModelRegistry(path).status().code(), StatusCode::kInvalidArgument);
}

class PathSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "models";
    fs::create_directories(root_ / "staging" / "run");
    fs::create_directories(tmp_.path() / "models-old" / "run");
    fs::create_directories(tmp_.path() / "secret");
  }
  TempDir tmp_;
  fs::path root_;
};

TEST_F(PathSafetyTest, RelativePathInsideResolvesToCanonical) {
  Result<fs::path> r = ResolveInsideRoot(root_, "staging/run");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, fs::canonical(root_ / "staging" / "run"));
  EXPECT_EQ(ResolveInsideRoot(root_, "staging/../staging/run").value(), *r);
  EXPECT_EQ(ResolveInsideRoot(root_, ".").value(), fs::canonical(root_));
  EXPECT_TRUE(ResolveInsideRoot(root_, "not-yet/created").ok());
}

TEST_F(PathSafetyTest, AbsolutePathInsideIsAccepted) {
  EXPECT_TRUE(ResolveInsideRoot(root_, (fs::canonical(root_) / "staging/run").string()).ok());
}

TEST_F(PathSafetyTest, DotDotEscapeIsRejected) {
  for (const char* bad : {"..", "../secret", "staging/../../secret", "../models-old/run"}) {
    Result<fs::path> r = ResolveInsideRoot(root_, bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(r.status().message().find("outside the root"), std::string::npos);
  }
}

TEST_F(PathSafetyTest, AbsolutePathOutsideIsRejected) {
  EXPECT_FALSE(ResolveInsideRoot(root_, "/etc/passwd").ok());
  // A sibling sharing the root's name as a string prefix is outside.
  EXPECT_FALSE(ResolveInsideRoot(root_, (tmp_.path() / "models-old/run").string()).ok());
}

TEST_F(PathSafetyTest, SymlinkEscapeIsRejected) {
  fs::create_directory_symlink(tmp_.path() / "secret", root_ / "link");
  EXPECT_FALSE(ResolveInsideRoot(root_, "link").ok());
  EXPECT_FALSE(ResolveInsideRoot(root_, "link/file").ok());
  // A symlink that stays inside is fine.
  fs::create_directory_symlink(root_ / "staging", root_ / "inner");
  EXPECT_EQ(ResolveInsideRoot(root_, "inner/run").value(), fs::canonical(root_ / "staging/run"));
}

TEST_F(PathSafetyTest, EmptyAndNulAndMissingRoot) {
  EXPECT_EQ(ResolveInsideRoot(root_, "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveInsideRoot(root_, std::string_view("a\0b", 3)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveInsideRoot(tmp_.path() / "nope", "x").status().code(), StatusCode::kNotFound);
}

// models/current is the deploy pointer a fresh start and a refresh serve: it must name a bundle
// strictly inside the models root, whatever form the escape takes.
TEST_F(PathSafetyTest, CurrentResolvesOnlyToABundleInsideTheRoot) {
  fs::create_directories(root_ / "v1");
  const fs::path current = root_ / kCurrentLinkName;
  auto point = [&](const fs::path& target) {
    fs::remove(current);
    fs::create_directory_symlink(target, current);
  };
  EXPECT_EQ(ResolveCurrentBundle(root_).status().code(), StatusCode::kNotFound);  // no link

  point("v1");  // what DeployBundle writes
  EXPECT_EQ(ResolveCurrentBundle(root_).value(), fs::canonical(root_ / "v1"));
  point(fs::canonical(root_) / "v1");  // absolute, but inside
  EXPECT_EQ(ResolveCurrentBundle(root_).value(), fs::canonical(root_ / "v1"));

  fs::create_directory_symlink(tmp_.path() / "secret", root_ / "v2");  // an inner link escaping
  for (const fs::path& escape :
       {fs::path("../secret"), fs::path("v1/../../secret"), fs::path("../models/v1"),
        tmp_.path() / "secret", tmp_.path() / "models-old" / "run", fs::path("v2"), fs::path("."),
        fs::canonical(root_)}) {
    point(escape);
    Result<fs::path> r = ResolveCurrentBundle(root_);
    ASSERT_FALSE(r.ok()) << escape << " resolved to " << r.value();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << escape;
    EXPECT_NE(r.status().message().find("current -> " + escape.string()), std::string::npos)
        << r.status().ToString();
  }
  point("gone");  // dangling, inside
  EXPECT_EQ(ResolveCurrentBundle(root_).status().code(), StatusCode::kNotFound);
  fs::remove(current);
  fs::create_directories(current);  // a plain directory inside the root is a bundle too
  EXPECT_EQ(ResolveCurrentBundle(root_).value(), fs::canonical(current));
}

}  // namespace
}  // namespace recserve::lifecycle
