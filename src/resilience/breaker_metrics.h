#pragma once
// The metrics of every circuit breaker: circuit_breaker_state{dependency} (0 closed, 1 open,
// 2 half-open) and circuit_breaker_transitions_total{dependency,to} (docs/METRICS.md). Each
// breaker's owner (the ranking guard, the Redis caches and stores) chains this listener into
// the breaker it builds, so every dependency reports through the same two families.

#include "observe/metrics.h"
#include "resilience/circuit_breaker.h"

namespace recserve::resilience {

// Exports the state and the transitions of the breaker it is given to; returns the listener to
// give the breaker. The families are registered once per registry (shared by every dependency).
// `registry` must outlive the listener.
BreakerTransitionListener BreakerMetricsListener(observe::Registry& registry);

}  // namespace recserve::resilience
