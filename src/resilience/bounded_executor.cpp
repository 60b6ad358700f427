#include "resilience/bounded_executor.h"

namespace recserve::resilience {

BoundedExecutor::BoundedExecutor(std::string name, size_t threads, size_t queue_capacity)
    : name_(std::move(name)), queue_capacity_(queue_capacity) {
  workers_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

BoundedExecutor::~BoundedExecutor() { Shutdown(); }

bool BoundedExecutor::TrySubmit(std::function<void()> task) {
  {
    core::MutexLock lock(mu_);
    if (shutting_down_ || queue_.size() >= queue_capacity_) {
      ++stats_.rejected;
      return false;
    }
    queue_.push_back(std::move(task));
    ++stats_.accepted;
    stats_.queued = queue_.size();
  }
  work_available_.notify_one();
  return true;
}

void BoundedExecutor::WorkerLoop() {
  for (;;) {
    std::function<void()> task;
    {
      core::MutexLock lock(mu_);
      while (!shutting_down_ && queue_.empty()) work_available_.wait(mu_);
      if (queue_.empty()) return;  // shutting down and drained
      task = std::move(queue_.front());
      queue_.pop_front();
      stats_.queued = queue_.size();
      ++stats_.running;
    }
    bool failed = false;
    try {
      task();
    } catch (...) {
      failed = true;  // a task must not take its worker down with it
    }
    task = nullptr;  // release captures before reporting completion
    core::MutexLock lock(mu_);
    --stats_.running;
    ++stats_.completed;
    if (failed) ++stats_.failed;
  }
}

void BoundedExecutor::Shutdown() {
  {
    core::MutexLock lock(mu_);
    shutting_down_ = true;
  }
  work_available_.notify_all();
  core::MutexLock join_lock(join_mu_);
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

BoundedExecutor::Stats BoundedExecutor::stats() const {
  core::MutexLock lock(mu_);
  return stats_;
}

}  // namespace recserve::resilience
