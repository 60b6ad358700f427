#include "resilience/fault_injector.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <thread>

#include "core/env.h"

namespace recserve::resilience {

std::string_view FaultOperationName(FaultOperation operation) {
  switch (operation) {
    case FaultOperation::kRanking:
      return "ranking";
    case FaultOperation::kRedis:
      return "redis";
    case FaultOperation::kHandler:
      return "handler";
  }
  return "unknown";
}

std::optional<FaultOperation> ParseFaultOperation(std::string_view name) {
  for (size_t i = 0; i < kFaultOperationCount; ++i) {
    const auto operation = static_cast<FaultOperation>(i);
    if (FaultOperationName(operation) == name) return operation;
  }
  return std::nullopt;
}

FaultInjector::FaultInjector(uint64_t seed) {
  for (size_t i = 0; i < kFaultOperationCount; ++i) {
    // Distinct, fixed streams per operation: seed * golden ratio + operation index.
    operations_[i].rng.seed(seed * 0x9e3779b97f4a7c15ULL + i + 1);
  }
}

Result<std::unique_ptr<FaultInjector>> FaultInjector::FromEnv() {
  Result<long long> seed = EnvIntOr("FAULT_SEED", 0);
  if (!seed.ok()) return seed.status();
  auto injector = std::make_unique<FaultInjector>(static_cast<uint64_t>(*seed));
  struct Source {
    FaultOperation operation;
    const char* delay_var;  // null: the operation takes no delay
    const char* rate_var;
  };
  for (const Source& s :
       {Source{FaultOperation::kRanking, "FAULT_RANKING_DELAY_MS", "FAULT_RANKING_FAILURE_RATE"},
        Source{FaultOperation::kRedis, "FAULT_REDIS_DELAY_MS", "FAULT_REDIS_FAILURE_RATE"},
        Source{FaultOperation::kHandler, nullptr, "FAULT_HANDLER_FAILURE_RATE"}}) {
    Result<long long> delay = s.delay_var != nullptr ? EnvIntOr(s.delay_var, 0) : 0LL;
    if (!delay.ok()) return delay.status();
    Result<double> rate = EnvDoubleOr(s.rate_var, 0.0);
    if (!rate.ok()) return rate.status();
    if (*delay < 0 || *delay > kMaxDelay.count()) {
      return InvalidArgument(std::string(s.delay_var) + " must be within 0..60000 ms");
    }
    if (!(*rate >= 0.0 && *rate <= 1.0)) {
      return InvalidArgument(std::string(s.rate_var) + " must be within 0..1");
    }
    RECSERVE_RETURN_IF_ERROR(
        injector->Set(s.operation, FaultSpec{std::chrono::milliseconds(*delay), *rate}));
  }
  return injector;
}

Status FaultInjector::Set(FaultOperation operation, FaultSpec spec) {
  if (spec.delay.count() < 0 || spec.delay > kMaxDelay) {
    return InvalidArgument("fault delay for " + std::string(FaultOperationName(operation)) +
                           " must be within 0..60000 ms");
  }
  if (operation == FaultOperation::kHandler && spec.delay.count() != 0) {
    return InvalidArgument("fault delay does not apply to handler (it would block an I/O thread)");
  }
  if (!(spec.failure_rate >= 0.0 && spec.failure_rate <= 1.0)) {
    return InvalidArgument("fault failure rate for " + std::string(FaultOperationName(operation)) +
                           " must be within 0..1");
  }
  PerOperation& op = operations_[static_cast<size_t>(operation)];
  op.delay_ms.store(spec.delay.count(), std::memory_order_relaxed);
  op.failure_rate.store(spec.failure_rate, std::memory_order_relaxed);
  return Status::Ok();
}

FaultSpec FaultInjector::Get(FaultOperation operation) const {
  const PerOperation& op = operations_[static_cast<size_t>(operation)];
  return FaultSpec{std::chrono::milliseconds(op.delay_ms.load(std::memory_order_relaxed)),
                   op.failure_rate.load(std::memory_order_relaxed)};
}

void FaultInjector::ClearAll() {
  for (size_t i = 0; i < kFaultOperationCount; ++i) {
    (void)Set(static_cast<FaultOperation>(i), FaultSpec{});
  }
}

FaultInjector::Decision FaultInjector::Decide(FaultOperation operation) {
  PerOperation& op = operations_[static_cast<size_t>(operation)];
  Decision decision;
  decision.delay = std::chrono::milliseconds(op.delay_ms.load(std::memory_order_relaxed));
  const double rate = op.failure_rate.load(std::memory_order_relaxed);
  if (rate >= 1.0) {
    decision.fail = true;
  } else if (rate > 0.0) {
    core::MutexLock lock(op.rng_mu);
    // Top 53 bits as a double in [0, 1): portable, unlike std::uniform_real_distribution.
    decision.fail = static_cast<double>(op.rng() >> 11) * 0x1.0p-53 < rate;
  }
  return decision;
}

Status FaultInjector::Inject(FaultOperation operation) {
  const Decision decision = Decide(operation);
  if (decision.delay.count() > 0) std::this_thread::sleep_for(decision.delay);
  if (decision.fail) {
    return Unavailable("injected failure: " + std::string(FaultOperationName(operation)));
  }
  return Status::Ok();
}

Status FaultInjector::InjectWithin(FaultOperation operation, std::chrono::milliseconds budget) {
  const Decision decision = Decide(operation);
  if (decision.delay.count() > 0) {
    std::this_thread::sleep_for(std::min(decision.delay, budget));
    if (decision.delay >= budget) {
      return DeadlineExceeded("injected " + std::string(FaultOperationName(operation)) +
                              " delay passed the call's deadline");
    }
  }
  if (decision.fail) {
    return Unavailable("injected failure: " + std::string(FaultOperationName(operation)));
  }
  return Status::Ok();
}

}  // namespace recserve::resilience
