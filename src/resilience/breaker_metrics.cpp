#include "resilience/breaker_metrics.h"

namespace recserve::resilience {

BreakerTransitionListener BreakerMetricsListener(observe::Registry& registry) {
  auto& state =
      registry.AddGauge("circuit_breaker_state",
                        "Circuit breaker state: 0 closed, 1 open, 2 half-open.", {"dependency"});
  auto& transitions =
      registry.AddCounter("circuit_breaker_transitions_total",
                          "Circuit breaker transitions by target state.", {"dependency", "to"});
  return [&state, &transitions](std::string_view dependency, BreakerState, BreakerState to) {
    state.WithLabels({dependency}).Set(static_cast<double>(static_cast<int>(to)));
    transitions.WithLabels({dependency, BreakerStateName(to)}).Inc();
  };
}

}  // namespace recserve::resilience
