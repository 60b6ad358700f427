#include "resilience/feature_flags.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace recserve::resilience {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Sets environment variables for one test and restores them (unset) at the end.
class ScopedEnv {
 public:
  ScopedEnv() = default;
  ~ScopedEnv() {
    for (const std::string& name : names_) unsetenv(name.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  void Set(const std::string& name, const std::string& value) {
    setenv(name.c_str(), value.c_str(), 1);
    names_.push_back(name);
  }

 private:
  std::vector<std::string> names_;
};

// A private directory under the system temp dir, removed at the end of the test.
class TempFile {
 public:
  TempFile() {
    std::string name = "recserve-flags-";
    name += std::to_string(getpid());
    name += "-";
    name += std::to_string(counter_++);
    dir_ = std::filesystem::temp_directory_path() / name;
    std::filesystem::create_directories(dir_);
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  std::filesystem::path path() const { return dir_ / "feature_flags.yaml"; }
  // Writes to a temporary name and renames, as an operator's editor or a ConfigMap update does.
  void Write(const std::string& text) const {
    const auto tmp = dir_ / "feature_flags.yaml.tmp";
    std::ofstream(tmp, std::ios::trunc) << text;
    std::filesystem::rename(tmp, path());
  }

 private:
  static inline int counter_ = 0;
  std::filesystem::path dir_;
};

bool AllOn(const FeatureFlags& f) {
  bool all = f.ranker && f.cache && f.shadow;
  for (bool channel : f.recall_channels) all = all && channel;
  return all;
}

FeatureFlags MustParse(const std::string& yaml) {
  Result<FeatureFlags> flags = ParseFeatureFlags(yaml, "flags.yaml");
  EXPECT_TRUE(flags.ok()) << flags.status().ToString();
  return flags.ok() ? std::move(flags).value() : FeatureFlags();
}

std::string ParseError(const std::string& yaml) {
  Result<FeatureFlags> flags = ParseFeatureFlags(yaml, "flags.yaml");
  if (flags.ok()) return "(parsed without error)";
  EXPECT_EQ(flags.status().code(), StatusCode::kInvalidArgument);
  return flags.status().message();
}

TEST(FeatureFlagsParse, ShippedFileHasEverySwitchOn) {
  Result<FeatureFlags> flags =
      LoadFeatureFlags(std::string(RECSERVE_SOURCE_DIR) + "/config/feature_flags.yaml");
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_TRUE(AllOn(*flags));
  EXPECT_TRUE(flags->env_overrides.empty());
}

TEST(FeatureFlagsParse, MissingKeysAreOn) {
  EXPECT_TRUE(AllOn(MustParse("")));
  EXPECT_TRUE(AllOn(MustParse("# nothing switched\n")));
  EXPECT_TRUE(AllOn(MustParse("recall_channels:\n")));
  EXPECT_TRUE(AllOn(FeatureFlags()));
}

TEST(FeatureFlagsParse, EachSwitchReadsItsOwnKey) {
  FeatureFlags f = MustParse(
      "ranker: off\ncache: false\nshadow: no\nrecall_channels:\n  ials: off\n  trending: on\n");
  EXPECT_FALSE(f.ranker);
  EXPECT_FALSE(f.cache);
  EXPECT_FALSE(f.shadow);
  EXPECT_FALSE(f.RecallChannelEnabled("ials"));
  EXPECT_TRUE(f.RecallChannelEnabled("trending"));
  EXPECT_TRUE(f.RecallChannelEnabled("item_knn"));
  // A name that is not a recall channel is not switchable.
  EXPECT_TRUE(f.RecallChannelEnabled("no_such_channel"));

  FeatureFlags only_cache = MustParse("cache: off\n");
  EXPECT_TRUE(only_cache.ranker);
  EXPECT_FALSE(only_cache.cache);
  EXPECT_TRUE(only_cache.shadow);
  for (std::string_view channel : kRecallChannelNames) {
    FeatureFlags one = MustParse("recall_channels: {" + std::string(channel) + ": off}\n");
    for (std::string_view other : kRecallChannelNames) {
      EXPECT_EQ(one.RecallChannelEnabled(other), other != channel) << channel << " " << other;
    }
  }
}

TEST(FeatureFlagsParse, ErrorsNameTheFileKeyAndLine) {
  EXPECT_THAT(ParseError("ranker: on\nrankr: off\n"),
              AllOf(HasSubstr("flags.yaml"), HasSubstr("unknown key 'rankr'"), HasSubstr("line 2"),
                    HasSubstr("ranker, cache, shadow, recall_channels")));
  EXPECT_THAT(ParseError("recall_channels:\n  als: off\n"),
              AllOf(HasSubstr("flags.yaml: recall_channels"), HasSubstr("unknown key 'als'"),
                    HasSubstr("line 2"), HasSubstr("item_knn")));
  EXPECT_THAT(ParseError("ranker: maybe\n"),
              AllOf(HasSubstr("flags.yaml"), HasSubstr("field 'ranker' (line 1)"),
                    HasSubstr("'maybe'"), HasSubstr("on/off")));
  EXPECT_THAT(ParseError("cache: [on]\n"), AllOf(HasSubstr("field 'cache'"), HasSubstr("list")));
  EXPECT_THAT(ParseError("recall_channels:\n  ease: 2\n"),
              AllOf(HasSubstr("recall_channels"), HasSubstr("field 'ease' (line 2)")));
  EXPECT_THAT(ParseError("recall_channels: [ials]\n"),
              HasSubstr("recall_channels must be a mapping"));
  EXPECT_THAT(ParseError("- ranker\n"), HasSubstr("must be a mapping"));
  EXPECT_THAT(ParseError("ranker: [on\n"),
              AllOf(HasSubstr("flags.yaml"), HasSubstr("YAML syntax error")));
}

TEST(FeatureFlagsEnv, NamesAreDocumented) {
  EXPECT_EQ(RecallChannelFlagEnvName("item_knn"), "FLAG_RECALL_ITEM_KNN");
  EXPECT_EQ(RecallChannelFlagEnvName("ials"), "FLAG_RECALL_IALS");
}

TEST(FeatureFlagsEnv, EnvOverridesTheFileBothWays) {
  TempFile file;
  file.Write("ranker: on\ncache: off\nrecall_channels: {ease: off}\n");
  ScopedEnv env;
  env.Set("FLAG_RANKER", "off");
  env.Set("FLAG_CACHE", "ON");
  env.Set("FLAG_RECALL_IALS", "0");
  Result<FeatureFlags> flags = LoadFeatureFlags(file.path());
  ASSERT_TRUE(flags.ok()) << flags.status().ToString();
  EXPECT_FALSE(flags->ranker);
  EXPECT_TRUE(flags->cache);
  EXPECT_TRUE(flags->shadow);
  EXPECT_FALSE(flags->RecallChannelEnabled("ials"));
  EXPECT_FALSE(flags->RecallChannelEnabled("ease"));  // from the file, not overridden
  EXPECT_THAT(flags->env_overrides,
              ElementsAre("FLAG_RANKER=off", "FLAG_CACHE=on", "FLAG_RECALL_IALS=off"));
}

TEST(FeatureFlagsEnv, MalformedOrUnknownVariablesAreErrorsNamingThem) {
  FeatureFlags flags = MustParse("shadow: off\n");
  {
    ScopedEnv env;
    env.Set("FLAG_CACHE", "maybe");
    Status st = ApplyFeatureFlagEnvOverrides(flags);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(st.message(), AllOf(HasSubstr("FLAG_CACHE"), HasSubstr("maybe")));
  }
  {
    ScopedEnv env;
    env.Set("FLAG_RANKR", "off");
    Status st = ApplyFeatureFlagEnvOverrides(flags);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(st.message(), AllOf(HasSubstr("FLAG_RANKR is not a feature flag"),
                                    HasSubstr("FLAG_RECALL_RECENT_KNN")));
  }
  // A refused override leaves the flags as they were.
  EXPECT_FALSE(flags.shadow);
  EXPECT_TRUE(flags.cache);
  EXPECT_TRUE(flags.env_overrides.empty());
}

TEST(FeatureFlagsHolderTest, ReloadRereadsTheFileEnvStillWinsAndBadFilesAreRefused) {
  TempFile file;
  file.Write("ranker: on\nshadow: on\n");
  ScopedEnv env;
  env.Set("FLAG_SHADOW", "off");
  Result<std::unique_ptr<FeatureFlagsHolder>> holder = OpenFeatureFlags(file.path());
  ASSERT_TRUE(holder.ok()) << holder.status().ToString();
  FeatureFlagsHolder& flags = **holder;
  const FeatureFlagsHolder::Ptr first = flags.Get();
  EXPECT_TRUE(first->ranker);
  EXPECT_FALSE(first->shadow);

  file.Write("ranker: off\nshadow: on\n");
  ASSERT_TRUE(flags.Reload().ok());
  EXPECT_FALSE(flags.Get()->ranker);
  EXPECT_FALSE(flags.Get()->shadow);  // the env override survives the reload
  EXPECT_TRUE(first->ranker);         // a holder of the old snapshot keeps its view

  const FeatureFlagsHolder::Ptr good = flags.Get();
  file.Write("ranker: on\nranker_v2: off\n");
  Status bad = flags.Reload();
  EXPECT_EQ(bad.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), AllOf(HasSubstr(file.path().string()), HasSubstr("'ranker_v2'")));
  EXPECT_EQ(flags.Get(), good);
  std::filesystem::remove(file.path());
  EXPECT_EQ(flags.Reload().code(), StatusCode::kNotFound);
  EXPECT_EQ(flags.Get(), good);
}

TEST(FeatureFlagsHolderTest, OpenFailsOnAMissingOrBadFile) {
  TempFile file;
  EXPECT_EQ(OpenFeatureFlags(file.path()).status().code(), StatusCode::kNotFound);
  file.Write("cache: sometimes\n");
  EXPECT_THAT(OpenFeatureFlags(file.path()).status().message(), HasSubstr("field 'cache'"));
}

TEST(FeatureFlagsPath, DefaultAndEnv) {
  unsetenv("FEATURE_FLAGS_PATH");
  EXPECT_EQ(FeatureFlagsPathFromEnv(), "config/feature_flags.yaml");
  ScopedEnv env;
  env.Set("FEATURE_FLAGS_PATH", "/etc/recserve/flags.yaml");
  EXPECT_EQ(FeatureFlagsPathFromEnv(), "/etc/recserve/flags.yaml");
}

// Readers racing reloads only ever see whole snapshots: the file flips every switch together, so
// a reader that saw a mix of on and off would have seen a half-published snapshot.
TEST(FeatureFlagsHolderTest, ConcurrentReadersSeeWholeSnapshots) {
  const std::string all_off =
      "ranker: off\ncache: off\nshadow: off\nrecall_channels: {popularity: off, trending: off, "
      "item_knn: off, recent_knn: off, ials: off, ease: off}\n";
  TempFile file;
  file.Write("");
  Result<std::unique_ptr<FeatureFlagsHolder>> holder = OpenFeatureFlags(file.path());
  ASSERT_TRUE(holder.ok());
  FeatureFlagsHolder& flags = **holder;
  std::atomic<bool> stop{false};
  std::atomic<int> mixed{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        const FeatureFlagsHolder::Ptr f = flags.Get();
        int on = f->ranker + f->cache + f->shadow;
        for (bool channel : f->recall_channels) on += channel;
        if (on != 0 && on != 3 + static_cast<int>(kRecallChannelNames.size())) ++mixed;
        ++reads;
        std::this_thread::yield();  // 2 shared cores: let the reloading thread run
      }
    });
  }
  for (int i = 0; i < 100; ++i) {
    file.Write(i % 2 == 0 ? all_off : "");
    ASSERT_TRUE(flags.Reload().ok());
  }
  stop = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_GT(reads.load(), 0);
}

}  // namespace
}  // namespace recserve::resilience
