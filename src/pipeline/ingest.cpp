#include "pipeline/ingest.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <fstream>
#include <future>
#include <limits>

#include "core/external_id.h"
#include "core/hashing.h"
#include "core/text_input.h"
#include "core/timestamp.h"

namespace recserve::pipeline {
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

// Splits on commas into views when the line has no quotes (the common case, no allocation);
// otherwise falls back to the RFC 4180 splitter. False for broken quoting.
bool SplitFields(std::string_view line, std::vector<std::string_view>& views,
                 std::vector<std::string>& storage) {
  views.clear();
  if (line.find('"') == std::string_view::npos) {
    size_t start = 0;
    for (;;) {
      size_t comma = line.find(',', start);
      if (comma == std::string_view::npos) {
        views.push_back(line.substr(start));
        return true;
      }
      views.push_back(line.substr(start, comma - start));
      start = comma + 1;
    }
  }
  if (!SplitCsvLine(line, storage)) return false;
  for (const auto& s : storage) views.emplace_back(s);
  return true;
}

bool ParseDouble(std::string_view text, double& out) {
  if (text.empty()) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && ptr == text.data() + text.size() && std::isfinite(out);
}

// Writes rejected rows: file,line_number,reason,line.
class QuarantineWriter {
 public:
  Status Open(const std::filesystem::path& path) {
    out_.open(path, std::ios::out | std::ios::trunc);
    if (!out_) return Unavailable("cannot write quarantine file " + path.string());
    out_ << "file,line_number,reason,line\n";
    return Status::Ok();
  }
  void Write(std::string_view file, uint64_t line_number, RejectReason reason,
             std::string_view line) {
    out_ << file << ',' << line_number << ',' << RejectReasonName(reason) << ',' << CsvEscape(line)
         << '\n';
  }
  Status Close(const std::filesystem::path& path) {
    out_.close();
    if (!out_) return Unavailable("cannot write quarantine file " + path.string());
    return Status::Ok();
  }

 private:
  std::ofstream out_;
};

// The per-row bookkeeping both files share: splitting into fields, counting empty fields, and
// rejecting a row (counts + quarantine line). One per file being read.
class RowChecker {
 public:
  RowChecker(TableStats& stats, QuarantineWriter& quarantine, const LineReader& reader,
             std::string file_name)
      : stats_(stats), quarantine_(quarantine), reader_(reader), file_name_(std::move(file_name)) {}

  // Splits `line` into fields(); false (the row already rejected) when the field count or the
  // quoting is wrong.
  bool Split(const std::string& line) {
    ++stats_.input_rows;
    line_ = &line;
    if (!SplitFields(line, fields_, storage_) || fields_.size() != stats_.columns.size()) {
      Reject(RejectReason::kBadFieldCount);
      return false;
    }
    ++stats_.well_formed_rows;
    for (size_t c = 0; c < fields_.size(); ++c) stats_.empty_by_column[c] += fields_[c].empty();
    return true;
  }
  const std::vector<std::string_view>& fields() const { return fields_; }

  void Reject(RejectReason reason) {
    ++stats_.rejected_rows;
    ++stats_.rejected_by_reason[static_cast<size_t>(reason)];
    if (reason == RejectReason::kDuplicate) ++stats_.duplicate_rows;
    quarantine_.Write(file_name_, reader_.line_number(), reason, *line_);
  }

 private:
  TableStats& stats_;
  QuarantineWriter& quarantine_;
  const LineReader& reader_;
  std::string file_name_;
  const std::string* line_ = nullptr;
  std::vector<std::string_view> fields_;
  std::vector<std::string> storage_;
};

// Opens `path`, reads its header and checks it against the accepted shapes: `required` columns
// first, then optionally the `optional` ones in order.
Status ReadHeader(LineReader& reader, const std::filesystem::path& path,
                  const std::vector<std::string>& required,
                  const std::vector<std::string>& optional, TableStats& stats) {
  RECSERVE_RETURN_IF_ERROR(reader.Open(path));
  std::string header;
  if (!reader.Next(header)) {
    if (!reader.status().ok()) return reader.status();
    return InvalidArgument(path.string() + " is empty: expected a header line");
  }
  if (header.size() >= 3 && header.compare(0, 3, "\xEF\xBB\xBF") == 0) header.erase(0, 3);
  std::vector<std::string> names;
  std::string expected;
  for (const auto& c : required) expected += (expected.empty() ? "" : ",") + c;
  std::string optional_part;
  for (const auto& c : optional) optional_part += "," + c;
  const std::string hint =
      "expected header '" + expected + "' optionally followed by '" + optional_part.substr(1) + "'";
  if (!SplitCsvLine(header, names) || names.size() < required.size() ||
      names.size() > required.size() + optional.size()) {
    return InvalidArgument(path.string() + ": wrong header: " + hint);
  }
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& want = i < required.size() ? required[i] : optional[i - required.size()];
    if (names[i] != want) {
      return InvalidArgument(path.string() + ": wrong header (column " + std::to_string(i + 1) +
                             " is '" + PrintableExcerpt(names[i]) + "'): " + hint);
    }
  }
  stats.columns = names;
  stats.empty_by_column.assign(names.size(), 0);
  return Status::Ok();
}

Status ReaderError(const LineReader& reader, const std::filesystem::path& path) {
  const Status& st = reader.status();
  return Status(st.code(), path.string() + " line " + std::to_string(reader.line_number() + 1) +
                               ": " + st.message());
}

// Starts hashing `path` on a second thread, so the sha256 pass over the file overlaps the parse
// instead of following it (the file is read twice, but the second read runs on the other core
// and mostly from the page cache). An early return waits for the hash in ~future.
std::future<Result<std::string>> HashInBackground(const std::filesystem::path& path) {
  return std::async(std::launch::async, [path] { return Sha256File(path); });
}

Result<InputFile> DescribeFile(const std::filesystem::path& path, uint64_t rows,
                               std::future<Result<std::string>>& hashing) {
  InputFile f;
  f.path = path.string();
  std::error_code ec;
  f.bytes = std::filesystem::file_size(path, ec);
  f.rows = rows;
  auto sha = hashing.get();
  if (!sha.ok()) return sha.status();
  f.sha256 = *sha;
  return f;
}

Status IngestItems(const IngestOptions& options, QuarantineWriter& quarantine,
                   IngestResult& result) {
  const auto& path = *options.items_path;
  TableStats stats;
  LineReader reader;
  RECSERVE_RETURN_IF_ERROR(
      ReadHeader(reader, path, {"item_id", "title", "tags"}, {"created_at"}, stats));
  auto hashing = HashInBackground(path);
  ItemCatalog& catalog = result.catalog;
  IdVocabulary& items = result.table.items;
  std::string line;
  RowChecker row(stats, quarantine, reader, path.filename().string());
  const auto& fields = row.fields();
  auto reject = [&](RejectReason reason) { row.Reject(reason); };
  while (reader.Next(line)) {
    if (!row.Split(line)) continue;
    if (fields[0].empty()) {
      reject(RejectReason::kEmptyId);
      continue;
    }
    if (!ValidateExternalId(fields[0], "item_id").ok()) {
      reject(RejectReason::kInvalidId);
      continue;
    }
    int64_t created_at = 0;
    if (fields.size() > 3 && !fields[3].empty()) {
      Result<int64_t> ts = ParseTimestamp(fields[3]);
      if (!ts.ok()) {
        reject(RejectReason::kBadTimestamp);
        continue;
      }
      created_at = *ts;
    }
    if (items.Find(fields[0])) {
      reject(RejectReason::kDuplicate);
      continue;
    }
    items.Intern(fields[0]);
    catalog.title.emplace_back(fields[1]);
    std::vector<std::string> tags;
    for (size_t start = 0; start <= fields[2].size() && !fields[2].empty();) {
      size_t bar = fields[2].find('|', start);
      if (bar == std::string_view::npos) bar = fields[2].size();
      if (bar > start) tags.emplace_back(fields[2].substr(start, bar - start));
      start = bar + 1;
    }
    catalog.tags.push_back(std::move(tags));
    catalog.created_at.push_back(created_at);
    ++stats.accepted_rows;
  }
  if (!reader.status().ok()) return ReaderError(reader, path);
  catalog.loaded = true;
  auto file = DescribeFile(path, stats.input_rows, hashing);
  if (!file.ok()) return file.status();
  result.files.push_back(*file);
  result.items = std::move(stats);
  return Status::Ok();
}

Status IngestInteractions(const IngestOptions& options, QuarantineWriter& quarantine,
                          IngestResult& result) {
  const auto& path = options.interactions_path;
  TableStats& stats = result.interactions;
  LineReader reader;
  RECSERVE_RETURN_IF_ERROR(ReadHeader(reader, path, {"user_id", "item_id", "timestamp", "weight"},
                                      {"event_type"}, stats));
  auto hashing = HashInBackground(path);
  InteractionTable& table = result.table;
  const bool items_known = result.catalog.loaded;
  const int64_t latest_allowed = options.now + kFutureToleranceSeconds;
  const uint32_t no_event_type = table.event_types.Intern("");
  FingerprintSet seen;
  std::string line;
  RowChecker row(stats, quarantine, reader, path.filename().string());
  const auto& fields = row.fields();
  auto reject = [&](RejectReason reason) { row.Reject(reason); };
  while (reader.Next(line)) {
    if (options.progress && (stats.input_rows + 1) % kProgressEveryRows == 0) {
      options.progress(stats.input_rows + 1, reader.file_bytes_read());
    }
    if (!row.Split(line)) continue;
    if (fields[0].empty() || fields[1].empty()) {
      reject(RejectReason::kEmptyId);
      continue;
    }
    if (!ValidateExternalId(fields[0], "user_id").ok() ||
        !ValidateExternalId(fields[1], "item_id").ok()) {
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
    // The fingerprint covers the raw user and event strings (not yet interned: a duplicate must
    // not add ids) and the parsed item, time and weight.
    std::string_view event = fields.size() > 4 ? fields[4] : std::string_view();
    uint64_t fp = Mix(Mix(Mix(Mix(Fnv1a64(fields[0]), item), static_cast<uint64_t>(*ts)),
                          std::bit_cast<uint64_t>(weight)),
                      Fnv1a64(event));
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
  if (options.progress) options.progress(stats.input_rows, reader.file_bytes_read());
  auto file = DescribeFile(path, stats.input_rows, hashing);
  if (!file.ok()) return file.status();
  result.files.insert(result.files.begin(), *file);
  return Status::Ok();
}

}  // namespace

std::string_view RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kBadFieldCount:
      return "bad_field_count";
    case RejectReason::kEmptyId:
      return "empty_id";
    case RejectReason::kBadNumber:
      return "unparsable_number";
    case RejectReason::kBadTimestamp:
      return "unparsable_timestamp";
    case RejectReason::kNegativeWeight:
      return "negative_weight";
    case RejectReason::kFutureTimestamp:
      return "future_timestamp";
    case RejectReason::kUnknownItem:
      return "unknown_item";
    case RejectReason::kDuplicate:
      return "duplicate";
    case RejectReason::kInvalidId:
      return "invalid_id";
  }
  return "unknown";
}

Result<IngestResult> Ingest(const IngestOptions& options) {
  IngestResult result;
  std::error_code ec;
  std::filesystem::create_directories(options.quarantine_dir, ec);
  if (ec) {
    return Unavailable("cannot create quarantine directory " + options.quarantine_dir.string() +
                       ": " + ec.message());
  }
  result.rejected_path = options.quarantine_dir / "rejected.csv";
  QuarantineWriter quarantine;
  RECSERVE_RETURN_IF_ERROR(quarantine.Open(result.rejected_path));
  if (options.items_path) RECSERVE_RETURN_IF_ERROR(IngestItems(options, quarantine, result));
  RECSERVE_RETURN_IF_ERROR(IngestInteractions(options, quarantine, result));
  RECSERVE_RETURN_IF_ERROR(quarantine.Close(result.rejected_path));
  // Items known only from interactions get empty catalog entries, keeping the catalog aligned.
  ItemCatalog& catalog = result.catalog;
  const size_t item_count = result.table.items.size();
  catalog.title.resize(item_count);
  catalog.tags.resize(item_count);
  catalog.created_at.resize(item_count, 0);
  return result;
}

}  // namespace recserve::pipeline
