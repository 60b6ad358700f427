#include "pipeline/features.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace recserve::pipeline {
namespace {

constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 24 * kHour;

std::vector<store::RankedItem> TopItems(const std::vector<store::ItemFeatures>& items,
                                        size_t length, auto score, auto better, auto eligible) {
  std::vector<uint32_t> order;
  for (uint32_t i = 0; i < items.size(); ++i) {
    if (eligible(items[i])) order.push_back(i);
  }
  const size_t n = std::min(length, order.size());
  std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(n), order.end(),
                    [&](uint32_t a, uint32_t b) {
                      if (better(items[a], items[b])) return true;
                      if (better(items[b], items[a])) return false;
                      return items[a].item_id < items[b].item_id;
                    });
  std::vector<store::RankedItem> out;
  for (size_t k = 0; k < n; ++k) out.push_back({items[order[k]].item_id, score(items[order[k]])});
  return out;
}

}  // namespace

store::FeatureSnapshot BuildFeatures(const InteractionTable& table, const ItemCatalog& catalog,
                                     const FeatureOptions& options) {
  store::FeatureSnapshot snap;
  const size_t rows = table.size();
  const int64_t reference =
      rows == 0 ? 0 : *std::max_element(table.timestamp.begin(), table.timestamp.end());
  auto& meta = snap.metadata;
  meta.version = options.version;
  meta.published_at = options.published_at;
  meta.reference_time = reference;
  meta.half_life_days = options.half_life_days;

  // Items: one pass over the rows.
  const uint32_t item_count = table.items.size();
  snap.items.resize(item_count);
  std::vector<int64_t> item_first_seen(item_count, INT64_MAX);
  const double decay_per_second = std::log(2.0) / (options.half_life_days * kDay);
  for (size_t r = 0; r < rows; ++r) {
    auto& it = snap.items[table.item[r]];
    const int64_t age = reference - table.timestamp[r];
    ++it.popularity;
    it.decayed_popularity +=
        table.weight[r] * std::exp(-decay_per_second * static_cast<double>(age));
    it.trending_1h += age < kHour;
    it.trending_24h += age < kDay;
    item_first_seen[table.item[r]] = std::min(item_first_seen[table.item[r]], table.timestamp[r]);
  }
  for (uint32_t i = 0; i < item_count; ++i) {
    auto& it = snap.items[i];
    it.item_id = table.items.Name(i);
    if (i < catalog.title.size()) {
      it.title = catalog.title[i];
      it.tags = catalog.tags[i];
      it.created_at = catalog.created_at[i];
    }
    const int64_t born = it.created_at != 0 ? it.created_at : item_first_seen[i];
    it.age_seconds = born == INT64_MAX ? 0 : std::max<int64_t>(0, reference - born);
  }

  // Users: rows grouped by user with a counting sort, then each user's rows newest first.
  const uint32_t user_count = table.users.size();
  std::vector<uint32_t> offsets(user_count + 1, 0);
  for (size_t r = 0; r < rows; ++r) ++offsets[table.user[r] + 1];
  std::partial_sum(offsets.begin(), offsets.end(), offsets.begin());
  std::vector<uint32_t> by_user(rows);
  {
    std::vector<uint32_t> fill(offsets.begin(), offsets.end() - 1);
    for (size_t r = 0; r < rows; ++r) by_user[fill[table.user[r]]++] = static_cast<uint32_t>(r);
  }
  snap.users.resize(user_count);
  std::vector<uint64_t> per_event(table.event_types.size());
  for (uint32_t u = 0; u < user_count; ++u) {
    if (options.progress && u % 65536 == 0 && u > 0) options.progress(u, user_count);
    auto& uf = snap.users[u];
    uf.user_id = table.users.Name(u);
    auto begin = by_user.begin() + offsets[u];
    auto end = by_user.begin() + offsets[u + 1];
    // Newest first; among equal timestamps the later input row counts as newer.
    std::sort(begin, end, [&](uint32_t a, uint32_t b) {
      return table.timestamp[a] != table.timestamp[b] ? table.timestamp[a] > table.timestamp[b]
                                                      : a > b;
    });
    uf.interaction_count = offsets[u + 1] - offsets[u];
    if (begin == end) continue;
    uf.last_seen = table.timestamp[*begin];
    uf.first_seen = table.timestamp[*(end - 1)];
    std::fill(per_event.begin(), per_event.end(), 0);
    for (auto it = begin; it != end; ++it) ++per_event[table.event_type[*it]];
    for (uint32_t e = 0; e < per_event.size(); ++e) {
      if (per_event[e] > 0) {
        const std::string& name = table.event_types.Name(e);
        uf.event_counts.emplace_back(name.empty() ? "unspecified" : name, per_event[e]);
      }
    }
    for (auto it = begin; it != end && uf.recent.size() < options.history_length; ++it) {
      uf.recent.push_back({table.items.Name(table.item[*it]), table.timestamp[*it]});
    }
  }
  meta.user_count = user_count;
  meta.item_count = item_count;

  using store::ItemFeatures;
  snap.popular = TopItems(
      snap.items, options.list_length, [](const ItemFeatures& i) { return double(i.popularity); },
      [](const ItemFeatures& a, const ItemFeatures& b) {
        return a.popularity != b.popularity ? a.popularity > b.popularity
                                            : a.decayed_popularity > b.decayed_popularity;
      },
      [](const ItemFeatures& i) { return i.popularity > 0; });
  snap.trending = TopItems(
      snap.items, options.list_length, [](const ItemFeatures& i) { return double(i.trending_24h); },
      [](const ItemFeatures& a, const ItemFeatures& b) {
        if (a.trending_24h != b.trending_24h) return a.trending_24h > b.trending_24h;
        if (a.trending_1h != b.trending_1h) return a.trending_1h > b.trending_1h;
        return a.decayed_popularity > b.decayed_popularity;
      },
      [](const ItemFeatures& i) { return i.trending_24h > 0; });
  return snap;
}

}  // namespace recserve::pipeline
