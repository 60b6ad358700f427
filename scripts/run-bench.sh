#!/usr/bin/env bash
# Runs every Google Benchmark binary in BUILD_DIR/bench and the shell-level benchmarks in
# bench/*.sh. Results are printed; docs/PERFORMANCE.md records the figures with their setup.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
export OMP_WAIT_POLICY=passive
shopt -s nullglob
for b in "$build_dir"/bench/bench_*; do
  echo "== $b"
  "$b" --benchmark_min_time=0.5
done
echo "Shell benchmarks (bench/*.sh) are run by hand: each documents its arguments."
