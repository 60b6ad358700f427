#pragma once
// LoadShedder: the overall request deadline (REQUEST_TIMEOUT) and admission control for a
// transport whose handlers run on the I/O threads.
//
// Why this shape: a handler that waits for the ranker holds its I/O thread for up to
// RANKING_TIMEOUT, and requests for that thread queue unseen in socket buffers. Queueing more
// work behind a busy thread only turns every answer into a timeout, so a request is refused at
// admission, cheaply and visibly, when it can no longer be answered in time:
//   - queue_wait: it already waited (RequestTiming::queue_wait) so long that the time it may
//     still need (RANKING_TIMEOUT for routes that rank, nothing for the others) would take it
//     past REQUEST_TIMEOUT;
//   - in_flight: MAX_IN_FLIGHT ranking requests are executing already (keeps I/O threads free
//     for cheap requests and probes when MAX_IN_FLIGHT < HTTP_THREADS).
// Probes and scrapes (RequestCost::kExempt) are never shed: a saturated replica must still say
// it is alive and show its metrics.
//
// A shed request gets 503 with `Retry-After: 1` and a JSON reason (ShedReply), counted in
// recommendation_load_shed_total{reason}. We answer 503 rather than a degraded popular list: the
// shed answer must cost next to nothing on a thread that is already behind, a load balancer or
// client can retry it on another replica, and the SLO's error rate shows the overload instead of
// hiding it (docs/API.md, runbook alert HighErrorRate).
//
// Every answer's total time (from RequestTiming::arrived to response written) is checked against
// REQUEST_TIMEOUT: a late answer counts in recommendation_timeouts_total{operation="request"} and
// its overrun in recommendation_deadline_overrun_seconds.
//
// Thread-safe: Admit() and RecordAnswer() may be called from every I/O thread.

#include <atomic>
#include <chrono>
#include <string>
#include <string_view>

#include "http/server.h"
#include "observe/metrics.h"

namespace recserve::http {

struct LoadSheddingOptions {
  std::chrono::milliseconds request_timeout{500};  // REQUEST_TIMEOUT
  std::chrono::milliseconds ranking_budget{100};   // RANKING_TIMEOUT, reserved for ranking routes
  int max_in_flight = 0;                           // MAX_IN_FLIGHT; 0 = no bound
};

// InvalidArgument when request_timeout <= 0, ranking_budget >= request_timeout (every ranking
// request would be shed) or max_in_flight < 0.
Status ValidateLoadSheddingOptions(const LoadSheddingOptions& options);

// How a route is admitted.
enum class RequestCost {
  kExempt,   // never shed (/health, /live, /ready, /metrics)
  kLight,    // shed once its wait alone passes the deadline
  kRanking,  // needs the ranking budget; counts against MAX_IN_FLIGHT
};

enum class ShedReason { kNone, kQueueWait, kInFlight };
// "queue_wait", "in_flight" (the `reason` label and the JSON `reason`); "" for kNone.
std::string_view ShedReasonLabel(ShedReason reason);

class LoadShedder {
 public:
  // The outcome of Admit(). Holds an in-flight slot (for kRanking) until destroyed.
  class Admission {
   public:
    Admission(Admission&& other) noexcept;
    Admission& operator=(Admission&&) = delete;
    ~Admission();
    bool admitted() const { return reason_ == ShedReason::kNone; }
    ShedReason reason() const { return reason_; }

   private:
    friend class LoadShedder;
    Admission(LoadShedder* holder, ShedReason reason) : holder_(holder), reason_(reason) {}
    LoadShedder* holder_;  // non-null while an in-flight slot is held
    ShedReason reason_;
  };

  // REQUIRES: ValidateLoadSheddingOptions(options).ok(). `registry` must outlive this object.
  LoadShedder(LoadSheddingOptions options, observe::Registry& registry);
  LoadShedder(const LoadShedder&) = delete;
  LoadShedder& operator=(const LoadShedder&) = delete;

  // Decides whether a request of `cost` that waited `queue_wait` runs now; counts a shed.
  Admission Admit(RequestCost cost, std::chrono::steady_clock::duration queue_wait);

  // The 503 answer for a shed request: `Retry-After: 1`, body
  // {"error":"unavailable","message":…,"reason":"queue_wait"|"in_flight","request_id":…}.
  Reply ShedReply(ShedReason reason, const std::string& request_id,
                  std::string_view endpoint) const;

  // Checks one written answer's total time against REQUEST_TIMEOUT.
  void RecordAnswer(double total_seconds);

  const LoadSheddingOptions& options() const { return options_; }

 private:
  LoadSheddingOptions options_;
  std::atomic<int> ranking_in_flight_{0};
  observe::Family<observe::Counter>& shed_;
  observe::Counter& request_timeouts_;
  observe::Histogram& overrun_;
};

}  // namespace recserve::http
