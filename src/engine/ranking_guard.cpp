#include "engine/ranking_guard.h"

#include "resilience/breaker_metrics.h"

namespace recserve::engine {

RankingGuard::RankingGuard(RankingGuardOptions options, observe::Registry& registry,
                           resilience::FaultInjector* faults)
    : options_(options),
      faults_(faults),
      timeouts_(registry.AddCounter("recommendation_timeouts_total",
                                    "Deadlines that passed, by operation.", {"operation"})),
      inference_seconds_(registry.AddHistogram(
          "model_inference_seconds", "Ranker time per request (finished rankings).", {"variant"},
          {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5})),
      breaker_("ranker", options.breaker, resilience::SystemSteadyClock(),
               resilience::LoggingBreakerListener(
                   "Ranking keeps failing or timing out (RANKING_TIMEOUT): serving recall order "
                   "without the ranker until a probe succeeds",
                   "Ranking answers again: the ranker is back",
                   resilience::BreakerMetricsListener(registry))),
      executor_("ranking", options.threads, options.queue_capacity) {
  // Export the closed state from the start, so dashboards see the series before any transition.
  registry.AddGauge("circuit_breaker_state", "", {"dependency"}).WithLabels({"ranker"}).Set(0);
}

GuardedRanking RankingGuard::Rank(std::shared_ptr<const ServingModel> model,
                                  const RecommendationQuery& query,
                                  const RecalledCandidates& candidates, std::string_view variant) {
  GuardedRanking out;
  resilience::CircuitBreaker::Permit permit = breaker_.TryAcquire();
  if (!permit) {
    out.failure = RankingFailure::kBreakerOpen;
    return out;
  }
  auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  auto* histogram = &inference_seconds_.WithLabels({variant});
  auto task =
      executor_.TrySubmitWithResult([model = std::move(model), query, candidates, faults = faults_,
                                     histogram]() -> Result<std::vector<ScoredItem>> {
        auto start = std::chrono::steady_clock::now();
        if (faults != nullptr) {
          RECSERVE_RETURN_IF_ERROR(faults->Inject(resilience::FaultOperation::kRanking));
        }
        auto ranked = model->Rank(query, candidates);
        histogram->Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        return ranked;
      });
  if (!task) {
    timeouts_.WithLabels({"model_inference"}).Inc();
    permit.RecordFailure();
    out.failure = RankingFailure::kTimeout;
    return out;
  }
  auto result = task->AwaitUntil(deadline);
  if (!result.ok()) {
    // DeadlineExceeded (late) or Internal (the task threw).
    if (result.status().code() == StatusCode::kDeadlineExceeded) {
      timeouts_.WithLabels({"model_inference"}).Inc();
      out.failure = RankingFailure::kTimeout;
    } else {
      out.failure = RankingFailure::kError;
    }
    permit.RecordFailure();
    return out;
  }
  if (!result->ok()) {
    permit.RecordFailure();
    out.failure = RankingFailure::kError;
    return out;
  }
  permit.RecordSuccess();
  out.items = std::move(*result).value();
  return out;
}

}  // namespace recserve::engine
