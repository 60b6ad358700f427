#!/usr/bin/env bash
# Fails when any C++ file under src/, tests/, bench/ or fuzz/ (tracked or new) differs from
# clang-format. With --fix, reformats them in place instead.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files 'src/*.h' 'src/*.cpp' 'tests/*.h' 'tests/*.cpp' 'bench/*.cpp' \
  'bench/*.h' 'fuzz/*.cpp' 'fuzz/*.h' 2>/dev/null; git ls-files --others --exclude-standard 'src/*.h' \
  'src/*.cpp' 'tests/*.h' 'tests/*.cpp' 'bench/*.cpp' 'bench/*.h' 'fuzz/*.cpp' 'fuzz/*.h' 2>/dev/null)
if [ ${#files[@]} -eq 0 ]; then echo "format-check: no files"; exit 0; fi
if [ "${1:-}" = "--fix" ]; then clang-format -i "${files[@]}"; echo "format: ${#files[@]} files"; exit 0; fi
bad=0
for f in "${files[@]}"; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
    echo "format-check: $f is not clang-formatted (run 'make format')"
    bad=1
  fi
done
[ $bad -eq 0 ] && echo "format-check: ${#files[@]} files clean"
exit $bad
