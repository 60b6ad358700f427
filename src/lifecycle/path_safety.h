#pragma once
// Confinement of user-supplied paths (POST /models/reload's "source", manifest file entries, the
// models/current pointer) to a root directory. Both sides are canonicalised (symlinks resolved, "."
// and ".." removed) before they are compared component by component, so neither "../x" nor a
// symlink that points outside the root can escape, and "/models-old" is not mistaken for being
// inside "/models".

#include <filesystem>
#include <string_view>

#include "core/status.h"

namespace recserve::lifecycle {

// The deploy pointer under the models root: what a fresh start (and a refresh) serves.
inline constexpr const char* kCurrentLinkName = "current";

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

// The bundle directory `<models_root>/current` names (the deploy pointer; DeployBundle writes it
// as a relative symlink to "<model_version>"), canonical and confined to the models root: it
// must resolve strictly inside `models_root`, never to the root itself. NotFound when `current`
// is missing or names no directory; InvalidArgument when its target has a ".." component, is an
// absolute path outside the root, or resolves outside through a symlink. `current` may also be
// a plain directory inside the root. Errors name `current` and its target text, not the
// resolved server paths.
Result<std::filesystem::path> ResolveCurrentBundle(const std::filesystem::path& models_root);

}  // namespace recserve::lifecycle
