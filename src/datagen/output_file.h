#pragma once
// A buffered output file, plain or gzip-compressed, that reports write errors as a Status.
// gzip output is deterministic: zlib writes a header with mtime 0 and no file name.
// Not thread-safe. Copy is deleted on purpose (owns a file handle).

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace recserve::datagen {

class OutputFile {
 public:
  OutputFile() = default;
  ~OutputFile();
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Creates or truncates `path`. NotFound/PermissionDenied-style errors come back as
  // InvalidArgument naming the path.
  Status Open(const std::filesystem::path& path, bool gzip);

  // Appends bytes; they reach the file when the buffer fills or on Close().
  void Append(std::string_view bytes) {
    buffer_.append(bytes);
    if (buffer_.size() >= kFlushBytes) Flush();
  }
  void Append(char c) { buffer_.push_back(c); }

  // Flushes and closes; the first write error seen since Open(), if any.
  Status Close();

 private:
  static constexpr size_t kFlushBytes = 1 << 20;
  void Flush();

  std::filesystem::path path_;
  std::FILE* plain_ = nullptr;
  gzFile gz_ = nullptr;
  std::string buffer_;
  Status status_;
};

}  // namespace recserve::datagen
