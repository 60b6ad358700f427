#include "engine/bundle_serving_model.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "lifecycle/path_safety.h"

namespace recserve::engine {

namespace {

Status InBundle(const std::filesystem::path& dir, const Status& status) {
  return Status(status.code(), "bundle " + dir.string() + ": " + status.message());
}

}  // namespace

Status CheckSmokeAnswer(const std::vector<models::ScoredItem>& answer, size_t num_items) {
  if (answer.empty() && num_items > 1) {
    return FailedPrecondition("smoke test: the model recommends nothing for a one-item history");
  }
  if (answer.size() > kSmokeProbeK) {
    return FailedPrecondition("smoke test: the model answers more items than asked for");
  }
  for (size_t i = 0; i < answer.size(); ++i) {
    const models::ScoredItem& item = answer[i];
    if (item.item >= num_items) {
      return FailedPrecondition("smoke test: item index " + std::to_string(item.item) +
                                " is outside the catalogue of " + std::to_string(num_items));
    }
    if (!std::isfinite(item.score)) {
      return FailedPrecondition("smoke test: a score is not a finite number");
    }
    if (i > 0 && item.score > answer[i - 1].score) {
      return FailedPrecondition("smoke test: scores are not in descending order");
    }
  }
  return Status::Ok();
}

Result<std::shared_ptr<const BundleServingModel>> BundleServingModel::Load(
    const std::filesystem::path& dir) {
  // The directory is opened once; each file is read through it once, its size and sha256
  // checked on those bytes, and the model parsed from the same bytes: a bundle swapped or
  // rewritten meanwhile cannot get its files served under another manifest.
  auto verified = lifecycle::ReadVerifiedBundle(dir);
  if (!verified.ok()) return InBundle(dir, verified.status());
  const lifecycle::ValidatedBundle bundle = verified->bundle;
  Result<models::RecommenderModel> model = [&] {
    auto owner = std::make_shared<const lifecycle::VerifiedBundle>(std::move(verified).value());
    models::ModelFiles::Views views;
    for (const auto& [path, bytes] : owner->contents) views.emplace(path, bytes.view());
    const models::ModelFiles files(std::move(views), std::move(owner));
    return models::RecommenderModel::Load(files);
  }();  // the bytes are released here; the model holds what it parsed
  if (!model.ok()) return InBundle(dir, model.status());
  if (model->num_items() == 0) {
    return InBundle(dir, FailedPrecondition("the model has an empty item vocabulary"));
  }
  // Smoke test: one request through recall and (when present) the ranker, and its answer
  // checked: a bundle that loads but cannot answer sensibly is refused before it serves.
  models::UserQuery probe;
  probe.items.push_back(0);
  probe.timestamps.push_back(0);
  Status smoke = CheckSmokeAnswer(model->Recommend(probe, kSmokeProbeK), model->num_items());
  if (!smoke.ok()) return InBundle(dir, smoke);
  return std::shared_ptr<const BundleServingModel>(new BundleServingModel(
      bundle.dir, bundle.manifest.metadata.model_version, std::move(model).value()));
}

bool BundleServingModel::KnowsUser(std::string_view user_id) const {
  return model_.users().Find(user_id).has_value();
}

bool BundleServingModel::KnowsItem(std::string_view item_id) const {
  return model_.items().Find(item_id).has_value();
}

models::UserQuery BundleServingModel::ToModelQuery(const RecommendationQuery& query) const {
  models::UserQuery out;
  out.user = model_.users().Find(query.user_id);
  // query.history is newest first; the model wants oldest first.
  for (auto it = query.history.rbegin(); it != query.history.rend(); ++it) {
    if (auto item = model_.items().Find(it->item_id)) {
      out.items.push_back(*item);
      out.timestamps.push_back(it->timestamp);
    }
  }
  return out;
}

std::vector<ScoredItem> BundleServingModel::Named(
    const std::vector<models::ScoredItem>& items) const {
  std::vector<ScoredItem> out;
  out.reserve(items.size());
  for (const auto& item : items) {
    out.push_back({model_.items().Name(item.item), static_cast<double>(item.score)});
  }
  return out;
}

namespace {

// What Recall() leaves for Rank(): the model query (so it is built once) and the candidates with
// their per-channel scores.
class BundleRecallState final : public RecallState {
 public:
  BundleRecallState(const BundleServingModel* recalled_by, models::UserQuery user_query,
                    models::CandidateSet candidates)
      : owner(recalled_by), query(std::move(user_query)), set(std::move(candidates)) {}
  const BundleServingModel* owner;
  models::UserQuery query;
  models::CandidateSet set;
};

}  // namespace

models::RecallParams BundleServingModel::ToRecallParams(const RecallOptions& options) {
  models::RecallParams params;
  if (options.candidates != 0) {
    params.candidates = std::min(options.candidates, kMaxRecallCandidates);
  }
  for (const auto& [name, weight] : options.channel_weights) {
    params.channel_weights.emplace_back(name, static_cast<float>(weight));
  }
  return params;
}

Result<RecalledCandidates> BundleServingModel::Recall(const RecommendationQuery& query) const {
  models::UserQuery model_query = ToModelQuery(query);
  models::CandidateSet set = model_.Recall(model_query, ToRecallParams(query.recall));
  RecalledCandidates out;
  out.items.reserve(set.items.size());
  for (size_t i = 0; i < set.items.size(); ++i) {
    out.items.push_back({model_.items().Name(set.items[i]), static_cast<double>(set.scores[i])});
  }
  out.model_state =
      std::make_shared<const BundleRecallState>(this, std::move(model_query), std::move(set));
  return out;
}

Result<std::vector<ScoredItem>> BundleServingModel::Rank(
    const RecommendationQuery&, const RecalledCandidates& candidates) const {
  if (!model_.has_ranker()) return FailedPrecondition("the bundle has no ranker");
  const auto* state = dynamic_cast<const BundleRecallState*>(candidates.model_state.get());
  if (state == nullptr || state->owner != this) {
    return InvalidArgument("candidates were not recalled by bundle " + version_);
  }
  models::CandidateSet set = state->set;  // Rank replaces scores; the recalled set stays intact
  RECSERVE_RETURN_IF_ERROR(model_.Rank(state->query, set));
  std::vector<models::ScoredItem> ranked;
  ranked.reserve(set.items.size());
  for (size_t i = 0; i < set.items.size(); ++i) ranked.push_back({set.items[i], set.scores[i]});
  // The same order as RecommenderModel::Recommend: score desc, item index asc.
  std::sort(ranked.begin(), ranked.end(),
            [](const auto& a, const auto& b) { return models::RanksBefore(a, b); });
  return Named(ranked);
}

Result<std::vector<ScoredItem>> BundleServingModel::Similar(std::string_view item_id,
                                                            uint32_t k) const {
  auto item = model_.items().Find(item_id);
  if (!item) return NotFound("unknown item '" + std::string(item_id) + "'");
  return Named(model_.Similar(*item, k));
}

std::vector<ScoredItem> BundleServingModel::Popular(uint32_t k) const {
  return Named(model_.Popular(k));
}

Result<std::shared_ptr<const BundleServingModel>> LoadCurrentBundle(
    const std::filesystem::path& model_dir) {
  auto current = lifecycle::ResolveCurrentBundle(model_dir);
  if (!current.ok()) return current.status();
  return BundleServingModel::Load(*current);
}

}  // namespace recserve::engine
