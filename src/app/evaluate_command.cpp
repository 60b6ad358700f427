// `recserve evaluate`: the offline protocol of ../shared/docs/EVALUATION.md on one data
// directory. Tunes on the validation split inside train (rule 6), refits on all of train,
// evaluates once on test, prints a table and optionally writes the JSON shape of EVALUATION.md.

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "app/commands.h"
#include "core/hashing.h"
#include "core/json_text.h"
#include "pipeline/evaluation.h"
#include "pipeline/training.h"

namespace recserve::app {
namespace {

struct EvaluateFlags {
  std::string data;
  std::string split = "user_temporal";
  std::optional<double> min_weight;
  std::string output;
  int threads = 2;
  uint64_t seed = 42;
  bool fast = false;
  uint32_t ranker_users = 20000;
  uint32_t cg_steps = models::IalsParams().cg_steps;
};

nlohmann::ordered_json MetricsJson(const pipeline::Metrics& m) {
  return {{"recall@10", m.recall10}, {"recall@20", m.recall20},   {"ndcg@10", m.ndcg10},
          {"ndcg@20", m.ndcg20},     {"hitrate@10", m.hitrate10}, {"coverage@10", m.coverage10}};
}

void PrintRow(const std::string& name, const pipeline::Metrics& m) {
  std::printf("%-14s %9.4f %9.4f %9.4f %9.4f %10.4f %11.4f\n", name.c_str(), m.recall10, m.recall20,
              m.ndcg10, m.ndcg20, m.hitrate10, m.coverage10);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Share of the exact iALS top-20 (history excluded) that the ANN search returns, averaged over
// the fold's test users.
double AnnRecallAt20(const models::RecommenderModel& model, const pipeline::Fold& fold) {
  if (!model.ann() || !model.ials() || fold.users.empty()) return 0.0;
  double total = 0;
  std::vector<float> scores(model.num_items());
  for (uint32_t u : fold.users) {
    models::UserQuery query = models::UserQuery::ForTrainingUser(fold.train, u);
    std::vector<char> mask(model.num_items(), 0);
    for (uint32_t i : query.items) mask[i] = 1;
    model.ials()->Score(query, scores);
    auto exact = models::TopK(scores, 20, mask);
    auto found = model.ann()->Search(model.ials()->UserVector(query), 20, mask);
    size_t hits = 0;
    for (const auto& e : exact) {
      for (const auto& f : found) hits += f.first == e.item;
    }
    total += exact.empty() ? 1.0 : static_cast<double>(hits) / exact.size();
  }
  return total / fold.users.size();
}

int RunEvaluate(const EvaluateFlags& flags) {
  auto fail = [](const Status& s) {
    std::cerr << "recserve evaluate: " << s.ToString() << "\n";
    return 1;
  };
  auto kind = pipeline::ParseSplitKind(flags.split);
  if (!kind.ok()) return fail(kind.status());
  if (flags.threads < 1 || flags.threads > 256) {
    return fail(InvalidArgument("--threads must be within 1..256"));
  }
  const std::filesystem::path dir(flags.data);
  const auto interactions = dir / "interactions.csv";
  auto sha = Sha256File(interactions);
  if (!sha.ok()) return fail(sha.status());
  auto set = pipeline::LoadPositives(interactions, flags.min_weight);
  if (!set.ok()) return fail(set.status());
  auto split = pipeline::SplitPositives(*set, set->rows, *kind, 0.2);
  if (!split.ok()) return fail(split.status());
  if (split->train.empty()) return fail(InvalidArgument("the split leaves no training rows"));
  pipeline::IndexSpace space = pipeline::SortedIndexSpace(*set, split->train);
  pipeline::Fold test_fold = pipeline::BuildFold(*set, space, split->train, split->test);
  if (test_fold.users.empty()) return fail(InvalidArgument("the split leaves no test users"));
  auto inner = pipeline::SplitPositives(*set, split->train, *kind, 0.1);
  if (!inner.ok()) return fail(inner.status());
  pipeline::Fold validation = pipeline::BuildFold(*set, space, inner->train, inner->test);
  auto side = pipeline::LoadItemSide(dir / "items.csv", space.items);
  if (!side.ok()) return fail(side.status());

  pipeline::TrainingOptions options;
  options.threads = flags.threads;
  options.seed = flags.seed;
  options.fast = flags.fast;
  options.ranker_max_users = flags.ranker_users;
  options.model.ials.cg_steps = flags.cg_steps;
  pipeline::TuningReport report;
  const auto train_start = std::chrono::steady_clock::now();
  auto model = pipeline::TrainTwoStage(test_fold.train, validation, space, *side, options, report);
  if (!model.ok()) return fail(model.status());
  const double train_seconds = Seconds(train_start);

  const auto eval_start = std::chrono::steady_clock::now();
  const auto* popularity = model->channel("popularity");
  pipeline::Metrics pop =
      pipeline::EvaluateFold(test_fold, pipeline::ChannelRanking(*popularity), flags.threads);
  std::vector<std::pair<std::string, pipeline::Metrics>> channels;
  for (const auto& c : model->channels()) {
    if (c.get() == popularity) continue;
    channels.emplace_back(
        c->name(), pipeline::EvaluateFold(test_fold, pipeline::ChannelRanking(*c), flags.threads));
  }
  // RP3beta: evaluated alone (an evaluation-only channel), tuned on the validation fold.
  const auto rp3_start = std::chrono::steady_clock::now();
  const models::Rp3betaParams rp3_params =
      pipeline::TuneRp3beta(validation, models::Rp3betaParams{}, flags.threads, report);
  auto rp3beta = models::TrainRp3beta(test_fold.train, rp3_params, flags.threads);
  channels.emplace_back(
      rp3beta->name(),
      pipeline::EvaluateFold(test_fold, pipeline::ChannelRanking(*rp3beta), flags.threads));
  const double rp3_seconds = Seconds(rp3_start);
  pipeline::Metrics final_metrics =
      pipeline::EvaluateFold(test_fold, pipeline::FinalRanking(*model, 200), flags.threads);
  const double ann_recall = AnnRecallAt20(*model, test_fold);
  const double eval_seconds = Seconds(eval_start) - rp3_seconds;

  std::printf(
      "split %s, min_weight %s: train pairs %zu, users %u, catalogue %u, "
      "test users %zu, test pairs %llu\n",
      flags.split.c_str(), flags.min_weight ? std::to_string(*flags.min_weight).c_str() : "none",
      test_fold.train.nnz(), test_fold.train_users, test_fold.catalogue, test_fold.users.size(),
      static_cast<unsigned long long>(test_fold.target_pairs));
  std::printf("%-14s %9s %9s %9s %9s %10s %11s\n", "model", "recall@10", "recall@20", "ndcg@10",
              "ndcg@20", "hitrate@10", "coverage@10");
  PrintRow("popularity", pop);
  for (const auto& [name, m] : channels) PrintRow(name, m);
  PrintRow("final", final_metrics);
  std::printf("ann recall@20 vs exact iALS: %.4f\n", ann_recall);
  std::printf("seconds: train %.1f, evaluate %.1f, rp3beta (tune + train + evaluate) %.1f\n",
              train_seconds, eval_seconds, rp3_seconds);

  if (!flags.output.empty()) {
    nlohmann::ordered_json out;
    nlohmann::ordered_json dataset = {{"interactions_sha256", *sha}, {"split", flags.split}};
    if (flags.min_weight) {
      dataset["min_weight"] = *flags.min_weight;
    } else {
      dataset["min_weight"] = nullptr;
    }
    dataset["train_pairs"] = test_fold.train.nnz();
    dataset["train_users"] = test_fold.train_users;
    dataset["catalogue"] = test_fold.catalogue;
    dataset["test_users"] = test_fold.users.size();
    dataset["test_pairs"] = test_fold.target_pairs;
    out["dataset"] = dataset;
    out["popularity"] = MetricsJson(pop);
    nlohmann::ordered_json channel_json = nlohmann::ordered_json::object();
    for (const auto& [name, m] : channels) channel_json[name] = MetricsJson(m);
    out["channels"] = channel_json;
    out["final"] = MetricsJson(final_metrics);
    nlohmann::ordered_json params = nlohmann::ordered_json::object();
    for (const auto& [k, v] : report.params) params[k] = v;
    out["params"] = params;
    nlohmann::ordered_json validation_json = nlohmann::ordered_json::object();
    for (const auto& [k, v] : report.validation_ndcg20) validation_json[k] = v;
    out["validation_ndcg@20"] = validation_json;
    out["ranker"] = {{"groups", report.ranker_groups}, {"rows", report.ranker_rows}};
    out["ann"] = {{"recall@20_vs_exact", ann_recall}};
    // EVALUATION.md's shape: RP3beta's tuning, training and scoring count as training time.
    out["seconds"] = {{"train", train_seconds + rp3_seconds}, {"evaluate", eval_seconds}};
    std::ofstream file(flags.output, std::ios::trunc);
    file << JsonText(out, 2) << "\n";
    file.close();
    if (!file) return fail(Internal("cannot write " + flags.output));
  }
  return 0;
}

}  // namespace

Command AddEvaluateCommand(CLI::App& root) {
  auto flags = std::make_shared<EvaluateFlags>();
  Command c;
  c.cli = root.add_subcommand("evaluate",
                              "Offline evaluation (docs/EVALUATION.md protocol): every channel "
                              "alone and the two-stage final list");
  c.cli->add_option("--data", flags->data, "directory with interactions.csv [and items.csv]")
      ->required();
  c.cli->add_option("--split", flags->split, "user_temporal | temporal | random_hash")
      ->capture_default_str();
  c.cli->add_option("--min-weight", flags->min_weight,
                    "rows with weight >= W are positives; others are dropped");
  c.cli->add_option("--output", flags->output, "write the metrics JSON here");
  c.cli
      ->add_option("--threads", flags->threads,
                   "worker threads; a fixed seed and thread count give identical results")
      ->capture_default_str();
  c.cli->add_option("--seed", flags->seed, "random seed (iALS start, ANN, ranker sampling)")
      ->capture_default_str();
  c.cli->add_flag("--fast", flags->fast, "smaller iALS tuning grid (tests, quick checks)");
  c.cli
      ->add_option("--ranker-users", flags->ranker_users,
                   "validation users sampled (seeded) for the ranker's groups; 0 = all")
      ->capture_default_str();
  c.cli
      ->add_option("--cg-steps", flags->cg_steps,
                   "iALS conjugate-gradient steps per row and sweep; 0 = exact solves")
      ->capture_default_str();
  c.run = [flags] { return RunEvaluate(*flags); };
  return c;
}

}  // namespace recserve::app
