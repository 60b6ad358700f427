#include "models/rp3beta.h"

#include "models/parallel_ranges.h"
#include "models/scored_order.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace recserve::models {

ItemNeighbours BuildRp3betaNeighbours(const InteractionMatrix& m, const Rp3betaParams& params,
                                      int threads) {
  const uint32_t n = m.num_items;
  using Row = std::vector<ItemNeighbours::NeighbourEntry>;
  const auto better = [](const ItemNeighbours::NeighbourEntry& a,
                         const ItemNeighbours::NeighbourEntry& b) {
    return RanksBefore(a.second, a.first, b.second, b.first);
  };
  // Users of each item and the degree powers.
  const ItemMajor by_item = ItemMajor::Transpose(m);
  const std::vector<uint64_t>& item_offsets = by_item.offsets;
  const std::vector<uint32_t>& item_users = by_item.users;
  std::vector<float> user_walk(m.num_users, 0.0f);  // deg(u)^-α
  for (uint32_t u = 0; u < m.num_users; ++u) {
    const double degree = static_cast<double>(m.row_offsets[u + 1] - m.row_offsets[u]);
    if (degree > 0) user_walk[u] = static_cast<float>(std::pow(degree, -params.alpha));
  }
  std::vector<float> item_from(n, 0.0f), item_to(n, 0.0f);  // deg(j)^-α, deg(i)^-β
  for (uint32_t i = 0; i < n; ++i) {
    const double degree = static_cast<double>(item_offsets[i + 1] - item_offsets[i]);
    if (degree == 0) continue;
    item_from[i] = static_cast<float>(std::pow(degree, -params.alpha));
    item_to[i] = static_cast<float>(std::pow(degree, -params.beta));
  }

  // Row j of W, pruned; then transposed into ItemNeighbours' row-per-scored-item layout.
  std::vector<Row> rows(n);
  ParallelRanges(n, threads, [&](int, uint32_t begin, uint32_t end) {
    std::vector<float> walk(n, 0.0f);
    std::vector<uint32_t> touched;
    for (uint32_t j = begin; j < end; ++j) {
      touched.clear();
      for (uint64_t k = item_offsets[j]; k < item_offsets[j + 1]; ++k) {
        const uint32_t u = item_users[k];
        for (uint32_t i : m.RowItems(u)) {
          if (i == j) continue;
          if (walk[i] == 0.0f) touched.push_back(i);
          walk[i] += user_walk[u];
        }
      }
      auto& row = rows[j];
      row.reserve(touched.size());
      for (uint32_t i : touched) {
        row.emplace_back(i, item_from[j] * walk[i] * item_to[i]);
        walk[i] = 0.0f;
      }
      const size_t keep = std::min<size_t>(params.neighbours, row.size());
      std::partial_sort(row.begin(), row.begin() + keep, row.end(), better);
      row.resize(keep);
      row.shrink_to_fit();  // keep memory to the kept weights, not every co-occurring item
    }
  });

  std::vector<Row> by_target(n);
  for (uint32_t j = 0; j < n; ++j) {
    for (const auto& [i, w] : rows[j]) by_target[i].emplace_back(j, w);
  }
  rows.clear();
  for (auto& row : by_target) std::sort(row.begin(), row.end(), better);
  return ItemNeighbours::FromRows(by_target);
}

std::unique_ptr<ItemKnnChannel> TrainRp3beta(const InteractionMatrix& m,
                                             const Rp3betaParams& params, int threads) {
  auto neighbours =
      std::make_shared<const ItemNeighbours>(BuildRp3betaNeighbours(m, params, threads));
  return std::make_unique<ItemKnnChannel>(std::string(kRp3betaChannel), std::move(neighbours), 0);
}

}  // namespace recserve::models
