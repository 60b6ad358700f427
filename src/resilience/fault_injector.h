#pragma once
// Fault injection for drills, after Envoy's fault filter: a configurable delay and a failure
// share per named operation, so "Simulate slow ranking model" with RANKING_TIMEOUT=0.01
// reliably produces timeouts even though the real ranker is fast.
//
// Configured at start-up from the environment (FaultInjector::FromEnv; variables documented in
// docs/CONFIGURATION.md) and changeable at run time through the thread-safe setters (for an
// admin call). With no fault set for an operation, Decide() costs two atomic loads.
//
// Deterministic when seeded: each operation draws its failures from its own std::mt19937_64
// seeded from (seed, operation), so a single-threaded sequence of calls with the same settings
// fails on the same calls every run. (Across threads the order of calls decides who fails.)
//
// Thread-safe: every method may be called concurrently. A setter changes delay and failure
// share one after the other; a concurrent Decide() may see the new delay with the old share for
// that one call.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string_view>

#include "core/status.h"
#include "core/thread_annotations.h"

namespace recserve::resilience {

// kHandler: a request handler throws (its failure share only; delays do not apply), to prove in
// drills and tests that no exception on the request path ends the process (a 500, counted).
enum class FaultOperation { kRanking = 0, kRedis = 1, kHandler = 2 };
inline constexpr size_t kFaultOperationCount = 3;
// "ranking", "redis", "handler".
std::string_view FaultOperationName(FaultOperation operation);
std::optional<FaultOperation> ParseFaultOperation(std::string_view name);

struct FaultSpec {
  std::chrono::milliseconds delay{0};  // 0..60000 ms added before the operation
  double failure_rate = 0.0;           // 0..1 share of calls that fail
};

class FaultInjector {
 public:
  static constexpr std::chrono::milliseconds kMaxDelay{60000};

  explicit FaultInjector(uint64_t seed = 0);
  FaultInjector(const FaultInjector&) = delete;
  FaultInjector& operator=(const FaultInjector&) = delete;

  // Reads FAULT_RANKING_DELAY_MS, FAULT_RANKING_FAILURE_RATE, FAULT_REDIS_DELAY_MS,
  // FAULT_REDIS_FAILURE_RATE, FAULT_HANDLER_FAILURE_RATE and FAULT_SEED. InvalidArgument naming the
  // variable when one is malformed or out of range. All unset: an injector that injects nothing.
  static Result<std::unique_ptr<FaultInjector>> FromEnv();

  // InvalidArgument (and no change) when delay or failure_rate is out of range.
  Status Set(FaultOperation operation, FaultSpec spec);
  FaultSpec Get(FaultOperation operation) const;
  void ClearAll();

  struct Decision {
    std::chrono::milliseconds delay{0};
    bool fail = false;
  };
  // What to inflict on one call of `operation`. The caller applies it (sleeping no longer than
  // its own deadline allows, then failing the call if `fail`).
  Decision Decide(FaultOperation operation);

  // Applies Decide() in place: sleeps the delay, then returns Unavailable("injected failure:
  // <operation>") when the call is to fail, OK otherwise. For use on worker threads (ranking);
  // never on an event loop.
  Status Inject(FaultOperation operation);

  // Applies Decide() for a call with its own deadline `budget` (a Redis call under
  // REDIS_TIMEOUT): sleeps the delay but never longer than `budget`, then returns
  // DeadlineExceeded when the delay reached the budget (the call would have timed out),
  // Unavailable when the call is to fail, OK otherwise.
  Status InjectWithin(FaultOperation operation, std::chrono::milliseconds budget);

 private:
  struct PerOperation {
    std::atomic<int64_t> delay_ms{0};
    std::atomic<double> failure_rate{0.0};
    core::Mutex rng_mu;
    std::mt19937_64 rng GUARDED_BY(rng_mu);
  };
  std::array<PerOperation, kFaultOperationCount> operations_;
};

}  // namespace recserve::resilience
