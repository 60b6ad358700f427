// Fuzz target: a whole interactions.csv (plain or gzip, detected by content) → pipeline::Ingest,
// the first step of `recserve pipeline`. When the input contains the line
// "=====items.csv=====", the part after it is the run's items.csv.
//
// Contract checked (src/pipeline/ingest.h, docs/DATA_QUALITY.md, docs/FUZZING.md):
// - a file-level failure is InvalidArgument, DataLoss or ResourceExhausted with a message that
//   names the file;
// - otherwise every data row is counted once: input = accepted + rejected, the per-reason counts
//   add up to the rejected count, and the table holds exactly the accepted rows, each with a
//   weight >= 0 and a timestamp at most kFutureToleranceSeconds after the run's clock;
// - the item catalog stays aligned with the item vocabulary;
// - rejected.csv holds one well-formed record (file, line number, known reason, the raw line)
//   per rejected row, line numbers increasing within a file. Bad rows lose nothing.
#include <unistd.h>

#include <array>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/text_input.h"
#include "fuzz_contract.h"
#include "pipeline/ingest.h"

namespace {

namespace fs = std::filesystem;
using recserve::pipeline::RejectReason;
using recserve::pipeline::TableStats;

constexpr int64_t kNow = 1795910400;  // 2026-11-29T00:00:00Z: one input, one path
constexpr std::string_view kItemsSeparator = "\n=====items.csv=====\n";

// A private directory for the input files and the quarantine, removed at exit.
const fs::path& WorkDir() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "recserve-fuzz-ingest.XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(WorkDir(), ignored);
    });
    return fs::path(pattern);
  }();
  return dir;
}

void WriteFile(const fs::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out) std::abort();
}

void CheckCounts(const TableStats& stats, std::string_view input) {
  FUZZ_REQUIRE(stats.input_rows == stats.accepted_rows + stats.rejected_rows, input);
  uint64_t by_reason = 0;
  for (uint64_t n : stats.rejected_by_reason) by_reason += n;
  FUZZ_REQUIRE(by_reason == stats.rejected_rows, input);
  FUZZ_REQUIRE(stats.duplicate_rows ==
                   stats.rejected_by_reason[static_cast<size_t>(RejectReason::kDuplicate)],
               input);
  FUZZ_REQUIRE(stats.well_formed_rows <= stats.input_rows, input);
  FUZZ_REQUIRE(stats.empty_by_column.size() == stats.columns.size(), input);
}

bool KnownReason(std::string_view name) {
  for (size_t r = 0; r < recserve::pipeline::kRejectReasonCount; ++r) {
    if (recserve::pipeline::RejectReasonName(static_cast<RejectReason>(r)) == name) return true;
  }
  return false;
}

// Reads rejected.csv back; returns its number of records.
uint64_t CheckQuarantine(const fs::path& path, std::string_view input) {
  recserve::LineReader reader;
  FUZZ_REQUIRE(reader.Open(path).ok(), input);
  std::string line;
  FUZZ_REQUIRE(reader.Next(line) && line == "file,line_number,reason,line", line);
  uint64_t records = 0;
  std::string last_file;
  uint64_t last_line_number = 0;
  std::vector<std::string> fields;
  while (reader.Next(line)) {
    ++records;
    FUZZ_REQUIRE(recserve::SplitCsvLine(line, fields) && fields.size() == 4, line);
    FUZZ_REQUIRE(fields[0] == "interactions.csv" || fields[0] == "items.csv", line);
    FUZZ_REQUIRE(KnownReason(fields[2]), line);
    const uint64_t line_number = std::stoull(fields[1]);
    FUZZ_REQUIRE(line_number >= 2, line);  // line 1 is the header
    if (fields[0] == last_file) FUZZ_REQUIRE(line_number > last_line_number, line);
    last_file = fields[0];
    last_line_number = line_number;
  }
  FUZZ_REQUIRE(reader.status().ok(), reader.status().ToString());
  return records;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const fs::path& dir = WorkDir();
  recserve::pipeline::IngestOptions options;
  options.interactions_path = dir / "interactions.csv";
  options.quarantine_dir = dir / "quarantine";
  options.now = kNow;
  const size_t separator = input.find(kItemsSeparator);
  WriteFile(options.interactions_path, input.substr(0, separator));
  if (separator != std::string_view::npos) {
    options.items_path = dir / "items.csv";
    WriteFile(*options.items_path, input.substr(separator + kItemsSeparator.size()));
  }

  auto result = recserve::pipeline::Ingest(options);
  if (!result.ok()) {
    const recserve::Status& st = result.status();
    FUZZ_REQUIRE(st.code() == recserve::StatusCode::kInvalidArgument ||
                     st.code() == recserve::StatusCode::kDataLoss ||
                     st.code() == recserve::StatusCode::kResourceExhausted,
                 st.ToString());
    FUZZ_REQUIRE(st.message().find("interactions.csv") != std::string::npos ||
                     st.message().find("items.csv") != std::string::npos,
                 st.message());
    return 0;
  }

  const auto& table = result->table;
  CheckCounts(result->interactions, input);
  FUZZ_REQUIRE(table.size() == result->interactions.accepted_rows, input);
  FUZZ_REQUIRE(table.item.size() == table.size() && table.timestamp.size() == table.size() &&
                   table.weight.size() == table.size() && table.event_type.size() == table.size(),
               input);
  for (size_t i = 0; i < table.size(); ++i) {
    FUZZ_REQUIRE(table.user[i] < table.users.size() && table.item[i] < table.items.size(), input);
    FUZZ_REQUIRE(table.event_type[i] < table.event_types.size(), input);
    FUZZ_REQUIRE(std::isfinite(table.weight[i]) && table.weight[i] >= 0, input);
    FUZZ_REQUIRE(table.timestamp[i] <= kNow + recserve::pipeline::kFutureToleranceSeconds, input);
  }
  uint64_t rejected = result->interactions.rejected_rows;
  if (result->items) {
    CheckCounts(*result->items, input);
    rejected += result->items->rejected_rows;
  }
  const auto& catalog = result->catalog;
  FUZZ_REQUIRE(catalog.title.size() == table.items.size() &&
                   catalog.tags.size() == table.items.size() &&
                   catalog.created_at.size() == table.items.size(),
               input);
  FUZZ_REQUIRE(CheckQuarantine(result->rejected_path, input) == rejected, input);
  return 0;
}
