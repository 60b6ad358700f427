// Per-request cost of the two reloadable configuration snapshots: reading the feature flags and
// assigning a user to experiment variants. Both run on every recommendation request.
// Figures: docs/PERFORMANCE.md, section "configuration snapshots".
#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "lifecycle/experiments.h"
#include "resilience/feature_flags.h"

namespace recserve {
namespace {

// The shipped files, read from the source tree (RECSERVE_SOURCE_DIR, default the working dir).
std::filesystem::path ShippedConfig(const char* name) {
  const char* root = std::getenv("RECSERVE_SOURCE_DIR");
  return std::filesystem::path(root != nullptr ? root : ".") / "config" / name;
}

std::vector<std::string> UserIds(size_t n) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back("user" + std::to_string(i));
  return ids;
}

void BM_FeatureFlagsGet(benchmark::State& state) {
  static auto holder = resilience::OpenFeatureFlags(ShippedConfig("feature_flags.yaml"));
  if (!holder.ok()) {
    state.SkipWithError(holder.status().ToString().c_str());
    return;
  }
  for (auto _ : state) {
    resilience::FeatureFlagsHolder::Ptr flags = (*holder)->Get();
    benchmark::DoNotOptimize(flags->ranker && flags->RecallChannelEnabled("ials"));
  }
}
BENCHMARK(BM_FeatureFlagsGet)->Threads(1)->Threads(2);

void BM_AssignmentBucket(benchmark::State& state) {
  const std::vector<std::string> users = UserIds(1024);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(lifecycle::AssignmentBucket("candidates-400-2026-11", users[i]));
    i = (i + 1) & 1023;
  }
}
BENCHMARK(BM_AssignmentBucket);

// What a request does with the shipped experiments file: take the snapshot, merge the user's
// parameters and build the reported variant label.
void BM_ExperimentsPerRequest(benchmark::State& state) {
  static auto holder = lifecycle::OpenExperiments(ShippedConfig("experiments.yaml"));
  if (!holder.ok()) {
    state.SkipWithError(holder.status().ToString().c_str());
    return;
  }
  const std::vector<std::string> users = UserIds(1024);
  size_t i = 0;
  for (auto _ : state) {
    lifecycle::ExperimentsHolder::Ptr experiments = (*holder)->Get();
    benchmark::DoNotOptimize(experiments->ParametersFor(users[i]));
    benchmark::DoNotOptimize(lifecycle::ReportedVariant(experiments->Assign(users[i])));
    i = (i + 1) & 1023;
  }
}
BENCHMARK(BM_ExperimentsPerRequest)->Threads(1)->Threads(2);

void BM_FeatureFlagsReload(benchmark::State& state) {
  static auto holder = resilience::OpenFeatureFlags(ShippedConfig("feature_flags.yaml"));
  if (!holder.ok()) {
    state.SkipWithError(holder.status().ToString().c_str());
    return;
  }
  for (auto _ : state) benchmark::DoNotOptimize((*holder)->Reload().ok());
}
BENCHMARK(BM_FeatureFlagsReload);

}  // namespace
}  // namespace recserve

BENCHMARK_MAIN();
