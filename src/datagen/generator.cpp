// The generation loop behind GenerateDataset: the day-by-day traffic curve, sessions of
// view → click → purchase → rating events, option validation, and the write-then-rename of both
// files. The sampled world is in world.h, row formatting and bad rows in interaction_writer.h.
#include "datagen/generator.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <system_error>

#include "datagen/dataset_text.h"
#include "datagen/interaction_writer.h"
#include "datagen/output_file.h"
#include "datagen/samplers.h"
#include "datagen/world.h"

namespace recserve::datagen {

namespace {

constexpr double kMeanExtraSessionItems = 3.0;
constexpr uint32_t kMaxSessionItems = 40;

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
