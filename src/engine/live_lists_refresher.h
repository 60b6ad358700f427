#pragma once
// LiveListsRefresher: the thread that keeps LiveState's /popular and /hot/trending lists fresh,
// so no request ever ranks items. It rebuilds soon after events arrive (at most once per
// `min_gap`, so a stream of events costs a bounded share of a core) and at least once per
// `max_age` (the windows slide even without events).
//
// Owns its thread: started by the constructor, stopped and joined by the destructor.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>

#include "engine/live_state.h"

namespace recserve::engine {

class LiveListsRefresher {
 public:
  // `live` must outlive this object; `now` gives unix seconds.
  LiveListsRefresher(LiveState& live, std::function<int64_t()> now,
                     std::chrono::milliseconds min_gap = std::chrono::milliseconds(20),
                     std::chrono::milliseconds max_age = std::chrono::milliseconds(1000));
  ~LiveListsRefresher();
  LiveListsRefresher(const LiveListsRefresher&) = delete;
  LiveListsRefresher& operator=(const LiveListsRefresher&) = delete;

 private:
  void Run();

  LiveState& live_;
  std::function<int64_t()> now_;
  const std::chrono::milliseconds min_gap_;
  const std::chrono::milliseconds max_age_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace recserve::engine
