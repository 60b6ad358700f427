#!/usr/bin/env bash
# Runs the whole suite: sanitizer unit tests, then every test of the Release build (unit,
# integration, drills) with a real redis-server on a free loopback port, stopped afterwards.
# Usage: scripts/run-tests.sh BUILD_DIR ASAN_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
asan_dir=${2:-build-asan}
root=$(pwd)

# The shared data sets (../shared/data, read-only, never copied into the repo) sit beside the
# checkout; a clone made elsewhere (git clone . /tmp/fresh) finds them beside the checkout it was
# cloned from. RECSERVE_SHARED_DATA overrides both.
shared_data_dir() {
  local origin
  if [ -d "$root/../shared/data" ]; then
    echo "$root/../shared/data"
    return
  fi
  origin=$(git -C "$root" config --get remote.origin.url 2>/dev/null || true)
  if [ -n "$origin" ] && [ -d "$origin/../shared/data" ]; then
    echo "$origin/../shared/data"
    return
  fi
  echo "$root/../shared/data"  # missing: the tests that need it fail and name this path
}
export RECSERVE_SHARED_DATA=${RECSERVE_SHARED_DATA:-$(shared_data_dir)}
echo "run-tests: shared data from $RECSERVE_SHARED_DATA"
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
