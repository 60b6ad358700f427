#include "engine/live_lists_refresher.h"

namespace recserve::engine {

LiveListsRefresher::LiveListsRefresher(LiveState& live, std::function<int64_t()> now,
                                       std::chrono::milliseconds min_gap,
                                       std::chrono::milliseconds max_age)
    : live_(live), now_(std::move(now)), min_gap_(min_gap), max_age_(max_age) {
  live_.RebuildLists(now_());
  thread_ = std::thread([this] { Run(); });
}

LiveListsRefresher::~LiveListsRefresher() {
  stop_.store(true);
  thread_.join();
}

void LiveListsRefresher::Run() {
  // The wait is sliced so the destructor never waits longer than one slice.
  constexpr auto kSlice = std::chrono::milliseconds(100);
  uint64_t seen = live_.events_applied();
  auto last = std::chrono::steady_clock::now();
  while (!stop_.load()) {
    uint64_t applied = live_.WaitForEvents(seen, std::min(kSlice, max_age_));
    auto now = std::chrono::steady_clock::now();
    if (applied == seen && now - last < max_age_) continue;
    if (now - last < min_gap_) std::this_thread::sleep_for(min_gap_ - (now - last));
    seen = live_.events_applied();
    live_.RebuildLists(now_());
    last = std::chrono::steady_clock::now();
  }
}

}  // namespace recserve::engine
