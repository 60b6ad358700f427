#pragma once
// Versioned, explicitly little-endian binary files for model parts. Every file starts with an
// 8-byte magic naming the part and a uint32 format version; numbers follow as little-endian
// uint32/uint64/int64/float32, arrays as a uint64 length then the elements. A reader checks the
// magic, the version and every length against the bytes left, so a truncated or foreign file is
// a DataLoss status, never a crash or a huge allocation.

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "models/model_files.h"

namespace recserve::models {

// Accumulates a file in memory and writes it in one go. Not thread-safe.
class BinaryWriter {
 public:
  BinaryWriter(std::string_view magic, uint32_t version);
  void U32(uint32_t v);
  void U64(uint64_t v);
  void I64(int64_t v);
  void F32(float v);
  void String(std::string_view s);
  void U32Array(const std::vector<uint32_t>& v);
  void U64Array(const std::vector<uint64_t>& v);
  void I64Array(const std::vector<int64_t>& v);
  void F32Array(const std::vector<float>& v);
  void StringArray(const std::vector<std::string>& v);
  // Writes the bytes to `path` (truncating). Internal on I/O failure.
  Status WriteTo(const std::filesystem::path& path) const;

 private:
  std::string bytes_;
};

// Reads a file written by BinaryWriter. After the first failure every call returns a zero value
// and status() stays non-OK; callers check status() once at the end. Error texts name the file
// by its name in the model set (or the path given to the path overload).
class BinaryReader {
 public:
  // Reads `name` from `files` (the bytes stay in `files`, which must outlive the reader).
  // NotFound when the set has no such file; DataLoss when magic or version do not match.
  Status Open(const ModelFiles& files, std::string_view name, std::string_view magic,
              uint32_t version);
  // The same over a file read from `path` (tools and tests).
  Status Open(const std::filesystem::path& path, std::string_view magic, uint32_t version);
  uint32_t U32();
  uint64_t U64();
  int64_t I64();
  float F32();
  std::string String();
  std::vector<uint32_t> U32Array();
  std::vector<uint64_t> U64Array();
  std::vector<int64_t> I64Array();
  std::vector<float> F32Array();
  std::vector<std::string> StringArray();
  // OK when every read so far succeeded and, with `expect_end`, all bytes were consumed.
  Status Finish(bool expect_end = true) const;

 private:
  Status Start(std::string_view magic, uint32_t version);
  bool Take(size_t n, const char** out);
  uint64_t ArrayLength(size_t element_bytes);

  std::string name_;
  std::string owned_;       // the path overload's bytes
  std::string_view bytes_;  // what is parsed: owned_ or a file of a ModelFiles
  size_t pos_ = 0;
  Status status_;
};

// CSR row offsets read from a file: start at 0, never decrease, end at the element count (else a
// row would index past the elements).
bool ValidRowOffsets(const std::vector<uint64_t>& offsets, uint64_t elements);

}  // namespace recserve::models
