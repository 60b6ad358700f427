#pragma once
// SharedExposureLists: the last list each variant showed each user, kept in Redis for the whole
// fleet, so an interaction reported to any replica credits the list any replica served (the
// shadow hit ratio must not shrink with the number of replicas; engine/variant_lists.h).
//
//   recserve:lists:{<user id>}   hash: variant -> "<credited 0|1>\n<item>\n<item>..." (item ids
//                                never hold control characters), expiring `ttl` after the last
//                                list was recorded
//
// Record() queues the write (HSET + PEXPIRE) for a background writer: the request path never
// waits on Redis; past `queue_capacity` queued writes a list is dropped and counted. Credit()
// runs one script for a batch of interactions: for each, every variant whose list holds the item
// and is not credited yet is marked credited (atomically on the server, so two replicas never
// credit one list twice) and reported.
//
// Thread-safe: Record from request threads, Credit from POST /events threads; the writer thread
// is joined by the destructor.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "observe/metrics.h"
#include "store/redis_client.h"

namespace recserve::store {

struct SharedExposureListsOptions {
  RedisEndpoint endpoint;
  std::chrono::milliseconds timeout{250};
  std::chrono::milliseconds ttl{3600 * 1000};  // EXPOSURE_LISTS_TTL
  size_t queue_capacity = 10'000;
};

class SharedExposureLists {
 public:
  SharedExposureLists(SharedExposureListsOptions options, observe::Registry& registry);
  ~SharedExposureLists();
  SharedExposureLists(const SharedExposureLists&) = delete;
  SharedExposureLists& operator=(const SharedExposureLists&) = delete;

  // Queues `items` as the last list `variant` showed `user_id` (not yet credited).
  void Record(std::string_view user_id, std::string_view variant,
              const std::vector<std::string>& items);

  // For each (user, item) interaction, the variants whose list it credits now. Unavailable (or
  // DeadlineExceeded) when Redis does not answer, and for a second after that without trying:
  // the caller credits its local lists instead.
  Result<std::vector<std::vector<std::string>>> Credit(
      const std::vector<std::pair<std::string, std::string>>& interactions);

  // Blocks until every list queued before the call was written or dropped (tests).
  void Flush();

 private:
  struct Write {
    std::string key;
    std::string variant;
    std::string value;
  };
  void WriterLoop();
  // Writes a batch on the writer's own connection; false when Redis did not take it.
  bool WriteBatch(const std::vector<Write>& batch);

  const SharedExposureListsOptions options_;
  observe::Family<observe::Counter>& writes_;  // recommendation_exposure_lists_writes_total

  core::Mutex queue_mu_;
  std::condition_variable_any queue_cv_;  // waits on queue_mu_
  std::deque<Write> queue_ GUARDED_BY(queue_mu_);
  uint64_t enqueued_ GUARDED_BY(queue_mu_) = 0;
  uint64_t done_ GUARDED_BY(queue_mu_) = 0;  // written or dropped by the writer
  bool stopping_ GUARDED_BY(queue_mu_) = false;
  std::unique_ptr<RedisClient> writer_client_;  // writer thread only

  core::Mutex credit_mu_;
  std::unique_ptr<RedisClient> credit_client_ GUARDED_BY(credit_mu_);
  // After a failed call, Credit fails at once until then (no connect timeout per POST /events
  // while Redis is down).
  std::chrono::steady_clock::time_point credit_retry_at_ GUARDED_BY(credit_mu_);

  std::thread writer_;
};

// "recserve:lists:{<user id>}".
std::string ExposureListsKey(std::string_view user_id);

}  // namespace recserve::store
