#!/usr/bin/env bash
# The full personalised path under load (figures in docs/PERFORMANCE.md, section "Serving: full
# path"). Steps, each printed with the load average at its start:
#   1. data: `recserve datagen --users 50000 --items 20000 --interactions 2000000 --seed 7`
#      (once; reused from WORKDIR/in);
#   2. bundle: `recserve pipeline` on it (once; reused from WORKDIR/models/current), 200
#      candidates, ranker 300 trees; peak RSS and wall time of the run;
#   3. `recserve serve` on loopback with that bundle and feature store, then
#      wrk -t2 -c32 --latency with random known users (bench/random_users.lua), k=10:
#        a. cache off (RECOMMENDATION_CACHE_SIZE=0): every request is history → recall → rank →
#           filter → JSON;
#        b. cache on, the same random users (hit ratio from /metrics);
#        c. cache on, 500 warmed users (all hits) and, in the same run, nginx serving a static
#           file with the same body size;
#   4. serve's resident memory (VmRSS, VmHWM) after the runs.
# Usage: bench/serving.sh [BUILD_DIR] [WORKDIR] [SECONDS<=60] [extra pipeline flags...]
# BENCH_PERF=1 also records `perf record -g` of serve during the cache-off run (WORKDIR/perf.txt).
# Needs ~1 GB of disk in WORKDIR; the pipeline step takes minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
build_dir=${1:-build}
work=${2:-/tmp/recserve-bench-serving}
duration=${3:-15}
shift $(($# > 3 ? 3 : $#))
if [ "$duration" -gt 60 ]; then duration=60; fi
bin="$build_dir/recserve"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
require_tools wrk curl "$nginx_bin" "$bin"
export OMP_WAIT_POLICY=passive
mkdir -p "$work"
load() { cut -d' ' -f1-3 /proc/loadavg; }

if [ ! -f "$work/in/interactions.csv" ]; then
  echo "serving.sh: datagen (load $(load))"
  "$bin" datagen --users 50000 --items 20000 --interactions 2000000 --seed 7 --output "$work/in"
fi
if [ ! -e "$work/models/current" ]; then
  echo "serving.sh: pipeline (load $(load))"
  /usr/bin/time -v "$bin" pipeline --data "$work/in" --data-root "$work/data" \
    --models-root "$work/models" --mlruns "$work/mlruns" --run-id bench --threads 2 "$@" \
    >"$work/pipeline.log" 2>&1 || { tail -20 "$work/pipeline.log"; exit 1; }
  grep -E "Elapsed|Maximum resident|User time|System time" "$work/pipeline.log"
fi
du -sh "$(readlink -f "$work/models/current")"

# Known users in random order (a fixed seed, so runs are comparable).
if [ ! -f "$work/users.txt" ]; then
  tail -n +2 "$work/in/interactions.csv" | cut -d, -f1 | sort -u |
    shuf --random-source=<(yes 7) >"$work/users.txt"
fi
head -n 500 "$work/users.txt" >"$work/hot_users.txt"
echo "serving.sh: $(wc -l <"$work/users.txt") known users"

serve_pid=""
nginx_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null || true
}
trap cleanup EXIT
wait_ready() {
  for _ in $(seq 1 600); do curl -fs "$1/ready" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "serving.sh: $1 not ready"
  return 1
}
start_serve() {  # cache size
  stop_serve
  port=$(free_port)
  PORT=$port MODEL_DIR="$work/models" FEATURE_STORE_PATH="$work/data/feature_store.db" \
    DATA_QUALITY_REPORT="$work/data/evaluation/data_quality_report_v2.json" \
    RECOMMENDATION_CACHE_SIZE=$1 "$bin" serve --bind 127.0.0.1 >"$work/serve.log" 2>&1 &
  serve_pid=$!
  base="http://127.0.0.1:$port"
  wait_ready "$base"
}
stop_serve() {
  if [ -n "$serve_pid" ]; then
    kill "$serve_pid" 2>/dev/null || true
    wait "$serve_pid" 2>/dev/null || true
    serve_pid=""
  fi
}
run_wrk() {  # name users_file url
  echo "-- $1 (load $(load)): wrk -t2 -c32 -d${duration}s --latency, users from $(basename "$2")"
  BENCH_USERS="$2" wrk -t2 -c32 -d"${duration}s" --latency -s bench/random_users.lua "$3" \
    >"$work/$1.wrk"
  grep -E "Requests/sec|Latency  |50%|90%|99%|Non-2xx|Socket errors" "$work/$1.wrk"
  # wrk's --latency table stops at 99%; the Lua done() hook prints 99.9%.
  grep -E "^p99.9" "$work/$1.wrk" || true
}
memory() {
  grep -E "VmRSS|VmHWM" "/proc/$serve_pid/status" | tr -s ' \t' ' ' | tr '\n' ' '
  echo
}

# The machine's speed now: the host is shared, and the same code serves 20-30% less when a
# 1-thread Eigen GEMM runs at 18 instead of 26 GFLOP/s; print it beside the figures.
if [ -x "$build_dir/bench/bench_gemm" ]; then
  echo "serving.sh: calibration: $("$build_dir/bench/bench_gemm" --benchmark_filter='1024/1/' \
    2>/dev/null | grep -o 'GFLOP/s=[0-9.]*' | head -1) (1-thread float GEMM 1024^2)"
fi
start_serve 0
echo "serving.sh: serve with the bundle, before traffic: $(memory)"
perf_pid=""
if [ "${BENCH_PERF:-0}" = 1 ] && command -v perf >/dev/null; then
  # Call-graph samples of serve during the cache-off run, for the per-stage profile.
  perf record -F 499 -g -p "$serve_pid" -o "$work/perf.data" -- sleep "$duration" \
    >/dev/null 2>&1 &
  perf_pid=$!
fi
run_wrk cache_off "$work/users.txt" "$base"
if [ -n "$perf_pid" ]; then
  wait "$perf_pid" || true
  # Inclusive share of each function (children included), top entries.
  perf report -i "$work/perf.data" --children --stdio -g none --percent-limit 2 --sort symbol \
    2>/dev/null | grep -E "^ +[0-9]" | head -60 >"$work/perf.txt" || true
  echo "serving.sh: perf profile in $work/perf.txt"
fi
echo "serving.sh: serve after the cache-off run: $(memory)"
cache_off_metrics=$(curl -fs "$base/metrics" | grep -E '^recommendation_degraded_total' || true)
echo "degraded: ${cache_off_metrics:-none}"

start_serve 100000
run_wrk cache_on_random "$work/users.txt" "$base"
curl -fs "$base/metrics" | grep -E '^recommendation_cache_requests_total'

# All hits: warm the hot users, then measure; nginx serves a same-sized body in the same run.
while read -r user; do curl -fs "$base/recommendations/$user?k=10" >/dev/null; done \
  <"$work/hot_users.txt"
run_wrk cache_hits "$work/hot_users.txt" "$base"
curl -fs "$base/metrics" | grep -E '^recommendation_cache_requests_total'
echo "serving.sh: serve after the cache runs: $(memory)"
curl -fs -H 'X-Request-ID: bench-fixed-id-0000000000000000' \
  "$base/recommendations/$(head -n1 "$work/hot_users.txt")?k=10" >"$work/body.json"
size=$(stat -c %s "$work/body.json")
stop_serve

nginx_port=$(free_port)
rm -rf "$work/nginx" "$work/www"
mkdir -p "$work/www/recommendations"
# Every hot user's path answers with the same bytes, so nginx sees the same request mix.
while read -r user; do cp "$work/body.json" "$work/www/recommendations/$user"; done \
  <"$work/hot_users.txt"
start_nginx "$nginx_bin" "$work" "$nginx_port"
wait_http "http://127.0.0.1:$nginx_port/recommendations/$(head -n1 "$work/hot_users.txt")"
run_wrk nginx "$work/hot_users.txt" "http://127.0.0.1:$nginx_port"
python3 - "$work/cache_hits.wrk" "$work/nginx.wrk" "$size" <<'PY'
import re, sys
def rps(path):
    return float(re.search(r"Requests/sec:\s+([0-9.]+)", open(path).read()).group(1))
r, n = rps(sys.argv[1]), rps(sys.argv[2])
print(f"cache hits / nginx ({sys.argv[3]}-byte body) = {r:.0f} / {n:.0f} = {r / n:.1%} (target >= 60%)")
PY
