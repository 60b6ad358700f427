#include "datagen/generator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <system_error>
#include <vector>

#include "core/text_input.h"
#include "datagen/output_file.h"
#include "datagen/samplers.h"

namespace recserve::datagen {

namespace {

constexpr int64_t kSecondsPerDay = 86400;
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
constexpr double kMeanExtraSessionItems = 3.0;
constexpr uint32_t kMaxSessionItems = 40;
constexpr uint64_t kProgressEvery = 1000000;

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

struct UserProfile {
  uint16_t first_cluster = 0;
  uint16_t second_cluster = 0;
  uint16_t join_day = 0;  // first day (0-based) the user can appear
  bool has_second = false;
};

enum class EventType : uint8_t { kView, kClick, kPurchase, kRating };
constexpr std::string_view kEventNames[] = {"view", "click", "purchase", "rating"};

void AppendInt(std::string& out, int64_t value) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  out.append(buf, end);
}

void AppendId(std::string& out, char prefix, uint64_t index) {
  out.push_back(prefix);
  AppendInt(out, static_cast<int64_t>(index) + 1);
}

// Everything sampled once before rows are generated: O(users + items) memory.
class World {
 public:
  World(const DatagenOptions& options, Rng& rng) : options_(options) {
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

  // items.csv: item_id,title,tags,created_at.
  void WriteItems(OutputFile& out, Rng& rng) const {
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

  uint32_t SampleUser(Rng& rng, uint32_t day) const {
    for (;;) {
      const uint32_t u = user_activity_.Sample(rng);
      if (profiles_[u].join_day <= day) return u;
    }
  }

  // An item for `user` that exists at time `now`, or false when a few tries found none (early in
  // the period every sampled item may still be unreleased in a tiny catalogue).
  bool SampleItem(Rng& rng, uint32_t user, int64_t now, uint32_t& item, bool& in_taste) const {
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

 private:
  const DatagenOptions& options_;
  uint32_t cluster_count_ = 0;
  std::vector<uint16_t> item_cluster_;
  std::vector<int64_t> item_created_;
  std::vector<std::vector<uint32_t>> cluster_items_;
  std::vector<AliasTable> cluster_alias_;
  AliasTable global_items_;
  AliasTable user_activity_;
  std::vector<UserProfile> profiles_;
};

// Formats rows and turns a share of them into bad rows.
class InteractionWriter {
 public:
  InteractionWriter(const DatagenOptions& options, OutputFile& out, DatagenReport& report,
                    const ProgressCallback& progress)
      : options_(options), out_(out), report_(report), progress_(progress) {
    out_.Append("user_id,item_id,timestamp,weight,event_type\n");
  }

  bool Done() const { return report_.rows_written >= options_.interactions; }
  uint64_t rows_written() const { return report_.rows_written; }

  void Emit(Rng& rng, uint32_t user, uint32_t item, int64_t timestamp, int weight,
            EventType event) {
    if (Bernoulli(rng, options_.bad_row_fraction)) {
      EmitBad(rng, user, item, timestamp, weight, event);
    } else {
      FormatRow(row_, user, item, timestamp, weight, event);
      previous_good_ = row_;
      Write(row_);
    }
  }

 private:
  void FormatRow(std::string& row, uint32_t user, uint32_t item, int64_t timestamp, int weight,
                 EventType event) const {
    row.clear();
    AppendId(row, 'u', user);
    row.push_back(',');
    AppendId(row, 'i', item);
    row.push_back(',');
    AppendInt(row, timestamp);
    row.push_back(',');
    AppendInt(row, weight);
    row.push_back(',');
    row.append(kEventNames[static_cast<int>(event)]);
    row.push_back('\n');
  }

  void EmitBad(Rng& rng, uint32_t user, uint32_t item, int64_t timestamp, int weight,
               EventType event) {
    auto kind = static_cast<BadRowKind>(UniformBelow(rng, kBadRowKindCount));
    if (kind == BadRowKind::kDuplicateRow && previous_good_.empty()) {
      kind = BadRowKind::kNegativeWeight;  // nothing to duplicate yet
    }
    switch (kind) {
      case BadRowKind::kMissingFields: {
        FormatRow(row_, user, item, timestamp, weight, event);
        const uint64_t variant = UniformBelow(rng, 3);
        if (variant == 0) {  // "u1,i2,1735689600": weight and event_type cut off
          size_t cut = row_.find(',', row_.find(',', row_.find(',') + 1) + 1);
          row_.resize(cut);
          row_.push_back('\n');
        } else if (variant == 1) {  // empty user_id
          row_.erase(0, row_.find(','));
        } else {  // empty item_id
          const size_t first = row_.find(',') + 1;
          row_.erase(first, row_.find(',', first) - first);
        }
        break;
      }
      case BadRowKind::kNonNumericTimestamp: {
        static constexpr std::string_view kNotTimes[] = {"yesterday", "n/a", "2025-13-45T99:00",
                                                         "17356x8960"};
        row_.clear();
        AppendId(row_, 'u', user);
        row_.push_back(',');
        AppendId(row_, 'i', item);
        row_.push_back(',');
        row_.append(kNotTimes[UniformBelow(rng, std::size(kNotTimes))]);
        row_.push_back(',');
        AppendInt(row_, weight);
        row_.push_back(',');
        row_.append(kEventNames[static_cast<int>(event)]);
        row_.push_back('\n');
        break;
      }
      case BadRowKind::kNegativeWeight:
        FormatRow(row_, user, item, timestamp, -weight, event);
        break;
      case BadRowKind::kUnknownItem:
        FormatRow(row_, user,
                  options_.items + static_cast<uint32_t>(UniformBelow(rng, options_.items + 1)),
                  timestamp, weight, event);
        break;
      case BadRowKind::kDuplicateRow:
        row_ = previous_good_;
        break;
      case BadRowKind::kFutureTimestamp: {
        // Ten to eleven years after the period: after its end and after any plausible "now".
        const int64_t future = report_.period_end + 3650 * kSecondsPerDay +
                               static_cast<int64_t>(UniformBelow(rng, 365 * kSecondsPerDay));
        FormatRow(row_, user, item, future, weight, event);
        break;
      }
    }
    ++report_.bad_rows;
    ++report_.bad_rows_by_kind[static_cast<size_t>(kind)];
    Write(row_);
  }

  void Write(const std::string& row) {
    out_.Append(row);
    ++report_.rows_written;
    if (progress_ && report_.rows_written % kProgressEvery == 0) progress_(report_.rows_written);
  }

  const DatagenOptions& options_;
  OutputFile& out_;
  DatagenReport& report_;
  const ProgressCallback& progress_;
  std::string row_;
  std::string previous_good_;
};

// One session: a user looks at a few items in a row; some views lead to clicks, purchases and
// ratings. In-taste items convert and rate better, which is the signal a recommender learns.
void GenerateSession(const World& world, Rng& rng, InteractionWriter& writer, uint32_t user,
                     int64_t start, int64_t period_end) {
  const uint32_t length = 1 + Geometric(rng, kMeanExtraSessionItems, kMaxSessionItems - 1);
  int64_t t = start;
  for (uint32_t step = 0; step < length && t < period_end && !writer.Done(); ++step) {
    uint32_t item = 0;
    bool in_taste = false;
    if (world.SampleItem(rng, user, t, item, in_taste)) {
      writer.Emit(rng, user, item, t, 1, EventType::kView);
      int64_t event_time = t;
      if (Bernoulli(rng, in_taste ? 0.35 : 0.12)) {
        event_time += 5 + static_cast<int64_t>(UniformBelow(rng, 55));
        if (event_time < period_end && !writer.Done()) {
          writer.Emit(rng, user, item, event_time, 2, EventType::kClick);
        }
        if (Bernoulli(rng, in_taste ? 0.25 : 0.10)) {
          event_time += 30 + static_cast<int64_t>(UniformBelow(rng, 570));
          if (event_time < period_end && !writer.Done()) {
            writer.Emit(rng, user, item, event_time, 5, EventType::kPurchase);
          }
          if (Bernoulli(rng, 0.5)) {
            event_time += 60 + static_cast<int64_t>(UniformBelow(rng, 3600));
            const int rating = in_taste ? 4 + static_cast<int>(UniformBelow(rng, 2))
                                        : 1 + static_cast<int>(UniformBelow(rng, 3));
            if (event_time < period_end && !writer.Done()) {
              writer.Emit(rng, user, item, event_time, rating, EventType::kRating);
            }
          }
        }
      }
    }
    t += 20 + static_cast<int64_t>(UniformBelow(rng, 280));
  }
}

// Writes both files under the given (temporary) paths; the caller renames or removes them.
Status WriteDataset(const DatagenOptions& options, const ProgressCallback& progress,
                    const std::filesystem::path& items_path,
                    const std::filesystem::path& interactions_path, DatagenReport& report) {
  Rng rng(options.seed);
  const World world(options, rng);

  OutputFile items_out;
  RECSERVE_RETURN_IF_ERROR(items_out.Open(items_path, options.gzip));
  world.WriteItems(items_out, rng);
  RECSERVE_RETURN_IF_ERROR(items_out.Close());

  OutputFile interactions_out;
  RECSERVE_RETURN_IF_ERROR(interactions_out.Open(interactions_path, options.gzip));
  InteractionWriter writer(options, interactions_out, report, progress);
  // Traffic grows linearly over the period, to 1.5x the first day's on the last day; each day
  // gets its share of rows, so the file is in day order (not sorted within a day).
  const double total_weight = options.days * 1.25;
  double cumulative_weight = 0.0;
  for (uint32_t day = 0; day < options.days && !writer.Done(); ++day) {
    cumulative_weight += 1.0 + 0.5 * day / std::max<uint32_t>(options.days - 1, 1);
    const uint64_t day_target =
        day + 1 == options.days
            ? options.interactions
            : static_cast<uint64_t>(static_cast<double>(options.interactions) *
                                    std::min(1.0, cumulative_weight / total_weight));
    const int64_t day_start = options.start + static_cast<int64_t>(day) * kSecondsPerDay;
    while (writer.rows_written() < day_target) {
      const uint32_t user = world.SampleUser(rng, day);
      const int64_t session_start =
          day_start + static_cast<int64_t>(UniformBelow(rng, kSecondsPerDay));
      GenerateSession(world, rng, writer, user, session_start, report.period_end);
    }
  }
  return interactions_out.Close();
}

}  // namespace

std::string_view BadRowKindName(BadRowKind kind) {
  switch (kind) {
    case BadRowKind::kMissingFields:
      return "missing_fields";
    case BadRowKind::kNonNumericTimestamp:
      return "non_numeric_timestamp";
    case BadRowKind::kNegativeWeight:
      return "negative_weight";
    case BadRowKind::kUnknownItem:
      return "unknown_item";
    case BadRowKind::kDuplicateRow:
      return "duplicate_row";
    case BadRowKind::kFutureTimestamp:
      return "future_timestamp";
  }
  return "unknown";
}

Status ValidateOptions(const DatagenOptions& options) {
  if (options.output_dir.empty()) return InvalidArgument("--output is required");
  if (options.users < 1 || options.users > 100'000'000) {
    return InvalidArgument("--users must be within 1..100000000");
  }
  if (options.items < 1 || options.items > 100'000'000) {
    return InvalidArgument("--items must be within 1..100000000");
  }
  if (options.interactions > 10'000'000'000ULL) {
    return InvalidArgument("--interactions must be at most 10000000000");
  }
  if (!(options.bad_row_fraction >= 0.0 && options.bad_row_fraction <= 0.5)) {
    return InvalidArgument("--bad-rows must be a fraction within 0..0.5");
  }
  if (options.days < 1 || options.days > 36500) {
    return InvalidArgument("--days must be within 1..36500");
  }
  if (options.start < 0 || options.start > 4'102'444'800LL) {  // 2100-01-01
    return InvalidArgument("--start must be between 1970-01-01 and 2100-01-01");
  }
  return Status::Ok();
}

Result<DatagenReport> GenerateDataset(const DatagenOptions& options,
                                      const ProgressCallback& progress) {
  RECSERVE_RETURN_IF_ERROR(ValidateOptions(options));
  std::error_code ec;
  std::filesystem::create_directories(options.output_dir, ec);
  if (ec) {
    return InvalidArgument("cannot create " + options.output_dir.string() + ": " + ec.message());
  }
  DatagenReport report;
  const std::string suffix = options.gzip ? ".csv.gz" : ".csv";
  report.interactions_path = options.output_dir / ("interactions" + suffix);
  report.items_path = options.output_dir / ("items" + suffix);
  report.items_written = options.items;
  report.period_end = options.start + static_cast<int64_t>(options.days) * kSecondsPerDay;
  const auto temporary = [](const std::filesystem::path& p) {
    return std::filesystem::path(p.string() + ".partial");
  };
  Status written = WriteDataset(options, progress, temporary(report.items_path),
                                temporary(report.interactions_path), report);
  for (const auto& final_path : {report.items_path, report.interactions_path}) {
    if (written.ok()) {
      std::filesystem::rename(temporary(final_path), final_path, ec);
      if (ec) written = DataLoss("cannot rename into " + final_path.string() + ": " + ec.message());
    }
    if (!written.ok()) std::filesystem::remove(temporary(final_path), ec);  // no half files
  }
  if (!written.ok()) return written;
  return report;
}

}  // namespace recserve::datagen
