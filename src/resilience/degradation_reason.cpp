#include "resilience/degradation_reason.h"

namespace recserve::resilience {

std::string_view DegradationReasonLabel(DegradationReason reason) {
  switch (reason) {
    case DegradationReason::kTimeoutRedis:
      return "timeout:redis";
    case DegradationReason::kBreakerOpenCache:
      return "breaker_open:cache";
    case DegradationReason::kBreakerOpenFeatureStore:
      return "breaker_open:feature_store";
    case DegradationReason::kTimeoutModelInference:
      return "timeout:model_inference";
    case DegradationReason::kBreakerOpenRanker:
      return "breaker_open:ranker";
    case DegradationReason::kErrorModelInference:
      return "error:model_inference";
    case DegradationReason::kRecallFailed:
      return "recall_failed";
    case DegradationReason::kNoModel:
      return "no_model";
    case DegradationReason::kFlagOffRanker:
      return "flag_off:ranker";
    case DegradationReason::kLoadShed:
      return "load_shed";
  }
  return "unknown";
}

std::optional<DegradationReason> ParseDegradationReason(std::string_view label) {
  for (DegradationReason r : kAllDegradationReasons) {
    if (DegradationReasonLabel(r) == label) return r;
  }
  return std::nullopt;
}

}  // namespace recserve::resilience
