#!/usr/bin/env bash
# Pipeline benchmark: ingest + data quality + features + SQLite publish on a large synthetic file,
# then the Redis sync into a private local redis-server. Prints rows/s, peak RSS and sync
# records/s; figures go to docs/PERFORMANCE.md ("pipeline").
#   bench/pipeline_bench.sh [ROWS=20000000] [USERS=1000000] [ITEMS=200000] [WORKDIR=/tmp/...]
# The generator (awk, seeded) writes interactions.csv with skewed item popularity and 1% bad
# rows; it stands in for `recserve datagen` until that lands.
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-20000000}
users=${2:-1000000}
items=${3:-200000}
work=${4:-$(mktemp -d /tmp/recserve-pipeline-bench.XXXXXX)}
bin=${RECSERVE_BIN:-build/recserve}
mkdir -p "$work/in"

if [ ! -s "$work/in/interactions.csv" ]; then
  echo "generating $rows rows ($users users, $items items) into $work/in"
  now=$(date +%s)
  awk -v rows="$rows" -v users="$users" -v items="$items" -v now="$now" 'BEGIN {
    srand(42)
    print "user_id,item_id,timestamp,weight,event_type"
    split("view click purchase rating", ev, " ")
    for (i = 0; i < rows; i++) {
      if (i % 100 == 99) { print "bad,row," i; continue }
      u = int(users * rand()); it = int(items * (rand() ^ 3))
      printf "u%d,i%d,%d,%d,%s\n", u, it, now - int(90 * 86400 * rand()), 1 + int(5 * rand()), ev[1 + int(4 * rand())]
    }
  }' > "$work/in/interactions.csv"
fi
ls -la "$work/in/interactions.csv"

echo "== pipeline (ingest + quality + features + publish)"
/usr/bin/time -v "$bin" pipeline --data "$work/in" --data-root "$work/out" \
  --run-id "bench$(date +%s)" 2> "$work/pipeline.err" | tee "$work/pipeline.out"
grep -E "step=|Maximum resident|Elapsed \(wall" "$work/pipeline.err" | sed 's/^[^ ]* //'

echo "== redis sync"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --loglevel warning > "$work/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
/usr/bin/time -v "$bin" sync --data-root "$work/out" --redis-url "redis://127.0.0.1:$port" \
  2> "$work/sync.err"
grep -E "step=|Maximum resident|Elapsed \(wall" "$work/sync.err" | sed 's/^[^ ]* //'
echo "redis keys: $(redis-cli -p "$port" dbsize)  used_memory: $(redis-cli -p "$port" info memory | grep '^used_memory_human' | tr -d '\r')"
echo "workdir: $work (delete when done)"
