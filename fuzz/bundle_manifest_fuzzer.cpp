// Fuzz target: the bytes of a bundle's manifest.json → lifecycle::ParseManifest, which guards
// every bundle load, stage and reload.
//
// Contract checked (src/lifecycle/bundle_manifest.h, docs/BUNDLES.md, docs/FUZZING.md):
// - a rejection is InvalidArgument (or FailedPrecondition for another format_version) with a
//   non-empty message;
// - an accepted manifest says format_version 1 in the document itself (no number that merely
//   narrows to 1), has a valid model_version, sizes that are non-negative integers in the
//   document, safe relative paths, 64-hex sha256s, and files sorted by path without repeats;
// - ManifestToJson of it parses back to an equal manifest and serialises byte-identically
//   (the writer's output is always readable and stable).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz_contract.h"
#include "lifecycle/bundle_manifest.h"

namespace {

namespace lc = recserve::lifecycle;

void CheckAccepted(const lc::BundleManifest& m, std::string_view text) {
  const auto doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  FUZZ_REQUIRE(doc.is_object(), text);
  const auto& version = doc["format_version"];
  FUZZ_REQUIRE(version.is_number_integer() && version == lc::kBundleFormatVersion, text);
  FUZZ_REQUIRE(m.format_version == lc::kBundleFormatVersion, text);
  FUZZ_REQUIRE(lc::CheckModelVersionName(m.metadata.model_version).ok(), text);
  FUZZ_REQUIRE(doc["files"].is_array() && doc["files"].size() == m.files.size(), text);
  for (const auto& f : doc["files"]) {
    FUZZ_REQUIRE(f["size"].is_number_unsigned(), f.dump());
  }
  for (size_t i = 0; i < m.files.size(); ++i) {
    const std::string& path = m.files[i].path;
    FUZZ_REQUIRE(!path.empty() && path.front() != '/' && path != lc::kManifestFileName, path);
    for (size_t start = 0; start <= path.size();) {
      size_t slash = path.find('/', start);
      if (slash == std::string::npos) slash = path.size();
      const std::string_view segment = std::string_view(path).substr(start, slash - start);
      FUZZ_REQUIRE(segment != ".." && segment != ".", path);
      start = slash + 1;
    }
    FUZZ_REQUIRE(m.files[i].sha256.size() == 64, m.files[i].sha256);
    if (i > 0) FUZZ_REQUIRE(m.files[i - 1].path < path, path);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = lc::ParseManifest(text);
  if (!parsed.ok()) {
    const recserve::Status& st = parsed.status();
    FUZZ_REQUIRE(st.code() == recserve::StatusCode::kInvalidArgument ||
                     st.code() == recserve::StatusCode::kFailedPrecondition,
                 st.ToString());
    FUZZ_REQUIRE(!st.message().empty(), text);
    return 0;
  }
  CheckAccepted(*parsed, text);
  const std::string written = lc::ManifestToJson(*parsed);
  auto reread = lc::ParseManifest(written);
  FUZZ_REQUIRE(reread.ok(), reread.status().ToString() + " for " + written);
  FUZZ_REQUIRE(*reread == *parsed, written);
  FUZZ_REQUIRE(lc::ManifestToJson(*reread) == written, written);
  return 0;
}
