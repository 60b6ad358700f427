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
# API events (docs/OPERATIONS_SOP.md, "The feedback loop"): with STATE_REDIS_URL (else
# REDIS_URL) set, `recserve events-export` first writes the events logged since the last export
# to <data root>/events/events-<UTC stamp>.csv (an export with no new event leaves no file);
# files older than EVENTS_RETENTION_DAYS (30; 0 keeps all) are deleted before it, and the
# pipeline reads every file left there (`--events <data root>/events`) whenever it exists.
# A failed export is a warning: the run trains on the files already there, and the events stay
# in the log (checkpoint not advanced) for the next run.
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
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) extra+=("$1"); shift ;;
  esac
done

# The data root the pipeline writes to (its --data-root, default data): exported events go under it.
data_root=data
for ((i = 0; i < ${#extra[@]}; i++)); do
  case "${extra[$i]}" in
    --data-root) data_root=${extra[$((i + 1))]:-data} ;;
    --data-root=*) data_root=${extra[$i]#--data-root=} ;;
  esac
done
events_dir=$data_root/events
events_url=${STATE_REDIS_URL:-${REDIS_URL:-}}
retention_days=${EVENTS_RETENTION_DAYS:-30}
case "$retention_days" in
  ''|*[!0-9]*) echo "run_pipeline: EVENTS_RETENTION_DAYS must be a whole number of days" >&2; exit 2 ;;
esac

export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
if [ $sync_only -eq 1 ]; then
  steps=("$bin sync ${extra[*]}")
else
  steps=("$bin pipeline --data $data_dir --events $events_dir ${extra[*]}")
fi

if [ $dry_run -eq 1 ]; then
  echo "run_pipeline: dry run; would run:"
  if [ $sync_only -eq 1 ]; then
    echo "  1. redis_sync: ${steps[0]}"
  else
    if [ -n "$events_url" ]; then
      echo "  0. events_export (keeps $events_dir/events-*.csv for $retention_days days; 0 = forever):"
      echo "     $bin events-export --out $events_dir/events-<UTC stamp>.csv"
    fi
    echo "  1. ingest (+ API events in $events_dir when it exists) + validation/quarantine,"
    echo "  2. data-quality report, 3. features, 4. train,"
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

if [ -n "$events_url" ]; then
  mkdir -p "$events_dir"
  if [ "$retention_days" -gt 0 ]; then
    find "$events_dir" -maxdepth 1 -type f -name 'events-*.csv' -mtime +"$retention_days" -delete
  fi
  stamp=$(date -u +%Y%m%dT%H%M%SZ)
  out=$events_dir/events-$stamp.csv
  n=1
  while [ -e "$out" ]; do out=$events_dir/events-$stamp-$n.csv; n=$((n + 1)); done
  if "$bin" events-export --out "$out"; then
    # Header only: nothing new; no empty file is kept.
    if [ "$(wc -l <"$out")" -le 1 ]; then rm -f "$out"; fi
  else
    echo "run_pipeline: WARNING: events-export failed; training without this run's new events" \
      "(they stay in the event log for the next export)" >&2
  fi
fi
events_args=()
if [ -d "$events_dir" ]; then events_args=(--events "$events_dir"); fi
exec "$bin" pipeline --data "$data_dir" "${events_args[@]}" "${extra[@]}"
