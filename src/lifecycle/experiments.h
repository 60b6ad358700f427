#pragma once
// Experiments: config/experiments.yaml, validated into an immutable ExperimentsConfig, and the
// stable assignment of users to variants. File format, formula and reporting: docs/EXPERIMENTS.md.
//
// Assignment. For each experiment a user falls into one bucket in [0, 1):
//   h      = MixBits64(Fnv1a64(salt + ":" + user_id))  (FNV-1a of core/hashing.h over the bytes)
//   bucket = (h >> 11) * 2^-53                           (the top 53 bits as an exact double)
// FNV-1a alone mixes its last bytes poorly into its top bits: ids that differ only at the end
// ("user17", "user18") land in correlated buckets, and two salts assign correlated halves
// (measured: 46.7% instead of 50% overlap on 20k users). The MurmurHash3 64-bit finalizer
// (MixBits64) removes that; tests/unit/lifecycle/experiments_test.cpp checks independence.
// Variants take consecutive slices of [0, 1) in file order, each as wide as its allocation; a
// bucket past the last slice is the control ("control": the primary model with the server's
// default parameters). The same salt and user id give the same variant on every replica and
// across restarts; changing the salt reshuffles everybody, changing an allocation moves only
// users at the edges of the slices that moved.
//
// InRollout() uses the same bucket for the shadow rollout: a user is shadowed when
// bucket < fraction, so raising the fraction only adds users.
//
// Thread-safety: an ExperimentsConfig is immutable after LoadExperimentsFile()/ParseExperiments();
// every const method may be called concurrently. Serving holds it in an ExperimentsHolder
// (core/reloadable_config.h): Get() per request, Reload() from POST /models/reload.

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/reloadable_config.h"
#include "core/status.h"

namespace recserve::lifecycle {

// The variant name reported for users outside every variant's slice.
inline constexpr std::string_view kControlVariant = "control";
// Largest `candidates` a variant may ask for (the pipeline's default is 200).
inline constexpr int64_t kMaxExperimentCandidates = 5000;
// Largest recall-channel weight a variant may set.
inline constexpr double kMaxChannelWeight = 100.0;

// What a variant changes. An unset field (or an unlisted channel) keeps the server's default.
struct VariantParameters {
  // Merged recall candidates per request, 1..kMaxExperimentCandidates.
  std::optional<uint32_t> candidates;
  // Recall channel name (core/recall_channel_names.h) → weight in [0, kMaxChannelWeight]
  // applied to that channel's contribution to the candidate merge; 0 drops the channel,
  // an unlisted channel keeps weight 1.
  std::map<std::string, double, std::less<>> channel_weights;
  // Whether the XGBoost ranker orders the candidates (false: recall order).
  std::optional<bool> ranker;

  bool empty() const { return !candidates && channel_weights.empty() && !ranker; }
};

struct Variant {
  std::string name;
  double allocation = 0;  // share of users, [0, 1]
  // The variant's slice of the bucket range: bucket_begin <= bucket < bucket_end.
  double bucket_begin = 0;
  double bucket_end = 0;
  VariantParameters parameters;
};

struct Experiment {
  std::string name;
  std::string salt;
  std::vector<Variant> variants;  // file order; allocations sum to at most 1

  // The variant whose slice holds `bucket`, or nullptr for the control.
  const Variant* VariantForBucket(double bucket) const;
  double control_share() const;
};

// One user's place in one experiment. Points into the ExperimentsConfig it came from: valid
// while the caller holds that snapshot.
struct ExperimentAssignment {
  const Experiment* experiment = nullptr;
  const Variant* variant = nullptr;  // nullptr: control

  std::string_view variant_name() const {
    return variant != nullptr ? std::string_view(variant->name) : kControlVariant;
  }
};

class ExperimentsConfig {
 public:
  ExperimentsConfig() = default;  // no experiments: everybody is control
  explicit ExperimentsConfig(std::vector<Experiment> experiments)
      : experiments_(std::move(experiments)) {}

  const std::vector<Experiment>& experiments() const { return experiments_; }

  // One assignment per experiment, in file order (control included).
  std::vector<ExperimentAssignment> Assign(std::string_view user_id) const;

  // The parameters that apply to `user_id`: for each field, the value set by the first
  // experiment (file order) whose assigned variant sets it; channel weights merge per channel the
  // same way. Empty for a user who is control everywhere.
  VariantParameters ParametersFor(std::string_view user_id) const;

 private:
  std::vector<Experiment> experiments_;
};

// The parameters of one user's `assignments` (ExperimentsConfig::Assign), merged as
// ParametersFor describes; lets a caller that needs both assign once.
VariantParameters MergedParameters(const std::vector<ExperimentAssignment>& assignments);

// The one `variant` value reported for a request (response field, exposure log, metric label):
// "<experiment>:<variant>" of the first assignment (file order) that is not control, or
// "primary" when the user is control in every experiment. ':' cannot occur in names, so the
// label is unambiguous.
std::string ReportedVariant(const std::vector<ExperimentAssignment>& assignments);

// The user's bucket in [0, 1) for `salt` (formula above).
double AssignmentBucket(std::string_view salt, std::string_view user_id);

// Whether `user_id` is in a rollout of share `fraction` keyed by `salt`: bucket < fraction.
// fraction <= 0 (or NaN) selects nobody, fraction >= 1 everybody.
bool InRollout(std::string_view salt, std::string_view user_id, double fraction);

// Parses and validates the text of an experiments file. `source` names the file in errors.
// Every error is InvalidArgument "<source>: experiment 'e' variant 'v': field 'f' (line N): ...".
Result<ExperimentsConfig> ParseExperiments(std::string_view yaml_text, std::string_view source);
// Reads `path` and parses it; NotFound when the file cannot be read.
Result<ExperimentsConfig> LoadExperimentsFile(const std::filesystem::path& path);

// EXPERIMENTS_PATH, or config/experiments.yaml when unset (docs/CONFIGURATION.md).
std::filesystem::path ExperimentsPathFromEnv();

using ExperimentsHolder = ReloadableConfig<ExperimentsConfig>;
// Loads `path` into a holder whose Reload() re-reads it; the load error when the file is bad.
Result<std::unique_ptr<ExperimentsHolder>> OpenExperiments(std::filesystem::path path);

}  // namespace recserve::lifecycle
