#include "lifecycle/bundle_validator.h"

#include <openssl/evp.h>

#include <cstdio>
#include <memory>
#include <set>

#include "core/hashing.h"

namespace recserve::lifecycle {
namespace fs = std::filesystem;

namespace {

// SHA-256 over bytes fed in pieces (ValidateBundle streams each file through it).
class StreamingSha256 {
 public:
  StreamingSha256() : ctx_(EVP_MD_CTX_new()) {
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
  }
  void Update(std::string_view bytes) { EVP_DigestUpdate(ctx_.get(), bytes.data(), bytes.size()); }
  // Lower-case hex, as Sha256Hex.
  std::string HexDigest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_.get(), md, &len);
    std::string hex(2 * len, '0');
    for (unsigned int i = 0; i < len; ++i) std::snprintf(&hex[2 * i], 3, "%02x", md[i]);
    return hex;
  }

 private:
  struct Free {
    void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
  };
  std::unique_ptr<EVP_MD_CTX, Free> ctx_;
};

Status CheckSizeAndSha(const BundleFile& f, uint64_t size, const std::string& sha) {
  if (size != f.size) {
    return DataLoss("size mismatch for " + f.path + ": manifest says " + std::to_string(f.size) +
                    " bytes, file has " + std::to_string(size) +
                    (size < f.size ? " (truncated)" : ""));
  }
  if (sha != f.sha256) {
    return DataLoss("checksum mismatch for " + f.path + ": manifest sha256 " + f.sha256 +
                    ", file sha256 " + sha);
  }
  return Status::Ok();
}

// Every check but the smoke test, through `dir` only. With `contents`, each listed file's bytes
// are kept there (and hashed from there); without, they are streamed and dropped.
Result<ValidatedBundle> CheckBundle(const BundleDirectory& dir,
                                    std::map<std::string, FileBytes, std::less<>>* contents) {
  const std::string name = dir.path().string();
  ValidatedBundle out;
  out.dir = dir.path();
  Result<std::string> manifest_text = dir.ReadWholeFile(kManifestFileName, kMaxManifestBytes);
  if (!manifest_text.ok()) {
    if (manifest_text.status().code() == StatusCode::kNotFound) {
      return NotFound("bundle " + name + " has no manifest.json");
    }
    return Status(manifest_text.status().code(),
                  "manifest.json in " + name + ": " + manifest_text.status().message());
  }
  Result<BundleManifest> manifest = ParseManifest(*manifest_text);
  if (!manifest.ok()) {
    return Status(manifest.status().code(),
                  "manifest.json in " + name + ": " + manifest.status().message());
  }
  out.manifest = std::move(manifest).value();
  out.manifest_sha256 = Sha256Hex(*manifest_text);

  std::set<std::string> listed;
  for (const BundleFile& f : out.manifest.files) {
    listed.insert(f.path);
    if (contents) {
      // Kept up to one byte past the listed size: enough to see a longer file, bounded memory.
      Result<FileBytes> bytes = FileBytes::WithCapacity(f.size + 1);
      if (!bytes.ok()) return bytes.status();
      Result<uint64_t> size = dir.ReadFile(f.path, [&](std::string_view c) { bytes->Append(c); });
      if (!size.ok()) return size.status();
      // The hash is computed on the very bytes handed to the caller.
      RECSERVE_RETURN_IF_ERROR(CheckSizeAndSha(f, *size, Sha256Hex(bytes->view())));
      contents->emplace(f.path, std::move(bytes).value());
    } else {
      StreamingSha256 sha;
      Result<uint64_t> size = dir.ReadFile(f.path, [&](std::string_view c) { sha.Update(c); });
      if (!size.ok()) return size.status();
      RECSERVE_RETURN_IF_ERROR(CheckSizeAndSha(f, *size, sha.HexDigest()));
    }
  }

  std::vector<std::string> ignored = UnlistedFilesAllowedInBundle();
  ignored.push_back(kManifestFileName);
  Result<std::vector<std::string>> present = dir.ListFiles(ignored);
  if (!present.ok()) return present.status();
  for (const std::string& p : *present) {
    if (!listed.count(p)) return InvalidArgument("file " + p + " is not listed in the manifest");
  }
  return out;
}

}  // namespace

Result<ValidatedBundle> ValidateBundle(const fs::path& dir, const BundleSmokeTest& smoke_test) {
  Result<BundleDirectory> opened = BundleDirectory::Open(dir);
  if (!opened.ok()) return opened.status();
  Result<ValidatedBundle> out = CheckBundle(*opened, nullptr);
  if (!out.ok()) return out.status();
  if (smoke_test) {
    Status smoke = smoke_test(out->dir, out->manifest);
    if (!smoke.ok()) return FailedPrecondition("smoke test failed: " + smoke.ToString());
  }
  return out;
}

Result<VerifiedBundle> ReadVerifiedBundle(const BundleDirectory& dir) {
  VerifiedBundle out;
  Result<ValidatedBundle> checked = CheckBundle(dir, &out.contents);
  if (!checked.ok()) return checked.status();
  out.bundle = std::move(checked).value();
  return out;
}

Result<VerifiedBundle> ReadVerifiedBundle(const fs::path& dir) {
  Result<BundleDirectory> opened = BundleDirectory::Open(dir);
  if (!opened.ok()) return opened.status();
  return ReadVerifiedBundle(*opened);
}

}  // namespace recserve::lifecycle
