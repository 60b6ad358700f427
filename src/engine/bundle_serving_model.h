#pragma once
// BundleServingModel: the ServingModel over a published model bundle (docs/BUNDLES.md). Load()
// opens the bundle directory once, reads every listed file through it once, checks each file's
// size and sha256 against the manifest on those bytes, and parses the models room's
// RecommenderModel from the same bytes (nothing is re-opened by path after the check); then it
// answers one request as a smoke test. Any failure refuses the bundle with a Status naming the
// file and the problem (a part whose item count differs from the vocabulary included), and
// nothing is served from it.
//
// Immutable after Load(); every method is const and thread-safe (ServingModel contract).

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/serving_model.h"
#include "lifecycle/bundle_validator.h"
#include "models/recommender.h"

namespace recserve::engine {

class BundleServingModel final : public ServingModel {
 public:
  // Validates and loads the bundle at `dir` (symlinks in `dir` are resolved once, when the
  // directory is opened). Errors as lifecycle::ReadVerifiedBundle (NotFound, InvalidArgument,
  // FailedPrecondition, DataLoss) plus the loader's errors, prefixed with the bundle directory.
  static Result<std::shared_ptr<const BundleServingModel>> Load(const std::filesystem::path& dir);

  const std::string& version() const override { return version_; }
  const std::filesystem::path& dir() const { return dir_; }
  bool KnowsUser(std::string_view user_id) const override;
  bool KnowsItem(std::string_view item_id) const override;
  // One pass of the models room's sparse Recall with query.recall mapped onto RecallParams; the
  // returned model_state keeps the model query and the CandidateSet (per-channel scores) for
  // Rank, so a ranked request recalls once.
  Result<RecalledCandidates> Recall(const RecommendationQuery& query) const override;
  // Ranks the recalled CandidateSet with the bundle's ranker, ties by item index (the order of
  // RecommenderModel::Recommend). FailedPrecondition when the bundle has no ranker;
  // InvalidArgument when `candidates` came from another model.
  Result<std::vector<ScoredItem>> Rank(const RecommendationQuery& query,
                                       const RecalledCandidates& candidates) const override;
  Result<std::vector<ScoredItem>> Similar(std::string_view item_id, uint32_t k) const override;
  std::vector<ScoredItem> Popular(uint32_t k) const override;

  // The models room's query for `query`: the user's index when known, the history items the
  // model knows, oldest first. Public so tests can run the same query through the model.
  models::UserQuery ToModelQuery(const RecommendationQuery& query) const;
  // The models room's recall parameters for query.recall.
  static models::RecallParams ToRecallParams(const RecallOptions& options);
  const models::RecommenderModel& model() const { return model_; }

 private:
  BundleServingModel(std::filesystem::path dir, std::string version, models::RecommenderModel model)
      : dir_(std::move(dir)), version_(std::move(version)), model_(std::move(model)) {}

  std::vector<ScoredItem> Named(const std::vector<models::ScoredItem>& items) const;

  std::filesystem::path dir_;
  std::string version_;
  models::RecommenderModel model_;
};

// The smoke test's verdict on the model's answer to its probe (a request with one history item,
// catalogue index 0, for up to kSmokeProbeK items from a catalogue of `num_items`): OK when
// the answer is what a working model gives — at least one item whenever the catalogue has an
// item besides the probe's, every index inside the catalogue, every score finite, best first.
// FailedPrecondition naming the first problem otherwise (the bundle is then refused).
inline constexpr size_t kSmokeProbeK = 10;
Status CheckSmokeAnswer(const std::vector<models::ScoredItem>& answer, size_t num_items);

// The bundle a fresh start serves: `<model_dir>/current`, confined to `model_dir`
// (lifecycle::ResolveCurrentBundle: NotFound when missing, InvalidArgument when it escapes).
Result<std::shared_ptr<const BundleServingModel>> LoadCurrentBundle(
    const std::filesystem::path& model_dir);

}  // namespace recserve::engine
