#include "lifecycle/mlflow_run.h"
#include "core/json_text.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <random>

#include "core/durable_file.h"
#include "core/wall_clock.h"
#include "lifecycle/bundle_validator.h"
#include "lifecycle/durable_files.h"

namespace recserve::lifecycle {
namespace fs = std::filesystem;

namespace {

std::string RandomRunId() {
  std::random_device rd;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 32; ++i) id.push_back(kHex[rd() % 16]);
  return id;
}

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

Status CheckRunId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 256 && IsAlnum(id.front());
  for (char c : id) ok = ok && (IsAlnum(c) || c == '_' || c == '-');
  if (!ok) return InvalidArgument("run id \"" + id + "\" must match [A-Za-z0-9][A-Za-z0-9_-]*");
  return Status::Ok();
}

Status CheckExperimentId(const std::string& id) {
  bool ok = !id.empty() && id.size() <= 32;
  for (char c : id) ok = ok && c >= '0' && c <= '9';
  if (!ok) return InvalidArgument("experiment id \"" + id + "\" must be digits");
  return Status::Ok();
}

// MLflow's key rule (alphanumerics, '_', '-', '.', ' ', '/'), plus no path escape: a key is a
// file path under params/, metrics/ or tags/.
Status CheckKey(const std::string& kind, const std::string& key) {
  bool ok = !key.empty() && key.size() <= 250 && key.front() != '/' && key.back() != '/';
  for (char c : key)
    ok = ok && (IsAlnum(c) || c == '_' || c == '-' || c == '.' || c == ' ' || c == '/');
  for (const auto& part : fs::path(key)) ok = ok && part != ".." && part != "." && !part.empty();
  if (!ok) return InvalidArgument(kind + " key \"" + key + "\" is not a valid MLflow key");
  return Status::Ok();
}

std::string FileUri(const fs::path& absolute) { return "file://" + absolute.generic_string(); }

// Python's float repr is what MLflow writes; the shortest round-trip form reads back the same.
std::string FormatDouble(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

std::string Quoted(const std::string& s) {
  YAML::Emitter out;
  out << YAML::SingleQuoted << s;
  return out.c_str();
}

Status WriteKeyValueFiles(const fs::path& dir, const std::string& kind,
                          const std::map<std::string, std::string>& entries) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir.string() + ": " + ec.message());
  for (const auto& [key, value] : entries) {
    RECSERVE_RETURN_IF_ERROR(CheckKey(kind, key));
    fs::create_directories((dir / key).parent_path(), ec);
    RECSERVE_RETURN_IF_ERROR(WriteFileAtomically(dir / key, value));
  }
  return Status::Ok();
}

// The experiment's meta.yaml, in MLflow's field order (yaml.safe_dump sorts keys).
std::string ExperimentMetaYaml(const fs::path& experiment_dir, const std::string& id,
                               const std::string& name, int64_t now_ms) {
  return "artifact_location: " + Quoted(FileUri(experiment_dir)) + "\n" +
         "creation_time: " + std::to_string(now_ms) + "\n" + "experiment_id: " + Quoted(id) + "\n" +
         "last_update_time: " + std::to_string(now_ms) + "\n" + "lifecycle_stage: active\n" +
         "name: " + Quoted(name) + "\n";
}

Status EnsureExperiment(const fs::path& mlruns, const std::string& id, const std::string& name) {
  const fs::path dir = mlruns / id;
  std::error_code ec;
  if (fs::exists(dir / "meta.yaml", ec)) return Status::Ok();
  fs::create_directories(dir, ec);
  if (ec) return Internal("cannot create " + dir.string() + ": " + ec.message());
  return WriteFileAtomically(dir / "meta.yaml", ExperimentMetaYaml(dir, id, name, UnixMillisNow()));
}

std::string RunMetaYaml(const MlflowRunSpec& spec, const std::string& run_id,
                        const fs::path& final_run_dir) {
  const std::string end =
      spec.end_time_ms ? std::to_string(*spec.end_time_ms) : std::string("null");
  return "artifact_uri: " + Quoted(FileUri(final_run_dir / "artifacts")) + "\n" +
         "end_time: " + end + "\n" + "entry_point_name: ''\n" +
         "experiment_id: " + Quoted(spec.experiment_id) + "\n" + "lifecycle_stage: active\n" +
         "run_id: " + Quoted(run_id) + "\n" + "run_name: " + Quoted(spec.run_name) + "\n" +
         "run_uuid: " + Quoted(run_id) + "\n" + "source_name: ''\n" + "source_type: 4\n" +
         "source_version: ''\n" + "start_time: " + std::to_string(spec.start_time_ms) + "\n" +
         "status: " + std::to_string(static_cast<int>(spec.status)) + "\n" + "tags: []\n" +
         "user_id: " + Quoted(spec.user_id) + "\n";
}

std::string MlmodelYaml(const BundleManifest& manifest, const std::string& run_id) {
  return "artifact_path: model\n"
         "flavors:\n"
         "  recserve:\n"
         "    format_version: " +
         std::to_string(manifest.format_version) + "\n" + "    manifest: manifest.json\n" +
         "    model_version: " + Quoted(manifest.metadata.model_version) + "\n" +
         "run_id: " + Quoted(run_id) + "\n" +
         "utc_time_created: " + Quoted(manifest.metadata.created_at) + "\n";
}

Status FillRunDir(const fs::path& tmp, const MlflowRunSpec& spec, const std::string& run_id,
                  const fs::path& final_run_dir, const fs::path& bundle_dir) {
  std::map<std::string, std::string> tags = {{"mlflow.runName", spec.run_name},
                                             {"mlflow.user", spec.user_id},
                                             {"mlflow.source.type", "LOCAL"}};
  for (const auto& [k, v] : spec.tags) tags[k] = v;
  RECSERVE_RETURN_IF_ERROR(WriteKeyValueFiles(tmp / "params", "param", spec.params));
  RECSERVE_RETURN_IF_ERROR(WriteKeyValueFiles(tmp / "tags", "tag", tags));

  std::map<std::string, std::string> metric_lines;
  for (const MlflowMetric& m : spec.metrics) {
    metric_lines[m.key] += std::to_string(m.timestamp_ms) + " " + FormatDouble(m.value) + " " +
                           std::to_string(m.step) + "\n";
  }
  RECSERVE_RETURN_IF_ERROR(WriteKeyValueFiles(tmp / "metrics", "metric", metric_lines));

  std::error_code ec;
  fs::create_directories(tmp / "artifacts", ec);
  if (ec) return Internal("cannot create artifacts dir: " + ec.message());
  if (!bundle_dir.empty()) {
    Result<ValidatedBundle> bundle = ValidateBundle(bundle_dir);
    if (!bundle.ok()) return bundle.status();
    const fs::path model_dir = tmp / "artifacts" / "model";
    fs::create_directory(model_dir, ec);
    if (ec) return Internal("cannot create " + model_dir.string() + ": " + ec.message());
    RECSERVE_RETURN_IF_ERROR(CopyTreeDurably(bundle->dir, model_dir));
    RECSERVE_RETURN_IF_ERROR(
        WriteFileAtomically(model_dir / "MLmodel", MlmodelYaml(bundle->manifest, run_id)));
  }
  // meta.yaml last: a run directory with a meta.yaml is complete.
  return WriteFileAtomically(tmp / "meta.yaml", RunMetaYaml(spec, run_id, final_run_dir));
}

}  // namespace

std::string MlflowRunStatusName(int status) {
  switch (status) {
    case 1:
      return "RUNNING";
    case 2:
      return "SCHEDULED";
    case 3:
      return "FINISHED";
    case 4:
      return "FAILED";
    case 5:
      return "KILLED";
    default:
      return "UNKNOWN(" + std::to_string(status) + ")";
  }
}

void AddBundleToRunSpec(const BundleManifest& manifest, MlflowRunSpec& spec) {
  for (const auto& [key, value] : manifest.metadata.hyper_parameters.items()) {
    spec.params.emplace(key, value.is_string() ? value.get<std::string>() : JsonText(value));
  }
  const int64_t ts = spec.end_time_ms.value_or(spec.start_time_ms);
  for (const auto& [key, value] : manifest.metadata.offline_metrics) {
    bool present = false;
    for (const MlflowMetric& m : spec.metrics) present = present || m.key == key;
    if (!present) spec.metrics.push_back({key, value, ts, 0});
  }
  spec.tags.emplace("recserve.model_version", manifest.metadata.model_version);
  spec.tags.emplace("recserve.bundle_format_version", std::to_string(manifest.format_version));
}

Result<fs::path> WriteMlflowRun(const fs::path& mlruns_root, const MlflowRunSpec& spec,
                                const fs::path& bundle_dir) {
  const std::string run_id = spec.run_id.empty() ? RandomRunId() : spec.run_id;
  RECSERVE_RETURN_IF_ERROR(CheckRunId(run_id));
  RECSERVE_RETURN_IF_ERROR(CheckExperimentId(spec.experiment_id));
  std::error_code ec;
  fs::create_directories(mlruns_root, ec);
  if (ec) return Internal("cannot create " + mlruns_root.string() + ": " + ec.message());
  const fs::path root = fs::canonical(mlruns_root, ec);
  if (ec) return Internal("cannot resolve " + mlruns_root.string() + ": " + ec.message());
  fs::create_directories(root / ".trash", ec);
  RECSERVE_RETURN_IF_ERROR(EnsureExperiment(root, "0", "Default"));
  RECSERVE_RETURN_IF_ERROR(EnsureExperiment(root, spec.experiment_id, spec.experiment_name));

  const fs::path final_run_dir = root / spec.experiment_id / run_id;
  if (fs::exists(final_run_dir, ec)) {
    return Status(StatusCode::kAlreadyExists, "run " + final_run_dir.string() + " exists");
  }
  RECSERVE_RETURN_IF_ERROR(
      BuildDirectoryThenPublish(root, ".tmp-run-", final_run_dir, [&](const fs::path& tmp) {
        return FillRunDir(tmp, spec, run_id, final_run_dir, bundle_dir);
      }));
  return final_run_dir;
}

Result<MlflowRunInfo> ReadMlflowRun(const fs::path& run_dir) {
  const fs::path meta = run_dir / "meta.yaml";
  std::error_code ec;
  if (!fs::is_regular_file(meta, ec)) {
    return NotFound("run " + run_dir.string() + " has no meta.yaml");
  }
  MlflowRunInfo info;
  info.run_dir = run_dir;
  try {
    const YAML::Node doc = YAML::LoadFile(meta.string());
    if (!doc.IsMap()) return InvalidArgument(meta.string() + " is not a YAML mapping");
    if (doc["run_id"]) {
      info.run_id = doc["run_id"].as<std::string>();
    } else if (doc["run_uuid"]) {
      info.run_id = doc["run_uuid"].as<std::string>();
    } else {
      return InvalidArgument(meta.string() + " has no run_id");
    }
    if (!doc["experiment_id"]) return InvalidArgument(meta.string() + " has no experiment_id");
    info.experiment_id = doc["experiment_id"].as<std::string>();
    if (doc["run_name"] && !doc["run_name"].IsNull())
      info.run_name = doc["run_name"].as<std::string>();
    if (doc["user_id"] && !doc["user_id"].IsNull()) info.user_id = doc["user_id"].as<std::string>();
    if (doc["status"]) info.status = doc["status"].as<int>();
    info.lifecycle_stage =
        doc["lifecycle_stage"] ? doc["lifecycle_stage"].as<std::string>() : std::string("active");
    if (doc["artifact_uri"]) info.artifact_uri = doc["artifact_uri"].as<std::string>();
    if (doc["start_time"] && !doc["start_time"].IsNull()) {
      info.start_time_ms = doc["start_time"].as<int64_t>();
    }
    if (doc["end_time"] && !doc["end_time"].IsNull()) {
      info.end_time_ms = doc["end_time"].as<int64_t>();
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(meta.string() + " is not valid run metadata: " + e.what());
  }
  return info;
}

}  // namespace recserve::lifecycle
