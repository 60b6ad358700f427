#pragma once
// The metrics the engine itself owns (docs/METRICS.md). The request counters and latency
// histograms belong to the HTTP layer; the engine reports its shadow scorings to them through
// the ShadowRequestObserver it is given (engine/shadow_comparison.h).

#include <string_view>

#include "observe/metrics.h"

namespace recserve::engine {

// Registered in the registry given to the constructor; every known label value exists at 0.
struct EngineMetrics {
  explicit EngineMetrics(observe::Registry& registry);
  observe::Family<observe::Counter>& degraded;        // recommendation_degraded_total{reason}
  observe::Family<observe::Counter>& cache_requests;  // recommendation_cache_requests_total{result}
  observe::Family<observe::Counter>& events;          // recommendation_events_total{result}

  void RecordDegraded(std::string_view reason) { degraded.WithLabels({reason}).Inc(); }
};

}  // namespace recserve::engine
