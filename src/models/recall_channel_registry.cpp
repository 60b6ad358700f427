#include "models/recall_channel_registry.h"

#include <array>
#include <string>
#include <utility>

#include "models/ease_channel.h"
#include "models/ials_channel.h"
#include "models/item_knn_channel.h"
#include "models/popularity_channel.h"
#include "models/trending_channel.h"

namespace recserve::models {
namespace {

using ChannelResult = Result<std::unique_ptr<RecallChannel>>;

// A channel value (or its error) as the registry's owning pointer.
template <typename Channel>
ChannelResult Owned(Result<Channel> channel) {
  if (!channel.ok()) return channel.status();
  return std::unique_ptr<RecallChannel>(std::make_unique<Channel>(std::move(channel).value()));
}

template <typename Channel>
ChannelResult Owned(Channel channel) {
  return std::unique_ptr<RecallChannel>(std::make_unique<Channel>(std::move(channel)));
}

// `base` once per value, with `set` applied.
template <typename Value, typename Set>
std::vector<ModelConfig> Grid(const ModelConfig& base, const std::vector<Value>& values, Set set) {
  std::vector<ModelConfig> grid;
  for (const Value& v : values) {
    grid.push_back(base);
    set(grid.back(), v);
  }
  return grid;
}

ChannelResult TrainItemKnn(ChannelTrainingData& data, const ModelConfig& config,
                           std::string_view name, uint32_t recent_items) {
  return Owned(ItemKnnChannel(
      std::string(name), data.Neighbours(config.knn_neighbours, config.knn_shrink, config.threads),
      recent_items));
}

constexpr RecallChannelEntry kPopularity = {
    kPopularityChannel,
    [](ChannelTrainingData& data, const ModelConfig&) {
      return Owned(PopularityChannel::Train(data.matrix()));
    },
    [](const ModelFiles& files) { return Owned(PopularityChannel::Load(files)); },
    [](const ModelConfig&, bool) { return std::vector<ModelConfig>{}; },
};

constexpr RecallChannelEntry kTrending = {
    kTrendingChannel,
    [](ChannelTrainingData& data, const ModelConfig& config) {
      return Owned(TrendingChannel::Train(data.matrix(), config.trending_window_seconds));
    },
    [](const ModelFiles& files) { return Owned(TrendingChannel::Load(files)); },
    [](const ModelConfig& base, bool) {
      return Grid(base, std::vector<int64_t>{86400, 7 * 86400, 30 * 86400, 365 * 86400},
                  [](ModelConfig& c, int64_t window) { c.trending_window_seconds = window; });
    },
};

constexpr RecallChannelEntry kItemKnn = {
    kItemKnnChannel,
    [](ChannelTrainingData& data, const ModelConfig& config) {
      return TrainItemKnn(data, config, kItemKnnChannel, 0);
    },
    [](const ModelFiles& files) {
      return Owned(ItemKnnChannel::Load(files, std::string(kItemKnnChannel)));
    },
    [](const ModelConfig& base, bool) {
      std::vector<ModelConfig> grid;
      for (uint32_t k : {25u, 50u, 100u, 200u, 400u}) {
        for (float shrink : {0.0f, 10.0f, 50.0f, 200.0f}) {
          grid.push_back(base);
          grid.back().knn_neighbours = k;
          grid.back().knn_shrink = shrink;
        }
      }
      return grid;
    },
};

// recent_knn reads the neighbour lists item_knn's fields chose; it tunes only its history length.
constexpr RecallChannelEntry kRecentKnn = {
    kRecentKnnChannel,
    [](ChannelTrainingData& data, const ModelConfig& config) {
      return TrainItemKnn(data, config, kRecentKnnChannel, config.recent_items);
    },
    [](const ModelFiles& files) {
      return Owned(ItemKnnChannel::Load(files, std::string(kRecentKnnChannel)));
    },
    [](const ModelConfig& base, bool) {
      return Grid(base, std::vector<uint32_t>{1, 3, 5, 10, 20, 40},
                  [](ModelConfig& c, uint32_t recent) { c.recent_items = recent; });
    },
};

// Regularisation × confidence; factors and iterations are fixed flags.
constexpr RecallChannelEntry kIals = {
    kIalsChannel,
    [](ChannelTrainingData& data, const ModelConfig& config) {
      IalsParams params = config.ials;
      params.threads = config.threads;
      return Owned(IalsChannel::Train(data.matrix(), params));
    },
    [](const ModelFiles& files) { return Owned(IalsChannel::Load(files)); },
    [](const ModelConfig& base, bool fast) {
      const std::vector<float> regs =
          fast ? std::vector<float>{1, 10} : std::vector<float>{0.1f, 1, 10, 50};
      const std::vector<float> alphas =
          fast ? std::vector<float>{1, 10} : std::vector<float>{0.3f, 1, 3, 10};
      std::vector<ModelConfig> grid;
      for (float reg : regs) {
        for (float alpha : alphas) {
          grid.push_back(base);
          grid.back().ials.regularization = reg;
          grid.back().ials.alpha = alpha;
        }
      }
      return grid;
    },
};

// Only where the dense inverse fits (ModelConfig::ease_max_items).
constexpr RecallChannelEntry kEase = {
    kEaseChannel,
    [](ChannelTrainingData& data, const ModelConfig& config) -> ChannelResult {
      if (!config.ease || data.matrix().num_items > config.ease_max_items) {
        return std::unique_ptr<RecallChannel>();
      }
      return Owned(EaseChannel::Train(data.matrix(), config.ease_lambda, config.ease_max_items));
    },
    [](const ModelFiles& files) { return Owned(EaseChannel::Load(files)); },
    [](const ModelConfig& base, bool) {
      return Grid(base, std::vector<float>{10, 50, 100, 200, 500, 1000},
                  [](ModelConfig& c, float lambda) { c.ease_lambda = lambda; });
    },
};

constexpr std::array<RecallChannelEntry, 6> kRegistry = {kPopularity, kTrending, kItemKnn,
                                                         kRecentKnn,  kIals,     kEase};

constexpr bool RowsAreTheChannelNames() {
  if (kRegistry.size() != kRecallChannelNames.size()) return false;
  for (size_t i = 0; i < kRegistry.size(); ++i) {
    if (kRegistry[i].name != kRecallChannelNames[i]) return false;
  }
  return true;
}
static_assert(RowsAreTheChannelNames(),
              "the registry's rows are core/recall_channel_names.h's names, in order");

}  // namespace

std::shared_ptr<const ItemNeighbours> ChannelTrainingData::Neighbours(uint32_t neighbours,
                                                                      float shrink, int threads) {
  if (!neighbours_ || neighbours_k_ != neighbours || neighbours_shrink_ != shrink) {
    neighbours_.reset();  // the previous lists are freed before the next are built
    neighbours_ = std::make_shared<const ItemNeighbours>(
        ItemNeighbours::Build(matrix_, neighbours, shrink, threads));
    neighbours_k_ = neighbours;
    neighbours_shrink_ = shrink;
  }
  return neighbours_;
}

std::span<const RecallChannelEntry> RecallChannelRegistry() { return kRegistry; }

const RecallChannelEntry* FindRecallChannel(std::string_view name) {
  for (const RecallChannelEntry& entry : kRegistry) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

}  // namespace recserve::models
