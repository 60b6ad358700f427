// Seconds per iALS iteration (64 factors, exact Cholesky solves) on a synthetic power-law
// matrix, and the GFLOP/s achieved, to compare with bench_gemm's peak (docs/PERFORMANCE.md).
// The matrix: 100k users × 20k items, ~2M interactions; user activity and item popularity both
// Zipf-like, generated with a fixed seed so runs are comparable.
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <unordered_set>

#include "models/recall_channels.h"

namespace {

using recserve::models::IalsChannel;
using recserve::models::IalsParams;
using recserve::models::InteractionMatrix;

const InteractionMatrix& PowerLawMatrix() {
  static const InteractionMatrix matrix = [] {
    const uint32_t users = 100000, items = 20000;
    std::mt19937_64 rng(1);
    // Item popularity ∝ 1/(rank+10)^0.9, sampled by inverse CDF over cumulative weights.
    std::vector<double> cumulative(items);
    double total = 0;
    for (uint32_t i = 0; i < items; ++i) {
      total += 1.0 / std::pow(i + 10.0, 0.9);
      cumulative[i] = total;
    }
    std::uniform_real_distribution<double> uniform(0.0, total);
    std::vector<uint32_t> us, is;
    std::vector<int64_t> ts;
    std::unordered_set<uint32_t> seen;
    for (uint32_t u = 0; u < users; ++u) {
      // Activity: Pareto-like, mean about 20, at least 3.
      double x = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      uint32_t n = std::min<uint32_t>(
          2000, 3 + static_cast<uint32_t>(10.0 / std::pow(1 - x, 0.6) - 10.0 + 8.0));
      seen.clear();
      for (uint32_t k = 0; k < n; ++k) {
        uint32_t item = static_cast<uint32_t>(
            std::lower_bound(cumulative.begin(), cumulative.end(), uniform(rng)) -
            cumulative.begin());
        if (item >= items || !seen.insert(item).second) continue;
        us.push_back(u);
        is.push_back(item);
        ts.push_back(k);
      }
    }
    return InteractionMatrix::Build(users, items, us, is, ts);
  }();
  return matrix;
}

void BM_IalsIteration(benchmark::State& state) {
  const InteractionMatrix& m = PowerLawMatrix();
  IalsParams p;
  p.factors = 64;
  p.iterations = 1;
  p.threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    IalsChannel channel = IalsChannel::Train(m, p);
    benchmark::DoNotOptimize(channel.item_factors().data());
  }
  const double flops = recserve::models::IalsFlopsPerIteration(m, p.factors);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["nnz"] = static_cast<double>(m.nnz());
  state.counters["threads"] = static_cast<double>(p.threads);
}

BENCHMARK(BM_IalsIteration)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kSecond)
    ->MeasureProcessCPUTime()
    ->Iterations(3);

}  // namespace

BENCHMARK_MAIN();
