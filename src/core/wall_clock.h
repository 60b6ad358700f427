#pragma once
// "Now" on the wall clock, the one home of system_clock::now() in the tree: Unix epoch numbers for
// timestamps written to files and responses (MLflow runs, reports, manifests, run ids, event
// times, trending windows). Durations and deadlines use std::chrono::steady_clock instead
// (resilience/), which a clock step cannot move.
//
// Thread-safety: every function is safe to call from any thread.

#include <chrono>
#include <cstdint>

namespace recserve {

// Whole seconds since 1970-01-01T00:00:00Z (truncated).
inline int64_t UnixSecondsNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Milliseconds since 1970-01-01T00:00:00Z (truncated): MLflow's start_time/end_time unit.
inline int64_t UnixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Seconds since 1970-01-01T00:00:00Z with the sub-second part, for records that keep it.
inline double UnixSecondsNowFractional() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace recserve
