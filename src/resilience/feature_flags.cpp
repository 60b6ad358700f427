#include "resilience/feature_flags.h"

#include <cctype>
#include <cstring>
#include <utility>

#include "core/env.h"
#include "core/yaml_fields.h"

extern char** environ;

namespace recserve::resilience {
namespace {

constexpr std::string_view kEnvPrefix = "FLAG_";

// Every switch with its file key, env variable and field; one table so file, env and docs agree.
struct FlagSlot {
  std::string file_key;  // "ranker" or "recall_channels.ials"
  std::string env_name;
  bool FeatureFlags::*member = nullptr;  // for the top-level flags
  size_t channel = 0;                    // for recall channels (member == nullptr)
};

std::vector<FlagSlot> AllFlagSlots() {
  std::vector<FlagSlot> slots = {{"ranker", "FLAG_RANKER", &FeatureFlags::ranker, 0},
                                 {"cache", "FLAG_CACHE", &FeatureFlags::cache, 0},
                                 {"shadow", "FLAG_SHADOW", &FeatureFlags::shadow, 0}};
  for (size_t i = 0; i < kRecallChannelNames.size(); ++i) {
    slots.push_back({"recall_channels." + std::string(kRecallChannelNames[i]),
                     RecallChannelFlagEnvName(kRecallChannelNames[i]), nullptr, i});
  }
  return slots;
}

bool& FlagOf(FeatureFlags& flags, const FlagSlot& slot) {
  return slot.member != nullptr ? flags.*slot.member : flags.recall_channels[slot.channel];
}

Result<FeatureFlags> FeatureFlagsFromYaml(const YAML::Node& root, std::string_view source) {
  FeatureFlags flags;
  if (root.IsNull()) return flags;
  if (!root.IsMap()) return InvalidArgument(std::string(source) + ": the file must be a mapping");
  RECSERVE_RETURN_IF_ERROR(
      RejectUnknownKeys(root, {"ranker", "cache", "shadow", "recall_channels"}, source));
  for (const FlagSlot& slot : AllFlagSlots()) {
    if (slot.member == nullptr || !root[slot.file_key]) continue;
    Result<bool> value = YamlBool(root[slot.file_key], slot.file_key, source);
    if (!value.ok()) return value.status();
    FlagOf(flags, slot) = *value;
  }
  const YAML::Node channels = root["recall_channels"];
  if (!channels || channels.IsNull()) return flags;
  const std::string context = std::string(source) + ": recall_channels";
  if (!channels.IsMap()) {
    return InvalidArgument(context + " must be a mapping of recall channel to on/off");
  }
  for (const auto& entry : channels) {
    const std::string name = entry.first.IsScalar() ? entry.first.Scalar() : "";
    const std::optional<size_t> index = RecallChannelIndex(name);
    if (!index) {
      RECSERVE_RETURN_IF_ERROR(RejectUnknownKeys(channels, kRecallChannelNames, context));
      return InvalidArgument(context + ": unknown recall channel '" + name + "'");
    }
    Result<bool> value = YamlBool(entry.second, name, context);
    if (!value.ok()) return value.status();
    flags.recall_channels[*index] = *value;
  }
  return flags;
}

}  // namespace

bool FeatureFlags::RecallChannelEnabled(std::string_view channel) const {
  const std::optional<size_t> index = RecallChannelIndex(channel);
  return !index || recall_channels[*index];
}

std::string RecallChannelFlagEnvName(std::string_view channel) {
  std::string name = "FLAG_RECALL_";
  for (char c : channel) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return name;
}

Result<FeatureFlags> ParseFeatureFlags(std::string_view yaml_text, std::string_view source) {
  Result<YAML::Node> doc = ParseYamlText(yaml_text, source);
  if (!doc.ok()) return doc.status();
  return FeatureFlagsFromYaml(*doc, source);
}

Status ApplyFeatureFlagEnvOverrides(FeatureFlags& flags) {
  const std::vector<FlagSlot> slots = AllFlagSlots();
  // Unknown FLAG_* names first: FLAG_RANKR=off must not be ignored.
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view assignment(*entry);
    if (assignment.substr(0, kEnvPrefix.size()) != kEnvPrefix) continue;
    const std::string_view name = assignment.substr(0, assignment.find('='));
    bool known = false;
    for (const FlagSlot& slot : slots) known = known || slot.env_name == name;
    if (!known) {
      std::string list;
      for (const FlagSlot& slot : slots) list += (list.empty() ? "" : ", ") + slot.env_name;
      return InvalidArgument(std::string(name) + " is not a feature flag; known: " + list);
    }
  }
  FeatureFlags updated = flags;
  updated.env_overrides.clear();
  for (const FlagSlot& slot : slots) {
    if (!EnvString(slot.env_name.c_str())) continue;
    Result<bool> value = EnvBoolOr(slot.env_name.c_str(), true);
    if (!value.ok()) return value.status();
    FlagOf(updated, slot) = *value;
    updated.env_overrides.push_back(slot.env_name + (*value ? "=on" : "=off"));
  }
  flags = std::move(updated);
  return Status::Ok();
}

Result<FeatureFlags> LoadFeatureFlags(const std::filesystem::path& path) {
  Result<YAML::Node> doc = LoadYamlFile(path);
  if (!doc.ok()) return doc.status();
  Result<FeatureFlags> flags = FeatureFlagsFromYaml(*doc, path.string());
  if (!flags.ok()) return flags.status();
  RECSERVE_RETURN_IF_ERROR(ApplyFeatureFlagEnvOverrides(*flags));
  return flags;
}

std::filesystem::path FeatureFlagsPathFromEnv() {
  return EnvStringOr("FEATURE_FLAGS_PATH", "config/feature_flags.yaml");
}

Result<std::unique_ptr<FeatureFlagsHolder>> OpenFeatureFlags(std::filesystem::path path) {
  return FeatureFlagsHolder::Open(std::move(path), LoadFeatureFlags);
}

}  // namespace recserve::resilience
