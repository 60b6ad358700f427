#pragma once
// ModelFiles: the files of a saved model set, by name, as the loaders read them. A loader never
// opens a path itself: it asks this set for a file's bytes, so what it parses is exactly what the
// caller put in. The serving path fills it from a bundle whose bytes were read once through one
// directory descriptor and checked against the manifest (lifecycle::ReadVerifiedBundle); then no
// file is opened again between the checksum and the parse. Tools and tests that load a directory
// written by RecommenderModel::Save use ReadDirectory.
//
// Immutable after construction; const methods are thread-safe. Move-only (it can hold a large
// model's bytes).

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/status.h"

namespace recserve::models {

class ModelFiles {
 public:
  // Name ('/'-separated, relative to the model set) -> bytes.
  using Contents = std::map<std::string, std::string, std::less<>>;

  // Name -> bytes kept alive by some owner.
  using Views = std::map<std::string, std::string_view, std::less<>>;

  ModelFiles() = default;
  explicit ModelFiles(Contents contents);
  // Files whose bytes live in memory that `owner` keeps alive (e.g. a verified bundle's own
  // buffers), so they are not copied.
  ModelFiles(Views views, std::shared_ptr<const void> owner)
      : views_(std::move(views)), owner_(std::move(owner)) {}
  ModelFiles(ModelFiles&&) = default;
  ModelFiles& operator=(ModelFiles&&) = default;
  ModelFiles(const ModelFiles&) = delete;
  ModelFiles& operator=(const ModelFiles&) = delete;

  // Reads every regular file directly in `dir` (symlinks followed, subdirectories skipped).
  // NotFound when `dir` cannot be listed, DataLoss naming the file on a read error.
  static Result<ModelFiles> ReadDirectory(const std::filesystem::path& dir);

  bool Contains(std::string_view name) const { return views_.find(name) != views_.end(); }
  // The whole file; the view lives as long as this set. NotFound "missing <name>" otherwise
  // (the name only: error texts never carry a server path).
  Result<std::string_view> Bytes(std::string_view name) const;

 private:
  Views views_;
  std::shared_ptr<const void> owner_;
};

}  // namespace recserve::models
