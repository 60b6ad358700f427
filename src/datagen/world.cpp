#include "datagen/world.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <string_view>

#include "core/text_input.h"
#include "datagen/dataset_text.h"

namespace recserve::datagen {
namespace {

// Item popularity and user activity follow Zipf-like laws with these exponents: a few items and
// users dominate, with a long tail (typical of e-commerce and media logs).
constexpr double kItemPopularityExponent = 1.0;
constexpr double kUserActivityExponent = 0.8;
constexpr double kClusterSizeExponent = 0.6;
// Share of picks inside the user's preferred clusters; the rest follow global popularity.
constexpr double kInTasteShare = 0.85;
constexpr double kSecondClusterShare = 0.5;  // users with a second preferred cluster
constexpr double kNewItemShare = 0.12;       // items created in the second half of the period
constexpr double kNewUserShare = 0.10;       // users first seen in the last quarter

constexpr std::string_view kClusterNames[] = {
    "drama",    "comedy",  "action",  "horror",  "romance", "scifi", "documentary", "animation",
    "thriller", "fantasy", "mystery", "western", "musical", "crime", "family",      "sports",
    "history",  "war",     "travel",  "cooking", "science", "music", "nature",      "tech"};
constexpr size_t kMaxClusters = std::size(kClusterNames);
constexpr std::string_view kTagSuffixes[] = {"", "-classic", "-indie", "-short"};
constexpr size_t kTagsPerCluster = std::size(kTagSuffixes);
constexpr std::string_view kTitleAdjectives[] = {
    "Silent", "Golden", "Broken", "Hidden", "Last",   "Crimson", "Distant", "Wild",
    "Frozen", "Secret", "Lost",   "Bright", "Hollow", "Iron",    "Quiet",   "Electric"};
constexpr std::string_view kTitleNouns[] = {"River",  "Garden", "Signal",  "Harbor",  "Kingdom",
                                            "Mirror", "Storm",  "Orchard", "Circuit", "Voyage",
                                            "Letter", "Summit", "Engine",  "Lantern", "Island"};

}  // namespace

World::World(const DatagenOptions& options, Rng& rng) : options_(options) {
  cluster_count_ = static_cast<uint32_t>(std::clamp<double>(
      std::round(std::sqrt(static_cast<double>(options.items)) / 4.0), 4.0, kMaxClusters));
  cluster_count_ = std::min<uint32_t>(cluster_count_, options.items);
  AliasTable cluster_sizes(ZipfWeights(cluster_count_, kClusterSizeExponent));

  // Items: a popularity rank (random order, so ids carry no popularity), a primary cluster,
  // a creation time.
  const std::vector<uint32_t> item_rank = RandomPermutation(rng, options.items);
  const std::vector<double> rank_weight = ZipfWeights(options.items, kItemPopularityExponent);
  std::vector<double> item_weight(options.items);
  item_cluster_.resize(options.items);
  item_created_.resize(options.items);
  cluster_items_.resize(cluster_count_);
  const int64_t period = static_cast<int64_t>(options.days) * kSecondsPerDay;
  for (uint32_t i = 0; i < options.items; ++i) {
    item_weight[i] = rank_weight[item_rank[i]];
    // The first cluster_count_ items seed every cluster so none is empty.
    const uint32_t cluster = i < cluster_count_ ? i : cluster_sizes.Sample(rng);
    item_cluster_[i] = static_cast<uint16_t>(cluster);
    cluster_items_[cluster].push_back(i);
    // The cluster seeds are never new, so every cluster has an item from day one.
    if (i >= cluster_count_ && Bernoulli(rng, kNewItemShare)) {
      item_created_[i] =
          options.start + period / 2 + static_cast<int64_t>(UniformBelow(rng, period / 2 + 1));
    } else {
      item_created_[i] =
          options.start - static_cast<int64_t>(UniformBelow(rng, 365 * kSecondsPerDay));
    }
  }
  global_items_ = AliasTable(item_weight);
  for (uint32_t c = 0; c < cluster_count_; ++c) {
    std::vector<double> weights;
    weights.reserve(cluster_items_[c].size());
    for (uint32_t item : cluster_items_[c]) weights.push_back(item_weight[item]);
    cluster_alias_.emplace_back(weights);
  }

  // Users: activity (Zipf over a random order), tastes, first day.
  const std::vector<uint32_t> user_rank = RandomPermutation(rng, options.users);
  const std::vector<double> activity_by_rank = ZipfWeights(options.users, kUserActivityExponent);
  std::vector<double> activity(options.users);
  profiles_.resize(options.users);
  const uint32_t late_days = std::max<uint32_t>(options.days / 4, 1);
  for (uint32_t u = 0; u < options.users; ++u) {
    activity[u] = activity_by_rank[user_rank[u]];
    UserProfile& p = profiles_[u];
    p.first_cluster = static_cast<uint16_t>(cluster_sizes.Sample(rng));
    p.has_second = cluster_count_ > 1 && Bernoulli(rng, kSecondClusterShare);
    if (p.has_second) {
      uint32_t other = static_cast<uint32_t>(UniformBelow(rng, cluster_count_ - 1));
      p.second_cluster = static_cast<uint16_t>(other >= p.first_cluster ? other + 1 : other);
    }
    // User 0 is never new, so some user exists on day one however small the world.
    if (u > 0 && options.days > 1 && Bernoulli(rng, kNewUserShare)) {
      p.join_day = static_cast<uint16_t>(options.days - late_days + UniformBelow(rng, late_days));
    }
  }
  user_activity_ = AliasTable(activity);
}

void World::WriteItems(OutputFile& out, Rng& rng) const {
  out.Append("item_id,title,tags,created_at\n");
  std::string row;
  std::string title;
  std::vector<std::string> tags;
  for (uint32_t i = 0; i < options_.items; ++i) {
    row.clear();
    AppendId(row, 'i', i);
    row.push_back(',');
    title.clear();
    const std::string_view adjective =
        kTitleAdjectives[UniformBelow(rng, std::size(kTitleAdjectives))];
    const std::string_view noun = kTitleNouns[UniformBelow(rng, std::size(kTitleNouns))];
    if (Bernoulli(rng, 0.1)) {  // "River, The": a title that needs CSV quoting
      title.append(noun).append(", The");
    } else {
      title.append(adjective).append(" ").append(noun);
    }
    row.append(CsvEscape(title));
    row.push_back(',');
    tags.clear();
    const uint32_t tag_count = 1 + static_cast<uint32_t>(UniformBelow(rng, 3));
    for (uint32_t t = 0; t < tag_count; ++t) {
      uint32_t cluster = item_cluster_[i];
      if (t > 0 && Bernoulli(rng, 0.25)) cluster = UniformBelow(rng, cluster_count_);
      std::string tag(kClusterNames[cluster]);
      tag.append(kTagSuffixes[UniformBelow(rng, kTagsPerCluster)]);
      if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(tag);
    }
    for (size_t t = 0; t < tags.size(); ++t) {
      if (t > 0) row.push_back('|');
      row.append(tags[t]);
    }
    row.push_back(',');
    AppendInt(row, item_created_[i]);
    row.push_back('\n');
    out.Append(row);
  }
}

uint32_t World::SampleUser(Rng& rng, uint32_t day) const {
  for (;;) {
    const uint32_t u = user_activity_.Sample(rng);
    if (profiles_[u].join_day <= day) return u;
  }
}

bool World::SampleItem(Rng& rng, uint32_t user, int64_t now, uint32_t& item, bool& in_taste) const {
  const UserProfile& p = profiles_[user];
  for (int attempt = 0; attempt < 8; ++attempt) {
    in_taste = Bernoulli(rng, kInTasteShare);
    if (in_taste) {
      const uint32_t cluster =
          p.has_second && Bernoulli(rng, 0.4) ? p.second_cluster : p.first_cluster;
      item = cluster_items_[cluster][cluster_alias_[cluster].Sample(rng)];
    } else {
      item = global_items_.Sample(rng);
    }
    if (item_created_[item] <= now) return true;
  }
  return false;
}

}  // namespace recserve::datagen
