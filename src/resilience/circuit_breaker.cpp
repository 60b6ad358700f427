#include "resilience/circuit_breaker.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <utility>

namespace recserve::resilience {

BreakerTransitionListener LoggingBreakerListener(std::string lost_message, std::string back_message,
                                                 BreakerTransitionListener next) {
  return [lost = std::move(lost_message), back = std::move(back_message), next = std::move(next)](
             std::string_view dependency, BreakerState from, BreakerState to) {
    if (to == BreakerState::kOpen && from == BreakerState::kClosed) {
      spdlog::warn("{} (breaker {} open)", lost, dependency);
    } else if (to == BreakerState::kClosed && from != BreakerState::kClosed) {
      spdlog::info("{} (breaker {} closed)", back, dependency);
    }
    if (next) next(dependency, from, to);
  };
}

std::string_view BreakerStateName(BreakerState state) {
  switch (state) {
    case BreakerState::kClosed:
      return "closed";
    case BreakerState::kOpen:
      return "open";
    case BreakerState::kHalfOpen:
      return "half_open";
  }
  return "unknown";
}

Status ValidateCircuitBreakerOptions(const CircuitBreakerOptions& o) {
  if (o.window <= SteadyDuration::zero()) return InvalidArgument("breaker window must be > 0");
  if (o.window_buckets < 1 || o.window_buckets > 1000) {
    return InvalidArgument("breaker window_buckets must be within 1..1000");
  }
  if (o.window < SteadyDuration(o.window_buckets)) {
    return InvalidArgument("breaker window is shorter than one tick per bucket");
  }
  if (o.min_requests < 1) return InvalidArgument("breaker min_requests must be >= 1");
  if (!(o.failure_ratio > 0.0 && o.failure_ratio <= 1.0)) {
    return InvalidArgument("breaker failure_ratio must be within (0, 1]");
  }
  if (o.open_duration < SteadyDuration::zero()) {
    return InvalidArgument("breaker open_duration must be >= 0");
  }
  if (o.half_open_probes < 1) return InvalidArgument("breaker half_open_probes must be >= 1");
  if (o.successes_to_close < 1) return InvalidArgument("breaker successes_to_close must be >= 1");
  return Status::Ok();
}

CircuitBreaker::CircuitBreaker(std::string dependency, CircuitBreakerOptions options,
                               const Clock& clock, BreakerTransitionListener listener)
    : dependency_(std::move(dependency)),
      options_(options),
      clock_(clock),
      listener_(std::move(listener)),
      bucket_width_(options.window / options.window_buckets),
      buckets_(options.window_buckets) {}

CircuitBreaker::Permit::Permit(Permit&& other) noexcept
    : breaker_(std::exchange(other.breaker_, nullptr)), generation_(other.generation_) {}

CircuitBreaker::Permit& CircuitBreaker::Permit::operator=(Permit&& other) noexcept {
  if (this != &other) {
    if (breaker_ != nullptr) Record(false);
    breaker_ = std::exchange(other.breaker_, nullptr);
    generation_ = other.generation_;
  }
  return *this;
}

CircuitBreaker::Permit::~Permit() {
  if (breaker_ != nullptr) Record(false);
}

void CircuitBreaker::Permit::RecordSuccess() { Record(true); }
void CircuitBreaker::Permit::RecordFailure() { Record(false); }

void CircuitBreaker::Permit::Record(bool success) {
  if (breaker_ == nullptr) return;  // refused, or outcome already recorded
  std::exchange(breaker_, nullptr)->Record(generation_, success);
}

int64_t CircuitBreaker::BucketIndex(SteadyTimePoint now) const {
  return now.time_since_epoch() / bucket_width_;
}

CircuitBreaker::WindowCounts CircuitBreaker::CountLocked(int64_t current_index) const {
  WindowCounts counts;
  for (const Bucket& b : buckets_) {
    if (b.index >= 0 && current_index - b.index < static_cast<int64_t>(buckets_.size())) {
      counts.successes += b.successes;
      counts.failures += b.failures;
    }
  }
  return counts;
}

void CircuitBreaker::TransitionLocked(BreakerState to) {
  const BreakerState from = state_;
  state_ = to;
  ++generation_;
  probes_in_flight_ = 0;
  probe_successes_ = 0;
  if (to == BreakerState::kOpen) opened_at_ = clock_.Now();
  if (to == BreakerState::kClosed) {
    for (Bucket& b : buckets_) b = Bucket{};  // a fresh window: old failures are history
  }
  if (listener_) listener_(dependency_, from, to);
}

void CircuitBreaker::AdvanceLocked(SteadyTimePoint now) {
  if (state_ == BreakerState::kOpen && now - opened_at_ >= options_.open_duration) {
    TransitionLocked(BreakerState::kHalfOpen);
  }
}

CircuitBreaker::Permit CircuitBreaker::TryAcquire() {
  core::MutexLock lock(mu_);
  AdvanceLocked(clock_.Now());
  switch (state_) {
    case BreakerState::kClosed:
      return Permit(this, generation_);
    case BreakerState::kOpen:
      return Permit();
    case BreakerState::kHalfOpen:
      if (probes_in_flight_ >= options_.half_open_probes) return Permit();
      ++probes_in_flight_;
      return Permit(this, generation_);
  }
  return Permit();
}

void CircuitBreaker::Record(uint64_t generation, bool success) {
  core::MutexLock lock(mu_);
  if (generation != generation_) return;  // admitted before the last transition
  const SteadyTimePoint now = clock_.Now();
  if (state_ == BreakerState::kClosed) {
    const int64_t index = BucketIndex(now);
    Bucket& bucket = buckets_[static_cast<size_t>(index % static_cast<int64_t>(buckets_.size()))];
    if (bucket.index != index) bucket = Bucket{index, 0, 0};
    (success ? bucket.successes : bucket.failures) += 1;
    if (!success) {
      const WindowCounts counts = CountLocked(index);
      const uint64_t total = counts.successes + counts.failures;
      if (total >= options_.min_requests &&
          static_cast<double>(counts.failures) >=
              options_.failure_ratio * static_cast<double>(total)) {
        TransitionLocked(BreakerState::kOpen);
      }
    }
  } else if (state_ == BreakerState::kHalfOpen) {
    --probes_in_flight_;
    if (!success) {
      TransitionLocked(BreakerState::kOpen);
    } else if (++probe_successes_ >= options_.successes_to_close) {
      TransitionLocked(BreakerState::kClosed);
    }
  }
}

void CircuitBreaker::Reset() {
  core::MutexLock lock(mu_);
  if (state_ != BreakerState::kClosed) TransitionLocked(BreakerState::kClosed);
}

BreakerState CircuitBreaker::state() {
  core::MutexLock lock(mu_);
  AdvanceLocked(clock_.Now());
  return state_;
}

CircuitBreaker::WindowCounts CircuitBreaker::window_counts() {
  core::MutexLock lock(mu_);
  return CountLocked(BucketIndex(clock_.Now()));
}

}  // namespace recserve::resilience
