#pragma once
// The exposure log: one JSON line per recommendation list shown to a user (request_id, user,
// items with scores, model version, variant, degraded reason, timestamp), appended to a file by a
// background thread. Requests only enqueue into a bounded queue; when it is full the record is
// dropped and counted (recommendation_exposure_log_dropped_total), so a slow disk never slows a
// request. The writer takes the queue in batches: when kWakeBatch records wait, or kLinger after
// the last batch, so a record reaches the file within about kLinger.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/status.h"
#include "core/thread_annotations.h"
#include "observe/metrics.h"

namespace recserve::observe {

struct ExposureRecord {
  std::string request_id;
  std::string user_id;
  std::string endpoint;  // route template, e.g. /recommendations/{user_id}
  std::vector<std::pair<std::string, double>> items;  // item id, score, in shown order
  std::string model_version;                          // empty when no model was loaded
  std::string variant;
  std::string degraded_reason;  // empty when not degraded
  double timestamp = 0;         // unix seconds
};

// Serialises one record as a single JSON line (without the trailing newline).
std::string ExposureRecordToJson(const ExposureRecord& record);

// Thread-safe. Open() starts the writer thread; the destructor (or Close()) writes what is still
// queued, then stops it.
class ExposureLog {
 public:
  static constexpr size_t kDefaultQueueCapacity = 10000;
  static constexpr size_t kWakeBatch = 256;
  static constexpr std::chrono::milliseconds kLinger{50};

  // `dropped` counts records lost to a full queue or a write error; must outlive this object.
  ExposureLog(Counter& dropped, size_t queue_capacity = kDefaultQueueCapacity);
  ~ExposureLog();
  ExposureLog(const ExposureLog&) = delete;
  ExposureLog& operator=(const ExposureLog&) = delete;

  // Opens `path` for appending (parent directories are created). InvalidArgument/NotFound naming
  // the path when it cannot be opened.
  Status Open(const std::filesystem::path& path);

  // Never blocks on I/O: enqueues, or drops and counts when the queue is full or the log is not
  // open. Returns false when the record was dropped.
  bool Append(ExposureRecord record);

  // Writes everything queued so far and flushes the file; blocks until done. For tests/shutdown.
  void Flush();
  void Close();

 private:
  void Run();

  Counter& dropped_;
  const size_t capacity_;
  core::Mutex mu_;
  std::condition_variable_any wake_;     // waits on mu_
  std::condition_variable_any drained_;  // waits on mu_
  std::deque<ExposureRecord> queue_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  bool writing_ GUARDED_BY(mu_) = false;
  bool flush_requested_ GUARDED_BY(mu_) = false;
  std::ofstream out_;
  std::thread writer_;
};

}  // namespace recserve::observe
