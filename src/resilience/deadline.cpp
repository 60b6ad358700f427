#include "resilience/deadline.h"

#include <cmath>
#include <string>

namespace recserve::resilience {

Deadline Deadline::After(SteadyDuration budget, const Clock& clock) {
  return Deadline(clock.Now() + budget, &clock);
}

Deadline Deadline::At(SteadyTimePoint when, const Clock& clock) { return Deadline(when, &clock); }

Deadline Deadline::Never(const Clock& clock) { return Deadline(SteadyTimePoint::max(), &clock); }

SteadyDuration Deadline::remaining() const {
  if (is_never()) return SteadyDuration::max();
  const SteadyTimePoint now = clock_->Now();
  return now >= when_ ? SteadyDuration::zero() : when_ - now;
}

bool Deadline::expired() const { return !is_never() && clock_->Now() >= when_; }

Deadline Deadline::Earliest(const Deadline& other) const {
  return Deadline(std::min(when_, other.when_), clock_);
}

Result<SteadyDuration> TimeoutFromSeconds(double seconds, std::string_view name) {
  if (!std::isfinite(seconds) || seconds <= 0.0 || seconds > 3600.0) {
    return InvalidArgument(std::string(name) +
                           " must be a number of seconds within (0, 3600], got " +
                           std::to_string(seconds));
  }
  return std::chrono::duration_cast<SteadyDuration>(std::chrono::duration<double>(seconds));
}

}  // namespace recserve::resilience
