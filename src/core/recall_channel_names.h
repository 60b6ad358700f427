#pragma once
// The recall channel names: stable identifiers used in bundles (model_set.bin, <name>.bin),
// evaluation JSON, feature names, and by per-request recall weights (experiments, feature
// flags). They are the RecallChannel::name() values of the channels in
// src/models/recall_channel_registry.cpp, which checks at compile time that its rows are these
// names in this order. They live here, in the lowest room, because both resilience/ (feature
// flags) and lifecycle/ (experiments) validate against them and resilience/ may not depend on
// models/. A bundle has every channel except possibly EASE (skipped for large catalogues).

#include <array>
#include <cstddef>
#include <optional>
#include <string_view>

namespace recserve {

inline constexpr std::string_view kPopularityChannel = "popularity";
inline constexpr std::string_view kTrendingChannel = "trending";
inline constexpr std::string_view kItemKnnChannel = "item_knn";
inline constexpr std::string_view kRecentKnnChannel = "recent_knn";
inline constexpr std::string_view kIalsChannel = "ials";
inline constexpr std::string_view kEaseChannel = "ease";

// Every channel a bundle may hold, in bundle (and training) order.
inline constexpr std::array<std::string_view, 6> kRecallChannelNames = {
    kPopularityChannel, kTrendingChannel, kItemKnnChannel,
    kRecentKnnChannel,  kIalsChannel,     kEaseChannel};

// Position of `name` in kRecallChannelNames; nullopt for a name that is not a recall channel.
constexpr std::optional<size_t> RecallChannelIndex(std::string_view name) {
  for (size_t i = 0; i < kRecallChannelNames.size(); ++i) {
    if (kRecallChannelNames[i] == name) return i;
  }
  return std::nullopt;
}

}  // namespace recserve
