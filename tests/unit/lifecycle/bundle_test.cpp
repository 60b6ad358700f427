#include <gtest/gtest.h>

#include "core/hashing.h"
#include "lifecycle/bundle_publisher.h"
#include "lifecycle/bundle_validator.h"
#include "lifecycle_test_support.h"

namespace recserve::lifecycle {
namespace {
namespace fs = std::filesystem;
using testing::ReadFile;
using testing::SampleMetadata;
using testing::TempDir;
using testing::WriteFile;
using testing::WriteSampleModelFiles;

class BundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteSampleModelFiles(tmp_.path() / "out");
    models_ = tmp_.path() / "models";
    bundle_ = PublishBundle(tmp_.path() / "out", SampleMetadata(), models_).value();
  }
  std::string ManifestText() { return ReadFile(bundle_ / kManifestFileName); }
  void ReplaceManifest(const std::string& text) {
    fs::remove(bundle_ / kManifestFileName);
    WriteFile(bundle_ / kManifestFileName, text);
  }

  TempDir tmp_;
  fs::path models_;
  fs::path bundle_;
};

TEST(BundleManifestTest, JsonRoundTripKeepsEveryField) {
  BundleManifest m;
  m.metadata = SampleMetadata();
  m.files = {{"a.bin", 3, std::string(64, '1')}, {"sub/b.json", 10, std::string(64, '2')}};
  Result<BundleManifest> parsed = ParseManifest(ManifestToJson(m));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, m);
  EXPECT_EQ(ManifestToJson(*parsed), ManifestToJson(m));
}

// Found by fuzz/bundle_manifest_fuzzer: get<int>() narrowed 4294967297 to format_version 1, and
// get<uint64_t>() wrapped a size of -1.
TEST(BundleManifestTest, RejectsNumbersThatOnlyLookRightAfterConversion) {
  BundleManifest m;
  m.metadata = SampleMetadata();
  m.files = {{"a.bin", 3, std::string(64, '1')}};
  const std::string text = ManifestToJson(m);
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string t = text;
    EXPECT_NE(t.find(from), std::string::npos) << from;
    return t.replace(t.find(from), from.size(), to);
  };
  Result<BundleManifest> narrowed =
      ParseManifest(replaced("\"format_version\": 1", "\"format_version\": 4294967297"));
  ASSERT_FALSE(narrowed.ok());
  EXPECT_EQ(narrowed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(narrowed.status().message().find("4294967297"), std::string::npos);
  for (const char* bad_size : {"-1", "1.5", "\"3\""}) {
    Result<BundleManifest> r =
        ParseManifest(replaced("\"size\": 3", std::string("\"size\": ") + bad_size));
    ASSERT_FALSE(r.ok()) << bad_size;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad_size;
  }
}

TEST_F(BundleTest, PublishWritesManifestWithSizeAndSha256OfEveryFile) {
  EXPECT_EQ(bundle_, models_ / "20261129-a");
  BundleManifest m = ParseManifest(ManifestText()).value();
  EXPECT_EQ(m.format_version, kBundleFormatVersion);
  EXPECT_EQ(m.metadata, SampleMetadata());
  ASSERT_EQ(m.files.size(), 3u);
  EXPECT_EQ(m.files[0].path, "factors.bin");
  EXPECT_EQ(m.files[0].size, 1000u);
  EXPECT_EQ(m.files[0].sha256, Sha256Hex(std::string(1000, 'f')));
  EXPECT_EQ(m.files[2].path, "vocab/items.txt");
  EXPECT_EQ(m.files[2].sha256, Sha256Hex("i1\ni2\ni3\n"));
  // No temporary directory is left beside the published bundle.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(models_)) entries += e.path() != bundle_ ? 1 : 0;
  EXPECT_EQ(entries, 0);
}

TEST_F(BundleTest, PublishedBundleValidates) {
  Result<ValidatedBundle> v = ValidateBundle(bundle_);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->manifest.metadata.model_version, "20261129-a");
  EXPECT_EQ(v->manifest_sha256, Sha256Hex(ManifestText()));
}

TEST_F(BundleTest, PublishNeverOverwritesAnExistingVersion) {
  const std::string before = ManifestText();
  WriteFile(tmp_.path() / "other" / "x.bin", "different");
  Result<fs::path> again = PublishBundle(tmp_.path() / "other", SampleMetadata(), models_);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(ManifestText(), before);
}

TEST_F(BundleTest, PublishRejectsUnsafeModelVersion) {
  for (const char* bad :
       {"", "../x", ".hidden", "a/b", "staging", "current", "model_registry.json"}) {
    Result<fs::path> r = PublishBundle(tmp_.path() / "out", SampleMetadata(bad), models_);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(BundleTest, PublishRefusesSymlinkInInput) {
  fs::create_symlink("/etc/hostname", tmp_.path() / "out" / "link");
  Result<fs::path> r = PublishBundle(tmp_.path() / "out", SampleMetadata("v2"), models_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("out/link"), std::string::npos) << r.status().ToString();
  EXPECT_FALSE(fs::exists(models_ / "v2"));
}

TEST_F(BundleTest, MissingFileIsNotFound) {
  fs::remove(bundle_ / "vocab" / "items.txt");
  Result<ValidatedBundle> v = ValidateBundle(bundle_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kNotFound);
  EXPECT_NE(v.status().message().find("vocab/items.txt"), std::string::npos);
}

TEST_F(BundleTest, ChecksumMismatchIsDataLoss) {
  fs::remove(bundle_ / "factors.bin");
  WriteFile(bundle_ / "factors.bin", std::string(999, 'f') + "g");  // same size
  Result<ValidatedBundle> v = ValidateBundle(bundle_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(v.status().message().find("checksum mismatch for factors.bin"), std::string::npos);
}

TEST_F(BundleTest, TruncatedFileIsDataLoss) {
  fs::resize_file(bundle_ / "ranker.json", 5);
  Result<ValidatedBundle> v = ValidateBundle(bundle_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(v.status().message().find("ranker.json"), std::string::npos);
  EXPECT_NE(v.status().message().find("truncated"), std::string::npos);
}

TEST_F(BundleTest, MissingManifestIsNotFound) {
  fs::remove(bundle_ / kManifestFileName);
  EXPECT_EQ(ValidateBundle(bundle_).status().code(), StatusCode::kNotFound);
}

TEST_F(BundleTest, MalformedManifestIsInvalidArgument) {
  for (const std::string& bad :
       {std::string("{not json"), std::string("[1,2]"), std::string("{\"format_version\":1}"),
        std::string("{\"format_version\":\"1\"}")}) {
    ReplaceManifest(bad);
    Result<ValidatedBundle> v = ValidateBundle(bundle_);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(BundleTest, UnsupportedFormatVersionIsFailedPrecondition) {
  std::string text = ManifestText();
  const std::string from = "\"format_version\": 1";
  ASSERT_NE(text.find(from), std::string::npos);
  text.replace(text.find(from), from.size(), "\"format_version\": 99");
  ReplaceManifest(text);
  Result<ValidatedBundle> v = ValidateBundle(bundle_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(v.status().message().find("format_version 99"), std::string::npos);
}

TEST_F(BundleTest, ManifestPathEscapingTheBundleIsRejected) {
  BundleManifest m = ParseManifest(ManifestText()).value();
  m.files.push_back({"../outside.bin", 1, std::string(64, '0')});
  ReplaceManifest(ManifestToJson(m));
  Result<ValidatedBundle> v = ValidateBundle(bundle_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("../outside.bin"), std::string::npos);
}

TEST_F(BundleTest, SymlinkedFileIsRejectedEvenWithMatchingChecksum) {
  // vocab/ becomes a symlink to a directory outside the bundle holding identical bytes.
  WriteFile(tmp_.path() / "elsewhere" / "items.txt", "i1\ni2\ni3\n");
  fs::remove_all(bundle_ / "vocab");
  fs::create_directory_symlink(tmp_.path() / "elsewhere", bundle_ / "vocab");
  Result<ValidatedBundle> v = ValidateBundle(bundle_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("escapes the bundle"), std::string::npos);
}

TEST_F(BundleTest, UnlistedFileIsRejectedButMLmodelIsAllowed) {
  WriteFile(bundle_ / "MLmodel", "artifact_path: model\n");
  EXPECT_TRUE(ValidateBundle(bundle_).ok());
  WriteFile(bundle_ / "stray.bin", "x");
  Result<ValidatedBundle> v = ValidateBundle(bundle_);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("stray.bin"), std::string::npos);
}

TEST_F(BundleTest, SmokeTestRunsAfterChecksumsAndItsFailureIsReported) {
  int calls = 0;
  BundleSmokeTest passing = [&](const fs::path& dir, const BundleManifest& m) {
    ++calls;
    EXPECT_EQ(dir, fs::canonical(bundle_));
    EXPECT_EQ(m.files.size(), 3u);
    return Status::Ok();
  };
  EXPECT_TRUE(ValidateBundle(bundle_, passing).ok());
  EXPECT_EQ(calls, 1);
  BundleSmokeTest failing = [](const fs::path&, const BundleManifest&) {
    return Internal("ranker produced NaN");
  };
  Result<ValidatedBundle> v = ValidateBundle(bundle_, failing);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(v.status().message().find("ranker produced NaN"), std::string::npos);
  // A corrupt bundle never reaches the smoke test.
  fs::resize_file(bundle_ / "factors.bin", 1);
  calls = 0;
  EXPECT_FALSE(ValidateBundle(bundle_, passing).ok());
  EXPECT_EQ(calls, 0);
}

TEST_F(BundleTest, PublishValidatedBundleIsIdempotentForSameContent) {
  TempDir other;
  ValidatedBundle v = ValidateBundle(bundle_).value();
  fs::path copy = PublishValidatedBundle(v, other.path()).value();
  EXPECT_EQ(copy, other.path() / "20261129-a");
  EXPECT_EQ(ValidateBundle(copy)->manifest_sha256, v.manifest_sha256);
  EXPECT_TRUE(PublishValidatedBundle(v, other.path()).ok());
  // Same version, different content: refused.
  WriteFile(tmp_.path() / "out2" / "x.bin", "x");
  fs::path different =
      PublishBundle(tmp_.path() / "out2", SampleMetadata(), other.path() / "m2").value();
  Result<fs::path> clash = PublishValidatedBundle(ValidateBundle(different).value(), other.path());
  ASSERT_FALSE(clash.ok());
  EXPECT_EQ(clash.status().code(), StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace recserve::lifecycle
