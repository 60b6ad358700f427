#pragma once
// Crash-safe directory operations for model bundles, staging and the registry. Every publish
// follows one pattern: build the new content in a temporary name inside the same filesystem,
// fsync the files and their directories, then make it visible with a single rename(2). A reader
// therefore sees either the old state or the complete new one, never a half-written directory.
// Single files are replaced with core/durable_file.h (WriteFileAtomically, FsyncDirectory),
// included here because every user of these functions also writes files with it.
//
// Thread-safety: the functions hold no state; concurrent calls on distinct paths are safe.
// Concurrent publishers of the same target are resolved by the kernel (RENAME_NOREPLACE: one
// wins, the others get AlreadyExists).

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "core/durable_file.h"
#include "core/status.h"

namespace recserve::lifecycle {

// Reads a whole file. NotFound when it cannot be opened, DataLoss on a read error.
Result<std::string> ReadWholeFile(const std::filesystem::path& path);

// Creates a fresh, empty, uniquely named directory `<parent>/<prefix>XXXXXX` (mkdtemp), mode
// 0755 (it becomes a published bundle or run once renamed). The caller owns it and removes it on
// failure (RemoveTreeQuietly).
Result<std::filesystem::path> MakeTempDirIn(const std::filesystem::path& parent,
                                            std::string_view prefix);

// Copies the tree under `from` into `to` (which must exist and be empty): directories and regular
// files only, each file fsynced, each directory fsynced. A symlink, device or other special file
// in `from` is refused with InvalidArgument naming it, so a copied bundle never points elsewhere.
Status CopyTreeDurably(const std::filesystem::path& from, const std::filesystem::path& to);

// rename(2) that never replaces: AlreadyExists when `to` exists (even as an empty directory).
Status RenameNoReplace(const std::filesystem::path& from, const std::filesystem::path& to);

// Builds a new directory and publishes it as `target` without replacing anything: `fill` runs on
// a fresh temporary directory `<tmp_parent>/<tmp_prefix>XXXXXX` (same filesystem as `target`),
// which is then fsynced and renamed with RenameNoReplace. On any error the temporary directory is
// removed and the error returned; `target` is never touched.
Status BuildDirectoryThenPublish(const std::filesystem::path& tmp_parent,
                                 std::string_view tmp_prefix, const std::filesystem::path& target,
                                 const std::function<Status(const std::filesystem::path&)>& fill);

// Makes the directory `fresh` visible as `target`. When `target` exists it is exchanged atomically
// (renameat2 RENAME_EXCHANGE; where the filesystem lacks it, the old one is renamed aside first)
// and the old content is deleted afterwards. The parent directory is fsynced.
Status ReplaceDirectory(const std::filesystem::path& fresh, const std::filesystem::path& target);

// Points the symlink `link` at `target_text` atomically (a new symlink renamed over the old one).
Status ReplaceSymlink(const std::filesystem::path& link, const std::string& target_text);

// Best-effort recursive removal for clean-up paths; errors are ignored on purpose (the caller is
// already reporting the failure that made the clean-up necessary).
void RemoveTreeQuietly(const std::filesystem::path& path);

}  // namespace recserve::lifecycle
