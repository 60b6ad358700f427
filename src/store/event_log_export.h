#pragma once
// EventLogExport: the pipeline's reader of the fleet's shared event log (store/logged_event.h).
// It turns the entries each shard's stream holds after that shard's checkpoint into one file in
// the pipeline's interactions format (docs/DATA_FORMAT.md, "Exported API events"), writes the
// file atomically, and only then advances each shard's checkpoint.
//
// Delivery is at-least-once, made exactly-once by the reader: a crash (or a failed checkpoint
// write) after the file is durable leaves the checkpoints where they were, so the next export
// writes the same entries again; every row carries its event id and `recserve pipeline` keeps the
// first row of each event id (pipeline/ingest.h), so no event trains twice. Two exporters racing
// may both write a file with the same entries for the same reason; the checkpoint only ever
// moves forward (kAdvanceCheckpointScript), so the slower one never moves it back.
//
// Shards: the count is read from recserve:events:shards (absent: 1, the fleet's default), not
// discovered with SCAN: SCAN walks the whole keyspace, including one dedup marker per recent
// event, and the count key is what the writers shard by. The fleet only ever grows the count
// (shrinking it would strand the higher shards' unexported entries: docs/OPERATIONS_SOP.md).
//
// Malformed entries (EventFromFields fails, or a value holds a line break that a CSV line cannot
// carry) are never dropped: each is written as a row of its raw values with the reason in the
// `decode_error` column, which the pipeline quarantines as `malformed_event`, and counted in the
// summary per shard.
//
// Not thread-safe (one RedisClient); runs once per pipeline run.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "store/logged_event.h"
#include "store/redis_client.h"

namespace recserve::store {

// The header of an exported file: the interactions columns with every optional one.
inline constexpr std::string_view kExportedEventsHeader =
    "user_id,item_id,timestamp,weight,event_type,event_id,decode_error";

// The weight column for an event type: view 1, click 2, purchase 5 (the weights `datagen`
// writes, docs/DATA_FORMAT.md); any other type leaves it empty, which ingest reads as 1.
std::string_view ExportedEventWeight(std::string_view event_type);

// One CSV row (no line ending) of a decoded event, in kExportedEventsHeader's columns.
std::string ExportedEventRow(const LoggedEvent& event);

// The Lua script behind AdvanceEventCheckpoint: KEYS[1] the checkpoint key, ARGV[1] a stream id
// "<ms>-<seq>". Sets the key when it is absent or holds a smaller id (compared as two unsigned
// integers, never as text); returns 1 when it set it, 0 when the stored id is already >= ARGV[1].
// A stored value that is not a stream id is an error reply (an operator must look at it).
extern const char* const kAdvanceCheckpointScript;

// Moves shard `shard`'s checkpoint to `stream_id` unless it is already there or further.
// Returns true when it moved. Internal when the stored checkpoint is not a stream id.
Result<bool> AdvanceEventCheckpoint(RedisClient& client, uint32_t shard,
                                    std::string_view stream_id);

// True for "<digits>-<digits>", the shape of a complete stream id.
bool IsStreamId(std::string_view text);

struct EventExportOptions {
  std::filesystem::path out;   // the file to write (its directory must exist)
  size_t page_size = 10000;    // XRANGE ... COUNT
  size_t max_samples = 10;     // malformed entries described in the summary
  uint32_t max_shards = 4096;  // a larger recserve:events:shards is refused as corrupt
};

struct ShardExport {
  uint32_t shard = 0;
  std::string stream;                // the stream key
  std::optional<std::string> from;   // checkpoint before the export (nullopt: none)
  std::optional<std::string> to;     // last id exported (nullopt: nothing new)
  uint64_t events = 0;               // entries written, malformed ones included
  uint64_t malformed = 0;            // entries written with a decode_error
  bool checkpoint_advanced = false;  // false when nothing new, or another exporter was ahead
};

struct MalformedEntry {
  uint32_t shard = 0;
  std::string stream_id;
  std::string error;
};

struct EventExportSummary {
  std::filesystem::path file;
  uint64_t events = 0;     // rows written (all shards)
  uint64_t malformed = 0;  // of which malformed
  std::vector<ShardExport> shards;
  std::vector<MalformedEntry> samples;  // the first max_samples malformed entries
};

// Reads every shard's new entries (up to each stream's last id when the export began, so a
// busy stream cannot keep it paging forever), writes options.out atomically (the header alone
// when there is nothing new), then advances the checkpoints. Errors: Unavailable /
// DeadlineExceeded from Redis, InvalidArgument for a corrupt shard count or checkpoint, the
// file write's error. A failure before the file is written leaves no file; a failure after it
// leaves the file and some checkpoints behind (the next export repeats those entries).
Result<EventExportSummary> ExportEventLog(RedisClient& client, const EventExportOptions& options);

// The summary as the one-line JSON `recserve events-export` prints.
std::string EventExportSummaryJson(const EventExportSummary& summary);

}  // namespace recserve::store
