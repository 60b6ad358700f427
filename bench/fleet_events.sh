#!/usr/bin/env bash
# Durable event ingest through a local fleet (docs/PERFORMANCE.md, "Durable event ingest (issue
# 15)"): brings a fleet up with scripts/fleet.sh, then wrk posts batches of 100 events (unique
# event ids, bench/fleet_events.lua) for DURATION seconds, -t2 -c16, either to ONE replica
# (`replica`, replica 0 directly, Redis up: events go to the shared log), through the balancer
# (`balancer`, haproxy round robin), or to replica 0 with the fleet's Redis killed first (`spool`:
# every batch goes to the replica's fsync'd spool; Redis is restarted afterwards and the time the
# spool takes to replay into the log is printed).
# Prints events/s and latency p50/p99; stops the fleet afterwards. Not part of `make test`.
# Usage: bench/fleet_events.sh [replica|balancer|spool] [DURATION_SECONDS=20] [REPLICAS=3]
# Env: BUILD_DIR (build), FLEET_WORKDIR (a temporary directory, removed), FLEET_DATA_ROOT and
# FLEET_MODEL_DIR (default: the project's data/ and models/; when models/current is missing a
# small ML-100K bundle is trained into the workdir), BENCH_THREADS (2), BENCH_CONNECTIONS (16).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=bench/lib.sh
source bench/lib.sh
mode=${1:-replica}
duration=${2:-20}
replicas=${3:-3}
case "$mode" in replica|balancer|spool) ;; *) echo "usage: $0 [replica|balancer|spool] [SECONDS] [REPLICAS]"; exit 2 ;; esac
build_dir=${BUILD_DIR:-build}
export RECSERVE_BIN=${RECSERVE_BIN:-$(pwd)/$build_dir/recserve}
require_tools wrk curl python3 redis-server "$RECSERVE_BIN"
command -v haproxy >/dev/null || require_tools /usr/sbin/haproxy
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

own_workdir=0
if [ -z "${FLEET_WORKDIR:-}" ]; then
  FLEET_WORKDIR=$(mktemp -d /tmp/recserve-bench-fleet.XXXXXX)
  own_workdir=1
fi
workdir=$FLEET_WORKDIR
cleanup() {
  [ -d "$workdir/fleet" ] && scripts/fleet.sh down --workdir "$workdir/fleet" || true
  if [ $own_workdir -eq 1 ]; then rm -rf "$workdir"; fi
}
trap cleanup EXIT

data_root=${FLEET_DATA_ROOT:-data}
model_dir=${FLEET_MODEL_DIR:-models}
if [ ! -e "$model_dir/current" ]; then
  shared=${RECSERVE_SHARED_DATA:-../shared/data}
  echo "fleet_events: no $model_dir/current; training a small ML-100K bundle into $workdir/bundle"
  "$RECSERVE_BIN" pipeline --data "$shared/ml-100k" --data-root "$workdir/bundle/data" \
    --models-root "$workdir/bundle/models" --mlruns "$workdir/bundle/mlruns" --run-id bench \
    --factors 8 --iterations 2 --trees 10 --depth 3 --neighbours 20 --candidates 50 \
    --threads 1 >"$workdir/pipeline.log" 2>&1
  data_root=$workdir/bundle/data
  model_dir=$workdir/bundle/models
fi

# The fleet's replicas refuse no event batch: no rate limit, deadlines wide enough for 2 cores.
export EVENTS_RATE_LIMIT=0 REQUEST_TIMEOUT=${REQUEST_TIMEOUT:-5} HTTP_THREADS=${HTTP_THREADS:-2}
port=$(free_port)
scripts/fleet.sh up --replicas "$replicas" --port "$port" --workdir "$workdir/fleet" \
  --data-root "$data_root" --model-dir "$model_dir" >"$workdir/fleet.json"
if [ "$mode" = balancer ]; then
  url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["balancer"])' "$workdir/fleet.json")
else
  url=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["replicas"][0]["url"])' "$workdir/fleet.json")
fi

if [ "$mode" = spool ]; then
  scripts/fleet.sh kill-redis --workdir "$workdir/fleet"
  # The first batch after the kill finds the connection broken and goes to the spool; so do all
  # later ones (queued behind it) until the replay empties the spool.
  curl -s -o /dev/null -X POST -H 'Content-Type: application/json' "$url/events" \
    -d '[{"user_id":"1","item_id":"1","event_type":"view"}]'
fi

threads=${BENCH_THREADS:-2}
connections=${BENCH_CONNECTIONS:-16}
echo "fleet_events: $mode $url, $replicas replica(s), wrk -t$threads -c$connections -d${duration}s," \
  "batches of 100 events, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
BENCH_RUN="$(date +%s%N)" wrk -t"$threads" -c"$connections" -d"${duration}s" --latency \
  -s bench/fleet_events.lua "$url" >"$workdir/wrk.out"
grep -E "^(requests|events/s|p50|p99) |Non-2xx|Socket errors" "$workdir/wrk.out"
if [ "$mode" = spool ]; then
  python3 -c 'import json,sys,urllib.request; print("spool mode: recorded_in", json.load(urllib.request.urlopen(sys.argv[1] + "/health"))["events"])' "$url"
  scripts/fleet.sh restart-redis --workdir "$workdir/fleet" >/dev/null
  python3 - "$url" <<'PY'
import json, sys, time, urllib.request
url = sys.argv[1]
start = time.monotonic()
first = None
while time.monotonic() - start < 600:
    spooled = json.load(urllib.request.urlopen(url + "/health", timeout=10))["events"]["spooled"]
    first = spooled if first is None else first
    if spooled == 0:
        break
    time.sleep(0.2)
print(f"spool replay: {first} spooled events replayed into the log in "
      f"{time.monotonic() - start:.1f}s after Redis returned (spooled now {spooled})")
PY
fi
