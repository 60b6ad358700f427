// `recserve pipeline`: one run of the offline data pipeline, as a fixed sequence of steps:
//   1. ingest     stream + validate the input files (and the API events of --events, exported by
//                 `recserve events-export`), quarantine bad rows
//   2. quality    data-quality report; fail the run when too many rows were rejected
//   3. features   build the feature snapshot
//   4. train      train every recall channel and the ranker on the same table (TrainForServing)
//   5. publish    switch the SQLite feature store to the new snapshot, then publish the report
//                 and its Prometheus textfile
//   6. model      publish the model bundle models/<run_id>/, log it as an MLflow run and deploy
//                 it as models/current (src/lifecycle/model_publishing.h)
//   7. redis_sync push the snapshot to Redis when FEATURE_REDIS_URL is set
// Nothing visible to serving changes before step 5, so a run that fails earlier (bad data, a
// failed training) leaves the published features, report and models exactly as they were.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <regex>
#include <vector>

#include "app/commands.h"
#include "app/sync_command.h"
#include "core/durable_file.h"
#include "core/env.h"
#include "core/json_text.h"
#include "core/timestamp.h"
#include "core/wall_clock.h"
#include "lifecycle/model_publishing.h"
#include "pipeline/data_quality.h"
#include "pipeline/features.h"
#include "pipeline/ingest.h"
#include "pipeline/progress.h"
#include "pipeline/training.h"
#include "store/sqlite_feature_store.h"

namespace recserve::app {
namespace {

namespace fs = std::filesystem;

struct PipelineFlags {
  std::string data_dir;
  std::vector<std::string> events;  // files or directories of exported API events
  std::string data_root = "data";
  std::string run_id;
  double max_reject_ratio = 0.05;
  double half_life_days = 7.0;
  size_t history_length = 20;
  size_t list_length = 100;
  // Training (step 4) and model publishing (step 6).
  bool skip_training = false;
  bool deploy = true;
  std::string models_root = "models";
  std::string mlruns_root = "mlruns";
  pipeline::TrainingOptions training;
};

// The hyper-parameters a bundle records in its manifest and its MLflow run's params/.
nlohmann::json HyperParameters(const pipeline::TrainingOptions& t,
                               const pipeline::TuningReport& report) {
  const models::ModelConfig& m = t.model;
  nlohmann::json h = {{"ials_factors", m.ials.factors},
                      {"ials_regularization", m.ials.regularization},
                      {"ials_alpha", m.ials.alpha},
                      {"ials_iterations", m.ials.iterations},
                      {"ials_cg_steps", m.ials.cg_steps},
                      {"ann_ef_search", m.ann_params.ef_search},
                      {"knn_neighbours", m.knn_neighbours},
                      {"knn_shrink", m.knn_shrink},
                      {"recent_items", m.recent_items},
                      {"ease", m.ease},
                      {"ease_lambda", m.ease_lambda},
                      {"candidates", m.candidates},
                      {"ranker_trees", m.ranker.trees},
                      {"ranker_depth", m.ranker.depth},
                      {"ranker_learning_rate", m.ranker.learning_rate},
                      {"tune", t.tune},
                      {"threads", t.threads},
                      {"seed", t.seed}};
  // What tuning chose overrides the flag value of the same name.
  for (const auto& [name, value] : report.params) h["chosen_" + name] = value;
  return h;
}

// The first of `names` that exists in `dir`, or nullopt.
std::optional<fs::path> FindInput(const fs::path& dir, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (fs::exists(dir / name)) return dir / name;
  }
  return std::nullopt;
}

// The events files `--events` names: a file as given, a directory as its *.csv and *.csv.gz
// files in name order (events-<UTC stamp>.csv sorts by time). NotFound for a missing path.
Result<std::vector<fs::path>> ExpandEventPaths(const std::vector<std::string>& args) {
  std::vector<fs::path> out;
  for (const std::string& arg : args) {
    std::error_code ec;
    if (fs::is_directory(arg, ec)) {
      std::vector<fs::path> found;
      for (const auto& entry : fs::directory_iterator(arg, ec)) {
        const std::string name = entry.path().filename().string();
        const bool csv = name.ends_with(".csv") || name.ends_with(".csv.gz");
        if (csv && name[0] != '.' && entry.is_regular_file(ec)) found.push_back(entry.path());
      }
      if (ec) return Unavailable("cannot list --events directory " + arg + ": " + ec.message());
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::is_regular_file(arg, ec)) {
      out.emplace_back(arg);
    } else {
      return NotFound("--events " + arg + ": no such file or directory");
    }
  }
  return out;
}

int Fail(const std::string& message) {
  spdlog::error("pipeline failed: {}", message);
  return 1;
}

int RunPipeline(const PipelineFlags& flags) {
  const int64_t now = UnixSecondsNow();
  const std::string run_id = flags.run_id.empty() ? FormatUtc(now, "%Y%m%dT%H%M%SZ") : flags.run_id;
  if (!std::regex_match(run_id, std::regex("[A-Za-z0-9][A-Za-z0-9._-]{0,63}"))) {
    spdlog::error("--run-id '{}' must be 1-64 characters of letters, digits, '.', '_', '-'",
                  run_id);
    return 2;
  }
  if (!(flags.max_reject_ratio >= 0 && flags.max_reject_ratio <= 1) ||
      !(flags.half_life_days > 0) || flags.history_length == 0 || flags.list_length == 0) {
    spdlog::error(
        "--max-reject-ratio must be in [0,1]; --half-life-days, --history-length and "
        "--list-length must be > 0");
    return 2;
  }
  const fs::path data_dir(flags.data_dir);
  const fs::path root(flags.data_root);
  auto interactions = FindInput(data_dir, {"interactions.csv", "interactions.csv.gz"});
  if (!interactions) {
    return Fail("no interactions.csv or interactions.csv.gz in " + data_dir.string());
  }
  const auto items = FindInput(data_dir, {"items.csv", "items.csv.gz"});
  auto event_paths = ExpandEventPaths(flags.events);
  if (!event_paths.ok()) return Fail(event_paths.status().ToString());
  pipeline::StepProgress progress(::isatty(STDERR_FILENO) != 0);
  spdlog::info("pipeline run_id={} data={} data_root={} event_files={}", run_id, data_dir.string(),
               root.string(), event_paths->size());

  // Refuse a run id already published before doing any work.
  std::error_code ec;
  fs::create_directories(root, ec);
  auto store = store::SqliteFeatureStore::Open(root / "feature_store.db");
  if (!store.ok()) return Fail(store.status().ToString());
  if (auto current = (*store)->GetMetadata(); current.ok() && current->version == run_id) {
    return Fail("run id '" + run_id + "' is the published snapshot already; pass a new --run-id");
  }

  // 1. ingest
  std::error_code size_ec;
  const uint64_t input_bytes = fs::file_size(*interactions, size_ec);
  // The ETA compares file bytes consumed (compressed bytes for gzip) with the file size.
  progress.Begin("ingest", size_ec ? 0 : input_bytes);
  pipeline::IngestOptions ingest_options;
  ingest_options.interactions_path = *interactions;
  ingest_options.items_path = items;
  ingest_options.event_paths = *event_paths;
  ingest_options.quarantine_dir = root / "quarantine" / run_id;
  ingest_options.now = now;
  ingest_options.progress = [&](uint64_t rows, uint64_t bytes) { progress.Update(rows, bytes); };
  auto ingest = pipeline::Ingest(ingest_options);
  if (!ingest.ok()) {
    progress.End(0, "failed");
    return Fail(ingest.status().ToString() + "; nothing was published");
  }
  progress.End(ingest->interactions.input_rows +
               (ingest->api_events ? ingest->api_events->input_rows : 0));

  // 2. quality
  progress.Begin("quality");
  const fs::path report_path = root / "evaluation" / "data_quality_report_v2.json";
  pipeline::QualityOptions quality_options{run_id, now, flags.max_reject_ratio,
                                           ingest->rejected_path};
  auto report = pipeline::BuildQualityReport(*ingest, quality_options,
                                             pipeline::ReadPreviousReport(report_path));
  const auto& in = ingest->interactions;
  // API event rows count toward the rejection threshold like batch rows (one validation path).
  pipeline::TableStats all = in;
  if (ingest->api_events) {
    all.input_rows += ingest->api_events->input_rows;
    all.accepted_rows += ingest->api_events->accepted_rows;
    all.rejected_rows += ingest->api_events->rejected_rows;
  }
  const double rejected_share =
      all.input_rows ? static_cast<double>(all.rejected_rows) / static_cast<double>(all.input_rows)
                     : 0;
  if (all.accepted_rows == 0 || rejected_share > flags.max_reject_ratio) {
    progress.End(in.input_rows, "failed");
    // The failed run's report stays beside its quarantine file; the published one is untouched.
    const fs::path failed_report = ingest_options.quarantine_dir / "data_quality_report_v2.json";
    (void)WriteFileAtomically(failed_report, JsonText(report.json, 2) + "\n");
    if (all.accepted_rows == 0) {
      return Fail(
          fmt::format("no interaction row was accepted ({} read, {} rejected; see {}); "
                      "the published features, report and models are unchanged",
                      all.input_rows, all.rejected_rows, ingest->rejected_path.string()));
    }
    return Fail(fmt::format(
        "{} of {} interaction rows rejected ({:.2f}%, limit {:.2f}%); rejected rows are in {}, "
        "this run's report in {}; the published features, report and models are unchanged",
        all.rejected_rows, all.input_rows, 100 * rejected_share, 100 * flags.max_reject_ratio,
        ingest->rejected_path.string(), failed_report.string()));
  }
  progress.End(all.input_rows, "score " + fmt::format("{:.1f} {}", report.score, report.status));

  // 3. features
  progress.Begin("features");
  pipeline::FeatureOptions feature_options{
      run_id, flags.history_length, flags.half_life_days, flags.list_length, now, nullptr};
  feature_options.progress = [&](uint64_t done, uint64_t total) {
    progress.SetTotal(total);  // ETA from users done of all users
    progress.Update(done, done);
  };
  const auto snapshot = pipeline::BuildFeatures(ingest->table, ingest->catalog, feature_options);
  progress.End(snapshot.users.size() + snapshot.items.size());

  // 4. train: before anything is published, so a failed training changes nothing.
  std::optional<models::RecommenderModel> model;
  pipeline::TuningReport tuning;
  const int64_t train_start_ms = UnixMillisNow();
  if (!flags.skip_training) {
    progress.Begin("train");
    auto trained =
        pipeline::TrainForServing(ingest->table, ingest->catalog, flags.training, &tuning);
    if (!trained.ok()) {
      progress.End(0, "failed");
      return Fail("training: " + trained.status().ToString() +
                  "; the published features, report and models are unchanged");
    }
    model.emplace(std::move(trained).value());
    progress.End(all.accepted_rows);
  }

  // 5. publish: features first (atomic switch), then the report that describes them.
  const uint64_t records = snapshot.users.size() + snapshot.items.size();
  progress.Begin("publish", records);  // ETA from records written of `records`
  if (Status st = (*store)->Publish(snapshot, [&](uint64_t n) { progress.Update(n, n); });
      !st.ok()) {
    progress.End(0, "failed");
    return Fail(st.ToString() + "; the previous snapshot is still current");
  }
  fs::create_directories(report_path.parent_path(), ec);  // a failure shows in the write below
  if (Status st = WriteFileAtomically(report_path, JsonText(report.json, 2) + "\n"); !st.ok()) {
    progress.End(0, "failed");
    return Fail(st.ToString());
  }
  if (Status st = WriteFileAtomically(root / "evaluation" / "data_quality_metrics.prom",
                                      pipeline::RenderQualityMetrics(report, now));
      !st.ok()) {
    progress.End(0, "failed");
    return Fail(st.ToString());
  }
  progress.End(snapshot.users.size() + snapshot.items.size());

  // 6. model: an immutable bundle, its MLflow run, and models/current.
  std::string model_line = "training skipped (--skip-training)";
  if (model) {
    progress.Begin("model");
    lifecycle::BundleMetadata metadata;
    metadata.model_version = run_id;
    metadata.created_at = FormatIsoUtc(now);
    for (const auto& file : ingest->files) {
      metadata.training_data_sha256[fs::path(file.path).filename().string()] = file.sha256;
    }
    metadata.hyper_parameters = HyperParameters(flags.training, tuning);
    // The evaluation this run actually ran: the protocol's metrics on the held-out validation
    // users (popularity baseline, each channel, the final list; see --holdout-users), plus the
    // validation NDCG@20 per channel when --tune searched the grid. The protocol's test-split
    // figures for a data set come from `recserve evaluate`.
    for (const auto& [name, m] : tuning.holdout) {
      const std::string prefix = "holdout_" + name + "_";
      metadata.offline_metrics[prefix + "recall10"] = m.recall10;
      metadata.offline_metrics[prefix + "recall20"] = m.recall20;
      metadata.offline_metrics[prefix + "ndcg10"] = m.ndcg10;
      metadata.offline_metrics[prefix + "ndcg20"] = m.ndcg20;
      metadata.offline_metrics[prefix + "hitrate10"] = m.hitrate10;
      metadata.offline_metrics[prefix + "coverage10"] = m.coverage10;
    }
    metadata.offline_metrics["holdout_users"] = static_cast<double>(tuning.holdout_users);
    metadata.offline_metrics["ranker_users_sampled"] =
        static_cast<double>(tuning.ranker_users_sampled);
    for (const auto& [channel, ndcg] : tuning.validation_ndcg20) {
      metadata.offline_metrics["validation_ndcg20_" + channel] = ndcg;
    }
    metadata.offline_metrics["train_users"] = model->users().size();
    metadata.offline_metrics["train_items"] = model->num_items();
    metadata.offline_metrics["ranker_groups"] = static_cast<double>(tuning.ranker_groups);
    lifecycle::ModelPublishOptions publish;
    publish.models_root = flags.models_root;
    publish.mlruns_root = flags.mlruns_root;
    publish.deploy = flags.deploy;
    publish.start_time_ms = train_start_ms;
    auto published = lifecycle::PublishTrainedModel(*model, std::move(metadata), publish);
    if (!published.ok()) {
      progress.End(0, "failed");
      return Fail("model publishing: " + published.status().ToString() +
                  "; the new features are published, the served model is unchanged");
    }
    progress.End(model->num_items(), published->deployed ? "deployed" : "published");
    model_line = "model " + published->bundle_dir.string() + " (MLflow run " +
                 published->run_dir.string() + ")" +
                 (published->deployed ? ", deployed as " + flags.models_root + "/current" : "");
  }

  // 7. redis_sync
  int exit_code = 0;
  if (auto redis_url = EnvString("FEATURE_REDIS_URL")) {
    progress.Begin("redis_sync");
    exit_code = RunFeatureSync(root.string(), *redis_url);
    progress.End(snapshot.users.size() + snapshot.items.size(), exit_code == 0 ? "ok" : "failed");
  }

  std::string events_line;
  if (ingest->api_events) {
    const auto& ev = *ingest->api_events;
    events_line =
        fmt::format("; api events: {} files, {} rows read, {} accepted, {} rejected",
                    event_paths->size(), ev.input_rows, ev.accepted_rows, ev.rejected_rows);
  }
  std::printf(
      "pipeline run %s: %llu rows read, %llu accepted, %llu rejected%s; %zu users, %zu "
      "items; quality %.1f (%s); %s\n%s",
      run_id.c_str(), static_cast<unsigned long long>(in.input_rows),
      static_cast<unsigned long long>(in.accepted_rows),
      static_cast<unsigned long long>(in.rejected_rows), events_line.c_str(), snapshot.users.size(),
      snapshot.items.size(), report.score, report.status.c_str(), model_line.c_str(),
      progress.Summary().c_str());
  return exit_code;
}

}  // namespace

Command AddPipelineCommand(CLI::App& root) {
  auto flags = std::make_shared<PipelineFlags>();
  Command c;
  c.cli = root.add_subcommand(
      "pipeline",
      "Ingest, validate, report data quality, build features, train, publish features and model");
  c.cli
      ->add_option("--data", flags->data_dir,
                   "Directory with interactions.csv[.gz] and optional items.csv[.gz]")
      ->required();
  c.cli->add_option("--events", flags->events,
                    "API events exported by `recserve events-export`: a file, or a directory whose "
                    "*.csv[.gz] files are all read (repeatable); validated and quarantined like "
                    "interactions, counted as api_events in the report");
  c.cli->add_option("--data-root", flags->data_root,
                    "Where outputs go: feature_store.db, evaluation/, quarantine/ (default: data)");
  c.cli->add_option("--run-id", flags->run_id,
                    "Run and snapshot version id (default: UTC time, e.g. 20261129T063000Z)");
  c.cli->add_option("--max-reject-ratio", flags->max_reject_ratio,
                    "Fail the run when a larger share of interaction rows is rejected (0.05)");
  c.cli->add_option("--half-life-days", flags->half_life_days,
                    "Half-life of the time-decayed item popularity, in days (7)");
  c.cli->add_option("--history-length", flags->history_length, "Recent items kept per user (20)");
  c.cli->add_option("--list-length", flags->list_length,
                    "Length of the popular and trending lists (100)");
  auto& t = flags->training;
  t.tune = false;  // a fixed, documented configuration unless --tune asks for the search
  t.holdout_users = 5000;
  c.cli->add_flag("--skip-training", flags->skip_training,
                  "Only data: no model training or publishing");
  c.cli->add_option("--models-root", flags->models_root,
                    "Where bundles, models/current and model_registry.json live (models)");
  c.cli->add_option("--mlruns", flags->mlruns_root, "MLflow file store root (mlruns)");
  c.cli->add_flag("--deploy,!--no-deploy", flags->deploy,
                  "Point models/current at the new bundle (default on)");
  c.cli->add_flag("--tune", t.tune,
                  "Search the hyper-parameter grid on a validation split carved from the end of "
                  "the training period");
  c.cli->add_flag("--fast", t.fast, "With --tune: a smaller iALS grid");
  c.cli->add_option("--threads", t.threads, "Training threads (1)");
  c.cli->add_option("--seed", t.seed, "Random seed (42)");
  c.cli->add_option("--factors", t.model.ials.factors, "iALS factors (64)");
  c.cli->add_option("--iterations", t.model.ials.iterations, "iALS sweeps (15)");
  c.cli->add_option("--cg-steps", t.model.ials.cg_steps,
                    "iALS conjugate-gradient steps per row and sweep; 0 = exact solves (3)");
  c.cli->add_option("--regularization", t.model.ials.regularization, "iALS L2 regularisation");
  c.cli->add_option("--alpha", t.model.ials.alpha, "iALS confidence: 1 + alpha per event");
  c.cli->add_option("--ann-ef-search", t.model.ann_params.ef_search,
                    "HNSW candidate list at query time: ANN recall vs serving cost (64)");
  c.cli->add_option("--neighbours", t.model.knn_neighbours, "item-kNN neighbours per item (100)");
  c.cli->add_option("--shrink", t.model.knn_shrink, "item-kNN similarity shrinkage");
  c.cli->add_option("--candidates", t.model.candidates, "recall candidates per request (200)");
  c.cli->add_option("--ease-max-items", t.model.ease_max_items,
                    "train EASE only for catalogues up to this many items (20000; 0 = never)");
  c.cli->add_option("--trees", t.model.ranker.trees, "ranker boosting rounds (300)");
  c.cli->add_option("--depth", t.model.ranker.depth, "ranker tree depth (6)");
  c.cli->add_option("--ranker-users", t.ranker_max_users,
                    "Validation users sampled (seeded) for the ranker's training groups; 0 = all "
                    "(20000)");
  c.cli->add_option("--holdout-users", t.holdout_users,
                    "Validation users kept out of ranker training and evaluated for the manifest's "
                    "offline_metrics (at most a fifth of them; 0 = none) (5000)");
  c.run = [flags] { return RunPipeline(*flags); };
  return c;
}

}  // namespace recserve::app
