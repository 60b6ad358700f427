#include "observe/data_quality_summary.h"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/timestamp.h"

namespace recserve::observe {

namespace {

std::optional<int64_t> ParseTime(const nlohmann::json& value) {
  if (value.is_number()) return static_cast<int64_t>(value.get<double>());
  if (!value.is_string()) return std::nullopt;
  Result<int64_t> parsed = ParseTimestamp(value.get_ref<const std::string&>());
  if (!parsed.ok()) return std::nullopt;
  return *parsed;
}

}  // namespace

Result<DataQualitySummary> ReadDataQualitySummary(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return NotFound("no data-quality report at '" + path.string() + "'");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return DataLoss("data-quality report '" + path.string() + "' is not a JSON object");
  }
  DataQualitySummary summary;
  auto score = doc.find("overall_quality_score");
  if (score != doc.end() && score->is_number()) summary.score = score->get<double>();
  for (const char* key : {"finished_at", "generated_at", "timestamp"}) {
    auto it = doc.find(key);
    if (it == doc.end()) continue;
    summary.last_success = ParseTime(*it);
    if (summary.last_success) break;
  }
  return summary;
}

void ExportDataQualitySummary(Registry& registry, const DataQualitySummary& summary) {
  auto& score = registry.AddGauge(
      "data_quality_score", "overall_quality_score (0-100) of the latest data-quality report.");
  auto& last = registry.AddGauge("data_pipeline_last_success_timestamp_seconds",
                                 "Unix time of the latest successful pipeline run.");
  // An unknown value is left out of the exposition (HELP/TYPE only) rather than exported as 0,
  // which an alert on data_quality_score < 70 would misread as a bad report.
  if (summary.score) score.Get().Set(*summary.score);
  if (summary.last_success) last.Get().Set(static_cast<double>(*summary.last_success));
}

}  // namespace recserve::observe
