#pragma once
// Process metrics read from /proc at scrape time: process_cpu_seconds_total,
// process_resident_memory_bytes, process_virtual_memory_bytes, process_open_fds,
// process_max_fds, process_start_time_seconds (docs/METRICS.md).

#include "observe/metrics.h"

namespace recserve::observe {

// Registers the process metrics in `registry` and a collector that refreshes them before each
// exposition. Call once per registry. On a system without /proc the values stay 0.
void RegisterProcessMetrics(Registry& registry);

}  // namespace recserve::observe
