#include "models/interaction_matrix.h"

#include <algorithm>
#include <numeric>

namespace recserve::models {

InteractionMatrix InteractionMatrix::Build(uint32_t num_users, uint32_t num_items,
                                           const std::vector<uint32_t>& users,
                                           const std::vector<uint32_t>& items,
                                           const std::vector<int64_t>& timestamps) {
  InteractionMatrix m;
  m.num_users = num_users;
  m.num_items = num_items;
  m.row_offsets.assign(num_users + 1, 0);
  for (uint32_t u : users) ++m.row_offsets[u + 1];
  std::partial_sum(m.row_offsets.begin(), m.row_offsets.end(), m.row_offsets.begin());
  std::vector<uint64_t> cursor(m.row_offsets.begin(), m.row_offsets.end() - 1);
  m.items.resize(users.size());
  m.timestamps.resize(users.size());
  for (size_t i = 0; i < users.size(); ++i) {
    uint64_t at = cursor[users[i]]++;
    m.items[at] = items[i];
    m.timestamps[at] = timestamps[i];
  }
  std::vector<std::pair<int64_t, uint32_t>> row;
  for (uint32_t u = 0; u < num_users; ++u) {
    row.clear();
    for (uint64_t k = m.row_offsets[u]; k < m.row_offsets[u + 1]; ++k) {
      row.emplace_back(m.timestamps[k], m.items[k]);
    }
    std::sort(row.begin(), row.end());
    for (size_t k = 0; k < row.size(); ++k) {
      m.timestamps[m.row_offsets[u] + k] = row[k].first;
      m.items[m.row_offsets[u] + k] = row[k].second;
    }
  }
  return m;
}

ItemMajor ItemMajor::Transpose(const InteractionMatrix& m) {
  ItemMajor t;
  t.offsets.assign(m.num_items + 1, 0);
  for (uint32_t i : m.items) ++t.offsets[i + 1];
  for (uint32_t i = 0; i < m.num_items; ++i) t.offsets[i + 1] += t.offsets[i];
  t.users.resize(m.items.size());
  std::vector<uint64_t> cursor(t.offsets.begin(), t.offsets.end() - 1);
  for (uint32_t u = 0; u < m.num_users; ++u) {
    for (uint32_t i : m.RowItems(u)) t.users[cursor[i]++] = u;
  }
  return t;
}

ItemTimeline ItemTimeline::Build(const InteractionMatrix& m) {
  ItemTimeline t;
  t.offsets.assign(m.num_items + 1, 0);
  for (uint32_t i : m.items) ++t.offsets[i + 1];
  std::partial_sum(t.offsets.begin(), t.offsets.end(), t.offsets.begin());
  std::vector<uint64_t> cursor(t.offsets.begin(), t.offsets.end() - 1);
  t.times.resize(m.items.size());
  for (size_t k = 0; k < m.items.size(); ++k) t.times[cursor[m.items[k]]++] = m.timestamps[k];
  for (uint32_t i = 0; i < m.num_items; ++i) {
    std::sort(t.times.begin() + t.offsets[i], t.times.begin() + t.offsets[i + 1]);
  }
  return t;
}

uint64_t ItemTimeline::CountIn(uint32_t item, int64_t from, int64_t to) const {
  return CountAfter(UpTo(item, to), from);
}

std::span<const int64_t> ItemTimeline::UpTo(uint32_t item, int64_t at) const {
  auto begin = times.begin() + offsets[item];
  auto end = std::upper_bound(begin, times.begin() + offsets[item + 1], at);
  return {begin, end};
}

uint64_t ItemTimeline::CountAfter(std::span<const int64_t> prefix, int64_t from) {
  // Galloping back from the end: windows are usually short next to an item's whole history, so
  // this costs O(log(answer)) instead of O(log(history)).
  size_t lo = prefix.size(), step = 1;
  while (lo > 0 && prefix[lo - 1] > from) {
    const size_t next = lo > step ? lo - step : 0;
    if (prefix[next] > from) {
      lo = next;
      step *= 2;
    } else {
      // The boundary is in (next, lo): finish with a binary search there.
      lo = std::upper_bound(prefix.begin() + static_cast<std::ptrdiff_t>(next),
                            prefix.begin() + static_cast<std::ptrdiff_t>(lo), from) -
           prefix.begin();
      break;
    }
  }
  return prefix.size() - lo;
}

std::optional<int64_t> ItemTimeline::First(uint32_t item) const {
  if (Count(item) == 0) return std::nullopt;
  return times[offsets[item]];
}

int64_t UserQuery::ReferenceTime() const {
  if (now != 0) return now;
  return timestamps.empty() ? 0 : *std::max_element(timestamps.begin(), timestamps.end());
}

UserQuery UserQuery::ForTrainingUser(const InteractionMatrix& m, uint32_t user) {
  UserQuery q;
  q.user = user;
  auto items = m.RowItems(user);
  auto times = m.RowTimes(user);
  q.items.assign(items.begin(), items.end());
  q.timestamps.assign(times.begin(), times.end());
  return q;
}

}  // namespace recserve::models
