#pragma once
// ShadowScorer: where the shadow model scores requests, off the request path. The engine hands
// it a task for users in the shadow cohort; the task runs on the scorer's own worker behind a
// bounded queue, so the shadow never adds latency to the primary answer: a full queue drops the
// scoring (counted), and a task that waited past its time budget is dropped when it starts.
//
// Cohort: a user is shadowed when UserRolloutBucket(salt, user_id) < rollout. The bucket is a
// pure function of the salt and the user id, so the same user is in or out on every request and
// across restarts, and changing the rollout share only adds or removes users at the margin.
//
// Thread-safe: every method may be called from any thread. The destructor runs the queued tasks
// still within SHADOW_TIMEOUT (a stale one is dropped and counted) and joins; whoever owns what a
// task references must outlive this.

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "observe/metrics.h"
#include "resilience/bounded_executor.h"

namespace recserve::engine {

// A user's position in [0, 1) for rollouts: fmix64(Fnv1a64("<salt>:<user_id>")) >> 11, divided
// by 2^53 (fmix64 is MurmurHash3's 64-bit finaliser). docs/EXPERIMENTS.md has the formula.
double UserRolloutBucket(std::string_view salt, std::string_view user_id);

struct ShadowOptions {
  std::string salt = "shadow";            // SHADOW_SALT
  std::chrono::milliseconds budget{250};  // SHADOW_TIMEOUT: queue wait allowed before scoring
  size_t queue_capacity = 256;            // SHADOW_QUEUE
  size_t threads = 1;                     // shadow workers
};

class ShadowScorer {
 public:
  ShadowScorer(ShadowOptions options, observe::Registry& registry);
  ShadowScorer(const ShadowScorer&) = delete;
  ShadowScorer& operator=(const ShadowScorer&) = delete;

  bool InCohort(std::string_view user_id, double rollout) const {
    return rollout > 0 && UserRolloutBucket(options_.salt, user_id) < rollout;
  }

  // Queues `task`; false (and a counted drop) when the queue is full. The task runs only when it
  // starts within the time budget of this call; otherwise it is dropped and counted.
  bool Submit(std::function<void()> task);

  // overlap@k of one shadow list with the primary list of the same request, in [0, 1].
  void RecordOverlap(double overlap) { overlap_.Observe(overlap); }

 private:
  ShadowOptions options_;
  observe::Family<observe::Counter>& dropped_;
  observe::Histogram& overlap_;
  resilience::BoundedExecutor executor_;
};

}  // namespace recserve::engine
