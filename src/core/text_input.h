#pragma once
// Streaming line input for data files (CSV), plain or gzip-compressed, detected by content.
// Files of tens of millions of rows are read in bounded memory: one line at a time.

#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace recserve {

// Reads a file line by line. Handles "\n" and "\r\n" endings; the last line may lack a newline.
// Not thread-safe; one reader per thread. Copy is deleted on purpose (owns a file handle).
class LineReader {
 public:
  // Longest accepted line; a longer one is an error (kResourceExhausted) rather than unbounded
  // memory. 1 MiB is far above any real interactions/items row.
  static constexpr size_t kDefaultMaxLineBytes = 1 << 20;

  LineReader() = default;
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // Opens `path` (plain or gzip). NotFound when it cannot be opened.
  Status Open(const std::filesystem::path& path, size_t max_line_bytes = kDefaultMaxLineBytes);

  // Reads the next line into `line` (without the line ending). Returns true when a line was
  // read, false at a clean end of file. On a read error (truncated gzip stream, I/O error) or an
  // over-long line, returns false and status() is non-OK; `line_number()` names the line.
  bool Next(std::string& line);

  const Status& status() const { return status_; }
  // 1-based number of the line last returned by Next().
  uint64_t line_number() const { return line_number_; }
  // Uncompressed bytes consumed so far (for progress reporting).
  uint64_t bytes_read() const { return bytes_read_; }
  // Bytes of the file itself consumed so far: compressed bytes for gzip input, equal to
  // bytes_read() (plus read-ahead) for plain input. Compared with the file size it gives a
  // progress fraction for both kinds. 0 before Open() or after an error.
  uint64_t file_bytes_read() const;

 private:
  bool Fill();

  gzFile file_ = nullptr;
  std::filesystem::path path_;
  size_t max_line_bytes_ = kDefaultMaxLineBytes;
  std::vector<char> buf_;
  size_t pos_ = 0;
  size_t len_ = 0;
  bool eof_ = false;
  uint64_t line_number_ = 0;
  uint64_t bytes_read_ = 0;
  Status status_;
};

// Splits one CSV record (RFC 4180 quoting: "a,b" and "" for a quote) into `fields`.
// Returns false for an unterminated quoted field or a stray quote inside an unquoted field.
bool SplitCsvLine(std::string_view line, std::vector<std::string>& fields);

// Up to `max_bytes` of `text` for an error message: printable ASCII as is, every other byte as
// \xHH, and "..." when cut. Input echoed into logs and HTTP errors goes through this so a binary
// file or a hostile request never puts raw bytes into a message.
std::string PrintableExcerpt(std::string_view text, size_t max_bytes = 64);

// Quotes a field for CSV output when it contains a comma, quote, CR or LF.
std::string CsvEscape(std::string_view field);

}  // namespace recserve
