#!/usr/bin/env bash
# Runs the whole suite: sanitizer unit tests, then every test of the Release build (unit,
# integration, drills) with a real redis-server on a free loopback port, stopped afterwards.
# Usage: scripts/run-tests.sh BUILD_DIR ASAN_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
asan_dir=${2:-build-asan}
root=$(pwd)

export RECSERVE_SHARED_DATA=${RECSERVE_SHARED_DATA:-$root/../shared/data}
# XGBoost/OpenMP threads spin on 2-core machines unless told to wait passively.
export OMP_WAIT_POLICY=passive

workdir=$(mktemp -d /tmp/recserve-test.XXXXXX)
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; fi
  rm -rf "$workdir"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$workdir" \
  --daemonize no --loglevel warning >"$workdir/redis.log" 2>&1 &
redis_pid=$!
for _ in $(seq 1 50); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$port" ping >/dev/null || { echo "run-tests: redis-server did not start"; cat "$workdir/redis.log"; exit 1; }
export REDIS_TEST_URL="redis://127.0.0.1:$port"
echo "run-tests: redis-server on 127.0.0.1:$port"

echo "run-tests: unit tests under AddressSanitizer + UndefinedBehaviorSanitizer"
ASAN_OPTIONS=detect_leaks=1 ctest --test-dir "$asan_dir" -L unit --output-on-failure -j 2

echo "run-tests: all tests (Release build)"
ctest --test-dir "$build_dir" --output-on-failure -j 2
