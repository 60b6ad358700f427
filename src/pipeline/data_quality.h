#pragma once
// The data-quality report (data/evaluation/data_quality_report_v2.json, schema in
// docs/DATA_QUALITY.md) and its Prometheus textfile twin (data_quality_metrics.prom). Built from
// ingest's counts and the validated table; drift is measured against the previous report.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "pipeline/ingest.h"

namespace recserve::pipeline {

enum class CheckStatus { kPass, kWarn, kFail, kSkipped };

// One scored check. A check is "higher is worse" (value > warn_at warns, > fail_at fails) or
// "lower is worse" (value < warn_at warns, < fail_at fails).
struct QualityCheck {
  std::string name;
  double value = 0;
  double warn_at = 0;
  double fail_at = 0;
  bool higher_is_worse = true;
  double weight = 0;
  CheckStatus status = CheckStatus::kSkipped;
  std::string meaning;  // one line for operators
};

struct QualityReport {
  nlohmann::json json;
  std::vector<QualityCheck> checks;
  double score = 0;    // 0..100
  std::string status;  // pass | warn | fail
};

struct QualityOptions {
  std::string run_id;
  int64_t now = 0;                 // unix seconds
  double max_reject_ratio = 0.05;  // the run's failure threshold (also the check's fail_at)
  std::filesystem::path rejected_path;
};

// Builds the report. `previous` is the last published report (nullopt when none or unreadable):
// drift checks are skipped without it.
QualityReport BuildQualityReport(const IngestResult& ingest, const QualityOptions& options,
                                 const std::optional<nlohmann::json>& previous);

// Prometheus text exposition of the report's score and checks, plus
// data_pipeline_last_success_timestamp_seconds = `success_time`.
std::string RenderQualityMetrics(const QualityReport& report, int64_t success_time);

// Reads a previous report; nullopt when missing or not a v2 report.
std::optional<nlohmann::json> ReadPreviousReport(const std::filesystem::path& path);

// Population stability index between two histograms of counts (same bins):
// sum((p - q) * ln(p / q)) over bin shares, each share floored at 1e-4.
double PopulationStabilityIndex(const std::vector<double>& expected,
                                const std::vector<double>& actual);

// Gini coefficient of non-negative values (0 = all equal, -> 1 = concentrated in one).
double Gini(std::vector<double> values);

}  // namespace recserve::pipeline
