// The interactions.csv reader of Ingest, also the reader of exported API events files:
// user_id,item_id,timestamp,weight[,event_type[,event_id[,decode_error]]], with the duplicate
// check over 64-bit row fingerprints shared by every file of the run.
#include <bit>
#include <charconv>
#include <cmath>
#include <limits>

#include "core/external_id.h"
#include "core/hashing.h"
#include "core/timestamp.h"
#include "pipeline/ingest_readers.h"

namespace recserve::pipeline::ingest_detail {
namespace {

constexpr uint64_t kProgressEveryRows = 1 << 16;

// Open-addressing set of 64-bit row fingerprints for the exact-duplicate check: 8 bytes per row
// instead of a node per row. Two different rows collide with probability ~n²/2^65 (about 1e-5
// for 20M rows), which would reject one valid row as a duplicate; accepted as the price of
// bounded memory.
class FingerprintSet {
 public:
  // True when `fp` was not yet present (and inserts it).
  bool Insert(uint64_t fp) {
    if (fp == 0) fp = 1;  // 0 marks an empty slot
    if ((size_ + 1) * 2 > slots_.size()) Grow();
    size_t mask = slots_.size() - 1;
    for (size_t i = fp & mask;; i = (i + 1) & mask) {
      if (slots_[i] == fp) return false;
      if (slots_[i] == 0) {
        slots_[i] = fp;
        ++size_;
        return true;
      }
    }
  }

 private:
  void Grow() {
    std::vector<uint64_t> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, 0);
    size_ = 0;
    for (uint64_t fp : old) {
      if (fp != 0) Insert(fp);
    }
  }
  std::vector<uint64_t> slots_;
  size_t size_ = 0;
};

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h *= 0xff51afd7ed558ccdULL;
  return h ^ (h >> 33);
}

// Salt of the fingerprints of rows with an event_id, so that they live apart from the content
// fingerprints of rows without one.
constexpr uint64_t kEventIdSalt = 0x6576656e745f6964ULL;  // "event_id"

bool ParseDouble(std::string_view text, double& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(out);
}

// Reads one interactions-format file into `table` and `stats` (validation, quarantine,
// duplicates against `seen`) and describes it as `role` in the returned InputFile.
Result<InputFile> ReadInteractionsFile(const std::filesystem::path& path, const char* role,
                                       const IngestOptions& options, bool report_progress,
                                       QuarantineWriter& quarantine, bool items_known,
                                       FingerprintSet& seen, InteractionTable& table,
                                       TableStats& stats) {
  LineReader reader;
  RECSERVE_RETURN_IF_ERROR(ReadHeader(reader, path, {"user_id", "item_id", "timestamp", "weight"},
                                      {"event_type", "event_id", "decode_error"}, stats));
  auto hashing = HashInBackground(path);
  const int64_t latest_allowed = options.now + kFutureToleranceSeconds;
  const uint32_t no_event_type = table.event_types.Intern("");
  std::string line;
  RowChecker row(stats, quarantine, reader, path.filename().string());
  const auto& fields = row.fields();
  auto reject = [&](RejectReason reason) { row.Reject(reason); };
  auto optional_field = [&](size_t c) {
    return fields.size() > c ? fields[c] : std::string_view();
  };
  while (reader.Next(line)) {
    if (report_progress && options.progress && (stats.input_rows + 1) % kProgressEveryRows == 0) {
      options.progress(stats.input_rows + 1, reader.file_bytes_read());
    }
    if (!row.Split(line)) continue;
    const std::string_view event = optional_field(4);
    const std::string_view event_id = optional_field(5);
    if (!optional_field(6).empty()) {
      reject(RejectReason::kMalformedEvent);
      continue;
    }
    if (fields[0].empty() || fields[1].empty()) {
      reject(RejectReason::kEmptyId);
      continue;
    }
    if (!ValidateExternalId(fields[0], "user_id").ok() ||
        !ValidateExternalId(fields[1], "item_id").ok() ||
        (!event_id.empty() && !ValidateExternalId(event_id, "event_id").ok())) {
      reject(RejectReason::kInvalidId);
      continue;
    }
    Result<int64_t> ts = ParseTimestamp(fields[2]);
    if (!ts.ok()) {
      reject(RejectReason::kBadTimestamp);
      continue;
    }
    double weight = 1.0;
    // The table stores weights as float: a finite double beyond its range would become inf.
    if (!fields[3].empty() && (!ParseDouble(fields[3], weight) ||
                               std::fabs(weight) > std::numeric_limits<float>::max())) {
      reject(RejectReason::kBadNumber);
      continue;
    }
    if (weight < 0) {
      reject(RejectReason::kNegativeWeight);
      continue;
    }
    if (*ts > latest_allowed) {
      reject(RejectReason::kFutureTimestamp);
      continue;
    }
    uint32_t item;
    if (items_known) {
      auto found = table.items.Find(fields[1]);
      if (!found) {
        reject(RejectReason::kUnknownItem);
        continue;
      }
      item = *found;
    } else {
      item = table.items.Intern(fields[1]);
    }
    // A row with an event id is that event: it is fingerprinted by the id alone, so the same
    // event exported twice (events-export after a crash) trains once. A row without one is
    // fingerprinted by the raw user and event strings (not yet interned: a duplicate must not
    // add ids) and the parsed item, time and weight.
    uint64_t fp;
    if (!event_id.empty()) {
      fp = Mix(Fnv1a64(event_id), kEventIdSalt);
    } else {
      fp = Mix(Mix(Mix(Mix(Fnv1a64(fields[0]), item), static_cast<uint64_t>(*ts)),
                   std::bit_cast<uint64_t>(weight)),
               Fnv1a64(event));
    }
    if (!seen.Insert(fp)) {
      reject(RejectReason::kDuplicate);
      continue;
    }
    table.user.push_back(table.users.Intern(fields[0]));
    table.item.push_back(item);
    table.timestamp.push_back(*ts);
    table.weight.push_back(static_cast<float>(weight));
    table.event_type.push_back(event.empty() ? no_event_type : table.event_types.Intern(event));
    ++stats.accepted_rows;
  }
  if (!reader.status().ok()) return ReaderError(reader, path);
  if (report_progress && options.progress) {
    options.progress(stats.input_rows, reader.file_bytes_read());
  }
  auto file = DescribeFile(path, stats.input_rows, hashing);
  if (!file.ok()) return file.status();
  file->role = role;
  return file;
}

// Adds one events file's counts to the run's api_events section; columns are matched by name
// (files may differ in which optional columns they carry).
void MergeStats(const TableStats& file, TableStats& total) {
  total.input_rows += file.input_rows;
  total.accepted_rows += file.accepted_rows;
  total.rejected_rows += file.rejected_rows;
  for (size_t r = 0; r < kRejectReasonCount; ++r) {
    total.rejected_by_reason[r] += file.rejected_by_reason[r];
  }
  total.well_formed_rows += file.well_formed_rows;
  total.duplicate_rows += file.duplicate_rows;
  total.new_items += file.new_items;
  for (size_t c = 0; c < file.columns.size(); ++c) {
    size_t at = 0;
    while (at < total.columns.size() && total.columns[at] != file.columns[c]) ++at;
    if (at == total.columns.size()) {
      total.columns.push_back(file.columns[c]);
      total.empty_by_column.push_back(0);
    }
    total.empty_by_column[at] += file.empty_by_column[c];
  }
}

}  // namespace

Status IngestInteractions(const IngestOptions& options, QuarantineWriter& quarantine,
                          IngestResult& result) {
  const bool items_known = result.catalog.loaded;
  FingerprintSet seen;
  auto file = ReadInteractionsFile(options.interactions_path, "interactions", options,
                                   /*report_progress=*/true, quarantine, items_known, seen,
                                   result.table, result.interactions);
  if (!file.ok()) return file.status();
  result.files.insert(result.files.begin(), *file);
  if (options.event_paths.empty()) return Status::Ok();
  TableStats events;
  // Events from the API may name items the catalogue export does not list yet (created live):
  // they are not checked against items.csv but added, and counted as new items.
  for (const auto& path : options.event_paths) {
    TableStats stats;
    const size_t items_before = result.table.items.size();
    auto event_file = ReadInteractionsFile(path, "api_events", options,
                                           /*report_progress=*/false, quarantine,
                                           /*items_known=*/false, seen, result.table, stats);
    if (!event_file.ok()) return event_file.status();
    stats.new_items = result.table.items.size() - items_before;
    result.files.push_back(*event_file);
    MergeStats(stats, events);
  }
  result.api_events = std::move(events);
  return Status::Ok();
}

}  // namespace recserve::pipeline::ingest_detail
