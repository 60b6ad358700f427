// Evaluation inputs (evaluation.h): rule 1's positives from interactions.csv (AddPositive,
// LoadPositives) and the item side information from items.csv (LoadItemSide). Both read a header
// naming their columns in any order and fail with the line number on a malformed row.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "core/text_input.h"
#include "pipeline/evaluation.h"

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

}  // namespace

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
