// Seconds per iALS iteration (64 factors; exact Cholesky solves, Arg cg_steps = 0, or the
// default 3 conjugate-gradient steps) on a synthetic power-law matrix, and the GFLOP/s achieved
// (FLOPs as IalsFlopsPerIteration counts them for that solver), to compare with bench_gemm's peak
// (docs/PERFORMANCE.md). Benchmark arguments: threads, cg_steps.
// The matrix: 100k users × 20k items, ~2M interactions; user activity and item popularity both
// Zipf-like, generated with a fixed seed so runs are comparable.
//
// BM_IalsDatagen runs the configuration on a real file when RECSERVE_BENCH_IALS_DATA names
// a directory with interactions.csv (e.g. the 20M-row `recserve datagen --seed 7` set of
// bench/datagen.sh): every row is a positive (earliest per pair), 64 factors, and
// RECSERVE_BENCH_IALS_ITERATIONS sweeps (default 15) in one training, threads 1 and 2. It reports
// s/iteration (process CPU time and wall time per sweep, setup included) and GFLOP/s. Skipped when
// the variable is unset.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <random>
#include <unordered_set>

#include "models/flop_model.h"
#include "models/ials_channel.h"
#include "pipeline/evaluation.h"

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

// Arguments of both benches: threads 1 and 2, each with exact solves and with 3 CG steps.
void ThreadsBySolver(benchmark::internal::Benchmark* b) {
  b->ArgNames({"threads", "cg_steps"});
  for (int64_t cg_steps : {0, 3}) {
    for (int64_t threads : {1, 2}) b->Args({threads, cg_steps});
  }
}

void BM_IalsIteration(benchmark::State& state) {
  const InteractionMatrix& m = PowerLawMatrix();
  IalsParams p;
  p.factors = 64;
  p.iterations = 1;
  p.threads = static_cast<int>(state.range(0));
  p.cg_steps = static_cast<uint32_t>(state.range(1));
  for (auto _ : state) {
    IalsChannel channel = IalsChannel::Train(m, p);
    benchmark::DoNotOptimize(channel.item_factors().data());
  }
  const double flops = recserve::models::IalsFlopsPerIteration(m, p.factors, p.cg_steps);
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["nnz"] = static_cast<double>(m.nnz());
  state.counters["threads"] = static_cast<double>(p.threads);
  state.counters["cg_steps"] = p.cg_steps;
}

BENCHMARK(BM_IalsIteration)
    ->Apply(ThreadsBySolver)
    ->Unit(benchmark::kSecond)
    ->MeasureProcessCPUTime()
    ->Iterations(3);

// The datagen set as an interaction matrix (loaded once), or nullopt when not configured.
const std::optional<InteractionMatrix>& DatagenMatrix() {
  static const std::optional<InteractionMatrix> matrix = []() -> std::optional<InteractionMatrix> {
    const char* dir = std::getenv("RECSERVE_BENCH_IALS_DATA");
    if (dir == nullptr || *dir == 0) return std::nullopt;
    namespace pl = recserve::pipeline;
    auto set = pl::LoadPositives(std::filesystem::path(dir) / "interactions.csv", std::nullopt);
    if (!set.ok()) {
      std::fprintf(stderr, "RECSERVE_BENCH_IALS_DATA: %s\n", set.status().ToString().c_str());
      return std::nullopt;
    }
    pl::IndexSpace space = pl::SortedIndexSpace(*set, set->rows);
    return std::move(pl::BuildFold(*set, space, set->rows, {}).train);
  }();
  return matrix;
}

void BM_IalsDatagen(benchmark::State& state) {
  const auto& m = DatagenMatrix();
  if (!m) {
    state.SkipWithError("RECSERVE_BENCH_IALS_DATA is not set (see the file comment)");
    return;
  }
  const char* iterations = std::getenv("RECSERVE_BENCH_IALS_ITERATIONS");
  IalsParams p;
  p.factors = 64;
  p.iterations = iterations ? static_cast<uint32_t>(std::max(1, std::atoi(iterations))) : 15;
  p.threads = static_cast<int>(state.range(0));
  p.cg_steps = static_cast<uint32_t>(state.range(1));
  double wall = 0;
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    IalsChannel channel = IalsChannel::Train(*m, p);
    benchmark::DoNotOptimize(channel.item_factors().data());
    wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  const double flops =
      recserve::models::IalsFlopsPerIteration(*m, p.factors, p.cg_steps) * p.iterations;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["wall_s/iteration"] =
      wall / static_cast<double>(state.iterations()) / p.iterations;
  state.counters["sweeps"] = p.iterations;
  state.counters["nnz"] = static_cast<double>(m->nnz());
  state.counters["users"] = m->num_users;
  state.counters["items"] = m->num_items;
  state.counters["threads"] = static_cast<double>(p.threads);
  state.counters["cg_steps"] = p.cg_steps;
}

BENCHMARK(BM_IalsDatagen)
    ->Apply(ThreadsBySolver)
    ->Unit(benchmark::kSecond)
    ->MeasureProcessCPUTime()
    ->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
