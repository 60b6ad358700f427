#pragma once
// Confinement of user-supplied paths (POST /models/reload's "source", manifest file entries) to a
// root directory. Both sides are canonicalised (symlinks resolved, "." and ".." removed) before
// they are compared component by component, so neither "../x" nor a symlink that points outside
// the root can escape, and "/models-old" is not mistaken for being inside "/models".

#include <filesystem>
#include <string_view>

#include "core/status.h"

namespace recserve::lifecycle {

// Returns the canonical absolute path of `user_path` when it lies inside `root` (or is `root`
// itself). A relative `user_path` is taken relative to `root`; an absolute one must itself be
// inside `root`. `user_path` need not exist yet (its existing prefix is resolved, the rest is
// normalised lexically); `root` must exist.
// Errors: InvalidArgument for an empty path, a NUL byte or an escape (naming the path);
// NotFound when `root` does not exist.
Result<std::filesystem::path> ResolveInsideRoot(const std::filesystem::path& root,
                                                std::string_view user_path);

// True when canonical `path` equals canonical `root` or lies beneath it (component-wise).
// REQUIRES: both already canonical.
bool IsWithin(const std::filesystem::path& root, const std::filesystem::path& path);

}  // namespace recserve::lifecycle
