#pragma once
// Progress of a pipeline run's steps. On a terminal (stderr is a TTY) each running step redraws
// one line with rows, rows/s and ETA; otherwise each finished step logs one structured line
// ("step=ingest rows=... seconds=... rows_per_second=..."). Summary() renders the table printed
// at the end of a run. Not thread-safe: one run, one thread.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace recserve::pipeline {

class StepProgress {
 public:
  // `interactive`: draw progress lines (true when stderr is a terminal).
  explicit StepProgress(bool interactive) : interactive_(interactive) {}

  // Starts a step. `total_bytes` (0 = unknown) lets Update() estimate the remaining time from
  // the share done. "Bytes" is any unit of work the step counts consistently: file bytes for
  // ingest (compressed bytes for gzip input), records for publish.
  void Begin(std::string step, uint64_t total_bytes = 0);
  // Sets the current step's total when it is known only after Begin() (0 = unknown).
  void SetTotal(uint64_t total_bytes) { total_bytes_ = total_bytes; }
  // Reports work done so far in the current step; redraws at most 4 times a second.
  void Update(uint64_t rows, uint64_t bytes = 0);
  // Ends the current step with its final row count and a note for the summary ("ok", "failed").
  void End(uint64_t rows, std::string note = "ok");

  // Text table: step, rows, seconds, rows/s, note.
  std::string Summary() const;

 private:
  struct Record {
    std::string step;
    uint64_t rows = 0;
    double seconds = 0;
    std::string note;
  };
  using Clock = std::chrono::steady_clock;
  bool interactive_;
  std::string step_;
  uint64_t total_bytes_ = 0;
  Clock::time_point started_;
  Clock::time_point last_draw_;
  std::vector<Record> records_;
};

}  // namespace recserve::pipeline
