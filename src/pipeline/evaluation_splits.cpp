// Evaluation splits and folds (evaluation.h): rule 2's three splits (SplitPositives), the
// id-sorted index space of a fold (SortedIndexSpace) and rule 3's filtered targets (BuildFold).
// Deterministic: the order of the input rows is the only order used, ties broken by id.
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "core/hashing.h"
#include "core/text_input.h"
#include "pipeline/evaluation.h"

namespace recserve::pipeline {
namespace {

// Number of test rows for a user with n positives: floor(f·n + 0.5).
size_t TestCount(size_t n, double f) {
  return static_cast<size_t>(std::floor(f * static_cast<double>(n) + 0.5));
}

}  // namespace

Result<SplitKind> ParseSplitKind(std::string_view name) {
  if (name == "user_temporal") return SplitKind::kUserTemporal;
  if (name == "temporal") return SplitKind::kTemporal;
  if (name == "random_hash") return SplitKind::kRandomHash;
  return InvalidArgument("unknown split '" + std::string(name) +
                         "' (user_temporal, temporal or random_hash)");
}

std::string_view SplitKindName(SplitKind kind) {
  switch (kind) {
    case SplitKind::kUserTemporal:
      return "user_temporal";
    case SplitKind::kTemporal:
      return "temporal";
    case SplitKind::kRandomHash:
      return "random_hash";
  }
  return "unknown";
}

Result<SplitRows> SplitPositives(const PositiveSet& set, const std::vector<Positive>& rows,
                                 SplitKind kind, double f) {
  SplitRows out;
  if (kind != SplitKind::kRandomHash && !set.all_timestamps) {
    return FailedPrecondition("split " + std::string(SplitKindName(kind)) +
                              " needs a timestamp on every row; use --split random_hash");
  }
  auto item_less = [&](uint32_t a, uint32_t b) {
    return IdLess(set.items.Name(a), set.items.Name(b), set.numeric_items);
  };
  if (kind == SplitKind::kTemporal) {
    if (rows.empty()) return out;
    std::vector<int64_t> times;
    times.reserve(rows.size());
    for (const Positive& p : rows) times.push_back(p.timestamp);
    std::sort(times.begin(), times.end());
    size_t at = static_cast<size_t>(std::floor((1.0 - f) * static_cast<double>(rows.size())));
    at = std::min(at, rows.size() - 1);
    const int64_t cut = times[at];
    for (const Positive& p : rows) (p.timestamp < cut ? out.train : out.test).push_back(p);
    return out;
  }
  // Per-user orders.
  std::unordered_map<uint32_t, std::vector<Positive>> by_user;
  std::vector<uint32_t> user_order;
  for (const Positive& p : rows) {
    auto& list = by_user[p.user];
    if (list.empty()) user_order.push_back(p.user);
    list.push_back(p);
  }
  for (uint32_t u : user_order) {
    auto& list = by_user[u];
    const size_t n_test = TestCount(list.size(), f);
    if (kind == SplitKind::kUserTemporal) {
      std::sort(list.begin(), list.end(), [&](const Positive& a, const Positive& b) {
        if (a.timestamp != b.timestamp) return a.timestamp < b.timestamp;
        return item_less(a.item, b.item);
      });
      const size_t n_train = list.size() - n_test;
      out.train.insert(out.train.end(), list.begin(), list.begin() + n_train);
      out.test.insert(out.test.end(), list.begin() + n_train, list.end());
    } else {
      const std::string& user = set.users.Name(u);
      std::vector<std::pair<uint64_t, Positive>> keyed;
      for (const Positive& p : list) {
        const std::string& item = set.items.Name(p.item);
        keyed.emplace_back(Fnv1a64("42:" + user + ":" + item), p);
      }
      std::sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
        if (a.first != b.first) return a.first < b.first;
        return set.items.Name(a.second.item) < set.items.Name(b.second.item);
      });
      for (size_t k = 0; k < keyed.size(); ++k) {
        (k < n_test ? out.test : out.train).push_back(keyed[k].second);
      }
    }
  }
  return out;
}

IndexSpace SortedIndexSpace(const PositiveSet& set, const std::vector<Positive>& rows) {
  std::vector<uint32_t> users, items;
  {
    std::vector<char> seen_user(set.users.size(), 0), seen_item(set.items.size(), 0);
    for (const Positive& p : rows) {
      if (!seen_user[p.user]) users.push_back(p.user), seen_user[p.user] = 1;
      if (!seen_item[p.item]) items.push_back(p.item), seen_item[p.item] = 1;
    }
  }
  std::sort(users.begin(), users.end(), [&](uint32_t a, uint32_t b) {
    return IdLess(set.users.Name(a), set.users.Name(b), set.numeric_users);
  });
  std::sort(items.begin(), items.end(), [&](uint32_t a, uint32_t b) {
    return IdLess(set.items.Name(a), set.items.Name(b), set.numeric_items);
  });
  IndexSpace space;
  for (uint32_t u : users) space.users.Intern(set.users.Name(u));
  for (uint32_t i : items) space.items.Intern(set.items.Name(i));
  return space;
}

Fold BuildFold(const PositiveSet& set, const IndexSpace& space, const std::vector<Positive>& train,
               const std::vector<Positive>& test) {
  // Raw index → fold index (or none).
  constexpr uint32_t kNone = UINT32_MAX;
  std::vector<uint32_t> user_map(set.users.size(), kNone), item_map(set.items.size(), kNone);
  for (uint32_t u = 0; u < set.users.size(); ++u) {
    if (auto idx = space.users.Find(set.users.Name(u))) user_map[u] = *idx;
  }
  for (uint32_t i = 0; i < set.items.size(); ++i) {
    if (auto idx = space.items.Find(set.items.Name(i))) item_map[i] = *idx;
  }
  std::vector<uint32_t> us, is;
  std::vector<int64_t> ts;
  std::vector<char> user_in_train(space.users.size(), 0), item_in_train(space.items.size(), 0);
  std::unordered_set<uint64_t> train_pairs;
  for (const Positive& p : train) {
    us.push_back(user_map[p.user]);
    is.push_back(item_map[p.item]);
    ts.push_back(p.timestamp);
    user_in_train[us.back()] = 1;
    item_in_train[is.back()] = 1;
    train_pairs.insert((uint64_t{us.back()} << 32) | is.back());
  }
  Fold fold;
  fold.train = models::InteractionMatrix::Build(space.users.size(), space.items.size(), us, is, ts);
  for (char c : item_in_train) fold.catalogue += c;
  for (char c : user_in_train) fold.train_users += c;
  std::vector<std::vector<uint32_t>> per_user(space.users.size());
  for (const Positive& p : test) {
    uint32_t u = user_map[p.user], i = item_map[p.item];
    if (u == kNone || i == kNone || !user_in_train[u] || !item_in_train[i]) continue;
    if (train_pairs.count((uint64_t{u} << 32) | i)) continue;
    per_user[u].push_back(i);
  }
  for (uint32_t u = 0; u < per_user.size(); ++u) {
    if (per_user[u].empty()) continue;
    std::sort(per_user[u].begin(), per_user[u].end());
    fold.target_pairs += per_user[u].size();
    fold.users.push_back(u);
    fold.targets.push_back(std::move(per_user[u]));
  }
  return fold;
}

}  // namespace recserve::pipeline
