// Eigen single-precision GEMM throughput per CPU-second (process CPU time, so a loaded shared
// machine does not distort it): the practical floating-point peak, against
// which the iALS benchmark's GFLOP/s is judged (docs/PERFORMANCE.md, "models").
#include <benchmark/benchmark.h>

#include <Eigen/Dense>

namespace {

void BM_EigenSgemm(benchmark::State& state) {
  const Eigen::Index n = state.range(0);
  Eigen::setNbThreads(static_cast<int>(state.range(1)));
  Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf b = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf c(n, n);
  for (auto _ : state) {
    c.noalias() = a * b;
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  const double flops = 2.0 * static_cast<double>(n) * n * n;
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["threads"] = static_cast<double>(state.range(1));
}

BENCHMARK(BM_EigenSgemm)
    ->Args({1024, 1})
    ->Args({1024, 2})
    ->Args({2048, 1})
    ->Args({2048, 2})
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime();

}  // namespace

BENCHMARK_MAIN();
