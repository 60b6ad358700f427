#pragma once
// The seeded synthetic data generator behind `recserve datagen` (docs/DATA_FORMAT.md).
//
// The data has structure a recommender can find: items belong to tag clusters and have Zipf-like
// popularity; each user prefers one or two clusters and mostly interacts inside them, in sessions
// of view → click → purchase → rating events spread over the period; some items are created and
// some users first appear late in the period. On request a share of rows is deliberately bad, in
// six kinds, so data-quality code has something to catch.
//
// Deterministic: the same options produce byte-identical files (one std::mt19937_64 stream and
// the portable samplers in samplers.h). Streaming: rows are written as they are generated;
// memory is O(users + items) small fixed-size state (a few tens of bytes per user and per item),
// never O(interactions).

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string_view>

#include "core/status.h"

namespace recserve::datagen {

struct DatagenOptions {
  std::filesystem::path output_dir;
  uint32_t users = 5000;
  uint32_t items = 1000;
  uint64_t interactions = 100000;  // rows in interactions.csv, bad rows included, header excluded
  uint64_t seed = 42;
  double bad_row_fraction = 0.0;  // 0..0.5: share of rows made malformed on purpose
  int64_t start = 1735689600;     // 2025-01-01T00:00:00Z, unix seconds: first second of the period
  uint32_t days = 90;             // length of the period
  bool gzip = false;              // write interactions.csv.gz / items.csv.gz instead
};

// InvalidArgument naming the first out-of-range option.
Status ValidateOptions(const DatagenOptions& options);

enum class BadRowKind : uint8_t {
  kMissingFields = 0,    // fewer than five fields, or an empty user_id / item_id
  kNonNumericTimestamp,  // timestamp is neither unix seconds nor a valid ISO-8601 time
  kNegativeWeight,       // weight < 0
  kUnknownItem,          // item_id not in items.csv
  kDuplicateRow,         // byte-identical copy of the previous good row
  kFutureTimestamp,      // timestamp years after the period (and after the real "now")
};
inline constexpr size_t kBadRowKindCount = 6;
// Stable snake_case name used in the stderr summary: "missing_fields", ...
std::string_view BadRowKindName(BadRowKind kind);

struct DatagenReport {
  std::filesystem::path interactions_path;
  std::filesystem::path items_path;
  uint64_t rows_written = 0;  // header excluded
  uint64_t bad_rows = 0;
  std::array<uint64_t, kBadRowKindCount> bad_rows_by_kind{};
  uint32_t items_written = 0;
  int64_t period_end = 0;  // start + days * 86400; every good row's timestamp is below it
};

// Called after every million rows with the number written so far.
using ProgressCallback = std::function<void(uint64_t rows_written)>;

// Writes DIR/interactions.csv and DIR/items.csv (".gz" appended with gzip), creating DIR when
// missing. Files are written under a temporary name and renamed when complete, so a failed run
// never leaves a truncated file under the final name. Errors: InvalidArgument for bad options or
// an unusable directory, DataLoss for write failures.
Result<DatagenReport> GenerateDataset(const DatagenOptions& options,
                                      const ProgressCallback& progress = nullptr);

}  // namespace recserve::datagen
