#pragma once
// Time source for resilience primitives. Production code uses the process's steady clock;
// tests inject a ManualClock so breaker cool-downs and deadlines are exercised without sleeping.

#include <atomic>
#include <chrono>

namespace recserve::resilience {

using SteadyTimePoint = std::chrono::steady_clock::time_point;
using SteadyDuration = std::chrono::steady_clock::duration;

// Thread-safe: Now() may be called from any thread.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual SteadyTimePoint Now() const = 0;
};

// std::chrono::steady_clock. The returned reference lives for the whole process.
const Clock& SystemSteadyClock();

// A clock that moves only when told. Thread-safe (the time is one atomic).
class ManualClock final : public Clock {
 public:
  explicit ManualClock(SteadyTimePoint start = SteadyTimePoint{} + std::chrono::hours(1))
      : now_(start.time_since_epoch().count()) {}
  SteadyTimePoint Now() const override {
    return SteadyTimePoint(SteadyDuration(now_.load(std::memory_order_acquire)));
  }
  void Advance(SteadyDuration by) { now_.fetch_add(by.count(), std::memory_order_acq_rel); }

 private:
  std::atomic<SteadyDuration::rep> now_;
};

}  // namespace recserve::resilience
