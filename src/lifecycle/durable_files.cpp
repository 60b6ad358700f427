#include "lifecycle/durable_files.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace recserve::lifecycle {
namespace fs = std::filesystem;

namespace {

Status CopyFileDurably(const fs::path& from, const fs::path& to) {
  int in = ::open(from.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return FileErrorStatus("open", from, errno);
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    int err = errno;
    ::close(in);
    return FileErrorStatus("create", to, err);
  }
  std::vector<char> buf(1 << 16);
  Status status;
  for (;;) {
    ssize_t n = ::read(in, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      status = DataLoss("read " + from.string() + ": " + std::strerror(errno));
      break;
    }
    if (n == 0) break;
    size_t done = 0;
    while (done < static_cast<size_t>(n)) {
      ssize_t w = ::write(out, buf.data() + done, static_cast<size_t>(n) - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        status = FileErrorStatus("write", to, errno);
        break;
      }
      done += static_cast<size_t>(w);
    }
    if (!status.ok()) break;
  }
  if (status.ok() && ::fsync(out) != 0) status = FileErrorStatus("fsync", to, errno);
  ::close(in);
  if (::close(out) != 0 && status.ok()) status = FileErrorStatus("close", to, errno);
  return status;
}

}  // namespace

Result<std::string> ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot open " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return DataLoss("read error on " + path.string());
  return out.str();
}

Result<fs::path> MakeTempDirIn(const fs::path& parent, std::string_view prefix) {
  std::string pattern = (parent / (std::string(prefix) + "XXXXXX")).string();
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) return FileErrorStatus("mkdtemp in", parent, errno);
  // mkdtemp makes it 0700; published bundles must stay readable by a server running as another
  // user, like every other directory they hold.
  if (::chmod(buf.data(), 0755) != 0) {
    int err = errno;
    ::rmdir(buf.data());
    return FileErrorStatus("chmod", fs::path(buf.data()), err);
  }
  return fs::path(buf.data());
}

Status CopyTreeDurably(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  std::vector<fs::path> dirs = {to};
  fs::recursive_directory_iterator it(from, ec), end;
  if (ec) return FileErrorStatus("list", from, ec.value());
  for (; it != end; it.increment(ec)) {
    if (ec) return FileErrorStatus("list", from, ec.value());
    // Lexical, not fs::relative: that would resolve a symlink entry to its target.
    const fs::path rel = it->path().lexically_relative(from);
    const fs::path dest = to / rel;
    const fs::file_status st = it->symlink_status(ec);
    if (ec) return FileErrorStatus("stat", it->path(), ec.value());
    if (fs::is_directory(st)) {
      if (!fs::create_directory(dest, ec) || ec) return FileErrorStatus("mkdir", dest, ec.value());
      dirs.push_back(dest);
    } else if (fs::is_regular_file(st)) {
      RECSERVE_RETURN_IF_ERROR(CopyFileDurably(it->path(), dest));
    } else {
      return InvalidArgument("refusing to copy " + it->path().string() +
                             ": not a regular file or directory (symlinks are not allowed)");
    }
  }
  for (const fs::path& dir : dirs) RECSERVE_RETURN_IF_ERROR(FsyncDirectory(dir));
  return Status::Ok();
}

Status RenameNoReplace(const fs::path& from, const fs::path& to) {
  if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0) {
    return FileErrorStatus("rename " + from.string() + " to", to, errno);
  }
  return FsyncDirectory(to.parent_path().empty() ? fs::path(".") : to.parent_path());
}

Status BuildDirectoryThenPublish(const fs::path& tmp_parent, std::string_view tmp_prefix,
                                 const fs::path& target,
                                 const std::function<Status(const fs::path&)>& fill) {
  Result<fs::path> tmp = MakeTempDirIn(tmp_parent, tmp_prefix);
  if (!tmp.ok()) return tmp.status();
  Status status = fill(*tmp);
  if (status.ok()) status = FsyncDirectory(*tmp);
  if (status.ok()) status = RenameNoReplace(*tmp, target);
  if (!status.ok()) RemoveTreeQuietly(*tmp);
  return status;
}

Status ReplaceDirectory(const fs::path& fresh, const fs::path& target) {
  const fs::path parent = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) {
    return FsyncDirectory(parent);
  }
  if (errno != EEXIST) return FileErrorStatus("rename " + fresh.string() + " to", target, errno);
  // `target` exists: after the exchange, `fresh` names the old content, which is deleted.
  if (::renameat2(AT_FDCWD, fresh.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    RECSERVE_RETURN_IF_ERROR(FsyncDirectory(parent));
    RemoveTreeQuietly(fresh);
    return Status::Ok();
  }
  if (errno != EINVAL && errno != ENOSYS) {
    return FileErrorStatus("exchange " + fresh.string() + " with", target, errno);
  }
  // No RENAME_EXCHANGE here: rename the old one aside, then the new one in. A crash between the
  // two leaves `target` absent but the old content intact under the aside name.
  fs::path aside = target;
  aside += ".old-" + UniqueTempSuffix();
  if (::rename(target.c_str(), aside.c_str()) != 0)
    return FileErrorStatus("rename aside", target, errno);
  if (::rename(fresh.c_str(), target.c_str()) != 0) {
    int err = errno;
    ::rename(aside.c_str(), target.c_str());
    return FileErrorStatus("rename " + fresh.string() + " to", target, err);
  }
  RECSERVE_RETURN_IF_ERROR(FsyncDirectory(parent));
  RemoveTreeQuietly(aside);
  return Status::Ok();
}

Status ReplaceSymlink(const fs::path& link, const std::string& target_text) {
  fs::path tmp = link;
  tmp += ".tmp-" + UniqueTempSuffix();
  if (::symlink(target_text.c_str(), tmp.c_str()) != 0)
    return FileErrorStatus("symlink", tmp, errno);
  if (::rename(tmp.c_str(), link.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return FileErrorStatus("rename symlink to", link, err);
  }
  return FsyncDirectory(link.parent_path().empty() ? fs::path(".") : link.parent_path());
}

void RemoveTreeQuietly(const fs::path& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

}  // namespace recserve::lifecycle
