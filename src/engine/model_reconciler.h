#pragma once
// ModelReconciler: the thread that keeps one replica's model slots at the fleet's desired record
// (ModelManager::Reconcile). It reconciles every `period` (500 ms), and at once when Redis
// announces a change on `recserve:models:changed`: the wait between two steps is a poll(2) on a
// subscribed connection (store::DesiredModelsStore::WaitForNotification), or a plain timed wait
// when there is no Redis or it is down. The poll is the fallback that always works; the
// notification only makes a change show sooner.
//
// Thread-safety: construct and destroy from one thread; the destructor stops the thread and
// joins it (waiting at most one period plus one reconcile step).

#include <chrono>
#include <condition_variable>
#include <thread>

#include "core/thread_annotations.h"
#include "engine/model_manager.h"
#include "store/desired_models.h"

namespace recserve::engine {

struct ModelReconcilerOptions {
  // Longest time between two reconcile steps (also the longest a fleet without Redis
  // notifications takes to see a change).
  std::chrono::milliseconds period{500};
};

class ModelReconciler {
 public:
  // Starts the thread. `manager` and `desired` must outlive this object.
  ModelReconciler(ModelManager& manager, store::DesiredModelsStore& desired,
                  ModelReconcilerOptions options = {});
  ~ModelReconciler();
  ModelReconciler(const ModelReconciler&) = delete;
  ModelReconciler& operator=(const ModelReconciler&) = delete;

 private:
  void Run();
  // Waits for a notification or `period`; false once stopping.
  bool Wait();

  ModelManager& manager_;
  store::DesiredModelsStore& desired_;
  ModelReconcilerOptions options_;
  core::Mutex mu_;
  std::condition_variable_any wake_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once every member above exists
};

}  // namespace recserve::engine
