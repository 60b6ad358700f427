#pragma once
// Ingest: streams interactions.csv (and items.csv when present, and the exported API events
// files of `recserve events-export` when given), validates every row, interns ids, and produces
// the run's InteractionTable and ItemCatalog. API events go through the same row checks as
// interactions.csv (same columns, same reasons, same quarantine file) and are counted apart. Bad
// rows never stop a run: each is written with its line number and reason to the run's quarantine
// file. Damage to a file as a whole (missing, empty, wrong header, truncated gzip, an over-long
// line) is an error instead, because nothing after it can be trusted.

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "pipeline/interaction_table.h"

namespace recserve::pipeline {

// Why a row was rejected. Names (RejectReasonName) appear in rejected.csv and in the report.
enum class RejectReason {
  kBadFieldCount,    // not as many fields as the header, or broken quoting
  kEmptyId,          // user_id or item_id empty
  kBadNumber,        // weight or created_at not a finite number
  kBadTimestamp,     // timestamp breaking the grammar of core/timestamp.h
  kNegativeWeight,   // weight < 0
  kFutureTimestamp,  // timestamp later than the run's clock + kFutureToleranceSeconds
  kUnknownItem,      // item_id absent from items.csv (only checked when items.csv exists)
  kDuplicate,        // an exact copy of an earlier accepted row
  kInvalidId,        // an id breaking core/external_id.h: over 256 bytes, a control character,
                     // or not valid UTF-8 (quarantined, never rewritten); event_id included
  kMalformedEvent,   // a non-empty decode_error: an event-log entry events-export could not
                     // decode (store/event_log_export.h)
};
inline constexpr size_t kRejectReasonCount = 10;
std::string_view RejectReasonName(RejectReason reason);

// Clock skew tolerated between event producers and the pipeline host.
inline constexpr int64_t kFutureToleranceSeconds = 300;

// Per-file validation counts, the raw material of the data-quality report.
struct TableStats {
  std::vector<std::string> columns;  // header names in file order
  uint64_t input_rows = 0;           // data lines (header excluded)
  uint64_t accepted_rows = 0;
  uint64_t rejected_rows = 0;
  std::array<uint64_t, kRejectReasonCount> rejected_by_reason{};
  std::vector<uint64_t> empty_by_column;  // empty fields per column, among well-formed rows
  uint64_t well_formed_rows = 0;          // rows with the right field count
  uint64_t duplicate_rows = 0;            // == rejected_by_reason[kDuplicate]
  // API events only: items the catalogue (items.csv) did not list, added to the vocabulary (an
  // item created live gets trained on before the next catalogue export names it).
  uint64_t new_items = 0;
};

struct InputFile {
  std::string role;  // "interactions", "items" or "api_events"
  std::string path;
  uint64_t bytes = 0;  // on disk
  uint64_t rows = 0;   // data lines
  std::string sha256;
};

struct IngestResult {
  InteractionTable table;
  ItemCatalog catalog;
  TableStats interactions;
  std::optional<TableStats> items;  // nullopt when the run had no items.csv
  // Every events file together (columns: the union of their headers); nullopt when the run was
  // given none.
  std::optional<TableStats> api_events;
  std::vector<InputFile> files;
  std::filesystem::path rejected_path;
};

struct IngestOptions {
  std::filesystem::path interactions_path;
  std::optional<std::filesystem::path> items_path;
  // Exported API events (interactions format), read after interactions_path in this order. A row
  // with an event_id equal to an earlier accepted row's is a kDuplicate: a re-export after a
  // crash, or an event in two files, trains once.
  std::vector<std::filesystem::path> event_paths;
  std::filesystem::path quarantine_dir;  // data/quarantine/<run_id>; created
  int64_t now = 0;                       // unix seconds, for the future-timestamp check
  // Called now and then with (rows so far, bytes of the file consumed so far: compressed bytes
  // for gzip input) for progress display.
  std::function<void(uint64_t rows, uint64_t bytes)> progress;
};

// Runs ingest. Errors: NotFound (a file cannot be opened), InvalidArgument (empty file, wrong
// header), DataLoss (truncated/corrupt gzip), ResourceExhausted (a line over the line limit).
// The quarantine file is written even when the run later fails on the rejection threshold.
Result<IngestResult> Ingest(const IngestOptions& options);

}  // namespace recserve::pipeline
