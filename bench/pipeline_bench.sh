#!/usr/bin/env bash
# Pipeline benchmark: ingest + data quality + features + training (every channel, the ranker on a
# seeded sample of validation users, the held-out evaluation) + SQLite publish + model bundle on a
# large synthetic file, then the Redis sync into a private local redis-server. Prints the step and
# training-stage lines, wall/CPU time, peak RSS and sync records/s; figures go to
# docs/PERFORMANCE.md ("pipeline", "training").
#   bench/pipeline_bench.sh [ROWS=20000000] [USERS=1000000] [ITEMS=200000] [WORKDIR=/tmp/...]
#   THREADS (default 2) is passed to --threads; PIPELINE_FLAGS adds flags (e.g. --skip-training).
# Data comes from `recserve datagen --seed 7` (kept in WORKDIR/in and reused when present).
# Prints the load average and CPU time too: the machine is shared, so wall time alone misleads.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-20000000}
users=${2:-1000000}
items=${3:-200000}
work=${4:-$(mktemp -d /tmp/recserve-pipeline-bench.XXXXXX)}
bin=${RECSERVE_BIN:-build/recserve}
# As scripts/run_pipeline.sh: without it XGBoost's OpenMP threads spin, so the ranker trains on
# one thread (src/models/ranker.cpp).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
mkdir -p "$work/in"

if [ ! -s "$work/in/interactions.csv" ]; then
  echo "generating $rows rows ($users users, $items items) into $work/in with recserve datagen"
  "$bin" datagen --interactions "$rows" --users "$users" --items "$items" --seed 7 \
    --output "$work/in"
fi
ls -la "$work/in/interactions.csv"

echo "== pipeline (ingest + quality + features + train + publish + model); load average: $(cut -d" " -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086  # PIPELINE_FLAGS is a list of flags
/usr/bin/time -v "$bin" pipeline --data "$work/in" --data-root "$work/out" \
  --models-root "$work/models" --mlruns "$work/mlruns" --threads "${THREADS:-2}" \
  --run-id "bench$(date +%s)" ${PIPELINE_FLAGS:-} 2> "$work/pipeline.err" | tee "$work/pipeline.out"
echo "load average after the pipeline: $(cut -d" " -f1-3 /proc/loadavg)"
grep -E "step=|training:|Maximum resident|Elapsed \(wall|User time|System time|Percent of CPU" "$work/pipeline.err" | sed 's/^[^ ]* //'

echo "== redis sync; load average: $(cut -d" " -f1-3 /proc/loadavg)"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --loglevel warning > "$work/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
/usr/bin/time -v "$bin" sync --data-root "$work/out" --redis-url "redis://127.0.0.1:$port" \
  2> "$work/sync.err"
grep -E "step=|sync|Maximum resident|Elapsed \(wall|User time|System time|Percent of CPU" "$work/sync.err" | sed 's/^[^ ]* //'
echo "redis keys: $(redis-cli -p "$port" dbsize)  used_memory: $(redis-cli -p "$port" info memory | grep '^used_memory_human' | tr -d '\r')"
echo "workdir: $work (delete when done)"
