#pragma once
// Training orchestration: choosing channel hyper-parameters on a validation fold (EVALUATION.md
// rule 6), training the ranker on a time split inside the training data (history before, labels
// after, so no label leaks into features), and the final fit on all data. `recserve evaluate`
// and `recserve pipeline` (via TrainForServing) run the same code.

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "models/recommender.h"
#include "models/rp3beta.h"
#include "pipeline/evaluation.h"
#include "pipeline/interaction_table.h"

namespace recserve::pipeline {

// Flags-ready options. Values are the defaults and the starting point of the tuning grid.
struct TrainingOptions {
  models::ModelConfig model;
  bool tune = true;   // search the channel grid on the validation fold
  bool fast = false;  // a 2×2 iALS grid instead of 4×4 (iALS dominates tuning time)
  int threads = 1;
  uint64_t seed = 42;
  // Validation users whose candidates become the ranker's training groups. Above this many, a
  // seeded sample is drawn (SampleRankerUsers): building a group costs one full Recall() and the
  // groups are held in memory, so on a 20M-row set all ~700k users would cost tens of minutes and
  // gigabytes while a few thousand groups already train the ranker. 0 = every user.
  uint32_t ranker_max_users = 20000;
  // Validation users kept out of the ranker's groups and scored with the protocol's metrics
  // (popularity, each channel, final list) by the fold's models: the offline figures a serving
  // run records in its manifest. At most a fifth of the validation users. 0 = none (`recserve
  // evaluate` has a real test split and uses every validation user for the ranker).
  uint32_t holdout_users = 0;
};

// Validation users, as positions into Fold::users, split by the seeded hash
// FNV-1a-64("<seed>:<user index>"): in ascending hash order, the first
// min(holdout_users, n / 5) are held out for the offline figures, the next min(max_ranker_users,
// rest) build ranker groups (all of the rest when max_ranker_users is 0). Both lists ascending.
// Deterministic for a fixed seed; independent of the thread count.
struct ValidationUserSplit {
  std::vector<size_t> ranker;
  std::vector<size_t> holdout;
};
ValidationUserSplit SplitValidationUsers(const std::vector<uint32_t>& users, uint32_t holdout_users,
                                         uint32_t max_ranker_users, uint64_t seed);

// What tuning chose, with each choice's validation NDCG@20, for the evaluation JSON.
struct TuningReport {
  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::pair<std::string, double>> validation_ndcg20;  // per channel, chosen setting
  uint64_t ranker_groups = 0;
  uint64_t ranker_rows = 0;
  uint64_t ranker_users_sampled = 0;  // validation users whose candidates were built
  // Metrics on the held-out validation users (TrainingOptions::holdout_users); empty when none:
  // "popularity", each channel by name, and "final".
  std::vector<std::pair<std::string, Metrics>> holdout;
  uint64_t holdout_users = 0;
};

// Picks channel hyper-parameters by validation NDCG@20 on `validation` (a fold whose train is the
// fit part, in the index space of the final data). Returns the chosen configuration.
models::ModelConfig TuneChannels(const Fold& validation, const models::ItemSide& side,
                                 const TrainingOptions& options, TuningReport& report);

// RP3beta's α × β chosen by validation NDCG@20 (neighbours fixed at params.neighbours); adds the
// choice to report.params and its score to report.validation_ndcg20. An evaluation-only channel:
// `recserve evaluate` reports it alone; serving does not use it.
models::Rp3betaParams TuneRp3beta(const Fold& validation, models::Rp3betaParams params, int threads,
                                  TuningReport& report);

// Trains channels on validation.train, builds ranking examples for (a sample of, see
// TrainingOptions::ranker_max_users) the validation users from Recall() candidates (label 1 for a
// validation positive) and trains the ranker. Also picks the ranker objective and depth on
// held-out groups and writes them into `config.ranker`.
Result<std::unique_ptr<models::Ranker>> TrainRankerOnFold(
    const Fold& validation, const IdVocabulary& users, const IdVocabulary& items,
    const models::ItemSide& side, const TrainingOptions& options, models::ModelConfig& config,
    TuningReport& report);

// Tune (when options.tune) → ranker on the validation fold → channels on `full` + that ranker.
Result<models::RecommenderModel> TrainTwoStage(const models::InteractionMatrix& full,
                                               const Fold& validation, const IndexSpace& space,
                                               const models::ItemSide& side,
                                               const TrainingOptions& options,
                                               TuningReport& report);

// Everything on all of `table` for serving: positives are all rows (earliest per pair); the
// ranker is trained on the user_temporal validation split (last 10% of each user's events)
// inside the data. InvalidArgument when the table is empty.
Result<models::RecommenderModel> TrainForServing(const InteractionTable& table,
                                                 const ItemCatalog& catalog,
                                                 const TrainingOptions& options,
                                                 TuningReport* report = nullptr);

}  // namespace recserve::pipeline
