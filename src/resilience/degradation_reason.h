#pragma once
// Why a response was served by a fallback. Each reason has one stable label, used verbatim as
// the `reason` label of recommendation_degraded_total and as the response's `degraded_reason`
// (docs/METRICS.md, "Degradation reasons"). Labels never change once released: dashboards and
// alerts match on them.

#include <array>
#include <optional>
#include <string_view>

namespace recserve::resilience {

enum class DegradationReason {
  kTimeoutRedis,             // "timeout:redis"
  kBreakerOpenCache,         // "breaker_open:cache"
  kBreakerOpenFeatureStore,  // "breaker_open:feature_store"
  kTimeoutModelInference,    // "timeout:model_inference"
  kBreakerOpenRanker,        // "breaker_open:ranker"
  kErrorModelInference,      // "error:model_inference"
  kRecallFailed,             // "recall_failed"
  kNoModel,                  // "no_model"
  kFlagOffRanker,            // "flag_off:ranker"
  kLoadShed,                 // "load_shed"
};

// Every reason, in the order of the table in docs/METRICS.md (for pre-registering counters).
inline constexpr std::array<DegradationReason, 10> kAllDegradationReasons = {
    DegradationReason::kTimeoutRedis,
    DegradationReason::kBreakerOpenCache,
    DegradationReason::kBreakerOpenFeatureStore,
    DegradationReason::kTimeoutModelInference,
    DegradationReason::kBreakerOpenRanker,
    DegradationReason::kErrorModelInference,
    DegradationReason::kRecallFailed,
    DegradationReason::kNoModel,
    DegradationReason::kFlagOffRanker,
    DegradationReason::kLoadShed};

std::string_view DegradationReasonLabel(DegradationReason reason);
// The reason with that exact label, or nullopt.
std::optional<DegradationReason> ParseDegradationReason(std::string_view label);

}  // namespace recserve::resilience
