#pragma once
// A circuit breaker for one dependency (cache, feature_store, ranker), after Envoy's and
// Hystrix's: while the dependency fails too often the breaker opens and callers serve their
// fallback at once instead of waiting on a sick dependency; after a cool-down a few probe calls
// decide whether it has recovered.
//
//   closed ──(failures / calls >= failure_ratio over the rolling window, calls >= min_requests)──▶
//   open open ──(open_duration passed; noticed by the next TryAcquire() or state())──▶ half_open
//   half_open ──(successes_to_close probe successes)──▶ closed
//   half_open ──(any probe failure)──▶ open (cool-down starts again)
//
// In half_open at most `half_open_probes` calls are in flight at once; other callers are refused.
// Outcomes of calls admitted in an earlier state (e.g. a slow call started while closed that
// finishes while half_open) are ignored: each transition starts a new generation.
//
// Thread-safe: every method may be called concurrently; one mutex guards the state (calls are
// short: a few integer updates). The transition listener runs under that mutex, right after the
// change, so listeners see transitions in order; it must be quick and must not call back into
// this breaker (updating a gauge and a counter is the intended use). The breaker must outlive
// every Permit it hands out.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "resilience/clock.h"

namespace recserve::resilience {

// Values are the circuit_breaker_state gauge values (docs/METRICS.md).
enum class BreakerState { kClosed = 0, kOpen = 1, kHalfOpen = 2 };
// "closed", "open", "half_open": the `to` label of circuit_breaker_transitions_total.
std::string_view BreakerStateName(BreakerState state);

struct CircuitBreakerOptions {
  SteadyDuration window = std::chrono::seconds(10);  // rolling window for the failure ratio
  uint32_t window_buckets = 10;                      // the window slides one bucket at a time
  uint32_t min_requests = 20;  // fewer outcomes than this in the window never open the breaker
  double failure_ratio = 0.5;  // open when failures / outcomes >= this (0 < ratio <= 1)
  SteadyDuration open_duration = std::chrono::seconds(5);  // cool-down before probing
  uint32_t half_open_probes = 1;    // probe calls allowed in flight while half_open
  uint32_t successes_to_close = 1;  // probe successes needed to close again
};

// InvalidArgument naming the first bad field.
Status ValidateCircuitBreakerOptions(const CircuitBreakerOptions& options);

// Called on every transition with the breaker's dependency name.
using BreakerTransitionListener =
    std::function<void(std::string_view dependency, BreakerState from, BreakerState to)>;

// Logs a dependency being lost and coming back, once each per outage: a warning with
// `lost_message` when the breaker opens from closed, `back_message` (info) when it closes again.
// The open ↔ half-open cycles of a long outage log nothing more, so an outage cannot flood the
// log (the runbook tails these lines). Then passes every transition to `next` (may be null).
// Runs under the breaker's lock: logging only, no calls back.
BreakerTransitionListener LoggingBreakerListener(std::string lost_message, std::string back_message,
                                                 BreakerTransitionListener next);

class CircuitBreaker {
 public:
  // REQUIRES: ValidateCircuitBreakerOptions(options).ok(); `clock` outlives the breaker.
  CircuitBreaker(std::string dependency, CircuitBreakerOptions options,
                 const Clock& clock = SystemSteadyClock(),
                 BreakerTransitionListener listener = nullptr);
  CircuitBreaker(const CircuitBreaker&) = delete;
  CircuitBreaker& operator=(const CircuitBreaker&) = delete;

  // Permission for one call. A granted permit records exactly one outcome: RecordSuccess(),
  // RecordFailure(), or — when dropped without either — a failure (a call whose outcome nobody
  // saw, e.g. abandoned past its deadline, is no evidence of health). A refused permit
  // (`!permit`) records nothing; the caller serves its fallback. Move-only.
  class Permit {
   public:
    Permit() = default;
    Permit(Permit&& other) noexcept;
    Permit& operator=(Permit&& other) noexcept;
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit();

    explicit operator bool() const { return breaker_ != nullptr; }
    void RecordSuccess();
    void RecordFailure();

   private:
    friend class CircuitBreaker;
    Permit(CircuitBreaker* breaker, uint64_t generation)
        : breaker_(breaker), generation_(generation) {}
    void Record(bool success);
    CircuitBreaker* breaker_ = nullptr;
    uint64_t generation_ = 0;
  };

  // Never blocks. Granted while closed, and while half_open for up to half_open_probes calls in
  // flight; refused while open (and for further half_open callers).
  Permit TryAcquire();

  // Current state, after applying an open → half_open move whose cool-down has passed.
  BreakerState state();
  // Closes the breaker now, without waiting for the cool-down and a probe: for an operator who
  // knows the dependency is back (POST /models/reload with an empty body) right after a call
  // proved it. A transition (and a listener call) only when it was not closed already; outcomes
  // of calls admitted before are then ignored, as after any transition.
  void Reset();
  const std::string& dependency() const { return dependency_; }

  struct WindowCounts {
    uint64_t successes = 0;
    uint64_t failures = 0;
  };
  // Outcomes inside the rolling window (only counted while closed).
  WindowCounts window_counts();

 private:
  struct Bucket {
    int64_t index = -1;  // which bucket-width slice of time this slot holds
    uint64_t successes = 0;
    uint64_t failures = 0;
  };

  void Record(uint64_t generation, bool success);
  void TransitionLocked(BreakerState to) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void AdvanceLocked(SteadyTimePoint now) EXCLUSIVE_LOCKS_REQUIRED(mu_);
  WindowCounts CountLocked(int64_t current_index) const EXCLUSIVE_LOCKS_REQUIRED(mu_);
  int64_t BucketIndex(SteadyTimePoint now) const;

  const std::string dependency_;
  const CircuitBreakerOptions options_;
  const Clock& clock_;
  const BreakerTransitionListener listener_;
  const SteadyDuration bucket_width_;

  core::Mutex mu_;
  BreakerState state_ GUARDED_BY(mu_) = BreakerState::kClosed;
  uint64_t generation_ GUARDED_BY(mu_) = 0;
  std::vector<Bucket> buckets_ GUARDED_BY(mu_);
  SteadyTimePoint opened_at_ GUARDED_BY(mu_){};
  uint32_t probes_in_flight_ GUARDED_BY(mu_) = 0;
  uint32_t probe_successes_ GUARDED_BY(mu_) = 0;
};

}  // namespace recserve::resilience
