#include "resilience/clock.h"

namespace recserve::resilience {

namespace {
class SteadyClockImpl final : public Clock {
 public:
  SteadyTimePoint Now() const override { return std::chrono::steady_clock::now(); }
};
}  // namespace

const Clock& SystemSteadyClock() {
  static const SteadyClockImpl clock;
  return clock;
}

}  // namespace recserve::resilience
