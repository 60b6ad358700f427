#include "lifecycle/bundle_directory.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

namespace recserve::lifecycle {
namespace fs = std::filesystem;

namespace {

// Closes a descriptor it owns.
class ScopedFd {
 public:
  explicit ScopedFd(int fd) : fd_(fd) {}
  ScopedFd(const ScopedFd&) = delete;
  ScopedFd& operator=(const ScopedFd&) = delete;
  ~ScopedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    parts.emplace_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

bool IsSymlinkAt(int dir_fd, const std::string& name) {
  struct stat st {};
  return ::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

// Opens the directory `name` inside `dir_fd`, refusing a symlink. `rel` is the path named in
// errors.
Result<int> OpenSubdirectory(int dir_fd, const std::string& name, std::string_view rel) {
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd >= 0) return fd;
  const int err = errno;
  if (err == ENOENT)
    return NotFound("missing file " + std::string(rel) + " listed in the manifest");
  if (err == ELOOP || IsSymlinkAt(dir_fd, name)) {
    return InvalidArgument("file " + std::string(rel) + " escapes the bundle: " + name +
                           " is a symlink (symlinks are not allowed in a bundle)");
  }
  if (err == ENOTDIR) {
    return InvalidArgument("file " + std::string(rel) + ": " + name + " is not a directory");
  }
  return Internal("open " + std::string(rel) + ": " + std::strerror(err));
}

}  // namespace

Result<FileBytes> FileBytes::WithCapacity(size_t capacity) {
  FileBytes out;
  if (capacity == 0) return out;
  void* p = ::mmap(nullptr, capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return Internal("cannot map " + std::to_string(capacity) + " bytes: " + std::strerror(errno));
  }
  out.data_ = static_cast<char*>(p);
  out.capacity_ = capacity;
  return out;
}

FileBytes::FileBytes(FileBytes&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      size_(std::exchange(other.size_, 0)),
      capacity_(std::exchange(other.capacity_, 0)) {}

FileBytes& FileBytes::operator=(FileBytes&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(data_, capacity_);
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    capacity_ = std::exchange(other.capacity_, 0);
  }
  return *this;
}

FileBytes::~FileBytes() {
  if (data_ != nullptr) ::munmap(data_, capacity_);
}

void FileBytes::Append(std::string_view bytes) {
  const size_t n = std::min(bytes.size(), capacity_ - size_);
  if (n == 0) return;
  std::memcpy(data_ + size_, bytes.data(), n);
  size_ += n;
}

Result<BundleDirectory> BundleDirectory::Open(const fs::path& dir) {
  std::error_code ec;
  const fs::path canonical = fs::canonical(dir, ec);
  if (ec) return NotFound("bundle directory " + dir.string() + " not found");
  int fd = ::open(canonical.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    // Not a directory, or swapped for a symlink between canonical() and open(): either way
    // there is no bundle directory at that name now.
    return NotFound("bundle directory " + dir.string() + ": " + std::strerror(errno));
  }
  return BundleDirectory(fd, canonical);
}

BundleDirectory::BundleDirectory(BundleDirectory&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)) {}

BundleDirectory& BundleDirectory::operator=(BundleDirectory&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
  }
  return *this;
}

BundleDirectory::~BundleDirectory() {
  if (fd_ >= 0) ::close(fd_);
}

Result<uint64_t> BundleDirectory::ReadFile(
    std::string_view relative_path, const std::function<void(std::string_view)>& consume) const {
  const std::string rel(relative_path);
  const std::vector<std::string> parts = SplitPath(relative_path);
  // Walk the directories one component at a time, each opened relative to the previous one.
  std::vector<std::unique_ptr<ScopedFd>> dirs;
  int parent = fd_;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    Result<int> sub = OpenSubdirectory(parent, parts[i], rel);
    if (!sub.ok()) return sub.status();
    dirs.push_back(std::make_unique<ScopedFd>(*sub));
    parent = *sub;
  }
  // O_NONBLOCK: opening a FIFO planted in the bundle must not wait for a writer.
  ScopedFd file(
      ::openat(parent, parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
  if (file.get() < 0) {
    const int err = errno;
    if (err == ENOENT) return NotFound("missing file " + rel + " listed in the manifest");
    if (err == ELOOP) {
      return InvalidArgument("file " + rel + " is not a regular file (symlink or special)");
    }
    return Internal("open " + rel + ": " + std::strerror(err));
  }
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return Internal("stat " + rel + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) {
    return InvalidArgument("file " + rel + " is not a regular file (symlink or special)");
  }
  std::array<char, 1 << 16> buf{};
  uint64_t total = 0;
  for (;;) {
    ssize_t n = ::read(file.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return DataLoss("read error on " + rel + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    consume(std::string_view(buf.data(), static_cast<size_t>(n)));
    total += static_cast<uint64_t>(n);
  }
  return total;
}

Result<std::string> BundleDirectory::ReadWholeFile(std::string_view relative_path,
                                                   uint64_t max_bytes) const {
  std::string bytes;
  bool too_long = false;
  Result<uint64_t> size = ReadFile(relative_path, [&](std::string_view chunk) {
    if (too_long || bytes.size() + chunk.size() > max_bytes) {
      too_long = true;
      return;
    }
    bytes.append(chunk);
  });
  if (!size.ok()) return size.status();
  if (too_long) {
    return InvalidArgument(std::string(relative_path) + " is longer than " +
                           std::to_string(max_bytes) + " bytes");
  }
  return bytes;
}

namespace {

// Appends the regular files under the open directory `dir_fd` (which this call owns) to `out`,
// as `prefix` + name.
Status ListInto(int dir_fd, const std::string& prefix, std::vector<std::string>& out) {
  DIR* dir = ::fdopendir(dir_fd);
  if (dir == nullptr) {
    const int err = errno;
    ::close(dir_fd);
    return Internal("cannot list " + (prefix.empty() ? std::string(".") : prefix) + ": " +
                    std::strerror(err));
  }
  std::vector<std::string> subdirs;
  Status status;
  errno = 0;
  while (struct dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    struct stat st {};
    if (::fstatat(::dirfd(dir), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      status = Internal("stat " + prefix + name + ": " + std::strerror(errno));
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      subdirs.push_back(name);
    } else if (S_ISREG(st.st_mode)) {
      out.push_back(prefix + name);
    } else {
      status = InvalidArgument(prefix + name +
                               " is not a regular file (symlinks are not allowed in a bundle)");
      break;
    }
  }
  for (const std::string& name : subdirs) {
    if (!status.ok()) break;
    int sub = ::openat(::dirfd(dir), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
      status = Internal("open " + prefix + name + ": " + std::strerror(errno));
      break;
    }
    status = ListInto(sub, prefix + name + "/", out);
  }
  ::closedir(dir);
  return status;
}

}  // namespace

Result<std::vector<std::string>> BundleDirectory::ListFiles(
    const std::vector<std::string>& ignored) const {
  // fdopendir takes the descriptor it is given and its read position: list through a fresh open
  // of the same directory (not a dup, which would share the position with concurrent calls).
  int self = ::openat(fd_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (self < 0) return Internal(std::string("cannot list the bundle: ") + std::strerror(errno));
  std::vector<std::string> all;
  RECSERVE_RETURN_IF_ERROR(ListInto(self, "", all));
  std::vector<std::string> kept;
  for (std::string& p : all) {
    if (std::find(ignored.begin(), ignored.end(), p) == ignored.end()) kept.push_back(std::move(p));
  }
  std::sort(kept.begin(), kept.end());
  return kept;
}

}  // namespace recserve::lifecycle
