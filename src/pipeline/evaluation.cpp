#include "pipeline/evaluation.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "core/hashing.h"
#include "core/text_input.h"

namespace recserve::pipeline {
namespace {

bool ParseDouble(const std::string& s, double& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return end == s.c_str() + s.size() && std::isfinite(out);
}

bool ParseInt64(const std::string& s, int64_t& out) {
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && ptr == s.data() + s.size();
}

int ColumnIndex(const std::vector<std::string>& header, std::string_view name) {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

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

void AddPositive(PositiveSet& set, std::unordered_map<uint64_t, size_t>& pair_row,
                 const Positive& p) {
  auto [it, inserted] = pair_row.emplace((uint64_t{p.user} << 32) | p.item, set.rows.size());
  if (inserted) {
    set.rows.push_back(p);
  } else if (p.timestamp < set.rows[it->second].timestamp) {
    set.rows[it->second].timestamp = p.timestamp;  // the earliest row wins
  }
}

Result<PositiveSet> LoadPositives(const std::filesystem::path& path,
                                  std::optional<double> min_weight) {
  LineReader reader;
  RECSERVE_RETURN_IF_ERROR(reader.Open(path));
  std::string line;
  std::vector<std::string> fields;
  if (!reader.Next(line)) {
    if (!reader.status().ok()) return reader.status();
    return InvalidArgument(path.string() + " is empty (expected a header line)");
  }
  if (!SplitCsvLine(line, fields)) return InvalidArgument(path.string() + ":1: malformed header");
  const int user_col = ColumnIndex(fields, "user_id");
  const int item_col = ColumnIndex(fields, "item_id");
  const int time_col = ColumnIndex(fields, "timestamp");
  const int weight_col = ColumnIndex(fields, "weight");
  if (user_col < 0 || item_col < 0) {
    return InvalidArgument(path.string() + ":1: header must name user_id and item_id");
  }
  const size_t needed =
      static_cast<size_t>(std::max({user_col, item_col, time_col, weight_col})) + 1;

  PositiveSet set;
  std::unordered_map<uint64_t, size_t> pair_row;
  while (reader.Next(line)) {
    const std::string where = path.string() + ":" + std::to_string(reader.line_number()) + ": ";
    if (line.empty()) continue;
    if (!SplitCsvLine(line, fields)) return InvalidArgument(where + "malformed CSV quoting");
    if (fields.size() < needed) {
      return InvalidArgument(where + "expected at least " + std::to_string(needed) + " fields");
    }
    const std::string& user = fields[user_col];
    const std::string& item = fields[item_col];
    if (user.empty() || item.empty()) return InvalidArgument(where + "empty user_id or item_id");
    double weight = 1.0;
    if (weight_col >= 0 && !fields[weight_col].empty() &&
        !ParseDouble(fields[weight_col], weight)) {
      return InvalidArgument(where + "weight '" + fields[weight_col] + "' is not a number");
    }
    int64_t timestamp = 0;
    if (time_col < 0 || fields[time_col].empty()) {
      set.all_timestamps = false;
    } else if (!ParseInt64(fields[time_col], timestamp)) {
      return InvalidArgument(where + "timestamp '" + fields[time_col] +
                             "' is not an integer (unix seconds)");
    }
    if (min_weight && weight < *min_weight) continue;
    AddPositive(set, pair_row, {set.users.Intern(user), set.items.Intern(item), timestamp});
  }
  if (!reader.status().ok()) return reader.status();
  set.numeric_users = AllDigitIds(set.users.names());
  set.numeric_items = AllDigitIds(set.items.names());
  return set;
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

Metrics ComputeMetrics(const std::vector<std::vector<uint32_t>>& ranked,
                       const std::vector<std::vector<uint32_t>>& targets, uint32_t catalogue) {
  Metrics m;
  if (ranked.empty()) return m;
  std::unordered_set<uint32_t> covered;
  for (size_t u = 0; u < ranked.size(); ++u) {
    const auto& target = targets[u];
    auto is_hit = [&](uint32_t item) {
      return std::find(target.begin(), target.end(), item) != target.end();
    };
    double dcg10 = 0, dcg20 = 0;
    size_t hits10 = 0, hits20 = 0;
    for (size_t r = 0; r < std::min<size_t>(20, ranked[u].size()); ++r) {
      if (r < 10) covered.insert(ranked[u][r]);
      if (!is_hit(ranked[u][r])) continue;
      double gain = 1.0 / std::log2(static_cast<double>(r) + 2.0);
      dcg20 += gain;
      ++hits20;
      if (r < 10) dcg10 += gain, ++hits10;
    }
    auto idcg = [&](size_t k) {
      double s = 0;
      for (size_t r = 0; r < std::min(k, target.size()); ++r) s += 1.0 / std::log2(r + 2.0);
      return s;
    };
    const double n = static_cast<double>(target.size());
    m.recall10 += hits10 / n;
    m.recall20 += hits20 / n;
    m.ndcg10 += dcg10 / idcg(10);
    m.ndcg20 += dcg20 / idcg(20);
    m.hitrate10 += hits10 > 0 ? 1.0 : 0.0;
  }
  const double users = static_cast<double>(ranked.size());
  m.recall10 /= users;
  m.recall20 /= users;
  m.ndcg10 /= users;
  m.ndcg20 /= users;
  m.hitrate10 /= users;
  m.coverage10 = catalogue == 0 ? 0.0 : static_cast<double>(covered.size()) / catalogue;
  return m;
}

Metrics EvaluateFold(const Fold& fold, const RankingFunction& rank, int threads) {
  std::vector<size_t> positions(fold.users.size());
  for (size_t k = 0; k < positions.size(); ++k) positions[k] = k;
  return EvaluateFoldUsers(fold, positions, rank, threads);
}

Metrics EvaluateFoldUsers(const Fold& fold, const std::vector<size_t>& positions,
                          const RankingFunction& rank, int threads) {
  const size_t n = positions.size();
  std::vector<std::vector<uint32_t>> ranked(n);
  std::vector<std::vector<uint32_t>> targets(n);
  const size_t workers = static_cast<size_t>(std::max(1, threads));
  const size_t chunk = (n + workers - 1) / workers;
  auto run = [&](size_t begin, size_t end) {
    std::vector<char> mask(fold.train.num_items, 0);
    for (size_t k = begin; k < end; ++k) {
      models::UserQuery query =
          models::UserQuery::ForTrainingUser(fold.train, fold.users[positions[k]]);
      for (uint32_t i : query.items) mask[i] = 1;
      ranked[k] = rank(query, mask);
      if (ranked[k].size() > 20) ranked[k].resize(20);
      for (uint32_t i : query.items) mask[i] = 0;
      targets[k] = fold.targets[positions[k]];
    }
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) {
    size_t begin = std::min(n, w * chunk), end = std::min(n, begin + chunk);
    pool.emplace_back(run, begin, end);
  }
  run(0, std::min(n, chunk));
  for (auto& t : pool) t.join();
  return ComputeMetrics(ranked, targets, fold.catalogue);
}

RankingFunction ChannelRanking(const models::RecallChannel& channel) {
  return [&channel](const models::UserQuery& query, const std::vector<char>& mask) {
    std::vector<float> scores(mask.size(), 0.0f);
    channel.Score(query, scores);
    std::vector<uint32_t> out;
    for (const auto& s : models::TopK(scores, 20, mask)) out.push_back(s.item);
    return out;
  };
}

namespace {

// Recall, then `score` replaces the recall scores (a failure keeps recall order, exactly as
// serving falls back); sorted by score, ties by item index, masked items dropped.
template <typename ScoreCandidates>
RankingFunction RecallAndScore(const models::RecommenderModel& model, uint32_t candidates,
                               ScoreCandidates score) {
  return
      [&model, candidates, score](const models::UserQuery& query, const std::vector<char>& mask) {
        models::RecallParams params;
        params.candidates = candidates;
        models::CandidateSet set = model.Recall(query, params);
        score(query, set);
        std::vector<models::ScoredItem> scored;
        for (size_t k = 0; k < set.items.size(); ++k) {
          if (!mask[set.items[k]]) scored.push_back({set.items[k], set.scores[k]});
        }
        std::sort(scored.begin(), scored.end(),
                  [](const auto& a, const auto& b) { return models::RanksBefore(a, b); });
        std::vector<uint32_t> out;
        for (size_t k = 0; k < std::min<size_t>(20, scored.size()); ++k)
          out.push_back(scored[k].item);
        return out;
      };
}

}  // namespace

RankingFunction FinalRanking(const models::RecommenderModel& model, uint32_t candidates) {
  return RecallAndScore(model, candidates,
                        [&model](const models::UserQuery& query, models::CandidateSet& set) {
                          (void)model.Rank(query, set);
                        });
}

RankingFunction FinalRanking(const models::RecommenderModel& model, const models::Ranker& ranker,
                             uint32_t candidates) {
  return RecallAndScore(
      model, candidates,
      [&model, &ranker](const models::UserQuery& query, models::CandidateSet& set) {
        auto scores = ranker.Predict(model.Features(query, set), set.items.size());
        if (scores.ok()) set.scores = std::move(scores).value();
      });
}

Result<models::ItemSide> LoadItemSide(const std::filesystem::path& path,
                                      const IdVocabulary& items) {
  models::ItemSide side;
  side.tags.resize(items.size());
  if (!std::filesystem::exists(path)) return side;
  LineReader reader;
  RECSERVE_RETURN_IF_ERROR(reader.Open(path));
  std::string line;
  std::vector<std::string> fields;
  if (!reader.Next(line))
    return reader.status().ok() ? Result<models::ItemSide>(side)
                                : Result<models::ItemSide>(reader.status());
  if (!SplitCsvLine(line, fields)) return InvalidArgument(path.string() + ":1: malformed header");
  const int item_col = ColumnIndex(fields, "item_id");
  const int tags_col = ColumnIndex(fields, "tags");
  if (item_col < 0) return InvalidArgument(path.string() + ":1: header must name item_id");
  IdVocabulary tag_vocab;
  while (reader.Next(line)) {
    if (line.empty()) continue;
    if (!SplitCsvLine(line, fields) || fields.size() <= static_cast<size_t>(item_col)) {
      return InvalidArgument(path.string() + ":" + std::to_string(reader.line_number()) +
                             ": malformed row");
    }
    auto item = items.Find(fields[item_col]);
    if (!item || tags_col < 0 || fields.size() <= static_cast<size_t>(tags_col)) continue;
    std::string_view tags = fields[tags_col];
    while (!tags.empty()) {
      size_t bar = tags.find('|');
      std::string_view tag = tags.substr(0, bar);
      if (!tag.empty()) side.tags[*item].push_back(tag_vocab.Intern(tag));
      if (bar == std::string_view::npos) break;
      tags.remove_prefix(bar + 1);
    }
  }
  if (!reader.status().ok()) return reader.status();
  side.tag_names = tag_vocab.names();
  return side;
}

}  // namespace recserve::pipeline
