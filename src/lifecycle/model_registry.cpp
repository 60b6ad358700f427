#include "lifecycle/model_registry.h"
#include "core/json_text.h"

#include <nlohmann/json.hpp>

#include "lifecycle/durable_files.h"

namespace recserve::lifecycle {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json EntryToJson(const RegistryEntry& e) {
  return json{{"model_version", e.model_version},     {"run_id", e.run_id},
              {"experiment_id", e.experiment_id},     {"bundle_path", e.bundle_path},
              {"manifest_sha256", e.manifest_sha256}, {"deployed_at", e.deployed_at}};
}

RegistryEntry EntryFromJson(const json& j) {
  RegistryEntry e;
  e.model_version = j.at("model_version").get<std::string>();
  e.run_id = j.at("run_id").get<std::string>();
  e.experiment_id = j.at("experiment_id").get<std::string>();
  e.bundle_path = j.at("bundle_path").get<std::string>();
  e.manifest_sha256 = j.at("manifest_sha256").get<std::string>();
  e.deployed_at = j.at("deployed_at").get<std::string>();
  return e;
}

}  // namespace

ModelRegistry RecordDeployment(ModelRegistry registry, RegistryEntry entry, size_t history_limit) {
  if (registry.current) registry.history.insert(registry.history.begin(), *registry.current);
  if (registry.history.size() > history_limit) registry.history.resize(history_limit);
  registry.current = std::move(entry);
  return registry;
}

Result<ModelRegistry> LoadModelRegistry(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return ModelRegistry{};
  Result<std::string> text = ReadWholeFile(path);
  if (!text.ok()) return text.status();
  json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return InvalidArgument(path.string() + " is not a JSON object");
  }
  ModelRegistry registry;
  try {
    if (doc.at("format_version").get<int>() != 1) {
      return InvalidArgument(path.string() + " has an unsupported format_version");
    }
    if (!doc.at("current").is_null()) registry.current = EntryFromJson(doc.at("current"));
    for (const json& e : doc.at("history")) registry.history.push_back(EntryFromJson(e));
  } catch (const json::exception& e) {
    return InvalidArgument(path.string() + " is malformed: " + e.what());
  }
  return registry;
}

Status SaveModelRegistry(const fs::path& path, const ModelRegistry& registry) {
  json history = json::array();
  for (const RegistryEntry& e : registry.history) history.push_back(EntryToJson(e));
  json doc = {{"format_version", 1},
              {"current", registry.current ? EntryToJson(*registry.current) : json(nullptr)},
              {"history", history}};
  return WriteFileAtomically(path, JsonText(doc, 2) + "\n");
}

}  // namespace recserve::lifecycle
