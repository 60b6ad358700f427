// Per-call overhead of the resilience primitives on the request path: what wrapping one
// dependency call in a breaker permit, a deadline check and a fault-injection decision costs.
// Figures: docs/PERFORMANCE.md, section "resilience".
#include <benchmark/benchmark.h>

#include "resilience/bounded_executor.h"
#include "resilience/circuit_breaker.h"
#include "resilience/deadline.h"
#include "resilience/fault_injector.h"

namespace recserve::resilience {
namespace {

void BM_BreakerPermitSuccess(benchmark::State& state) {
  static CircuitBreaker breaker("cache", CircuitBreakerOptions{});
  for (auto _ : state) {
    CircuitBreaker::Permit permit = breaker.TryAcquire();
    benchmark::DoNotOptimize(static_cast<bool>(permit));
    permit.RecordSuccess();
  }
}
BENCHMARK(BM_BreakerPermitSuccess)->Threads(1)->Threads(2);

void BM_DeadlineExpiredCheck(benchmark::State& state) {
  const Deadline deadline = Deadline::After(std::chrono::seconds(10));
  for (auto _ : state) benchmark::DoNotOptimize(deadline.expired());
}
BENCHMARK(BM_DeadlineExpiredCheck);

void BM_FaultDecideNoFault(benchmark::State& state) {
  static FaultInjector injector;
  for (auto _ : state) benchmark::DoNotOptimize(injector.Decide(FaultOperation::kRedis).fail);
}
BENCHMARK(BM_FaultDecideNoFault)->Threads(1)->Threads(2);

void BM_FaultDecideWithFailureRate(benchmark::State& state) {
  static FaultInjector injector(1);
  static const bool configured =
      injector.Set(FaultOperation::kRedis, {std::chrono::milliseconds(0), 0.1}).ok();
  if (!configured) state.SkipWithError("could not configure the injector");
  for (auto _ : state) benchmark::DoNotOptimize(injector.Decide(FaultOperation::kRedis).fail);
}
BENCHMARK(BM_FaultDecideWithFailureRate);

// Submit a trivial task and await its result: the fixed cost of ranking-with-deadline.
void BM_ExecutorSubmitAndAwait(benchmark::State& state) {
  BoundedExecutor executor("bench", 1, 64);
  for (auto _ : state) {
    auto result = executor.TrySubmitWithResult([] { return 42; });
    Result<int> value =
        result->AwaitUntil(std::chrono::steady_clock::now() + std::chrono::seconds(10));
    benchmark::DoNotOptimize(value.ok());
  }
}
BENCHMARK(BM_ExecutorSubmitAndAwait);

}  // namespace
}  // namespace recserve::resilience

BENCHMARK_MAIN();
