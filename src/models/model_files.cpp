#include "models/model_files.h"

#include <fstream>
#include <iterator>

namespace recserve::models {
namespace fs = std::filesystem;

Result<ModelFiles> ModelFiles::ReadDirectory(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec) return NotFound("cannot list the model directory: " + ec.message());
  Contents contents;
  for (; it != end; it.increment(ec)) {
    if (ec) return DataLoss("cannot list the model directory: " + ec.message());
    if (!it->is_regular_file(ec)) continue;
    const std::string name = it->path().filename().string();
    std::ifstream in(it->path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) return DataLoss("read error on " + name);
    contents.emplace(name, std::move(bytes));
  }
  return ModelFiles(std::move(contents));
}

ModelFiles::ModelFiles(Contents contents) {
  auto owned = std::make_shared<const Contents>(std::move(contents));
  for (const auto& [name, bytes] : *owned) views_.emplace(name, bytes);
  owner_ = std::move(owned);
}

Result<std::string_view> ModelFiles::Bytes(std::string_view name) const {
  auto it = views_.find(name);
  if (it == views_.end()) return NotFound("missing " + std::string(name));
  return it->second;
}

}  // namespace recserve::models
