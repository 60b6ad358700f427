#pragma once
// The row- and file-level checks both ingest readers share (ingest_readers.h): the header check,
// per-row field splitting and rejection with quarantine, and the description (size, rows,
// sha256) of each input file. Internal to ingest; callers use pipeline/ingest.h.

#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/text_input.h"
#include "pipeline/ingest.h"

namespace recserve::pipeline::ingest_detail {

// Splits on commas into views when the line has no quotes (the common case, no allocation);
// otherwise falls back to the RFC 4180 splitter. False for broken quoting.
bool SplitFields(std::string_view line, std::vector<std::string_view>& views,
                 std::vector<std::string>& storage);

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
                  const std::vector<std::string>& optional, TableStats& stats);

// `reader`'s error with the path and the 1-based number of the line it failed on.
Status ReaderError(const LineReader& reader, const std::filesystem::path& path);

// Starts hashing `path` on a second thread, so the sha256 pass over the file overlaps the parse
// instead of following it (the file is read twice, but the second read runs on the other core
// and mostly from the page cache). An early return waits for the hash in ~future.
std::future<Result<std::string>> HashInBackground(const std::filesystem::path& path);

// The InputFile entry for `path` with `rows` data lines; waits for `hashing` (HashInBackground).
Result<InputFile> DescribeFile(const std::filesystem::path& path, uint64_t rows,
                               std::future<Result<std::string>>& hashing);

}  // namespace recserve::pipeline::ingest_detail
