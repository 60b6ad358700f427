#include "lifecycle/bundle_manifest.h"
#include "core/json_text.h"

#include <algorithm>
#include <stdexcept>

#include "core/hashing.h"

namespace recserve::lifecycle {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool IsHexSha256(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// A manifest path must stay inside the bundle lexically; symlinks are checked by the validator.
bool IsSafeRelativePath(const std::string& p) {
  if (p.empty() || p.front() == '/' || p.find('\0') != std::string::npos) return false;
  for (const auto& part : fs::path(p)) {
    if (part == ".." || part == "." || part.empty()) return false;
  }
  return true;
}

// Throws json::exception on a type mismatch; ParseManifest turns it into InvalidArgument.
const json& Field(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end()) throw std::invalid_argument(std::string("missing field \"") + name + "\"");
  return *it;
}

}  // namespace

std::string ManifestToJson(const BundleManifest& m) {
  json files = json::array();
  for (const BundleFile& f : m.files) {
    files.push_back(json{{"path", f.path}, {"sha256", f.sha256}, {"size", f.size}});
  }
  json doc = {
      {"format_version", m.format_version},
      {"model_version", m.metadata.model_version},
      {"created_at", m.metadata.created_at},
      {"training_data_sha256", m.metadata.training_data_sha256},
      {"hyper_parameters", m.metadata.hyper_parameters},
      {"offline_metrics", m.metadata.offline_metrics},
      {"feature_schema", m.metadata.feature_schema},
      {"files", files},
  };
  return JsonText(doc, 2) + "\n";
}

Result<BundleManifest> ParseManifest(std::string_view json_text) {
  json doc = json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return InvalidArgument("manifest is not valid JSON");
  if (!doc.is_object()) return InvalidArgument("manifest is not a JSON object");
  BundleManifest m;
  try {
    const json& version = Field(doc, "format_version");
    if (!version.is_number_integer()) return InvalidArgument("format_version is not an integer");
    // Compared as a JSON number: get<int>() would narrow 4294967297 to 1 and accept it.
    if (version != kBundleFormatVersion) {
      return FailedPrecondition("unsupported manifest format_version " + JsonText(version) +
                                " (this build reads " + std::to_string(kBundleFormatVersion) + ")");
    }
    m.format_version = kBundleFormatVersion;
    m.metadata.model_version = Field(doc, "model_version").get<std::string>();
    RECSERVE_RETURN_IF_ERROR(CheckModelVersionName(m.metadata.model_version));
    m.metadata.created_at = Field(doc, "created_at").get<std::string>();
    m.metadata.training_data_sha256 =
        Field(doc, "training_data_sha256").get<std::map<std::string, std::string>>();
    m.metadata.hyper_parameters = Field(doc, "hyper_parameters");
    if (!m.metadata.hyper_parameters.is_object()) {
      return InvalidArgument("hyper_parameters is not an object");
    }
    m.metadata.offline_metrics = Field(doc, "offline_metrics").get<std::map<std::string, double>>();
    m.metadata.feature_schema = Field(doc, "feature_schema").get<std::vector<std::string>>();
    const json& files = Field(doc, "files");
    if (!files.is_array()) return InvalidArgument("files is not an array");
    for (const json& f : files) {
      BundleFile file;
      file.path = Field(f, "path").get<std::string>();
      // get<uint64_t>() would wrap -1 and truncate 1.5; only a non-negative integer is a size.
      const json& size = Field(f, "size");
      if (!size.is_number_unsigned()) {
        return InvalidArgument("manifest size of \"" + file.path +
                               "\" is not a non-negative integer");
      }
      file.size = size.get<uint64_t>();
      file.sha256 = Field(f, "sha256").get<std::string>();
      if (!IsSafeRelativePath(file.path) || file.path == kManifestFileName) {
        return InvalidArgument("manifest lists an unsafe file path \"" + file.path + "\"");
      }
      if (!IsHexSha256(file.sha256)) {
        return InvalidArgument("manifest sha256 of " + file.path + " is not 64 lower-case hex");
      }
      m.files.push_back(std::move(file));
    }
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("bad manifest: ") + e.what());
  }
  std::sort(m.files.begin(), m.files.end(),
            [](const BundleFile& a, const BundleFile& b) { return a.path < b.path; });
  for (size_t i = 1; i < m.files.size(); ++i) {
    if (m.files[i].path == m.files[i - 1].path) {
      return InvalidArgument("manifest lists " + m.files[i].path + " twice");
    }
  }
  return m;
}

Status CheckModelVersionName(const std::string& v) {
  const bool chars_ok = std::all_of(v.begin(), v.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
  if (v.empty() || v.size() > 128 || !chars_ok || v.front() == '.' || v == "staging" ||
      v == "current" || v == "model_registry.json") {
    return InvalidArgument("model_version \"" + v +
                           "\" must be 1-128 chars of [A-Za-z0-9._-], not start with '.', and "
                           "not be \"staging\", \"current\" or \"model_registry.json\"");
  }
  return Status::Ok();
}

Result<std::vector<std::string>> ListBundleFilePaths(
    const fs::path& dir, const std::vector<std::string>& ignored_names) {
  std::vector<std::string> paths;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, ec), end;
  if (ec) return NotFound("cannot list " + dir.string() + ": " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) return Internal("cannot list " + dir.string() + ": " + ec.message());
    // Lexical, not fs::relative: that would resolve a symlink entry to its target.
    const std::string rel = it->path().lexically_relative(dir).generic_string();
    const fs::file_status st = it->symlink_status(ec);
    if (ec) return Internal("stat " + it->path().string() + ": " + ec.message());
    if (fs::is_directory(st)) continue;
    if (rel == kManifestFileName ||
        std::find(ignored_names.begin(), ignored_names.end(), rel) != ignored_names.end()) {
      continue;
    }
    if (!fs::is_regular_file(st)) {
      return InvalidArgument(rel + " in " + dir.string() +
                             " is not a regular file (symlinks are not allowed in a bundle)");
    }
    paths.push_back(rel);
  }
  std::sort(paths.begin(), paths.end());
  return paths;
}

Result<std::vector<BundleFile>> ListBundleFiles(const fs::path& dir,
                                                const std::vector<std::string>& ignored_names) {
  Result<std::vector<std::string>> paths = ListBundleFilePaths(dir, ignored_names);
  if (!paths.ok()) return paths.status();
  std::vector<BundleFile> files;
  for (const std::string& rel : *paths) {
    BundleFile f;
    f.path = rel;
    std::error_code ec;
    f.size = fs::file_size(dir / rel, ec);
    if (ec) return Internal("size of " + (dir / rel).string() + ": " + ec.message());
    Result<std::string> sha = Sha256File(dir / rel);
    if (!sha.ok()) return sha.status();
    f.sha256 = std::move(sha).value();
    files.push_back(std::move(f));
  }
  return files;
}

}  // namespace recserve::lifecycle
