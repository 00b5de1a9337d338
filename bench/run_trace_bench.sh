#!/usr/bin/env bash
# Builds the release preset (if needed), generates bench-data/big_log.txt (>= MIN_MB MB, default
# 520) by repeating the real log tests/data/unix-x64/gc_log_backtrace.txt with make_big_log, runs
# trace_bench on it once, then times whole `mpheap trace LOG -q` processes RUNS times without and
# with --history, printing each run and the medians (wall, MB/s of log, CPU time, peak RSS).
#
#   bench/run_trace_bench.sh [--min-mb N] [--regenerate] [--runs N] [--history PATH]
#                            [--input LOG] [--compare OLD_MPHEAP]
#
# --input uses another real log as the body; --compare also times another mpheap build (e.g. a
# copy of an older one), alternating with this one run by run so both see the same load.
# Environment: JOBS (parallel compile jobs, default 2).
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd -- "$script_dir/.." && pwd)
cd "$repo"

min_mb=520
regenerate=0
runs=5
history=bench-data/allocation_history.json
fixture=tests/data/unix-x64/gc_log_backtrace.txt
compare=
while [[ $# -gt 0 ]]; do
  case "$1" in
    --min-mb) min_mb=$2; shift 2 ;;
    --regenerate) regenerate=1; shift ;;
    --runs) runs=$2; shift 2 ;;
    --history) history=$2; shift 2 ;;
    --input) fixture=$2; shift 2 ;;
    --compare) compare=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "run_trace_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

if [[ ! -x /usr/bin/time ]]; then
  echo "run_trace_bench.sh: needs GNU time (/usr/bin/time) for the peak RSS of each run" >&2
  exit 1
fi

build=build/release
if [[ ! -f $build/build.ninja ]]; then
  cmake --preset release
fi
cmake --build --preset release --parallel "${JOBS:-2}" --target make_big_log trace_bench mpheap

if [[ ! -f $fixture && $fixture == tests/data/* ]]; then
  fixture=../shared/fixtures/${fixture#tests/data/}
fi
if [[ ! -f $fixture ]]; then
  echo "run_trace_bench.sh: no input log $fixture" >&2
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
bytes=$(stat -c %s "$log")

echo
"$build/bench/trace_bench" "$log" --history /dev/null

# One whole process: prints "WALL KIB CPU" (wall seconds, peak RSS, user + system seconds, as GNU
# time measures them). CPU time moves less than wall time when other work shares the cores.
run_once() {
  /usr/bin/time -o "$tmp/time" -f '%e %M %U %S' "$@" >/dev/null
  tail -n 1 "$tmp/time" | awk '{ printf "%s %s %.2f\n", $1, $2, $3 + $4 }'
}

rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0) ? b / s / 1e6 : 0 }'; }
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
binaries=("$build/bin/mpheap")
[[ -n $compare ]] && binaries+=("$compare")

echo
printf 'whole process, %s (%s bytes), %s runs each\n' "$log" "$bytes" "$runs"
for ((r = 1; r <= runs; r++)); do
  for b in "${binaries[@]}"; do
    key=$(echo "$b" | tr '/' '_')
    read -r s k c < <(run_once "$b" trace "$log" -q)
    echo "$s" >> "$tmp/$key.plain.s"; echo "$k" >> "$tmp/$key.plain.k"; echo "$c" >> "$tmp/$key.plain.c"
    read -r s2 k2 c2 < <(run_once "$b" trace "$log" -q --history "$history")
    echo "$s2" >> "$tmp/$key.hist.s"; echo "$k2" >> "$tmp/$key.hist.k"; echo "$c2" >> "$tmp/$key.hist.c"
    printf '  run %d  %-28s  trace -q %5.2f s %5s MB/s cpu %4.2f s %5s MiB | --history %5.2f s %5s MB/s cpu %4.2f s %5s MiB\n' \
      "$r" "$b" "$s" "$(rate "$bytes" "$s")" "$c" "$(mib "$k")" "$s2" "$(rate "$bytes" "$s2")" "$c2" "$(mib "$k2")"
  done
done
echo
echo "medians (MB = 10^6 bytes of log per second of wall time; GNU time has 10 ms resolution)"
for b in "${binaries[@]}"; do
  key=$(echo "$b" | tr '/' '_')
  for mode in plain hist; do
    s=$(median < "$tmp/$key.$mode.s")
    k=$(median < "$tmp/$key.$mode.k")
    c=$(median < "$tmp/$key.$mode.c")
    label=$([[ $mode == plain ]] && echo "trace -q" || echo "trace -q --history FILE")
    printf '  %-28s %-24s %5.2f s  %5s MB/s  cpu %4.2f s  peak RSS %5s MiB\n' "$b" "$label" "$s" \
      "$(rate "$bytes" "$s")" "$c" "$(mib "$k")"
  done
done
if [[ -f $history ]]; then
  echo "history: $(stat -c %s "$history") bytes in $history"
fi
