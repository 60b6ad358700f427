#include "engine/engine_metrics.h"

#include "resilience/degradation_reason.h"

namespace recserve::engine {

EngineMetrics::EngineMetrics(observe::Registry& registry)
    : degraded(registry.AddCounter("recommendation_degraded_total",
                                   "Responses served by a fallback, by reason.", {"reason"})),
      cache_requests(registry.AddCounter("recommendation_cache_requests_total",
                                         "Recommendation-cache look-ups by result.", {"result"})),
      events(registry.AddCounter("recommendation_events_total",
                                 "Events received by POST /events, by result: accepted (recorded "
                                 "and answered 200), rejected (invalid), unrecorded (neither the "
                                 "shared log nor the spool could record them: 503).",
                                 {"result"})) {
  // Every known label value exists at 0 from the start: a fresh /metrics shows the series and
  // the first increment is visible to rate() (docs/METRICS.md).
  for (resilience::DegradationReason reason : resilience::kAllDegradationReasons) {
    degraded.WithLabels({resilience::DegradationReasonLabel(reason)});
  }
  for (const char* result : {"hit", "miss", "bypass", "error"}) cache_requests.WithLabels({result});
  for (const char* result : {"accepted", "rejected", "unrecorded"}) events.WithLabels({result});
}

}  // namespace recserve::engine
