#pragma once
// EventFollower: applies every event of the fleet's shared log (store::RedisEventLogReader),
// whichever replica accepted it, to this replica's live state, so recent histories, popularity
// and the trending windows converge across replicas.
//
// On start it catches up: it reads the log from `catchup_window` ago (every shard) until it
// reaches the end, and only then reports caught_up() (the replica's /ready waits for it, at most
// `catchup_timeout`: a replica whose Redis is down still becomes ready, serving without the
// fleet's recent events, and catches up when Redis answers). Then it blocks on XREAD for new
// entries and applies each within milliseconds of its write.
//
// Events this process accepted itself (origin == `origin`) are skipped: the journal applied them
// when they were accepted. Entries that do not decode are counted and skipped. After the
// catch-up, each applied event's delay from acceptance (on any replica) to its effect here is
// observed in recommendation_event_to_effect_seconds.
//
// Thread-safe: one thread of its own (Start), joined by the destructor; caught_up() from any
// thread.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "core/thread_annotations.h"
#include "engine/live_state.h"
#include "observe/metrics.h"
#include "store/redis_client.h"
#include "store/redis_event_log_reader.h"

namespace recserve::engine {

struct EventFollowerOptions {
  store::RedisEndpoint endpoint;
  std::chrono::milliseconds timeout{1000};            // REDIS_TIMEOUT
  uint32_t default_shards = 4;                        // EVENT_LOG_SHARDS
  uint64_t origin = 0;                                // this process's events are skipped
  std::chrono::seconds catchup_window{24 * 3600};     // EVENT_CATCHUP_WINDOW
  std::chrono::milliseconds catchup_timeout{30'000};  // EVENT_CATCHUP_TIMEOUT
};

class EventFollower {
 public:
  // Applies a batch of the log's events (already validated at acceptance; Apply re-checks).
  using ApplyFn = std::function<void(const std::vector<Event>& events, int64_t now)>;

  // Does not read yet: Start() does (the recommender the follower applies through is built with
  // a pointer to this follower, for /ready).
  EventFollower(EventFollowerOptions options, observe::Registry& registry);
  // Starts the reading thread. Call once.
  void Start(ApplyFn apply);
  ~EventFollower();
  EventFollower(const EventFollower&) = delete;
  EventFollower& operator=(const EventFollower&) = delete;

  // The catch-up reached the end of the log, or catchup_timeout passed since start.
  bool caught_up() const { return ready_.load(std::memory_order_acquire); }
  // Events applied from the log (other replicas' and replays).
  uint64_t applied() const { return applied_.load(std::memory_order_relaxed); }

 private:
  void Run();
  // Applies the entries; returns how many were read.
  size_t ApplyEntries(std::vector<store::RedisEventLogReader::Entry>& entries, bool live);
  // Sleeps up to `d`; false when stopping.
  bool Pause(std::chrono::milliseconds d);

  const EventFollowerOptions options_;
  ApplyFn apply_;  // set once by Start(), before the thread starts
  const std::chrono::steady_clock::time_point started_;
  observe::Histogram& delay_;
  observe::Family<observe::Counter>& read_;  // recommendation_event_log_read_total{result}
  std::atomic<bool> ready_{false};
  std::atomic<uint64_t> applied_{0};

  core::Mutex stop_mu_;
  std::condition_variable_any stop_cv_;  // waits on stop_mu_
  bool stopping_ GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

}  // namespace recserve::engine
