#include "models/rp3beta.h"

#include <algorithm>
#include <cmath>
#include <thread>
#include <utility>
#include <vector>

namespace recserve::models {

ItemNeighbours BuildRp3betaNeighbours(const InteractionMatrix& m, const Rp3betaParams& params,
                                      int threads) {
  const uint32_t n = m.num_items;
  // Users of each item (item-major copy of the matrix) and the degree powers.
  std::vector<uint64_t> item_offsets(n + 1, 0);
  for (uint32_t i : m.items) ++item_offsets[i + 1];
  for (uint32_t i = 0; i < n; ++i) item_offsets[i + 1] += item_offsets[i];
  std::vector<uint32_t> item_users(m.items.size());
  {
    std::vector<uint64_t> cursor(item_offsets.begin(), item_offsets.end() - 1);
    for (uint32_t u = 0; u < m.num_users; ++u) {
      for (uint32_t i : m.RowItems(u)) item_users[cursor[i]++] = u;
    }
  }
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
  std::vector<std::vector<std::pair<uint32_t, float>>> rows(n);
  auto build = [&](uint32_t begin, uint32_t end) {
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
      auto better = [](const auto& a, const auto& b) {
        return a.second != b.second ? a.second > b.second : a.first < b.first;
      };
      const size_t keep = std::min<size_t>(params.neighbours, row.size());
      std::partial_sort(row.begin(), row.begin() + keep, row.end(), better);
      row.resize(keep);
    }
  };
  const uint32_t workers = static_cast<uint32_t>(std::max(1, threads));
  const uint32_t chunk = (n + workers - 1) / workers;
  std::vector<std::thread> pool;
  for (uint32_t w = 1; w < workers; ++w) {
    const uint32_t begin = std::min(n, w * chunk);
    pool.emplace_back(build, begin, std::min(n, begin + chunk));
  }
  build(0, std::min(n, chunk));
  for (auto& t : pool) t.join();

  std::vector<std::vector<std::pair<uint32_t, float>>> by_target(n);
  for (uint32_t j = 0; j < n; ++j) {
    for (const auto& [i, w] : rows[j]) by_target[i].emplace_back(j, w);
  }
  rows.clear();
  ItemNeighbours out;
  out.num_items = n;
  out.offsets.assign(1, 0);
  for (auto& row : by_target) {
    std::sort(row.begin(), row.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    for (const auto& [j, w] : row) {
      out.neighbour.push_back(j);
      out.similarity.push_back(w);
    }
    out.offsets.push_back(out.neighbour.size());
  }
  out.BuildReverse();
  return out;
}

std::unique_ptr<ItemKnnChannel> TrainRp3beta(const InteractionMatrix& m,
                                             const Rp3betaParams& params, int threads) {
  auto neighbours =
      std::make_shared<const ItemNeighbours>(BuildRp3betaNeighbours(m, params, threads));
  return std::make_unique<ItemKnnChannel>("rp3beta", std::move(neighbours), 0);
}

}  // namespace recserve::models
