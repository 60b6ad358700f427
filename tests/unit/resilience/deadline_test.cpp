#include "resilience/deadline.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace recserve::resilience {
namespace {

using std::chrono::milliseconds;

TEST(Deadline, RemainingShrinksAndExpires) {
  ManualClock clock;
  Deadline d = Deadline::After(milliseconds(100), clock);
  EXPECT_FALSE(d.expired());
  EXPECT_EQ(d.remaining(), milliseconds(100));
  clock.Advance(milliseconds(60));
  EXPECT_EQ(d.remaining(), milliseconds(40));
  clock.Advance(milliseconds(40));
  EXPECT_TRUE(d.expired());
  EXPECT_EQ(d.remaining(), SteadyDuration::zero());
  clock.Advance(milliseconds(500));
  EXPECT_EQ(d.remaining(), SteadyDuration::zero()) << "never negative";
}

TEST(Deadline, ZeroOrNegativeBudgetIsAlreadyExpired) {
  ManualClock clock;
  EXPECT_TRUE(Deadline::After(SteadyDuration::zero(), clock).expired());
  EXPECT_TRUE(Deadline::After(milliseconds(-5), clock).expired());
}

TEST(Deadline, NeverDoesNotExpire) {
  ManualClock clock;
  Deadline d = Deadline::Never(clock);
  clock.Advance(std::chrono::hours(24 * 365));
  EXPECT_FALSE(d.expired());
  EXPECT_TRUE(d.is_never());
  EXPECT_EQ(d.remaining(), SteadyDuration::max());
}

TEST(Deadline, EarliestTakesTheTighterBudget) {
  ManualClock clock;
  Deadline request = Deadline::After(milliseconds(200), clock);
  Deadline ranking = Deadline::After(milliseconds(50), clock);
  EXPECT_EQ(ranking.Earliest(request).remaining(), milliseconds(50));
  EXPECT_EQ(request.Earliest(ranking).remaining(), milliseconds(50));
  EXPECT_EQ(Deadline::Never(clock).Earliest(request).remaining(), milliseconds(200));
  Deadline at = Deadline::At(clock.Now() + milliseconds(7), clock);
  EXPECT_EQ(at.remaining(), milliseconds(7));
}

TEST(Deadline, SystemClockDeadlineIsInTheFuture) {
  Deadline d = Deadline::After(std::chrono::hours(1));
  EXPECT_FALSE(d.expired());
  EXPECT_GT(d.remaining(), std::chrono::minutes(59));
}

TEST(TimeoutFromSeconds, AcceptsFractionsAndRejectsNonsense) {
  Result<SteadyDuration> t = TimeoutFromSeconds(0.01, "RANKING_TIMEOUT");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::microseconds>(*t).count(), 10000);
  for (double bad : {0.0, -1.0, 3601.0, std::nan(""), std::numeric_limits<double>::infinity()}) {
    Result<SteadyDuration> r = TimeoutFromSeconds(bad, "REDIS_TIMEOUT");
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("REDIS_TIMEOUT"), std::string::npos);
  }
}

}  // namespace
}  // namespace recserve::resilience
