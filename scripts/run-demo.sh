#!/usr/bin/env bash
# make run: demo data → pipeline (features, training, model bundle) → serve on :8080 with the
# embedded SQLite feature store (no Redis needed). Outputs go where `serve` looks by default:
# data/ (feature store, data-quality report), models/ (bundles, models/current), mlruns/.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-build}/recserve
demo=demo
step() { echo; echo "== make run: $*"; }
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

if [ ! -f "$demo/data/interactions.csv" ]; then
  step "generating a demo data set with 'recserve datagen' into $demo/data"
  "$bin" datagen --output "$demo/data" --users 2000 --items 1000 --interactions 100000 --seed 7
fi

step "running the offline pipeline (scripts/run_pipeline.sh): features, training, model bundle"
RECSERVE_BIN="$bin" scripts/run_pipeline.sh --data "$demo/data" --threads "$(nproc)"

port=${PORT:-8080}
step "starting recserve serve on port $port (Ctrl-C to stop). Try:"
echo "  curl -s localhost:$port/health"
echo "  curl -s 'localhost:$port/recommendations/u1?k=10'"
echo "  curl -s 'localhost:$port/similar/i1?k=5'"
echo "  curl -s 'localhost:$port/hot/trending?timeframe=24h&k=5'"
PORT=$port exec "$bin" serve
