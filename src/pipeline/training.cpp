#include "pipeline/training.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <string>
#include <thread>
#include <unordered_set>

#include "core/hashing.h"
#include "models/recall_channel_registry.h"

namespace recserve::pipeline {
namespace {

double ValidationNdcg20(const Fold& fold, const models::RecallChannel& channel, int threads) {
  return EvaluateFold(fold, ChannelRanking(channel), threads).ndcg20;
}

// Wall and process-CPU seconds since construction, for the per-stage log lines of a training
// run: on a shared machine the CPU figure is the comparable one.
class StageClock {
 public:
  StageClock() { Restart(); }
  void Restart() {
    wall_ = std::chrono::steady_clock::now();
    cpu_ = CpuSeconds();
  }
  std::string Elapsed() const {
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count();
    return fmt::format("{:.1f} s wall, {:.1f} s CPU", wall, CpuSeconds() - cpu_);
  }

 private:
  static double CpuSeconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
  }
  std::chrono::steady_clock::time_point wall_;
  double cpu_ = 0;
};

std::string Num(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

models::ModelConfig TuneChannels(const Fold& validation, const models::ItemSide& side,
                                 const TrainingOptions& options, TuningReport& report) {
  (void)side;
  models::ModelConfig config = options.model;
  config.threads = options.threads;
  config.ials.seed = options.seed;
  config.ann_params.seed = options.seed;
  config.ranker.seed = options.seed;
  // Each channel in registry order, over the settings its row lists, keeping the first best by
  // validation NDCG@20; a later channel's grid starts from the choices made before it (recent_knn
  // reads the neighbour lists item_knn chose).
  models::ChannelTrainingData fit(validation.train);
  for (const models::RecallChannelEntry& entry : models::RecallChannelRegistry()) {
    const std::vector<models::ModelConfig> grid = entry.tuning_grid(config, options.fast);
    double best = -1;
    bool left_out = false;
    for (const models::ModelConfig& candidate : grid) {
      auto channel = entry.train(fit, candidate);
      if (!channel.ok()) break;
      if (!*channel) {
        left_out = true;  // the configuration leaves the channel out (EASE above its limit)
        break;
      }
      double v = ValidationNdcg20(validation, **channel, options.threads);
      if (v > best) best = v, config = candidate;
    }
    if (!grid.empty() && !left_out) {
      report.validation_ndcg20.emplace_back(std::string(entry.name), best);
    }
  }
  return config;
}

models::Rp3betaParams TuneRp3beta(const Fold& validation, models::Rp3betaParams params, int threads,
                                  TuningReport& report) {
  double best = -1;
  models::Rp3betaParams chosen = params;
  for (float alpha : {0.5f, 0.75f, 1.0f}) {
    for (float beta : {0.0f, 0.25f, 0.5f}) {
      params.alpha = alpha;
      params.beta = beta;
      auto channel = models::TrainRp3beta(validation.train, params, threads);
      double v = ValidationNdcg20(validation, *channel, threads);
      if (v > best) best = v, chosen = params;
    }
  }
  report.validation_ndcg20.emplace_back(std::string(models::kRp3betaChannel), best);
  report.params.emplace_back("rp3beta_alpha", Num(chosen.alpha));
  report.params.emplace_back("rp3beta_beta", Num(chosen.beta));
  report.params.emplace_back("rp3beta_neighbours", std::to_string(chosen.neighbours));
  return chosen;
}

namespace {

// One validation user's ranking examples.
struct RankingGroup {
  std::vector<float> features;
  std::vector<float> labels;
  size_t targets = 0;  // all validation positives of the user, found by recall or not
};

models::RankingExamples Concatenate(const std::vector<RankingGroup>& groups, size_t num_features,
                                    int parity) {
  models::RankingExamples ex;
  ex.num_features = num_features;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (parity >= 0 && static_cast<int>(g % 2) != parity) continue;
    ex.features.insert(ex.features.end(), groups[g].features.begin(), groups[g].features.end());
    ex.labels.insert(ex.labels.end(), groups[g].labels.begin(), groups[g].labels.end());
    ex.group_sizes.push_back(static_cast<unsigned>(groups[g].labels.size()));
  }
  return ex;
}

// Mean NDCG@20 of the ranker's order over the groups of one parity (IDCG over all targets).
Result<double> HeldOutNdcg20(const models::Ranker& ranker, const std::vector<RankingGroup>& groups,
                             int parity) {
  double total = 0;
  size_t users = 0;
  for (size_t g = 0; g < groups.size(); ++g) {
    if (static_cast<int>(g % 2) != parity) continue;
    auto scores = ranker.Predict(groups[g].features, groups[g].labels.size());
    if (!scores.ok()) return scores.status();
    std::vector<size_t> order(groups[g].labels.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return (*scores)[a] > (*scores)[b]; });
    double dcg = 0, idcg = 0;
    for (size_t r = 0; r < std::min<size_t>(20, order.size()); ++r) {
      if (groups[g].labels[order[r]] > 0) dcg += 1.0 / std::log2(r + 2.0);
    }
    for (size_t r = 0; r < std::min<size_t>(20, groups[g].targets); ++r) {
      idcg += 1.0 / std::log2(r + 2.0);
    }
    total += idcg > 0 ? dcg / idcg : 0.0;
    ++users;
  }
  return users == 0 ? 0.0 : total / users;
}

}  // namespace

ValidationUserSplit SplitValidationUsers(const std::vector<uint32_t>& users, uint32_t holdout_users,
                                         uint32_t max_ranker_users, uint64_t seed) {
  const std::string prefix = std::to_string(seed) + ":";
  std::vector<std::pair<uint64_t, size_t>> keyed(users.size());
  for (size_t k = 0; k < users.size(); ++k) {
    keyed[k] = {Fnv1a64(prefix + std::to_string(users[k])), k};
  }
  // Ascending hash; the position breaks (unlikely) hash ties, so the order is strict.
  std::sort(keyed.begin(), keyed.end());
  const size_t holdout = std::min<size_t>(holdout_users, users.size() / 5);
  size_t ranker = users.size() - holdout;
  if (max_ranker_users != 0) ranker = std::min<size_t>(ranker, max_ranker_users);
  ValidationUserSplit split;
  for (size_t k = 0; k < holdout; ++k) split.holdout.push_back(keyed[k].second);
  for (size_t k = holdout; k < holdout + ranker; ++k) split.ranker.push_back(keyed[k].second);
  std::sort(split.holdout.begin(), split.holdout.end());
  std::sort(split.ranker.begin(), split.ranker.end());
  return split;
}

Result<std::unique_ptr<models::Ranker>> TrainRankerOnFold(
    const Fold& validation, const IdVocabulary& users, const IdVocabulary& items,
    const models::ItemSide& side, const TrainingOptions& options, models::ModelConfig& config,
    TuningReport& report) {
  StageClock stage;
  auto trained =
      models::RecommenderModel::TrainChannels(validation.train, users, items, side, config);
  if (!trained.ok()) return trained.status();
  spdlog::info("training: fold channels on {} pairs in {}", validation.train.nnz(),
               stage.Elapsed());
  stage.Restart();
  // The fold's channels: held until the ranker is trained and the held-out users are scored,
  // freed on return, before the final fit allocates its own.
  auto model = std::make_unique<models::RecommenderModel>(std::move(trained).value());
  const size_t num_features = model->FeatureNames().size();
  models::RecallParams params;
  params.candidates = config.candidates;
  const ValidationUserSplit split = SplitValidationUsers(validation.users, options.holdout_users,
                                                         options.ranker_max_users, options.seed);
  const std::vector<size_t>& sampled = split.ranker;
  report.ranker_users_sampled = sampled.size();
  // One slot per sampled user, filled by fixed ranges of workers (Recall and Features are const
  // and thread-safe), so the groups and their order do not depend on the thread count.
  std::vector<RankingGroup> slots(sampled.size());
  auto build = [&](size_t begin, size_t end) {
    for (size_t s = begin; s < end; ++s) {
      const size_t k = sampled[s];
      models::UserQuery query =
          models::UserQuery::ForTrainingUser(validation.train, validation.users[k]);
      models::CandidateSet candidates = model->Recall(query, params);
      const auto& target = validation.targets[k];
      RankingGroup& group = slots[s];
      group.targets = target.size();
      size_t positives = 0;
      for (uint32_t item : candidates.items) {
        bool hit = std::binary_search(target.begin(), target.end(), item);
        group.labels.push_back(hit ? 1.0f : 0.0f);
        positives += hit;
      }
      // A group without a positive carries no ranking signal.
      if (positives == 0) {
        group.labels.clear();
        continue;
      }
      group.features = model->Features(query, candidates);
    }
  };
  const size_t workers = static_cast<size_t>(std::max(1, options.threads));
  const size_t chunk = (slots.size() + workers - 1) / workers;
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) {
    const size_t begin = std::min(slots.size(), w * chunk);
    pool.emplace_back(build, begin, std::min(slots.size(), begin + chunk));
  }
  build(0, std::min(slots.size(), chunk));
  for (auto& t : pool) t.join();
  std::vector<RankingGroup> groups;
  for (RankingGroup& group : slots) {
    if (!group.labels.empty()) groups.push_back(std::move(group));
  }
  slots.clear();
  slots.shrink_to_fit();
  spdlog::info("training: {} ranker groups from {} sampled users in {}", groups.size(),
               sampled.size(), stage.Elapsed());
  stage.Restart();
  models::RankingExamples all = Concatenate(groups, num_features, -1);
  report.ranker_groups = all.group_sizes.size();
  report.ranker_rows = all.rows();
  if (all.rows() == 0) {
    return FailedPrecondition(
        "no validation user has a positive among the candidates; "
        "too little data to train the ranker");
  }
  // Ranker settings chosen on validation too: train on even groups, score odd ones (rule 6).
  if (groups.size() >= 20) {
    const std::vector<std::pair<std::string, uint32_t>> grid = {
        {"rank:ndcg", 4}, {"rank:ndcg", 6}, {"rank:pairwise", 4}, {"rank:pairwise", 6}};
    models::RankingExamples even = Concatenate(groups, num_features, 0);
    double best = -1;
    models::RankerParams chosen = config.ranker;
    for (const auto& [objective, depth] : grid) {
      models::RankerParams p = config.ranker;
      p.objective = objective;
      p.depth = depth;
      auto ranker = models::Ranker::Train(even, p);
      if (!ranker.ok()) return ranker.status();
      auto v = HeldOutNdcg20(**ranker, groups, 1);
      if (!v.ok()) return v.status();
      if (*v > best) best = *v, chosen = p;
    }
    config.ranker = chosen;
    report.validation_ndcg20.emplace_back("ranker_held_out", best);
  }
  auto ranker = models::Ranker::Train(all, config.ranker);
  spdlog::info("training: ranker ({} rows, objective {} depth {}) in {}", all.rows(),
               config.ranker.objective, config.ranker.depth, stage.Elapsed());
  stage.Restart();
  if (!ranker.ok() || split.holdout.empty()) return ranker;
  // The held-out users' figures: the fold's channels never saw their validation events and the
  // ranker never saw their groups, so these are honest estimates of what the run will serve.
  report.holdout_users = split.holdout.size();
  for (const auto& channel : model->channels()) {
    report.holdout.emplace_back(
        channel->name(),
        EvaluateFoldUsers(validation, split.holdout, ChannelRanking(*channel), options.threads));
  }
  report.holdout.emplace_back(
      "final",
      EvaluateFoldUsers(validation, split.holdout,
                        FinalRanking(*model, **ranker, config.candidates), options.threads));
  return ranker;
}

Result<models::RecommenderModel> TrainTwoStage(const models::InteractionMatrix& full,
                                               const Fold& validation, const IndexSpace& space,
                                               const models::ItemSide& side,
                                               const TrainingOptions& options,
                                               TuningReport& report) {
  models::ModelConfig config = options.model;
  config.threads = options.threads;
  config.ials.seed = options.seed;
  config.ann_params.seed = options.seed;
  config.ranker.seed = options.seed;
  config.ranker.threads = options.threads;
  if (options.tune && !validation.users.empty()) {
    config = TuneChannels(validation, side, options, report);
    config.ranker.threads = options.threads;
  }
  std::unique_ptr<models::Ranker> ranker;
  if (!validation.users.empty()) {
    auto trained =
        TrainRankerOnFold(validation, space.users, space.items, side, options, config, report);
    if (!trained.ok()) return trained.status();
    ranker = std::move(trained).value();
  }
  report.params = {
      {"trending_window_days", Num(config.trending_window_seconds / 86400.0)},
      {"knn_neighbours", std::to_string(config.knn_neighbours)},
      {"knn_shrink", Num(config.knn_shrink)},
      {"recent_items", std::to_string(config.recent_items)},
      {"ials_factors", std::to_string(config.ials.factors)},
      {"ials_iterations", std::to_string(config.ials.iterations)},
      {"ials_cg_steps", std::to_string(config.ials.cg_steps)},
      {"ials_regularization", Num(config.ials.regularization)},
      {"ials_alpha", Num(config.ials.alpha)},
      {"ease_lambda", config.ease && full.num_items <= config.ease_max_items
                          ? Num(config.ease_lambda)
                          : std::string("off")},
      {"candidates", std::to_string(config.candidates)},
      {"ranker_objective", config.ranker.objective},
      {"ranker_trees", std::to_string(config.ranker.trees)},
      {"ranker_depth", std::to_string(config.ranker.depth)},
      {"ranker_learning_rate", Num(config.ranker.learning_rate)},
      {"seed", std::to_string(options.seed)},
      {"threads", std::to_string(options.threads)},
  };
  StageClock final_fit;
  auto model =
      models::RecommenderModel::TrainChannels(full, space.users, space.items, side, config);
  if (!model.ok()) return model.status();
  spdlog::info("training: final channels on {} pairs in {}", full.nnz(), final_fit.Elapsed());
  if (ranker) model->SetRanker(std::move(ranker));
  return model;
}

Result<models::RecommenderModel> TrainForServing(const InteractionTable& table,
                                                 const ItemCatalog& catalog,
                                                 const TrainingOptions& options,
                                                 TuningReport* report_out) {
  if (table.size() == 0) return InvalidArgument("no interactions to train on");
  // Positives: every row, one per pair, earliest kept — as LoadPositives does for a file.
  PositiveSet set;
  for (const std::string& u : table.users.names()) set.users.Intern(u);
  for (const std::string& i : table.items.names()) set.items.Intern(i);
  set.numeric_users = AllDigitIds(set.users.names());
  set.numeric_items = AllDigitIds(set.items.names());
  {
    // One entry per pair (~1 GB at 20M rows): freed before any split or model is built.
    std::unordered_map<uint64_t, size_t> pair_row;
    pair_row.reserve(table.size());
    for (size_t r = 0; r < table.size(); ++r) {
      AddPositive(set, pair_row, {table.user[r], table.item[r], table.timestamp[r]});
    }
  }
  IndexSpace space;
  Fold all;
  Fold validation;
  {
    auto inner = SplitPositives(set, set.rows, SplitKind::kUserTemporal, 0.1);
    if (!inner.ok()) return inner.status();
    space = SortedIndexSpace(set, set.rows);
    all = BuildFold(set, space, set.rows, {});
    validation = BuildFold(set, space, inner->train, inner->test);
  }
  // The row lists are in the folds' matrices now; only the vocabularies are needed below.
  set.rows.clear();
  set.rows.shrink_to_fit();

  models::ItemSide side;
  side.tags.resize(space.items.size());
  if (catalog.loaded) {
    IdVocabulary tags;
    for (uint32_t i = 0; i < space.items.size(); ++i) {
      auto original = table.items.Find(space.items.Name(i));
      if (!original || *original >= catalog.tags.size()) continue;
      for (const std::string& t : catalog.tags[*original]) side.tags[i].push_back(tags.Intern(t));
    }
    side.tag_names = tags.names();
  }
  TuningReport local;
  TuningReport& report = report_out ? *report_out : local;
  return TrainTwoStage(all.train, validation, space, side, options, report);
}

}  // namespace recserve::pipeline
