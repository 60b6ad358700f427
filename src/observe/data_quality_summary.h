#pragma once
// The two figures serving exports from the latest data-quality report
// (data/evaluation/data_quality_report_v2.json, written by `recserve pipeline`): the overall
// quality score and when the pipeline last succeeded. Read at start-up (and on reload).

#include <cstdint>
#include <filesystem>
#include <optional>

#include "core/status.h"
#include "observe/metrics.h"

namespace recserve::observe {

struct DataQualitySummary {
  std::optional<double> score;          // "overall_quality_score"
  std::optional<int64_t> last_success;  // unix seconds, see ReadDataQualitySummary
};

// Reads `overall_quality_score` and the run time from the first of `finished_at`,
// `generated_at`, `timestamp` present at the top level: a JSON number (unix seconds) or a string
// in the grammar of core/timestamp.h. NotFound when the file is absent, DataLoss when it is not a
// JSON object.
Result<DataQualitySummary> ReadDataQualitySummary(const std::filesystem::path& path);

// Sets data_quality_score and data_pipeline_last_success_timestamp_seconds in `registry` from
// `summary`; an unknown value is left out of the exposition rather than exported as 0.
void ExportDataQualitySummary(Registry& registry, const DataQualitySummary& summary);

}  // namespace recserve::observe
