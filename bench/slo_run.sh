#!/usr/bin/env bash
# The runbook's SLO under a steady load (issue 5: 500 requests/s for 5 minutes, >= 99.5% success,
# P95 < 80 ms). Serves the bundle that bench/serving.sh trained (run that first) with the
# recommendation cache off, so every request takes the full path (history -> recall -> rank ->
# JSON), and paces wrk: each of CONNECTIONS connections waits 1000 * CONNECTIONS / RATE ms
# minus the expected latency before each request (bench/random_users.lua, BENCH_DELAY_MS).
# Prints the achieved rate, success ratio, P50/P90/P95/P99/P99.9, the server-side status counts
# and serve's memory at the end.
# Usage: bench/slo_run.sh [BUILD_DIR] [WORKDIR] [SECONDS=300] [RATE=500] [CONNECTIONS=16]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
build_dir=${1:-build}
work=${2:-/tmp/recserve-bench-serving}
duration=${3:-300}
rate=${4:-500}
connections=${5:-16}
bin="$build_dir/recserve"
require_tools wrk curl "$bin"
[ -e "$work/models/current" ] || { echo "slo_run.sh: run bench/serving.sh first"; exit 2; }
export OMP_WAIT_POLICY=passive
port=$(free_port)
PORT=$port MODEL_DIR="$work/models" FEATURE_STORE_PATH="$work/data/feature_store.db" \
  DATA_QUALITY_REPORT="$work/data/evaluation/data_quality_report_v2.json" \
  RECOMMENDATION_CACHE_SIZE=0 "$bin" serve --bind 127.0.0.1 >"$work/slo_serve.log" 2>&1 &
serve_pid=$!
trap 'kill $serve_pid 2>/dev/null || true' EXIT
wait_http "http://127.0.0.1:$port/ready"
# 2 ms of expected latency per request, so the paced rate lands near RATE.
delay=$(python3 -c "print(max(0, round(1000 * $connections / $rate - 2)))")
echo "slo_run.sh: ${duration}s, $connections connections, ${delay} ms between requests per" \
  "connection (target $rate req/s), cache off, load $(cut -d' ' -f1-3 /proc/loadavg)"
BENCH_USERS="$work/users.txt" BENCH_DELAY_MS=$delay wrk -t2 -c"$connections" -d"${duration}s" \
  --latency -s bench/random_users.lua "http://127.0.0.1:$port" >"$work/slo.wrk"
cat "$work/slo.wrk"
python3 - "$work/slo.wrk" "$duration" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
requests = int(re.search(r"(\d+) requests in", text).group(1))
non2xx = int((re.search(r"Non-2xx or 3xx responses: (\d+)", text) or [0, 0])[1])
errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
ok = requests - non2xx
print(f"slo: {requests} requests, {requests / float(sys.argv[2]):.1f} req/s achieved, "
      f"success {ok / requests:.4%} (non-2xx {non2xx}, socket errors {errors}); target >= 99.5%")
PY
echo "server: $(curl -fs "http://127.0.0.1:$port/metrics" | grep -E '^recommendation_requests_total\{endpoint="/recommendations' | tr '\n' ' ')"
echo "server: $(curl -fs "http://127.0.0.1:$port/metrics" | grep -E '^recommendation_degraded_total' | tr '\n' ' ')"
echo "serve memory: $(grep -E 'VmRSS|VmHWM' "/proc/$serve_pid/status" | tr -s ' \t' ' ' | tr '\n' ' ')"
