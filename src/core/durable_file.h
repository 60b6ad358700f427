#pragma once
// Crash-safe replacement of one file: the one WriteFileAtomically of the tree (model bundles,
// MLflow runs, the registry, the data-quality report and metrics). The new content is written
// to a temporary name beside the target, fsynced, renamed over the target with one rename(2),
// and the directory is fsynced so the new name survives a crash. A reader sees the old file or
// the complete new one, never a prefix; after a crash the target is one of the two.
//
// Thread-safety: no state; concurrent calls on distinct paths are safe. Concurrent writers of
// one path each publish a complete file; the last rename wins.

#include <filesystem>
#include <string>
#include <string_view>

#include "core/status.h"

namespace recserve {

// Replaces `path` with `contents` atomically and durably: writes `<path>.tmp-<pid>-<n>` beside
// it (mode 0644), fsyncs it, renames it over `path` and fsyncs the parent directory. The parent
// must exist (NotFound otherwise; nothing is created). On an error the temporary file is removed
// and `path` is left as it was.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view contents);

// fsync(2) on a directory, so the names created or renamed inside it survive a crash.
Status FsyncDirectory(const std::filesystem::path& dir);

// The Status of a failed system call `what` on `path` with errno `err`: NotFound for ENOENT,
// AlreadyExists for EEXIST/ENOTEMPTY, Internal otherwise; the message names both and strerror.
Status FileErrorStatus(const std::string& what, const std::filesystem::path& path, int err);

// "<pid>-<n>", unique among this process's calls and across processes: the suffix of temporary
// names placed beside a target.
std::string UniqueTempSuffix();

}  // namespace recserve
