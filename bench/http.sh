#!/usr/bin/env bash
# Serving throughput: wrk against `recserve serve` GET /popular?k=10 and, in the same run, against
# nginx serving a static file with the same bytes on another free loopback port. Prints requests/s
# and latency percentiles of both and the ratio (target in docs/PERFORMANCE.md: >= 60% of nginx).
# Usage: bench/http.sh [BUILD_DIR] [DURATION_SECONDS<=20]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
build_dir=${1:-build}
duration=${2:-10}
if [ "$duration" -gt 20 ]; then duration=20; fi
bin="$build_dir/recserve"
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
require_tools wrk curl "$nginx_bin" "$bin"

work=$(mktemp -d /tmp/recserve-bench-http.XXXXXX)
serve_pid=""
nginx_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null && wait "$serve_pid" 2>/dev/null || true
  [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null && wait "$nginx_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

serve_port=$(free_port)
PORT=$serve_port "$bin" serve --bind 127.0.0.1 >"$work/serve.log" 2>&1 &
serve_pid=$!
wait_http "http://127.0.0.1:$serve_port/live"

# 100 items with distinct counts so /popular?k=10 returns a full, stable list.
python3 - "$serve_port" <<'PY'
import json, sys, urllib.request
events = [{"user_id": f"bench-u{j}", "item_id": f"item-{i}", "event_type": "view"}
          for i in range(100) for j in range(i % 17 + 1)]
req = urllib.request.Request(f"http://127.0.0.1:{sys.argv[1]}/events",
                             data=json.dumps(events[:1000]).encode(),
                             headers={"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY

url_serve="http://127.0.0.1:$serve_port/popular?k=10"
curl -fs -H 'X-Request-ID: bench-fixed-id-0000000000000000' "$url_serve" >"$work/popular.json"
size=$(stat -c %s "$work/popular.json")

nginx_port=$(free_port)
mkdir -p "$work/www"
cp "$work/popular.json" "$work/www/popular.json"
start_nginx "$nginx_bin" "$work" "$nginx_port"
url_nginx="http://127.0.0.1:$nginx_port/popular.json"
wait_http "$url_nginx"

run_wrk() {  # name url
  wrk -t2 -c32 -d"${duration}s" --latency "$2" >"$work/$1.wrk"
  local rps p50 p90 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$work/$1.wrk")
  p50=$(awk '$1=="50%" {print $2}' "$work/$1.wrk")
  p90=$(awk '$1=="90%" {print $2}' "$work/$1.wrk")
  p99=$(awk '$1=="99%" {print $2}' "$work/$1.wrk")
  local errors
  errors=$(grep -E "Non-2xx|Socket errors" "$work/$1.wrk" | tr '\n' ' ' || true)
  printf '%-8s %10s req/s  p50 %-9s p90 %-9s p99 %-9s %s\n' "$1" "$rps" "$p50" "$p90" "$p99" \
    "$errors"
  echo "$rps" >"$work/$1.rps"
}

echo "http.sh: wrk -t2 -c32 -d${duration}s, response body $size bytes, $(nproc) cores"
run_wrk recserve "$url_serve"
run_wrk nginx "$url_nginx"
python3 - "$(cat "$work/recserve.rps")" "$(cat "$work/nginx.rps")" <<'PY'
import sys
r, n = float(sys.argv[1]), float(sys.argv[2])
print(f"recserve / nginx = {r / n:.1%} (target >= 60%)")
PY
