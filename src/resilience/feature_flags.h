#pragma once
// Feature flags: the runbook's "consider toggling feature flag" switches (ranker, cache, shadow,
// one per recall channel), read from a YAML file (FEATURE_FLAGS_PATH, default
// config/feature_flags.yaml) and overridden by environment variables. Operating them:
// docs/OPERATIONS_SOP.md, "Feature flags"; every name: docs/CONFIGURATION.md.
//
// Precedence, per flag: FLAG_<NAME> env var if set > the file's value > on. A flag missing from
// the file is on, so an empty file means "everything on". The env names are
//   FLAG_RANKER, FLAG_CACHE, FLAG_SHADOW, FLAG_RECALL_<CHANNEL> (channel upper-cased:
//   FLAG_RECALL_POPULARITY, _TRENDING, _ITEM_KNN, _RECENT_KNN, _IALS, _EASE)
// with values 1/0, true/false, yes/no, on/off (any case). An unknown key in the file, an unknown
// FLAG_* variable or a malformed value is an error naming it: a typo never silently leaves a
// switch in the wrong position.
//
// Serving holds the flags in a FeatureFlagsHolder (core/reloadable_config.h): Get() per request
// (one atomic load), Reload() re-reads the file and the environment; a bad file is refused and
// the previous flags keep serving.

#include <array>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/recall_channel_names.h"
#include "core/reloadable_config.h"
#include "core/status.h"

namespace recserve::resilience {

// One immutable set of switches. true = on (the normal, healthy setting).
struct FeatureFlags {
  bool ranker = true;  // off: serve the recall order without calling the XGBoost ranker
  bool cache = true;   // off: neither read nor write the recommendation cache
  bool shadow = true;  // off: score nothing with the shadow bundle (primary unaffected)
  // Indexed like kRecallChannelNames; off: the channel contributes no candidates.
  std::array<bool, kRecallChannelNames.size()> recall_channels = MakeAllOn();
  // FLAG_* variables that overrode the file, e.g. {"FLAG_RANKER=off"}, for the start-up log.
  std::vector<std::string> env_overrides;

  // Whether the channel named `channel` may contribute candidates. A name that is not in
  // kRecallChannelNames is not switchable and reads as on.
  bool RecallChannelEnabled(std::string_view channel) const;

 private:
  static constexpr std::array<bool, kRecallChannelNames.size()> MakeAllOn() {
    std::array<bool, kRecallChannelNames.size()> all{};
    for (bool& b : all) b = true;
    return all;
  }
};

// The environment variable of a recall channel's flag: "FLAG_RECALL_" + upper-case name.
std::string RecallChannelFlagEnvName(std::string_view channel);

// Parses the text of a flags file (no environment). `source` names the file in errors.
// InvalidArgument "<source>: unknown key 'x' (line N); known keys: ..." and similar.
Result<FeatureFlags> ParseFeatureFlags(std::string_view yaml_text, std::string_view source);

// Applies the FLAG_* environment variables to `flags`. InvalidArgument naming the variable when
// one is malformed or not a known flag; `flags` is unchanged then.
Status ApplyFeatureFlagEnvOverrides(FeatureFlags& flags);

// Reads `path` (NotFound when it cannot be read), parses it and applies the env overrides.
Result<FeatureFlags> LoadFeatureFlags(const std::filesystem::path& path);

// FEATURE_FLAGS_PATH, or config/feature_flags.yaml when unset.
std::filesystem::path FeatureFlagsPathFromEnv();

using FeatureFlagsHolder = ReloadableConfig<FeatureFlags>;
// Loads `path` (with env overrides) into a holder whose Reload() re-reads file and environment.
Result<std::unique_ptr<FeatureFlagsHolder>> OpenFeatureFlags(std::filesystem::path path);

}  // namespace recserve::resilience
