#pragma once
// A fixed pool of worker threads fed by a bounded queue, for work the request path must never
// wait to enqueue: shadow scoring (dropped when the pool is busy) and ranking with a deadline
// (run on a worker, wait until the deadline, abandon the result if late).
//
// TrySubmit never blocks: when the queue is full (or the executor is shut down) it returns false
// and the caller takes its fallback. Workers run tasks in FIFO order.
//
// Abandoning is safe by construction: a task submitted with TrySubmitWithResult writes its value
// into a shared state owned jointly by the task and the AsyncResult (shared_ptr), never into
// the caller's stack. A caller that stops waiting just drops its AsyncResult; the worker
// finishes the task later and the value is freed with the last owner. REQUIRES of the caller:
// the task itself captures what it uses by value or by shared ownership (e.g. the
// shared_ptr<const Bundle> of the model), never references to the request's stack.
//
// Thread-safe: every method may be called from any thread. The destructor calls Shutdown().

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "resilience/clock.h"

namespace recserve::resilience {

// The eventual value of a task run on a BoundedExecutor. Move-only handle; dropping it abandons
// the result (the task still runs to completion on its worker).
template <typename T>
class AsyncResult {
 public:
  // Waits until the value is ready or `until` (steady clock) passes. Returns the value (moved
  // out: call this once), DeadlineExceeded when it was not ready in time, or Internal when the
  // task threw. After a DeadlineExceeded the caller may wait again or drop the handle.
  Result<T> AwaitUntil(SteadyTimePoint until) {
    core::MutexLock lock(state_->mu);
    while (!state_->done) {
      if (state_->cv.wait_until(state_->mu, until) == std::cv_status::timeout && !state_->done) {
        return DeadlineExceeded("task not finished by its deadline");
      }
    }
    if (!state_->value) return Internal("task failed: " + state_->error);
    return std::move(*state_->value);
  }

  bool ready() const {
    core::MutexLock lock(state_->mu);
    return state_->done;
  }

 private:
  friend class BoundedExecutor;
  struct State {
    core::Mutex mu;
    std::condition_variable_any cv;  // waits on mu
    bool done GUARDED_BY(mu) = false;
    std::optional<T> value GUARDED_BY(mu);
    std::string error GUARDED_BY(mu);
  };
  explicit AsyncResult(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

class BoundedExecutor {
 public:
  // REQUIRES: threads >= 1, queue_capacity >= 1. Starts the workers.
  BoundedExecutor(std::string name, size_t threads, size_t queue_capacity);
  ~BoundedExecutor();
  BoundedExecutor(const BoundedExecutor&) = delete;
  BoundedExecutor& operator=(const BoundedExecutor&) = delete;

  // Queues `task` unless the queue already holds queue_capacity tasks waiting to start or the
  // executor is shut down; then returns false at once and `task` is destroyed unrun. A task
  // that throws is counted as failed; the worker survives.
  bool TrySubmit(std::function<void()> task);

  // Like TrySubmit, for a task whose value the caller awaits with a deadline. nullopt when the
  // task was refused. `fn` is a callable taking no arguments and returning a value type.
  template <typename Fn>
  auto TrySubmitWithResult(Fn fn) -> std::optional<AsyncResult<std::invoke_result_t<Fn&>>> {
    using T = std::invoke_result_t<Fn&>;
    using State = typename AsyncResult<T>::State;
    auto state = std::make_shared<State>();
    const bool accepted = TrySubmit([state, fn = std::move(fn)]() mutable {
      std::optional<T> value;
      std::string error;
      try {
        value.emplace(fn());
      } catch (const std::exception& e) {
        error = e.what();
      } catch (...) {
        error = "unknown exception";
      }
      {
        core::MutexLock lock(state->mu);
        state->value = std::move(value);
        state->error = std::move(error);
        state->done = true;
      }
      state->cv.notify_all();
    });
    if (!accepted) return std::nullopt;
    return AsyncResult<T>(std::move(state));
  }

  // Stops accepting tasks, lets the workers finish every task already queued, and joins them.
  // Idempotent. REQUIRES: not called from one of this executor's own tasks.
  void Shutdown();

  struct Stats {
    uint64_t accepted = 0;
    uint64_t rejected = 0;   // refused because the queue was full or the executor shut down
    uint64_t completed = 0;  // finished, including failed
    uint64_t failed = 0;     // threw an exception
    size_t queued = 0;       // waiting to start now
    size_t running = 0;      // on a worker now
  };
  Stats stats() const;
  const std::string& name() const { return name_; }

 private:
  void WorkerLoop();

  const std::string name_;
  const size_t queue_capacity_;
  mutable core::Mutex mu_;
  std::condition_variable_any work_available_;  // waits on mu_
  std::deque<std::function<void()>> queue_ GUARDED_BY(mu_);
  bool shutting_down_ GUARDED_BY(mu_) = false;
  Stats stats_ GUARDED_BY(mu_);
  core::Mutex join_mu_;  // serialises concurrent Shutdown() calls around join()
  std::vector<std::thread> workers_ GUARDED_BY(join_mu_);
};

}  // namespace recserve::resilience
