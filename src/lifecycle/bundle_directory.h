#pragma once
// BundleDirectory: a bundle directory opened once, as one descriptor, so that everything read
// from it comes from that one directory even while its name is being reused. `recserve stage`
// swaps models/staging/run with renameat2(RENAME_EXCHANGE) and `current` is re-pointed by a
// rename: a loader that validated by path and then re-opened by path could check one bundle's
// files and parse another's. Through the descriptor the name is resolved exactly once (at
// Open), and every file is opened relative to it with O_NOFOLLOW on each component, so neither a
// swap nor a symlink planted inside the bundle can change what is read.
//
// Thread-safety: const methods may run concurrently (each opens its own descriptors).
// Move-only; the descriptor is closed on destruction.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace recserve::lifecycle {

// Bytes of one file in their own anonymous memory mapping, handed back to the kernel when
// destroyed. A reload reads a whole bundle into memory and frees it once the model is parsed;
// through malloc those large, short-lived buffers raised glibc's dynamic mmap threshold and left
// the service's RSS 20-40 % higher after 60 reloads (tests/integration/test_model_reload.py's
// "back to baseline" check); a mapping of its own never touches the allocator's arenas.
// Move-only.
class FileBytes {
 public:
  FileBytes() = default;
  // Room for at most `capacity` bytes. Internal when the mapping cannot be made.
  static Result<FileBytes> WithCapacity(size_t capacity);
  FileBytes(FileBytes&& other) noexcept;
  FileBytes& operator=(FileBytes&& other) noexcept;
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
  ~FileBytes();

  // Appends what fits of `bytes` (the rest is dropped: the caller compares sizes itself).
  void Append(std::string_view bytes);
  std::string_view view() const { return {data_, size_}; }
  size_t size() const { return size_; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

class BundleDirectory {
 public:
  // Canonicalises `dir` (symlinks in it, e.g. a `current` link given by its name, are resolved
  // here, once) and opens the result with O_DIRECTORY | O_NOFOLLOW. NotFound when it does not
  // exist or is not a directory.
  static Result<BundleDirectory> Open(const std::filesystem::path& dir);

  BundleDirectory(BundleDirectory&& other) noexcept;
  BundleDirectory& operator=(BundleDirectory&& other) noexcept;
  BundleDirectory(const BundleDirectory&) = delete;
  BundleDirectory& operator=(const BundleDirectory&) = delete;
  ~BundleDirectory();

  // The canonical path the directory had when it was opened (for messages and identity only:
  // nothing is read through it).
  const std::filesystem::path& path() const { return path_; }

  // Streams the regular file at `relative_path` ('/'-separated, no "." or ".." components, as
  // ParseManifest guarantees) to `consume` in chunks and returns its length. Errors name the
  // relative path only:
  //   NotFound         the file (or a directory on the way) does not exist;
  //   InvalidArgument  a directory on the way is a symlink ("escapes the bundle"), or the file
  //                    is a symlink, FIFO, device or directory;
  //   DataLoss         a read error.
  Result<uint64_t> ReadFile(std::string_view relative_path,
                            const std::function<void(std::string_view)>& consume) const;
  // The whole file; InvalidArgument when it is longer than `max_bytes`.
  Result<std::string> ReadWholeFile(std::string_view relative_path, uint64_t max_bytes) const;

  // Relative '/'-separated paths of every regular file under the directory (recursively, never
  // following a symlink), except the names in `ignored` (compared with the whole relative path),
  // sorted. InvalidArgument naming a symlink or special file.
  Result<std::vector<std::string>> ListFiles(const std::vector<std::string>& ignored) const;

 private:
  BundleDirectory(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}

  int fd_ = -1;
  std::filesystem::path path_;
};

}  // namespace recserve::lifecycle
