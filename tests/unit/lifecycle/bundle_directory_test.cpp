// Reading a bundle through one directory descriptor (lifecycle/bundle_directory.h) and
// ReadVerifiedBundle: what is returned is what was hashed, from the directory that was opened,
// even while `recserve stage` swaps the name it was opened by.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include "core/hashing.h"
#include "lifecycle/bundle_publisher.h"
#include "lifecycle/bundle_validator.h"
#include "lifecycle/durable_files.h"
#include "lifecycle_test_support.h"

namespace recserve::lifecycle {
namespace {
namespace fs = std::filesystem;
namespace support = testing;

// `status` is `code` and its message holds every one of `parts`.
void ExpectRefused(const Status& status, StatusCode code,
                   std::initializer_list<std::string_view> parts) {
  EXPECT_EQ(status.code(), code) << status.ToString();
  for (std::string_view part : parts) {
    EXPECT_NE(status.message().find(part), std::string::npos)
        << part << " in " << status.ToString();
  }
}

class BundleDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    models_ = tmp_.path() / "models";
    // Two bundles with the same file names and different bytes.
    for (const char* version : {"va", "vb"}) {
      const fs::path out = tmp_.path() / (std::string("out-") + version);
      support::WriteFile(out / "factors.bin", std::string(1000, version[1]));
      support::WriteFile(out / "vocab" / "items.txt", std::string("items of ") + version + "\n");
      ASSERT_TRUE(PublishBundle(out, support::SampleMetadata(version), models_).ok());
    }
    // The staged run is a copy of va, as `recserve stage` leaves it.
    staged_ = models_ / "staging" / "run";
    fs::create_directories(staged_);
    ASSERT_TRUE(CopyTreeDurably(models_ / "va", staged_).ok());
  }
  // A copy of vb beside the staged run, ready to be swapped in.
  fs::path FreshCopyOfB() {
    const fs::path fresh = models_ / "staging" / ".tmp-run-test";
    fs::create_directories(fresh);
    EXPECT_TRUE(CopyTreeDurably(models_ / "vb", fresh).ok());
    return fresh;
  }

  support::TempDir tmp_;
  fs::path models_;
  fs::path staged_;
};

TEST_F(BundleDirectoryTest, ReturnsTheBytesItHashed) {
  Result<VerifiedBundle> v = ReadVerifiedBundle(staged_);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->bundle.manifest.metadata.model_version, "va");
  EXPECT_EQ(v->bundle.manifest_sha256, Sha256Hex(support::ReadFile(staged_ / kManifestFileName)));
  ASSERT_EQ(v->contents.size(), v->bundle.manifest.files.size());
  for (const BundleFile& f : v->bundle.manifest.files) {
    const std::string_view bytes = v->contents.at(f.path).view();
    EXPECT_EQ(bytes.size(), f.size) << f.path;
    EXPECT_EQ(Sha256Hex(bytes), f.sha256) << f.path;
  }
  EXPECT_EQ(v->contents.at("factors.bin").view(), std::string(1000, 'a'));
}

// The race of issue 13: a reload opens models/staging/run while a stage exchanges it with the
// next run. Whatever is read afterwards comes from the directory that was opened: va's files
// under va's manifest, never vb's files.
TEST_F(BundleDirectoryTest, ASwapAfterOpenDoesNotChangeWhatIsRead) {
  Result<BundleDirectory> opened = BundleDirectory::Open(staged_);
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  const fs::path fresh = FreshCopyOfB();
  ASSERT_EQ(::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, staged_.c_str(), RENAME_EXCHANGE), 0);
  ASSERT_EQ(support::ReadFile(staged_ / "factors.bin"),
            std::string(1000, 'b'));  // the name is vb now

  Result<VerifiedBundle> v = ReadVerifiedBundle(*opened);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->bundle.manifest.metadata.model_version, "va");
  EXPECT_EQ(v->contents.at("factors.bin").view(), std::string(1000, 'a'));
  EXPECT_EQ(v->contents.at("vocab/items.txt").view(), "items of va\n");
}

// The same race with the stage's clean-up: the exchanged-out run is deleted. The reader gets a
// refusal (its files are gone), not the new run's files under the old manifest.
TEST_F(BundleDirectoryTest, ASwapAndDeleteAfterOpenIsARefusalNotAMix) {
  Result<BundleDirectory> opened = BundleDirectory::Open(staged_);
  ASSERT_TRUE(opened.ok());
  ASSERT_TRUE(ReplaceDirectory(FreshCopyOfB(), staged_).ok());
  ExpectRefused(ReadVerifiedBundle(*opened).status(), StatusCode::kNotFound,
                {"has no manifest.json"});
  // Reading the name again gets vb, whole.
  Result<VerifiedBundle> again = ReadVerifiedBundle(staged_);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->bundle.manifest.metadata.model_version, "vb");
  EXPECT_EQ(again->contents.at("factors.bin").view(), std::string(1000, 'b'));
}

// A file rewritten after the manifest was read is caught by the hash of the bytes read, which
// are the bytes returned.
TEST_F(BundleDirectoryTest, AFileRewrittenInPlaceIsDataLoss) {
  Result<BundleDirectory> opened = BundleDirectory::Open(staged_);
  ASSERT_TRUE(opened.ok());
  {
    std::fstream f(staged_ / "factors.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(10);
    f.put('z');
  }
  ExpectRefused(ReadVerifiedBundle(*opened).status(), StatusCode::kDataLoss,
                {"checksum mismatch for factors.bin"});
}

TEST_F(BundleDirectoryTest, ALongerFileIsASizeMismatch) {
  support::WriteFile(staged_ / "factors.bin", std::string(5000000, 'a'));
  ExpectRefused(ReadVerifiedBundle(staged_).status(), StatusCode::kDataLoss,
                {"size mismatch for factors.bin", "file has 5000000"});
}

TEST_F(BundleDirectoryTest, SymlinksAndSpecialFilesAreRefusedWithoutFollowingThem) {
  // A listed file replaced by a FIFO: refused at once (opening it must not wait for a writer).
  fs::remove(staged_ / "factors.bin");
  ASSERT_EQ(::mkfifo((staged_ / "factors.bin").c_str(), 0644), 0);
  ExpectRefused(ReadVerifiedBundle(staged_).status(), StatusCode::kInvalidArgument,
                {"factors.bin is not a regular file"});

  // A listed file that is a symlink to identical bytes inside the bundle's parent.
  fs::remove(staged_ / "factors.bin");
  fs::create_symlink(models_ / "va" / "factors.bin", staged_ / "factors.bin");
  EXPECT_EQ(ReadVerifiedBundle(staged_).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(ValidateBundle(staged_).status().code(), StatusCode::kInvalidArgument);

  // manifest.json itself as a symlink.
  fs::remove(staged_ / "factors.bin");
  fs::create_directories(tmp_.path() / "copy");
  ASSERT_TRUE(CopyTreeDurably(models_ / "va", tmp_.path() / "copy").ok());
  fs::remove(staged_ / kManifestFileName);
  fs::create_symlink(tmp_.path() / "copy" / kManifestFileName, staged_ / kManifestFileName);
  ExpectRefused(ReadVerifiedBundle(staged_).status(), StatusCode::kInvalidArgument,
                {"manifest.json"});
}

TEST_F(BundleDirectoryTest, OpenFollowsTheGivenNameOnceAndReportsAMissingDirectory) {
  fs::create_directory_symlink("va", models_ / "current");
  Result<BundleDirectory> opened = BundleDirectory::Open(models_ / "current");
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_EQ(opened->path(), fs::canonical(models_ / "va"));
  EXPECT_EQ(BundleDirectory::Open(models_ / "nope").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(BundleDirectory::Open(models_ / "va" / kManifestFileName).status().code(),
            StatusCode::kNotFound);
}

}  // namespace
}  // namespace recserve::lifecycle
