#include "pipeline/data_quality.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <fstream>
#include <sstream>

#include "core/timestamp.h"

namespace recserve::pipeline {
namespace {

using nlohmann::json;

constexpr size_t kHistogramBins = 24;  // log2 bins of counts: 1, 2-3, 4-7, ... 2^23+

const char* StatusName(CheckStatus s) {
  switch (s) {
    case CheckStatus::kPass:
      return "pass";
    case CheckStatus::kWarn:
      return "warn";
    case CheckStatus::kFail:
      return "fail";
    case CheckStatus::kSkipped:
      return "skipped";
  }
  return "skipped";
}

double Ratio(uint64_t part, uint64_t whole) {
  return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
}

// Shares of entities per log2 bin of their count; entities with count 0 are left out.
std::vector<double> Log2Histogram(const std::vector<uint64_t>& counts) {
  std::vector<double> bins(kHistogramBins, 0);
  for (uint64_t c : counts) {
    if (c == 0) continue;
    size_t bin = std::min<size_t>(kHistogramBins - 1, static_cast<size_t>(std::bit_width(c) - 1));
    bins[bin] += 1;
  }
  return bins;
}

json Distribution(std::vector<uint64_t> counts) {
  if (counts.empty()) return json{{"mean", 0}, {"median", 0}, {"min", 0}, {"max", 0}};
  std::sort(counts.begin(), counts.end());
  double sum = 0;
  for (uint64_t c : counts) sum += static_cast<double>(c);
  const size_t n = counts.size();
  double median =
      n % 2 ? double(counts[n / 2]) : (double(counts[n / 2 - 1]) + double(counts[n / 2])) / 2;
  return json{{"mean", sum / double(n)},
              {"median", median},
              {"min", counts.front()},
              {"max", counts.back()}};
}

json TableSection(const TableStats& s) {
  json nulls = json::object();
  for (size_t c = 0; c < s.columns.size(); ++c) {
    nulls[s.columns[c]] = Ratio(s.empty_by_column[c], s.well_formed_rows);
  }
  json anomalies = json::object();
  for (size_t r = 0; r < kRejectReasonCount; ++r) {
    anomalies[std::string(RejectReasonName(static_cast<RejectReason>(r)))] =
        s.rejected_by_reason[r];
  }
  return json{{"row_count", s.accepted_rows},
              {"input_rows", s.input_rows},
              {"rejected_rows", s.rejected_rows},
              {"rejected_ratio", Ratio(s.rejected_rows, s.input_rows)},
              {"columns", s.columns},
              {"null_ratios", nulls},
              {"duplicate_ratio", Ratio(s.duplicate_rows, s.input_rows)},
              {"anomalies", anomalies}};
}

void Judge(QualityCheck& c) {
  auto worse = [&](double limit) { return c.higher_is_worse ? c.value > limit : c.value < limit; };
  c.status = worse(c.fail_at)   ? CheckStatus::kFail
             : worse(c.warn_at) ? CheckStatus::kWarn
                                : CheckStatus::kPass;
}

std::vector<double> HistogramFrom(const json& previous, const char* name) {
  std::vector<double> out;
  try {
    for (const auto& v : previous.at("drift").at("histograms").at(name))
      out.push_back(v.get<double>());
  } catch (const json::exception&) {
    out.clear();
  }
  return out;
}

}  // namespace

double PopulationStabilityIndex(const std::vector<double>& expected,
                                const std::vector<double>& actual) {
  double te = 0, ta = 0;
  for (double v : expected) te += v;
  for (double v : actual) ta += v;
  if (te <= 0 || ta <= 0) return 0;
  double psi = 0;
  for (size_t i = 0; i < std::max(expected.size(), actual.size()); ++i) {
    double p = std::max(1e-4, i < expected.size() ? expected[i] / te : 0.0);
    double q = std::max(1e-4, i < actual.size() ? actual[i] / ta : 0.0);
    psi += (q - p) * std::log(q / p);
  }
  return psi;
}

double Gini(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  double total = 0, weighted = 0;
  for (size_t i = 0; i < values.size(); ++i) {
    total += values[i];
    weighted += static_cast<double>(i + 1) * values[i];
  }
  if (total <= 0) return 0;
  const double n = static_cast<double>(values.size());
  return (2 * weighted) / (n * total) - (n + 1) / n;
}

QualityReport BuildQualityReport(const IngestResult& ingest, const QualityOptions& options,
                                 const std::optional<json>& previous) {
  const InteractionTable& t = ingest.table;
  QualityReport report;
  std::vector<uint64_t> per_user(t.users.size(), 0), per_item(t.items.size(), 0);
  int64_t newest = 0, oldest = 0;
  for (size_t r = 0; r < t.size(); ++r) {
    ++per_user[t.user[r]];
    ++per_item[t.item[r]];
    newest = r == 0 ? t.timestamp[r] : std::max(newest, t.timestamp[r]);
    oldest = r == 0 ? t.timestamp[r] : std::min(oldest, t.timestamp[r]);
  }
  std::vector<uint64_t> interacted_items;
  for (uint64_t c : per_item) {
    if (c > 0) interacted_items.push_back(c);
  }
  std::vector<double> item_counts(per_item.begin(), per_item.end());
  const double gini = Gini(item_counts);
  const std::vector<double> item_hist = Log2Histogram(per_item);
  const std::vector<double> user_hist = Log2Histogram(per_user);
  const int64_t age = t.size() == 0 ? 0 : options.now - newest;

  json interactions = TableSection(ingest.interactions);
  interactions["coverage"] = {{"unique_users", t.users.size()},
                              {"unique_items", interacted_items.size()},
                              {"interactions_per_user", Distribution(per_user)},
                              {"interactions_per_item", Distribution(interacted_items)},
                              {"item_popularity_gini", gini}};
  interactions["freshness"] = {
      {"newest_event", t.size() ? json(FormatIsoUtc(newest)) : json(nullptr)},
      {"oldest_event", t.size() ? json(FormatIsoUtc(oldest)) : json(nullptr)},
      {"newest_event_age_seconds", age}};
  json tables = {{"interactions", interactions}};
  double catalog_coverage = 1.0;
  if (ingest.items) {
    json items = TableSection(*ingest.items);
    const uint64_t catalog = ingest.items->accepted_rows;
    catalog_coverage = Ratio(interacted_items.size(), catalog);
    items["coverage"] = {{"catalog_items", catalog},
                         {"items_with_interactions", interacted_items.size()},
                         {"catalog_coverage", catalog_coverage}};
    tables["items"] = items;
  } else {
    tables["items"] = nullptr;
  }
  // API events (recserve events-export files): validated like interactions, counted apart.
  tables["api_events"] = ingest.api_events ? TableSection(*ingest.api_events) : json(nullptr);
  if (ingest.api_events) tables["api_events"]["new_items"] = ingest.api_events->new_items;

  // Drift against the previous report's histograms.
  std::optional<double> psi_items, psi_users;
  std::string previous_run;
  if (previous) {
    previous_run = previous->value("run_id", "");
    auto prev_items = HistogramFrom(*previous, "item_popularity");
    auto prev_users = HistogramFrom(*previous, "user_activity");
    if (!prev_items.empty()) psi_items = PopulationStabilityIndex(prev_items, item_hist);
    if (!prev_users.empty()) psi_users = PopulationStabilityIndex(prev_users, user_hist);
  }

  const TableStats& in = ingest.interactions;
  // The run's rejection share counts API event rows beside the batch rows (pipeline --events).
  const uint64_t events_input = ingest.api_events ? ingest.api_events->input_rows : 0;
  const uint64_t events_rejected = ingest.api_events ? ingest.api_events->rejected_rows : 0;
  const double reject_ratio =
      Ratio(in.rejected_rows + events_rejected, in.input_rows + events_input);
  double max_id_null = 0;
  for (size_t c = 0; c < 3 && c < in.columns.size(); ++c) {
    max_id_null = std::max(max_id_null, Ratio(in.empty_by_column[c], in.well_formed_rows));
  }
  auto& checks = report.checks;
  auto add = [&](QualityCheck c, bool applicable) {
    if (applicable) Judge(c);
    checks.push_back(std::move(c));
  };
  add({"rejected_ratio", reject_ratio, options.max_reject_ratio / 2, options.max_reject_ratio, true,
       25, CheckStatus::kSkipped, "share of interaction rows (batch and API events) quarantined"},
      true);
  add({"duplicate_ratio", Ratio(in.duplicate_rows, in.input_rows), 0.001, 0.01, true, 10,
       CheckStatus::kSkipped, "share of interaction rows that exactly repeat an earlier row"},
      true);
  add({"id_null_ratio", max_id_null, 0.001, 0.01, true, 10, CheckStatus::kSkipped,
       "largest share of empty user_id/item_id/timestamp fields"},
      true);
  add({"unknown_item_ratio",
       Ratio(in.rejected_by_reason[static_cast<size_t>(RejectReason::kUnknownItem)], in.input_rows),
       0.001, 0.01, true, 10, CheckStatus::kSkipped,
       "share of interactions naming an item missing from items.csv"},
      ingest.items.has_value());
  add({"catalog_coverage", catalog_coverage, 0.5, 0.1, false, 5, CheckStatus::kSkipped,
       "share of catalog items with at least one interaction"},
      ingest.items.has_value());
  add({"freshness_hours", static_cast<double>(age) / 3600.0, 48, 720, true, 10,
       CheckStatus::kSkipped, "hours since the newest event in the data"},
      t.size() > 0);
  add({"item_popularity_gini", gini, 0.9, 0.98, true, 5, CheckStatus::kSkipped,
       "concentration of interactions on few items"},
      t.size() > 0);
  add({"psi_item_popularity", psi_items.value_or(0), 0.1, 0.25, true, 15, CheckStatus::kSkipped,
       "drift of the interactions-per-item distribution since the previous report"},
      psi_items.has_value());
  add({"psi_user_activity", psi_users.value_or(0), 0.1, 0.25, true, 15, CheckStatus::kSkipped,
       "drift of the interactions-per-user distribution since the previous report"},
      psi_users.has_value());

  double weight_sum = 0, earned = 0;
  bool any_fail = false, any_warn = false;
  json checks_json = json::array();
  json alerts = json::array(), recommendations = json::array();
  for (const auto& c : checks) {
    checks_json.push_back({{"name", c.name},
                           {"value", c.value},
                           {"warn_threshold", c.warn_at},
                           {"threshold", c.fail_at},
                           {"direction", c.higher_is_worse ? "higher_is_worse" : "lower_is_worse"},
                           {"weight", c.weight},
                           {"status", StatusName(c.status)},
                           {"meaning", c.meaning}});
    if (c.status == CheckStatus::kSkipped) continue;
    weight_sum += c.weight;
    earned += c.weight * (c.status == CheckStatus::kPass   ? 1.0
                          : c.status == CheckStatus::kWarn ? 0.5
                                                           : 0.0);
    any_fail |= c.status == CheckStatus::kFail;
    any_warn |= c.status == CheckStatus::kWarn;
    if (c.status != CheckStatus::kPass) {
      std::ostringstream msg;
      msg << c.name << " is " << StatusName(c.status) << ": " << c.meaning << " = " << c.value
          << " (warn " << (c.higher_is_worse ? "above " : "below ") << c.warn_at << ", fail "
          << (c.higher_is_worse ? "above " : "below ") << c.fail_at << ")";
      alerts.push_back(msg.str());
    }
  }
  report.score = weight_sum > 0 ? 100.0 * earned / weight_sum : 0.0;
  report.score = std::round(report.score * 100) / 100;
  report.status = any_fail || report.score < 70   ? "fail"
                  : any_warn || report.score < 90 ? "warn"
                                                  : "pass";

  auto check_status = [&](const char* name) {
    for (const auto& c : checks) {
      if (c.name == name) return c.status;
    }
    return CheckStatus::kSkipped;
  };
  auto worse_than_pass = [&](const char* name) {
    CheckStatus s = check_status(name);
    return s == CheckStatus::kWarn || s == CheckStatus::kFail;
  };
  if (worse_than_pass("rejected_ratio") || worse_than_pass("id_null_ratio")) {
    recommendations.push_back("Inspect " + options.rejected_path.string() +
                              " (each rejected row with its line number and reason) and fix the "
                              "producer of the most frequent reason.");
  }
  if (worse_than_pass("duplicate_ratio")) {
    recommendations.push_back(
        "Exact duplicate rows suggest an event producer retrying without "
        "idempotency keys; deduplicate at the source.");
  }
  if (worse_than_pass("unknown_item_ratio") || worse_than_pass("catalog_coverage")) {
    recommendations.push_back(
        "items.csv and interactions.csv disagree; export both from the same "
        "catalog snapshot.");
  }
  if (worse_than_pass("freshness_hours")) {
    recommendations.push_back(
        "The newest event is old: check that event export still runs, or "
        "expect trending features to describe the past.");
  }
  if (worse_than_pass("psi_item_popularity") || worse_than_pass("psi_user_activity")) {
    recommendations.push_back("Activity distributions shifted since run '" + previous_run +
                              "'; compare offline metrics before promoting a model trained on it.");
  }
  if (worse_than_pass("item_popularity_gini")) {
    recommendations.push_back(
        "Interactions concentrate on few items; watch popularity bias in "
        "recommendations.");
  }
  if (!previous) {
    recommendations.push_back("No previous report: drift checks are skipped for this run.");
  }

  json files = json::array();
  for (size_t i = 0; i < ingest.files.size(); ++i) {
    const auto& f = ingest.files[i];
    files.push_back({{"role", f.role},
                     {"path", f.path},
                     {"bytes", f.bytes},
                     {"rows", f.rows},
                     {"sha256", f.sha256}});
  }
  json psi_json = {
      {"previous_run_id", previous_run.empty() ? json(nullptr) : json(previous_run)},
      {"psi_item_popularity", psi_items ? json(*psi_items) : json(nullptr)},
      {"psi_user_activity", psi_users ? json(*psi_users) : json(nullptr)},
      {"histograms",
       {{"bins", "log2 of interactions per entity: bin k holds counts in [2^k, 2^(k+1))"},
        {"item_popularity", item_hist},
        {"user_activity", user_hist}}}};
  report.json = {
      {"schema_version", 2},
      {"run_id", options.run_id},
      {"generated_at", FormatIsoUtc(options.now)},
      {"input_files", files},
      {"quarantine_file", options.rejected_path.string()},
      {"tables", tables},
      {"drift", psi_json},
      {"checks", checks_json},
      {"overall_quality_score", report.score},
      {"score_formula",
       "100 * sum(weight * s) / sum(weight) over checks that are not skipped; s = 1 pass, "
       "0.5 warn, 0 fail"},
      {"overall_status", report.status},
      {"alerts", alerts},
      {"recommendations", recommendations}};
  return report;
}

std::string RenderQualityMetrics(const QualityReport& report, int64_t success_time) {
  std::ostringstream out;
  out.precision(10);
  out << "# HELP data_quality_score overall_quality_score (0-100) of the latest data-quality "
         "report.\n# TYPE data_quality_score gauge\ndata_quality_score "
      << report.score << "\n";
  out << "# HELP data_quality_check_value Measured value of each data-quality check.\n"
         "# TYPE data_quality_check_value gauge\n";
  for (const auto& c : report.checks) {
    if (c.status != CheckStatus::kSkipped) {
      out << "data_quality_check_value{check=\"" << c.name << "\"} " << c.value << "\n";
    }
  }
  out << "# HELP data_quality_check_status Status of each data-quality check (0 pass, 1 warn, 2 "
         "fail).\n# TYPE data_quality_check_status gauge\n";
  for (const auto& c : report.checks) {
    if (c.status != CheckStatus::kSkipped) {
      out << "data_quality_check_status{check=\"" << c.name << "\"} " << static_cast<int>(c.status)
          << "\n";
    }
  }
  out << "# HELP data_pipeline_last_success_timestamp_seconds Unix time of the latest successful "
         "pipeline run.\n# TYPE data_pipeline_last_success_timestamp_seconds gauge\n"
         "data_pipeline_last_success_timestamp_seconds "
      << success_time << "\n";
  return out.str();
}

std::optional<json> ReadPreviousReport(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object() || j.value("schema_version", 0) != 2) return std::nullopt;
  return j;
}

}  // namespace recserve::pipeline
