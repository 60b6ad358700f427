#include "core/durable_file.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

namespace recserve {
namespace fs = std::filesystem;

namespace {

Status WriteAllAndSync(int fd, std::string_view contents, const fs::path& path) {
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = ::write(fd, contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FileErrorStatus("write", path, errno);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) return FileErrorStatus("fsync", path, errno);
  return Status::Ok();
}

}  // namespace

Status FileErrorStatus(const std::string& what, const fs::path& path, int err) {
  std::string message = what + " " + path.string() + ": " + std::strerror(err);
  if (err == ENOENT) return NotFound(std::move(message));
  if (err == EEXIST || err == ENOTEMPTY) return {StatusCode::kAlreadyExists, std::move(message)};
  return Internal(std::move(message));
}

std::string UniqueTempSuffix() {
  static std::atomic<unsigned long> counter{0};
  return std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
}

Status WriteFileAtomically(const fs::path& path, std::string_view contents) {
  fs::path tmp = path;
  tmp += ".tmp-" + UniqueTempSuffix();
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return FileErrorStatus("create", tmp, errno);
  Status status = WriteAllAndSync(fd, contents, tmp);
  if (::close(fd) != 0 && status.ok()) status = FileErrorStatus("close", tmp, errno);
  if (status.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    status = FileErrorStatus("rename", path, errno);
  }
  if (!status.ok()) {
    ::unlink(tmp.c_str());
    return status;
  }
  return FsyncDirectory(path.has_parent_path() ? path.parent_path() : fs::path("."));
}

Status FsyncDirectory(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return FileErrorStatus("open directory", dir, errno);
  Status status;
  if (::fsync(fd) != 0) status = FileErrorStatus("fsync directory", dir, errno);
  ::close(fd);
  return status;
}

}  // namespace recserve
