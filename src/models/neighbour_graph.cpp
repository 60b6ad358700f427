#include "models/neighbour_graph.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "models/parallel_ranges.h"
#include "models/scored_order.h"

namespace recserve::models {

ItemNeighbours ItemNeighbours::Build(const InteractionMatrix& m, uint32_t neighbours, float shrink,
                                     int threads) {
  const ItemMajor by_item = ItemMajor::Transpose(m);
  const auto& item_offsets = by_item.offsets;
  const auto& item_users = by_item.users;
  auto count = [&](uint32_t i) {
    return static_cast<float>(item_offsets[i + 1] - item_offsets[i]);
  };

  std::vector<std::vector<std::pair<uint32_t, float>>> rows(m.num_items);
  ParallelRanges(m.num_items, threads, [&](int, uint32_t begin, uint32_t end) {
    std::vector<float> co(m.num_items, 0.0f);
    std::vector<uint32_t> touched;
    std::remove_reference_t<decltype(rows[0])> scratch;
    for (uint32_t i = begin; i < end; ++i) {
      touched.clear();
      for (uint64_t k = item_offsets[i]; k < item_offsets[i + 1]; ++k) {
        for (uint32_t j : m.RowItems(item_users[k])) {
          if (j == i) continue;
          if (co[j] == 0.0f) touched.push_back(j);
          co[j] += 1.0f;
        }
      }
      // Every co-occurring item is scored in a per-thread scratch list; the row keeps only the
      // top `neighbours`, at exactly that capacity (reserving the row for all co-occurrences made
      // memory grow with co-occurrences instead of neighbours: 11.8 GB at 20M interactions).
      scratch.clear();
      for (uint32_t j : touched) {
        float sim = co[j] / (std::sqrt(count(i) * count(j)) + shrink);
        scratch.emplace_back(j, sim);
        co[j] = 0.0f;
      }
      auto better = [](const NeighbourEntry& a, const NeighbourEntry& b) {
        return RanksBefore(a.second, a.first, b.second, b.first);
      };
      size_t keep = std::min<size_t>(neighbours, scratch.size());
      std::partial_sort(scratch.begin(), scratch.begin() + keep, scratch.end(), better);
      rows[i].assign(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(keep));
    }
  });
  return FromRows(rows);
}

ItemNeighbours ItemNeighbours::FromRows(const std::vector<std::vector<NeighbourEntry>>& rows) {
  ItemNeighbours n;
  n.num_items = static_cast<uint32_t>(rows.size());
  n.offsets.assign(1, 0);
  for (const auto& row : rows) {
    for (const auto& [j, s] : row) {
      n.neighbour.push_back(j);
      n.similarity.push_back(s);
    }
    n.offsets.push_back(n.neighbour.size());
  }
  n.BuildReverse();
  return n;
}

void ItemNeighbours::BuildReverse() {
  reverse_offsets.assign(num_items + 1, 0);
  for (uint32_t j : neighbour) ++reverse_offsets[j + 1];
  for (uint32_t j = 0; j < num_items; ++j) reverse_offsets[j + 1] += reverse_offsets[j];
  std::vector<uint64_t> cursor(reverse_offsets.begin(), reverse_offsets.end() - 1);
  reverse_item.resize(neighbour.size());
  reverse_similarity.resize(neighbour.size());
  for (uint32_t i = 0; i < num_items; ++i) {
    for (uint64_t k = offsets[i]; k < offsets[i + 1]; ++k) {
      uint64_t at = cursor[neighbour[k]]++;
      reverse_item[at] = i;
      reverse_similarity[at] = similarity[k];
    }
  }
}

}  // namespace recserve::models
