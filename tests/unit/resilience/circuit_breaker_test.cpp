#include "resilience/circuit_breaker.h"

#include <gtest/gtest.h>

#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace recserve::resilience {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct Transition {
  std::string dependency;
  BreakerState from;
  BreakerState to;
};

class CircuitBreakerTest : public ::testing::Test {
 protected:
  CircuitBreakerOptions Options() const {
    CircuitBreakerOptions o;
    o.window = seconds(10);
    o.window_buckets = 10;
    o.min_requests = 20;
    o.failure_ratio = 0.5;
    o.open_duration = seconds(5);
    o.half_open_probes = 1;
    o.successes_to_close = 1;
    return o;
  }
  std::unique_ptr<CircuitBreaker> Make(CircuitBreakerOptions o) {
    return std::make_unique<CircuitBreaker>(
        "cache", o, clock_, [this](std::string_view dep, BreakerState from, BreakerState to) {
          transitions_.push_back({std::string(dep), from, to});
        });
  }
  static void Outcomes(CircuitBreaker& b, int successes, int failures) {
    for (int i = 0; i < successes; ++i) b.TryAcquire().RecordSuccess();
    for (int i = 0; i < failures; ++i) {
      CircuitBreaker::Permit p = b.TryAcquire();
      ASSERT_TRUE(p);
      p.RecordFailure();
    }
  }
  // Opens a fresh breaker: 20 failures in the window.
  std::unique_ptr<CircuitBreaker> MakeOpen(CircuitBreakerOptions o) {
    auto b = Make(o);
    Outcomes(*b, 0, 20);
    EXPECT_EQ(b->state(), BreakerState::kOpen);
    return b;
  }

  ManualClock clock_;
  std::vector<Transition> transitions_;
};

TEST_F(CircuitBreakerTest, StartsClosedAndAdmitsEveryCall) {
  auto b = Make(Options());
  EXPECT_EQ(b->state(), BreakerState::kClosed);
  EXPECT_EQ(b->dependency(), "cache");
  for (int i = 0; i < 100; ++i) b->TryAcquire().RecordSuccess();
  EXPECT_EQ(b->window_counts().successes, 100u);
  EXPECT_TRUE(transitions_.empty());
}

TEST_F(CircuitBreakerTest, ResetClosesAtOnceAndIgnoresCallsAdmittedBefore) {
  CircuitBreakerOptions o = Options();
  o.successes_to_close = 3;
  auto b = MakeOpen(o);
  b->Reset();
  EXPECT_EQ(b->state(), BreakerState::kClosed);
  ASSERT_EQ(transitions_.size(), 2u);
  EXPECT_EQ(transitions_[1].from, BreakerState::kOpen);
  EXPECT_EQ(transitions_[1].to, BreakerState::kClosed);
  EXPECT_EQ(b->window_counts().failures, 0u);  // a fresh window
  b->Reset();                                  // already closed: no transition
  EXPECT_EQ(transitions_.size(), 2u);

  // From half-open: the probe admitted before the reset records nothing afterwards.
  Outcomes(*b, 0, 20);
  clock_.Advance(seconds(5));
  CircuitBreaker::Permit probe = b->TryAcquire();
  ASSERT_TRUE(probe);
  EXPECT_EQ(b->state(), BreakerState::kHalfOpen);
  b->Reset();
  probe.RecordFailure();
  EXPECT_EQ(b->state(), BreakerState::kClosed);
  EXPECT_EQ(b->window_counts().failures, 0u);
}

TEST_F(CircuitBreakerTest, FewerThanMinRequestsNeverOpen) {
  auto b = Make(Options());
  Outcomes(*b, 0, 19);
  EXPECT_EQ(b->state(), BreakerState::kClosed);
}

TEST_F(CircuitBreakerTest, OpensWhenFailureRatioReachedAndNotBefore) {
  auto b = Make(Options());
  Outcomes(*b, 11, 9);  // 20 calls, 45% failures
  EXPECT_EQ(b->state(), BreakerState::kClosed);
  Outcomes(*b, 0, 2);  // 22 calls, 11 failures = 50%
  EXPECT_EQ(b->state(), BreakerState::kOpen);
  ASSERT_EQ(transitions_.size(), 1u);
  EXPECT_EQ(transitions_[0].dependency, "cache");
  EXPECT_EQ(transitions_[0].from, BreakerState::kClosed);
  EXPECT_EQ(transitions_[0].to, BreakerState::kOpen);
}

TEST_F(CircuitBreakerTest, FailuresOutsideTheRollingWindowAreForgotten) {
  auto b = Make(Options());
  Outcomes(*b, 0, 15);
  clock_.Advance(seconds(11));
  EXPECT_EQ(b->window_counts().failures, 0u);
  Outcomes(*b, 0, 5);
  EXPECT_EQ(b->state(), BreakerState::kClosed);
  // Within the window they add up.
  clock_.Advance(seconds(3));
  Outcomes(*b, 0, 15);
  EXPECT_EQ(b->state(), BreakerState::kOpen);
}

TEST_F(CircuitBreakerTest, OpenRefusesUntilCoolDownThenAdmitsLimitedProbes) {
  CircuitBreakerOptions o = Options();
  o.half_open_probes = 2;
  o.successes_to_close = 2;
  auto b = MakeOpen(o);
  EXPECT_FALSE(b->TryAcquire());
  clock_.Advance(milliseconds(4999));
  EXPECT_FALSE(b->TryAcquire());
  EXPECT_EQ(b->state(), BreakerState::kOpen);
  clock_.Advance(milliseconds(1));
  CircuitBreaker::Permit p1 = b->TryAcquire();
  CircuitBreaker::Permit p2 = b->TryAcquire();
  EXPECT_TRUE(p1);
  EXPECT_TRUE(p2);
  EXPECT_EQ(b->state(), BreakerState::kHalfOpen);
  EXPECT_FALSE(b->TryAcquire()) << "only half_open_probes calls in flight";
  p1.RecordSuccess();
  EXPECT_EQ(b->state(), BreakerState::kHalfOpen) << "needs two successes";
  CircuitBreaker::Permit p3 = b->TryAcquire();  // p1's slot is free again
  EXPECT_TRUE(p3);
  p2.RecordSuccess();
  EXPECT_EQ(b->state(), BreakerState::kClosed);
  p3.RecordFailure();  // admitted as a probe; the breaker has moved on, so it is ignored
  EXPECT_EQ(b->state(), BreakerState::kClosed);
  EXPECT_EQ(b->window_counts().failures, 0u) << "closing starts a fresh window";
  ASSERT_EQ(transitions_.size(), 3u);
  EXPECT_EQ(transitions_[1].from, BreakerState::kOpen);
  EXPECT_EQ(transitions_[1].to, BreakerState::kHalfOpen);
  EXPECT_EQ(transitions_[2].from, BreakerState::kHalfOpen);
  EXPECT_EQ(transitions_[2].to, BreakerState::kClosed);
}

TEST_F(CircuitBreakerTest, StateQueryMovesToHalfOpenAfterCoolDown) {
  auto b = MakeOpen(Options());
  clock_.Advance(seconds(5));
  EXPECT_EQ(b->state(), BreakerState::kHalfOpen);
  EXPECT_EQ(transitions_.back().to, BreakerState::kHalfOpen);
}

TEST_F(CircuitBreakerTest, ProbeFailureReopensAndRestartsCoolDown) {
  auto b = MakeOpen(Options());
  clock_.Advance(seconds(5));
  CircuitBreaker::Permit probe = b->TryAcquire();
  ASSERT_TRUE(probe);
  clock_.Advance(seconds(1));
  probe.RecordFailure();
  EXPECT_EQ(b->state(), BreakerState::kOpen);
  clock_.Advance(seconds(4));
  EXPECT_FALSE(b->TryAcquire()) << "cool-down counts from the reopening";
  clock_.Advance(seconds(1));
  CircuitBreaker::Permit second_probe = b->TryAcquire();
  EXPECT_TRUE(second_probe);
  EXPECT_EQ(transitions_.back().from, BreakerState::kOpen);
  EXPECT_EQ(transitions_.back().to, BreakerState::kHalfOpen);
  EXPECT_EQ(transitions_[transitions_.size() - 2].from, BreakerState::kHalfOpen);
  EXPECT_EQ(transitions_[transitions_.size() - 2].to, BreakerState::kOpen);
  second_probe.RecordSuccess();
  EXPECT_EQ(b->state(), BreakerState::kClosed);
}

TEST_F(CircuitBreakerTest, DroppedPermitCountsAsFailure) {
  auto b = MakeOpen(Options());
  clock_.Advance(seconds(5));
  { CircuitBreaker::Permit abandoned = b->TryAcquire(); }
  EXPECT_EQ(b->state(), BreakerState::kOpen);

  auto closed = Make(Options());
  { CircuitBreaker::Permit p = closed->TryAcquire(); }
  EXPECT_EQ(closed->window_counts().failures, 1u);
}

TEST_F(CircuitBreakerTest, MovedPermitRecordsExactlyOnce) {
  auto b = Make(Options());
  CircuitBreaker::Permit a = b->TryAcquire();
  CircuitBreaker::Permit moved = std::move(a);
  moved.RecordSuccess();
  moved.RecordFailure();  // already recorded: no effect
  EXPECT_EQ(b->window_counts().successes, 1u);
  EXPECT_EQ(b->window_counts().failures, 0u);
}

TEST_F(CircuitBreakerTest, OutcomesFromBeforeATransitionAreIgnored) {
  auto b = Make(Options());
  CircuitBreaker::Permit slow = b->TryAcquire();  // admitted while closed
  Outcomes(*b, 0, 20);
  clock_.Advance(seconds(5));
  EXPECT_EQ(b->state(), BreakerState::kHalfOpen);
  slow.RecordSuccess();  // not a probe: must not close the breaker
  EXPECT_EQ(b->state(), BreakerState::kHalfOpen);
  CircuitBreaker::Permit probe = b->TryAcquire();
  EXPECT_TRUE(probe) << "the stale outcome did not take the probe slot";
}

TEST_F(CircuitBreakerTest, RefusedPermitRecordsNothing) {
  auto b = MakeOpen(Options());
  const size_t before = transitions_.size();
  CircuitBreaker::Permit refused = b->TryAcquire();
  EXPECT_FALSE(refused);
  refused.RecordFailure();
  EXPECT_EQ(transitions_.size(), before);
}

TEST(CircuitBreakerOptions, Validation) {
  EXPECT_TRUE(ValidateCircuitBreakerOptions(CircuitBreakerOptions{}).ok());
  CircuitBreakerOptions o;
  o.failure_ratio = 0;
  EXPECT_FALSE(ValidateCircuitBreakerOptions(o).ok());
  o = {};
  o.window_buckets = 0;
  EXPECT_FALSE(ValidateCircuitBreakerOptions(o).ok());
  o = {};
  o.min_requests = 0;
  EXPECT_FALSE(ValidateCircuitBreakerOptions(o).ok());
  o = {};
  o.half_open_probes = 0;
  EXPECT_FALSE(ValidateCircuitBreakerOptions(o).ok());
  o = {};
  o.window = SteadyDuration::zero();
  EXPECT_FALSE(ValidateCircuitBreakerOptions(o).ok());
}

TEST(BreakerStateName, MatchesMetricsLabels) {
  EXPECT_EQ(BreakerStateName(BreakerState::kClosed), "closed");
  EXPECT_EQ(BreakerStateName(BreakerState::kOpen), "open");
  EXPECT_EQ(BreakerStateName(BreakerState::kHalfOpen), "half_open");
  EXPECT_EQ(static_cast<int>(BreakerState::kHalfOpen), 2);
}

// Many threads hammer one breaker on the real clock; the listener sees a consistent chain of
// transitions (each `from` is the previous `to`); ASan/UBSan see no error.
TEST(CircuitBreakerConcurrency, TransitionsStayConsistentUnderContention) {
  CircuitBreakerOptions o;
  o.window = milliseconds(50);
  o.min_requests = 10;
  o.failure_ratio = 0.3;
  o.open_duration = milliseconds(1);
  o.half_open_probes = 2;
  std::mutex mu;
  std::vector<Transition> seen;
  CircuitBreaker b("ranker", o, SystemSteadyClock(),
                   [&](std::string_view dep, BreakerState from, BreakerState to) {
                     std::lock_guard lock(mu);
                     seen.push_back({std::string(dep), from, to});
                   });
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      for (int i = 0; i < 5000; ++i) {
        CircuitBreaker::Permit p = b.TryAcquire();
        if (!p) continue;
        if (rng() % 3 == 0) {
          p.RecordFailure();
        } else {
          p.RecordSuccess();
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  std::lock_guard lock(mu);
  ASSERT_FALSE(seen.empty()) << "a third of calls failing must open the breaker";
  BreakerState previous = BreakerState::kClosed;
  for (const Transition& tr : seen) {
    EXPECT_EQ(tr.dependency, "ranker");
    EXPECT_EQ(tr.from, previous);
    EXPECT_NE(tr.from, tr.to);
    previous = tr.to;
  }
}

}  // namespace
}  // namespace recserve::resilience
