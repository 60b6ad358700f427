#include "engine/model_reconciler.h"

namespace recserve::engine {

ModelReconciler::ModelReconciler(ModelManager& manager, store::DesiredModelsStore& desired,
                                 ModelReconcilerOptions options)
    : manager_(manager), desired_(desired), options_(options), thread_([this] { Run(); }) {}

ModelReconciler::~ModelReconciler() {
  {
    core::MutexLock lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void ModelReconciler::Run() {
  do {
    // Failures are counted and logged (once per target) by the manager; the loop only retries.
    (void)manager_.Reconcile();
  } while (Wait());
}

bool ModelReconciler::Wait() {
  {
    core::MutexLock lock(mu_);
    if (stopping_) return false;
  }
  auto notified = desired_.WaitForNotification(options_.period);
  core::MutexLock lock(mu_);
  if (!notified.ok()) {
    // No Redis, or its subscription is down: a timed wait that Stop interrupts.
    const auto until = std::chrono::steady_clock::now() + options_.period;
    while (!stopping_ && std::chrono::steady_clock::now() < until) {
      wake_.wait_until(mu_, until);
    }
  }
  return !stopping_;
}

}  // namespace recserve::engine
