#!/usr/bin/env bash
# The offline pipeline as the runbook runs it (docs/OPERATIONS_SOP.md).
#   scripts/run_pipeline.sh [--data DIR] [--dry-run] [--sync-only] [extra recserve flags]
# With no flag: every step (`recserve pipeline`: ingest, data quality, features, training,
# publish features, publish + deploy the model bundle and its MLflow run, and the Redis sync when
# FEATURE_REDIS_URL is set).
# --sync-only: skips ETL and training; pushes the latest published feature snapshot into the
#   Redis feature store (`recserve sync`; needs FEATURE_REDIS_URL or --redis-url URL).
# --dry-run: prints the commands it would run and exits 0.
# --data defaults to $RECSERVE_DATA_DIR, else data/raw. Extra flags go to recserve unchanged
# (e.g. --data-root, --run-id, --max-reject-ratio, --skip-training, --tune, --threads).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${RECSERVE_BIN:-build/recserve}
data_dir=${RECSERVE_DATA_DIR:-data/raw}
dry_run=0
sync_only=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data_dir=${2:?--data needs a directory}; shift 2 ;;
    --data=*) data_dir=${1#--data=}; shift ;;
    --dry-run) dry_run=1; shift ;;
    --sync-only) sync_only=1; shift ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done

export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
if [ $sync_only -eq 1 ]; then
  steps=("$bin sync ${extra[*]}")
else
  steps=("$bin pipeline --data $data_dir ${extra[*]}")
fi

if [ $dry_run -eq 1 ]; then
  echo "run_pipeline: dry run; would run:"
  if [ $sync_only -eq 1 ]; then
    echo "  1. redis_sync: ${steps[0]}"
  else
    echo "  1. ingest + validation/quarantine, 2. data-quality report, 3. features, 4. train,"
    echo "  5. publish (SQLite feature store, report, metrics), 6. model bundle + MLflow run +"
    echo "  models/current${FEATURE_REDIS_URL:+, 7. redis_sync}:"
    echo "     ${steps[0]}"
  fi
  exit 0
fi

if [ ! -x "$bin" ]; then
  echo "run_pipeline: $bin not found; run 'make build' first" >&2
  exit 1
fi
if [ $sync_only -eq 1 ]; then
  exec "$bin" sync "${extra[@]}"
fi
exec "$bin" pipeline --data "$data_dir" "${extra[@]}"
