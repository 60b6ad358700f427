#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for a while (docs/FUZZING.md).
# Usage: scripts/run-fuzz.sh FUZZ_BUILD_DIR SECONDS_PER_TARGET [TARGET...]
#   TARGET is a name such as http_request (default: every fuzz/<name>_fuzzer.cpp).
# Each target starts from its handwritten seeds in fuzz/corpus/<name>/ (read only) plus the
# inputs it grows in a working corpus: a temporary directory removed afterwards, or
# $FUZZ_WORK_DIR/<name>/ when FUZZ_WORK_DIR is set (kept, so a long campaign can resume).
# A crash, a hang past -timeout, a sanitizer report or a violated contract fails the run; the
# input is kept as $FUZZ_BUILD_DIR/fuzz-artifacts/<name>-crash-* and its path printed.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${1:?usage: run-fuzz.sh FUZZ_BUILD_DIR SECONDS [TARGET...]}
seconds=${2:?usage: run-fuzz.sh FUZZ_BUILD_DIR SECONDS [TARGET...]}
shift 2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/*_fuzzer.cpp; do
    name=$(basename "$f" _fuzzer.cpp)
    targets+=("$name")
  done
fi

# A single input that takes longer than this is a hang (the slowest seed runs in milliseconds).
timeout_seconds=${FUZZ_TIMEOUT:-10}
artifacts="$build_dir/fuzz-artifacts"
mkdir -p "$artifacts"
scratch=$(mktemp -d /tmp/recserve-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT

failed=0
for name in "${targets[@]}"; do
  bin="$build_dir/fuzz/fuzz_$name"
  [ -x "$bin" ] || { echo "run-fuzz: $bin missing (make build-fuzz)"; exit 1; }
  work="${FUZZ_WORK_DIR:-$scratch}/$name"
  mkdir -p "$work"
  dict_args=()
  [ -f "fuzz/$name.dict" ] && dict_args=("-dict=fuzz/$name.dict")
  # fuzz/<name>.options: extra libFuzzer flags on one line (a later flag wins over the defaults).
  extra_args=()
  [ -f "fuzz/$name.options" ] && read -ra extra_args <"fuzz/$name.options"
  log="$scratch/$name.log"
  status=0
  "$bin" -max_total_time="$seconds" -timeout="$timeout_seconds" -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
    "${dict_args[@]}" "${extra_args[@]}" "$work" "fuzz/corpus/$name" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -1 || true)
  if [ "$status" -ne 0 ]; then
    failed=1
    echo "run-fuzz: $name FAILED (exit $status); last lines of its log:"
    tail -40 "$log"
    ls -1 "$artifacts/$name-"* 2>/dev/null | sed 's/^/run-fuzz: input kept: /'
  else
    echo "run-fuzz: $name ok: ${runs:-?} runs in ${seconds}s (${speed:-?}/s), ${cov:-no stats}"
  fi
done
exit $failed
