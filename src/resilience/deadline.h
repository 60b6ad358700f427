#pragma once
// A point in time by which work must finish: the overall request deadline, and the per-call
// budgets RANKING_TIMEOUT and REDIS_TIMEOUT beneath it (a call's deadline is the earlier of its
// own budget and the request's: Deadline::After(budget).Earliest(request_deadline)).
//
// A Deadline is a small value (time point + clock pointer), cheap to copy and safe to read from
// any thread. REQUIRES: the clock outlives every Deadline made from it (SystemSteadyClock()
// lives for the whole process).

#include <chrono>
#include <string_view>

#include "core/status.h"
#include "resilience/clock.h"

namespace recserve::resilience {

class Deadline {
 public:
  // `budget` from now. A budget <= 0 gives an already expired deadline.
  static Deadline After(SteadyDuration budget, const Clock& clock = SystemSteadyClock());
  static Deadline At(SteadyTimePoint when, const Clock& clock = SystemSteadyClock());
  // A deadline that never passes (remaining() is SteadyDuration::max()).
  static Deadline Never(const Clock& clock = SystemSteadyClock());

  // Time left; zero once expired, SteadyDuration::max() for Never().
  SteadyDuration remaining() const;
  bool expired() const;
  bool is_never() const { return when_ == SteadyTimePoint::max(); }
  // The time point itself, for condition_variable::wait_until and similar. Meaningful for
  // waiting only when the deadline was made on SystemSteadyClock().
  SteadyTimePoint when() const { return when_; }

  // The earlier of the two (keeps this deadline's clock).
  Deadline Earliest(const Deadline& other) const;

 private:
  Deadline(SteadyTimePoint when, const Clock* clock) : when_(when), clock_(clock) {}
  SteadyTimePoint when_;
  const Clock* clock_;
};

// A timeout given in seconds as a float (RANKING_TIMEOUT=0.05, REDIS_TIMEOUT=0.1) turned into a
// duration. InvalidArgument naming `name` when it is not finite, not > 0, or above one hour.
Result<SteadyDuration> TimeoutFromSeconds(double seconds, std::string_view name);

}  // namespace recserve::resilience
