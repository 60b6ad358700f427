#include "lifecycle/experiments.h"

#include <cmath>
#include <set>

#include "core/env.h"
#include "core/hashing.h"
#include "core/recall_channel_names.h"
#include "core/yaml_fields.h"

namespace recserve::lifecycle {
namespace {

// Allocations are decimal fractions written by people: 0.1 + 0.2 + 0.7 sums to 1 + 2^-52 in
// binary, which must not be refused as "more than 1".
constexpr double kAllocationSumTolerance = 1e-9;
constexpr size_t kMaxNameLength = 64;

// Names appear in metric labels, JSON and log lines: keep them to a safe alphabet.
bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Result<std::string> ReadName(const YAML::Node& map, std::string_view context) {
  if (!map["name"]) return InvalidArgument(std::string(context) + ": field 'name' is missing");
  Result<std::string> name = YamlNonEmptyString(map["name"], "name", context);
  if (!name.ok()) return name.status();
  if (!IsValidName(*name)) {
    return InvalidArgument(std::string(context) + ": " + DescribeField("name", map["name"]) +
                           ": '" + *name + "' must be 1-64 of [A-Za-z0-9_.-]");
  }
  return name;
}

Result<VariantParameters> ParseParameters(const YAML::Node& node, const std::string& context) {
  VariantParameters params;
  if (node.IsNull()) return params;
  if (!node.IsMap()) {
    return InvalidArgument(context + ": " + DescribeField("parameters", node) +
                           " must be a mapping");
  }
  RECSERVE_RETURN_IF_ERROR(
      RejectUnknownKeys(node, {"candidates", "channel_weights", "ranker"}, context));
  if (node["candidates"]) {
    Result<int64_t> candidates = YamlInt(node["candidates"], "candidates", context);
    if (!candidates.ok()) return candidates.status();
    if (*candidates < 1 || *candidates > kMaxExperimentCandidates) {
      return InvalidArgument(context + ": " + DescribeField("candidates", node["candidates"]) +
                             ": " + std::to_string(*candidates) + " is outside 1.." +
                             std::to_string(kMaxExperimentCandidates));
    }
    params.candidates = static_cast<uint32_t>(*candidates);
  }
  if (node["ranker"]) {
    Result<bool> ranker = YamlBool(node["ranker"], "ranker", context);
    if (!ranker.ok()) return ranker.status();
    params.ranker = *ranker;
  }
  if (node["channel_weights"]) {
    const YAML::Node weights = node["channel_weights"];
    if (!weights.IsMap()) {
      return InvalidArgument(context + ": " + DescribeField("channel_weights", weights) +
                             " must be a mapping of recall channel to weight");
    }
    for (const auto& entry : weights) {
      const std::string channel = entry.first.IsScalar() ? entry.first.Scalar() : "";
      if (!RecallChannelIndex(channel)) {
        std::string known;
        for (std::string_view n : kRecallChannelNames) {
          known += (known.empty() ? "" : ", ") + std::string(n);
        }
        return InvalidArgument(context + ": " + DescribeField("channel_weights", entry.first) +
                               ": unknown recall channel '" + channel + "'; known: " + known);
      }
      const std::string field = "channel_weights." + channel;
      Result<double> weight = YamlFiniteDouble(entry.second, field, context);
      if (!weight.ok()) return weight.status();
      if (*weight < 0 || *weight > kMaxChannelWeight) {
        return InvalidArgument(context + ": " + DescribeField(field, entry.second) + ": " +
                               entry.second.Scalar() + " is outside [0, 100]");
      }
      params.channel_weights[channel] = *weight;
    }
  }
  return params;
}

Result<Variant> ParseVariant(const YAML::Node& node, const std::string& experiment_context,
                             size_t index) {
  std::string context = experiment_context + " variant #" + std::to_string(index + 1);
  if (!node.IsMap()) return InvalidArgument(context + ": must be a mapping");
  Result<std::string> name = ReadName(node, context);
  if (!name.ok()) return name.status();
  context = experiment_context + " variant '" + *name + "'";
  if (*name == kControlVariant) {
    return InvalidArgument(context + ": the name 'control' is reserved for users outside every " +
                           "variant (the remaining share)");
  }
  RECSERVE_RETURN_IF_ERROR(
      RejectUnknownKeys(node, {"name", "allocation", "parameters", "description"}, context));
  Variant variant;
  variant.name = *name;
  if (!node["allocation"]) return InvalidArgument(context + ": field 'allocation' is missing");
  Result<double> allocation = YamlFiniteDouble(node["allocation"], "allocation", context);
  if (!allocation.ok()) return allocation.status();
  if (*allocation < 0 || *allocation > 1) {
    return InvalidArgument(context + ": " + DescribeField("allocation", node["allocation"]) + ": " +
                           node["allocation"].Scalar() + " is outside [0, 1]");
  }
  variant.allocation = *allocation;
  if (node["parameters"]) {
    Result<VariantParameters> params = ParseParameters(node["parameters"], context);
    if (!params.ok()) return params.status();
    variant.parameters = std::move(params).value();
  }
  return variant;
}

Result<Experiment> ParseExperiment(const YAML::Node& node, std::string_view source, size_t index) {
  std::string context = std::string(source) + ": experiment #" + std::to_string(index + 1);
  if (!node.IsMap()) return InvalidArgument(context + ": must be a mapping");
  Result<std::string> name = ReadName(node, context);
  if (!name.ok()) return name.status();
  context = std::string(source) + ": experiment '" + *name + "'";
  RECSERVE_RETURN_IF_ERROR(
      RejectUnknownKeys(node, {"name", "salt", "variants", "description"}, context));
  Experiment experiment;
  experiment.name = *name;
  if (!node["salt"]) return InvalidArgument(context + ": field 'salt' is missing");
  Result<std::string> salt = YamlNonEmptyString(node["salt"], "salt", context);
  if (!salt.ok()) return salt.status();
  experiment.salt = *salt;

  const YAML::Node variants = node["variants"];
  if (!variants || !variants.IsSequence() || variants.size() == 0) {
    return InvalidArgument(context + ": field 'variants' must be a non-empty list");
  }
  std::set<std::string, std::less<>> names;
  double sum = 0;
  for (size_t i = 0; i < variants.size(); ++i) {
    Result<Variant> variant = ParseVariant(variants[i], context, i);
    if (!variant.ok()) return variant.status();
    if (!names.insert(variant->name).second) {
      return InvalidArgument(context + " variant '" + variant->name +
                             "': field 'name': the name is used twice");
    }
    variant->bucket_begin = sum;
    sum += variant->allocation;
    if (sum > 1 + kAllocationSumTolerance) {
      return InvalidArgument(context + " variant '" + variant->name +
                             "': field 'allocation': allocations add up to " + std::to_string(sum) +
                             " here; the sum must be at most 1");
    }
    variant->bucket_end = std::min(sum, 1.0);
    experiment.variants.push_back(std::move(variant).value());
  }
  return experiment;
}

}  // namespace

const Variant* Experiment::VariantForBucket(double bucket) const {
  for (const Variant& v : variants) {
    if (bucket >= v.bucket_begin && bucket < v.bucket_end) return &v;
  }
  return nullptr;
}

double Experiment::control_share() const {
  return variants.empty() ? 1.0 : 1.0 - variants.back().bucket_end;
}

std::vector<ExperimentAssignment> ExperimentsConfig::Assign(std::string_view user_id) const {
  std::vector<ExperimentAssignment> out;
  out.reserve(experiments_.size());
  for (const Experiment& e : experiments_) {
    out.push_back({&e, e.VariantForBucket(AssignmentBucket(e.salt, user_id))});
  }
  return out;
}

VariantParameters ExperimentsConfig::ParametersFor(std::string_view user_id) const {
  return MergedParameters(Assign(user_id));
}

VariantParameters MergedParameters(const std::vector<ExperimentAssignment>& assignments) {
  VariantParameters merged;
  for (const ExperimentAssignment& a : assignments) {
    if (a.variant == nullptr) continue;
    const VariantParameters& p = a.variant->parameters;
    if (!merged.candidates) merged.candidates = p.candidates;
    if (!merged.ranker) merged.ranker = p.ranker;
    for (const auto& [channel, weight] : p.channel_weights) {
      merged.channel_weights.emplace(channel, weight);  // keeps an earlier experiment's value
    }
  }
  return merged;
}

std::string ReportedVariant(const std::vector<ExperimentAssignment>& assignments) {
  for (const ExperimentAssignment& a : assignments) {
    if (a.variant != nullptr) return a.experiment->name + ":" + a.variant->name;
  }
  return "primary";
}

double AssignmentBucket(std::string_view salt, std::string_view user_id) {
  std::string key;
  key.reserve(salt.size() + 1 + user_id.size());
  key.append(salt).append(1, ':').append(user_id);
  return static_cast<double>(MixBits64(Fnv1a64(key)) >> 11) * 0x1.0p-53;
}

bool InRollout(std::string_view salt, std::string_view user_id, double fraction) {
  if (!(fraction > 0)) return false;  // also NaN
  return AssignmentBucket(salt, user_id) < fraction;
}

namespace {

Result<ExperimentsConfig> ExperimentsFromYaml(const YAML::Node& root, std::string_view source) {
  if (root.IsNull()) return ExperimentsConfig();
  if (!root.IsMap()) {
    return InvalidArgument(std::string(source) + ": the file must be a mapping with 'experiments'");
  }
  RECSERVE_RETURN_IF_ERROR(RejectUnknownKeys(root, {"experiments"}, source));
  const YAML::Node list = root["experiments"];
  if (!list || list.IsNull()) return ExperimentsConfig();
  if (!list.IsSequence()) {
    return InvalidArgument(std::string(source) + ": " + DescribeField("experiments", list) +
                           " must be a list");
  }
  std::vector<Experiment> experiments;
  std::set<std::string, std::less<>> names;
  std::set<std::string, std::less<>> salts;
  for (size_t i = 0; i < list.size(); ++i) {
    Result<Experiment> e = ParseExperiment(list[i], source, i);
    if (!e.ok()) return e.status();
    const std::string context = std::string(source) + ": experiment '" + e->name + "'";
    if (!names.insert(e->name).second) {
      return InvalidArgument(context + ": field 'name': the name is used twice");
    }
    // Two experiments with one salt would put the same users in the same slices of both, so
    // their effects could not be told apart.
    if (!salts.insert(e->salt).second) {
      return InvalidArgument(context + ": field 'salt': '" + e->salt +
                             "' is already the salt of another experiment");
    }
    experiments.push_back(std::move(e).value());
  }
  return ExperimentsConfig(std::move(experiments));
}

}  // namespace

Result<ExperimentsConfig> ParseExperiments(std::string_view yaml_text, std::string_view source) {
  Result<YAML::Node> doc = ParseYamlText(yaml_text, source);
  if (!doc.ok()) return doc.status();
  return ExperimentsFromYaml(*doc, source);
}

Result<ExperimentsConfig> LoadExperimentsFile(const std::filesystem::path& path) {
  Result<YAML::Node> doc = LoadYamlFile(path);
  if (!doc.ok()) return doc.status();
  return ExperimentsFromYaml(*doc, path.string());
}

std::filesystem::path ExperimentsPathFromEnv() {
  return EnvStringOr("EXPERIMENTS_PATH", "config/experiments.yaml");
}

Result<std::unique_ptr<ExperimentsHolder>> OpenExperiments(std::filesystem::path path) {
  return ExperimentsHolder::Open(std::move(path), LoadExperimentsFile);
}

}  // namespace recserve::lifecycle
