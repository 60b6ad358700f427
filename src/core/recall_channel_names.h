#pragma once
// The recall channel names an operator may refer to in configuration (feature flags, experiment
// channel weights). They are the RecallChannel::name() values of src/models/recall_channels.h;
// they live here, in the lowest room, because both resilience/ (feature flags) and lifecycle/
// (experiments) validate against them and resilience/ may not depend on models/.
// tests/unit/lifecycle/experiments_test.cpp checks that a trained RecommenderModel's channels are
// all in this list, so a renamed or added channel fails a test instead of silently escaping
// configuration.

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace recserve {

inline constexpr std::array<std::string_view, 6> kRecallChannelNames = {
    "popularity", "trending", "item_knn", "recent_knn", "ials", "ease"};

// Position of `name` in kRecallChannelNames; nullopt for a name that is not a recall channel.
constexpr std::optional<size_t> RecallChannelIndex(std::string_view name) {
  for (size_t i = 0; i < kRecallChannelNames.size(); ++i) {
    if (kRecallChannelNames[i] == name) return i;
  }
  return std::nullopt;
}

}  // namespace recserve
