#pragma once
// Wall-clock time as Unix epoch numbers, for timestamps written to files (MLflow runs, reports,
// manifests). Durations and deadlines use std::chrono::steady_clock instead (resilience/).

#include <chrono>
#include <cstdint>

namespace recserve {

inline int64_t UnixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace recserve
