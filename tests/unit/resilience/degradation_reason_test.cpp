#include "resilience/degradation_reason.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>

namespace recserve::resilience {
namespace {

// The labels are a contract with dashboards: they must be exactly the reason table of
// docs/METRICS.md, no more and no fewer.
std::set<std::string> ReasonsInMetricsDoc() {
  std::ifstream doc(std::string(RECSERVE_SOURCE_DIR) + "/docs/METRICS.md");
  std::set<std::string> reasons;
  std::string line;
  bool in_section = false;
  while (std::getline(doc, line)) {
    if (line.rfind("## ", 0) == 0)
      in_section = line.find("Degradation reasons") != std::string::npos;
    if (in_section && line.rfind("| `", 0) == 0) {
      const size_t end = line.find('`', 3);
      reasons.insert(line.substr(3, end - 3));
    }
  }
  return reasons;
}

TEST(DegradationReason, LabelsAreExactlyTheMetricsDocTable) {
  std::set<std::string> labels;
  for (DegradationReason r : kAllDegradationReasons) {
    labels.insert(std::string(DegradationReasonLabel(r)));
  }
  EXPECT_EQ(labels.size(), kAllDegradationReasons.size()) << "labels are distinct";
  const std::set<std::string> documented = ReasonsInMetricsDoc();
  ASSERT_FALSE(documented.empty()) << "reason table not found in docs/METRICS.md";
  EXPECT_EQ(labels, documented);
}

TEST(DegradationReason, ParseIsTheInverseOfLabel) {
  for (DegradationReason r : kAllDegradationReasons) {
    EXPECT_EQ(ParseDegradationReason(DegradationReasonLabel(r)), r);
  }
  EXPECT_FALSE(ParseDegradationReason("timeout").has_value());
  EXPECT_FALSE(ParseDegradationReason("").has_value());
  EXPECT_EQ(DegradationReasonLabel(DegradationReason::kTimeoutModelInference),
            "timeout:model_inference");
}

}  // namespace
}  // namespace recserve::resilience
