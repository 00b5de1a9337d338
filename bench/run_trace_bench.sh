#!/usr/bin/env bash
# Builds the release preset (if needed), generates bench-data/big_log.txt (>= MIN_MB MB, default
# 520) from the fixture log with make_big_log, and runs trace_bench on it.
#
#   bench/run_trace_bench.sh [--min-mb N] [--regenerate] [--history PATH]
#
# Environment: JOBS (parallel compile jobs, default 2).
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd -- "$script_dir/.." && pwd)
cd "$repo"

min_mb=520
regenerate=0
history=/dev/null
while [[ $# -gt 0 ]]; do
  case "$1" in
    --min-mb) min_mb=$2; shift 2 ;;
    --regenerate) regenerate=1; shift ;;
    --history) history=$2; shift 2 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    *) echo "run_trace_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

build=build/release
if [[ ! -f $build/build.ninja ]]; then
  cmake --preset release
fi
cmake --build --preset release --parallel "${JOBS:-2}" --target make_big_log trace_bench

fixture=tests/data/unix-x64/gc_log_backtrace.txt
if [[ ! -f $fixture ]]; then
  fixture=../shared/fixtures/unix-x64/gc_log_backtrace.txt
fi
if [[ ! -f $fixture ]]; then
  echo "run_trace_bench.sh: no fixture log (tests/data/unix-x64/gc_log_backtrace.txt)" >&2
  exit 1
fi

mkdir -p bench-data
log=bench-data/big_log.txt
stamp=bench-data/big_log.params
params="$fixture $min_mb $(stat -c %s "$fixture")"
if [[ $regenerate == 1 || ! -f $log || ! -f $stamp || $(cat "$stamp") != "$params" ]]; then
  "$build/bench/make_big_log" "$fixture" "$log" --min-mb "$min_mb"
  echo "$params" > "$stamp"
fi

echo
"$build/bench/trace_bench" "$log" --history "$history"
