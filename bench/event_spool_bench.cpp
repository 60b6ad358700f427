// EventSpool::Append throughput: 100-event batches (the shape of a full POST /events body) from
// 1, 4 and 8 threads, each Append returning only after its record is fdatasynced. The spool
// lives beside the benchmark binary (the build directory's filesystem) unless
// EVENT_SPOOL_BENCH_DIR names another place, so the figure is that disk's sync latency divided
// by how many appends share one sync (group commit). items_per_second is events/s.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/event_spool.h"

namespace recserve::store {
namespace {

namespace fs = std::filesystem;

constexpr size_t kBatchEvents = 100;

fs::path BenchDir() {
  if (const char* dir = std::getenv("EVENT_SPOOL_BENCH_DIR")) return dir;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  fs::path base = ec ? fs::current_path() : exe.parent_path();
  return base / fmt::format("event-spool-bench-{}", ::getpid());
}

// One spool for the whole run, removed at exit; a replayer is not needed at these volumes
// (max_bytes is set far above what a run writes).
struct SharedSpool {
  SharedSpool() : dir(BenchDir()) {
    fs::remove_all(dir);
    EventSpoolOptions options;
    options.dir = dir;
    options.max_bytes = 64ull << 30;
    auto opened = EventSpool::Open(options, nullptr);
    if (opened.ok())
      spool = std::move(opened).value();
    else
      error = opened.status().ToString();
  }
  ~SharedSpool() {
    spool.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  fs::path dir;
  std::unique_ptr<EventSpool> spool;
  std::string error;
};

SharedSpool& Shared() {
  static SharedSpool shared;
  return shared;
}

std::vector<LoggedEvent> Batch(int thread) {
  std::vector<LoggedEvent> batch;
  for (size_t i = 0; i < kBatchEvents; ++i) {
    batch.push_back(LoggedEvent{fmt::format("e{}-{}", thread, i),
                                fmt::format("user{}", i * 7919 % 100000),
                                fmt::format("item{}", i * 104729 % 50000), "click", 1764000000,
                                1764000000123, 0x1234abcd5678ef90ull});
  }
  return batch;
}

void BM_EventSpoolAppend100(benchmark::State& state) {
  SharedSpool& shared = Shared();
  if (!shared.spool) {
    state.SkipWithError(shared.error.c_str());
    return;
  }
  const std::vector<LoggedEvent> batch = Batch(state.thread_index());
  for (auto _ : state) {
    Status status = shared.spool->Append(batch);
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kBatchEvents));
}
BENCHMARK(BM_EventSpoolAppend100)->Threads(1)->Threads(4)->Threads(8)->UseRealTime();

}  // namespace
}  // namespace recserve::store

BENCHMARK_MAIN();
