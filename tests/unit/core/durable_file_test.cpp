#include "core/durable_file.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace recserve {
namespace {

namespace fs = std::filesystem;

class DurableFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("recserve-durable-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  size_t EntryCount() const {
    return static_cast<size_t>(std::distance(fs::directory_iterator(dir_), {}));
  }

  fs::path dir_;
};

TEST_F(DurableFileTest, WritesANewFile) {
  ASSERT_TRUE(WriteFileAtomically(dir_ / "a.json", "{\"v\":1}\n").ok());
  EXPECT_EQ(Read(dir_ / "a.json"), "{\"v\":1}\n");
  EXPECT_EQ(fs::status(dir_ / "a.json").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                fs::perms::others_read);
}

TEST_F(DurableFileTest, ReplacesTheWholeFileAndLeavesNoTemporaryFile) {
  ASSERT_TRUE(WriteFileAtomically(dir_ / "a.txt", std::string(100000, 'x')).ok());
  ASSERT_TRUE(WriteFileAtomically(dir_ / "a.txt", "short").ok());
  EXPECT_EQ(Read(dir_ / "a.txt"), "short");
  ASSERT_TRUE(WriteFileAtomically(dir_ / "a.txt", "").ok());
  EXPECT_EQ(Read(dir_ / "a.txt"), "");
  EXPECT_EQ(EntryCount(), 1u);  // no <path>.tmp-* left beside it
}

TEST_F(DurableFileTest, MissingDirectoryIsNotFoundAndCreatesNothing) {
  Status st = WriteFileAtomically(dir_ / "absent" / "a.txt", "x");
  EXPECT_EQ(st.code(), StatusCode::kNotFound) << st.ToString();
  EXPECT_NE(st.message().find("absent"), std::string::npos) << st.ToString();
  EXPECT_FALSE(fs::exists(dir_ / "absent"));
  EXPECT_EQ(EntryCount(), 0u);
}

TEST_F(DurableFileTest, ATargetThatIsADirectoryIsRefusedAndCleanedUp) {
  fs::create_directories(dir_ / "taken" / "child");
  EXPECT_FALSE(WriteFileAtomically(dir_ / "taken", "x").ok());
  EXPECT_TRUE(fs::is_directory(dir_ / "taken" / "child"));
  EXPECT_EQ(EntryCount(), 1u);  // the temporary file was removed
}

TEST_F(DurableFileTest, FsyncDirectoryNeedsADirectory) {
  EXPECT_TRUE(FsyncDirectory(dir_).ok());
  EXPECT_EQ(FsyncDirectory(dir_ / "absent").code(), StatusCode::kNotFound);
}

TEST(UniqueTempSuffix, DiffersBetweenCalls) {
  EXPECT_NE(UniqueTempSuffix(), UniqueTempSuffix());
  EXPECT_EQ(UniqueTempSuffix().rfind(std::to_string(::getpid()) + "-", 0), 0u);
}

}  // namespace
}  // namespace recserve
