#!/usr/bin/env bash
# Measures `recserve datagen` at benchmark scale with /usr/bin/time -v: wall time, CPU time and
# peak RSS (figures go to docs/PERFORMANCE.md, section "datagen").
#   bench/datagen.sh [BUILD_DIR] [OUTPUT_DIR] [extra datagen flags...]
# Defaults: build/, /tmp/dg20m; 20M interactions, 1M users, 200k items. Needs ~700 MB of disk.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:-build}
out=${2:-/tmp/dg20m}
shift $(( $# > 2 ? 2 : $# ))
/usr/bin/time -v "$build_dir/recserve" datagen --interactions 20000000 --users 1000000 \
  --items 200000 --output "$out" "$@" 2>&1 |
  grep -E "^datagen: (wrote|bad rows)|Elapsed|Maximum resident|User time|System time"
ls -l "$out"
