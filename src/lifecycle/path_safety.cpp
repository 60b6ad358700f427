#include "lifecycle/path_safety.h"

#include <string>

namespace recserve::lifecycle {
namespace fs = std::filesystem;

bool IsWithin(const fs::path& root, const fs::path& path) {
  auto r = root.begin();
  auto p = path.begin();
  for (; r != root.end(); ++r, ++p) {
    // A trailing empty component ("/models/") matches anything.
    if (r->empty()) continue;
    if (p == path.end() || *r != *p) return false;
  }
  return true;
}

Result<fs::path> ResolveInsideRoot(const fs::path& root, std::string_view user_path) {
  if (user_path.empty()) return InvalidArgument("path is empty");
  if (user_path.find('\0') != std::string_view::npos) {
    return InvalidArgument("path contains a NUL byte");
  }
  std::error_code ec;
  const fs::path canonical_root = fs::canonical(root, ec);
  if (ec) return NotFound("root " + root.string() + " does not exist: " + ec.message());
  const fs::path user(user_path);
  const fs::path candidate = user.is_absolute() ? user : canonical_root / user;
  // weakly_canonical resolves every symlink in the existing prefix, so a link pointing outside is
  // seen as its target here.
  const fs::path resolved = fs::weakly_canonical(candidate, ec);
  if (ec)
    return InvalidArgument("cannot resolve path " + std::string(user_path) + ": " + ec.message());
  if (!IsWithin(canonical_root, resolved)) {
    return InvalidArgument("path " + std::string(user_path) + " resolves to " + resolved.string() +
                           ", outside the root " + canonical_root.string());
  }
  return resolved;
}

Result<fs::path> ResolveCurrentBundle(const fs::path& models_root) {
  const fs::path link = models_root / kCurrentLinkName;
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(link, ec);
  if (!fs::exists(st)) return NotFound("no bundle at " + link.string());
  std::string shown = kCurrentLinkName;
  if (fs::is_symlink(st)) {
    const fs::path target = fs::read_symlink(link, ec);
    if (ec) return NotFound("cannot read " + link.string() + ": " + ec.message());
    shown += " -> " + target.string();
    for (const fs::path& part : target) {
      if (part == "..") {
        return InvalidArgument(shown + ": a \"..\" component is not allowed; " + kCurrentLinkName +
                               " must name a bundle inside the models root");
      }
    }
  }
  Result<fs::path> resolved = ResolveInsideRoot(models_root, kCurrentLinkName);
  if (!resolved.ok()) {
    if (resolved.status().code() == StatusCode::kNotFound) return resolved.status();
    return InvalidArgument(shown + " resolves outside the models root");
  }
  const fs::path root = fs::canonical(models_root, ec);
  if (ec || *resolved == root) {
    return InvalidArgument(shown + " names the models root itself, not a bundle inside it");
  }
  if (!fs::is_directory(*resolved, ec)) {
    return NotFound(shown + " does not name a bundle directory");
  }
  return resolved;
}

}  // namespace recserve::lifecycle
