#pragma once
// RankingGuard: runs ServingModel::Rank off the request thread with a deadline (RANKING_TIMEOUT)
// behind the `ranker` circuit breaker, so a slow or failing ranker costs a request at most the
// deadline and the engine serves recall order instead (docs/METRICS.md reasons
// `timeout:model_inference`, `breaker_open:ranker`, `error:model_inference`).
//
// Fault injection (FAULT_RANKING_DELAY_MS / FAULT_RANKING_FAILURE_RATE) is applied inside the
// ranking task, where a real slow ranker would spend its time.
//
// Thread-safe: Rank() may be called from any number of request threads.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "engine/serving_model.h"
#include "observe/metrics.h"
#include "resilience/bounded_executor.h"
#include "resilience/circuit_breaker.h"
#include "resilience/fault_injector.h"

namespace recserve::engine {

struct RankingGuardOptions {
  std::chrono::milliseconds timeout{100};  // RANKING_TIMEOUT
  size_t threads = 2;                      // ranking workers
  size_t queue_capacity = 256;             // waiting ranking tasks before refusing
  resilience::CircuitBreakerOptions breaker;
};

// Why a ranking was not used; kNone when it was.
enum class RankingFailure { kNone, kTimeout, kBreakerOpen, kError };

struct GuardedRanking {
  std::vector<ScoredItem> items;  // ranked; empty unless failure == kNone
  RankingFailure failure = RankingFailure::kNone;
};

class RankingGuard {
 public:
  // `faults` may be null (no injection); it and `registry` must outlive this object.
  RankingGuard(RankingGuardOptions options, observe::Registry& registry,
               resilience::FaultInjector* faults);
  RankingGuard(const RankingGuard&) = delete;
  RankingGuard& operator=(const RankingGuard&) = delete;

  // Ranks `candidates` (from `model`'s Recall for `query`) with `model` on a worker, waiting at
  // most the timeout; the worker gets its own copy of both, so nothing is shared mutably. A late
  // task is abandoned (it finishes on its worker; the model stays alive through its shared_ptr)
  // and counted in recommendation_timeouts_total{operation="model_inference"}. A full queue is
  // treated as a timeout (the ranker cannot keep up).
  GuardedRanking Rank(std::shared_ptr<const ServingModel> model, const RecommendationQuery& query,
                      const RecalledCandidates& candidates, std::string_view variant);

 private:
  RankingGuardOptions options_;
  resilience::FaultInjector* faults_;
  observe::Family<observe::Counter>& timeouts_;
  observe::Family<observe::Histogram>& inference_seconds_;
  resilience::CircuitBreaker breaker_;
  resilience::BoundedExecutor executor_;
};

}  // namespace recserve::engine
