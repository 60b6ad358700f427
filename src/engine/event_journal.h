#pragma once
// EventJournal: where POST /events records an accepted batch before it answers 200 (docs/API.md,
// "What a 200 from POST /events promises"):
//
//   1. the fleet's shared log in Redis (store::RedisEventLog) when it answers; the events it
//      reports as new are then applied to this replica's live state at once (read-your-writes);
//      the other replicas apply them through their EventFollower;
//   2. else the local spool (store::EventSpool, fdatasync before the answer): the events are
//      applied here at once, and the replayer thread writes them to the log, in order, once Redis
//      answers (the event ids make a replayed batch apply once), then acknowledges them;
//   3. a full spool (or a log refusing because the pipeline has not exported) is an Unavailable
//      with the reason: the client gets 503 and nothing was recorded or applied.
//
// Every logged event carries this process's `origin`: its own EventFollower skips those (they
// were applied when accepted). Without a log the journal is not built and events are applied in
// memory only (a single process without Redis).
//
// Thread-safe: Record() from request threads; one replayer thread of its own, joined by the
// destructor.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <thread>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "observe/metrics.h"
#include "store/event_spool.h"
#include "store/logged_event.h"
#include "store/redis_event_log.h"

namespace recserve::engine {

struct EventJournalOptions {
  uint64_t origin = 0;  // this process (random at start)
  std::chrono::milliseconds replay_interval{500};
  size_t replay_chunk = 1000;  // events per replayed log write
};

// Where a batch was recorded.
enum class JournalTarget { kLog, kSpool };

class EventJournal {
 public:
  // `log` must be non-null; `spool` may be null (then an unavailable log is a 503). Both and
  // `registry` must outlive the journal. Starts the replayer thread.
  EventJournal(EventJournalOptions options, store::RedisEventLog* log, store::EventSpool* spool,
               observe::Registry& registry);
  ~EventJournal();
  EventJournal(const EventJournal&) = delete;
  EventJournal& operator=(const EventJournal&) = delete;

  struct Recorded {
    JournalTarget target = JournalTarget::kLog;
    std::vector<bool> apply_here;  // per event: apply it to this replica's live state now
  };
  // Records `events` (ids, times and origin already set) durably; see the class comment.
  Result<Recorded> Record(const std::vector<store::LoggedEvent>& events);

  uint64_t origin() const { return options_.origin; }
  // "redis" while the log takes writes, "spool" while batches go to the spool.
  std::string_view mode();
  // Unacknowledged spooled events (0 without a spool).
  uint64_t spooled_events() const;

 private:
  void ReplayLoop();
  // Replays one chunk; false when there was nothing to do or the log refused.
  bool ReplayOnce();

  const EventJournalOptions options_;
  store::RedisEventLog* const log_;
  store::EventSpool* const spool_;
  observe::Family<observe::Counter>& recorded_;  // recommendation_events_recorded_total{target}
  observe::Counter& replayed_;                   // recommendation_event_spool_replayed_total

  core::Mutex stop_mu_;
  std::condition_variable_any stop_cv_;  // waits on stop_mu_
  bool stopping_ GUARDED_BY(stop_mu_) = false;
  std::thread replayer_;
};

}  // namespace recserve::engine
