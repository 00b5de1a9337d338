#!/usr/bin/env bash
# Times whole mpheap processes on MicroPython's WebAssembly port (tests/data/wasm-pyscript):
# the image scan of micropython.wasm alone (`mpheap target --firmware`), the target found with a
# whole 17 MB linear-memory dump (`--ram`), and `mpheap heap` on that dump (decode, graph,
# dominators, summary). Prints each run (wall seconds, peak RSS KiB, user+system seconds) and
# the medians.
#   bench/run_wasm_bench.sh [MPHEAP] [--runs N]
#   Environment: WASM_DUMP, a whole-memory dump (.bin or .bin.gz; default the shared fixture's
#   out64k/snap3.ram.bin.gz beside the repository), inflated once into bench-data/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
mpheap=$repo/build/release/bin/mpheap
runs=5
while [[ $# -gt 0 ]]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    *) mpheap=$1; shift ;;
  esac
done
module=$repo/tests/data/wasm-pyscript/micropython.wasm
src=${WASM_DUMP:-$repo/../shared/fixtures/wasm-pyscript/out64k/snap3.ram.bin.gz}
if [[ ! -f $src ]]; then
  echo "run_wasm_bench.sh: no dump at $src (set WASM_DUMP to a whole linear-memory dump)" >&2
  exit 1
fi
if [[ ! -x /usr/bin/time ]]; then
  echo "run_wasm_bench.sh: needs GNU time (/usr/bin/time) for the peak RSS of each run" >&2
  exit 1
fi
mkdir -p "$repo/bench-data"
dump=$src
if [[ $src == *.gz ]]; then
  dump=$repo/bench-data/$(basename "$src" .gz)
  [[ -f $dump ]] || gzip -dc "$src" >"$dump"
fi
echo "module: $module ($(stat -c %s "$module") bytes); dump: $dump ($(stat -c %s "$dump") bytes)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench() {
  local key=$1
  shift
  for i in $(seq "$runs"); do
    /usr/bin/time -o "$tmp/time" -f '%e %M %U %S' "$@" >/dev/null 2>&1
    read -r e m u s <"$tmp/time"
    echo "$key run $i: ${e} s, ${m} KiB peak, cpu $(echo "$u + $s" | bc) s"
    echo "$e" >>"$tmp/$key.e"
    echo "$m" >>"$tmp/$key.m"
    echo "$u + $s" | bc >>"$tmp/$key.c"
  done
}

bench image "$mpheap" target --firmware "$module"
bench target "$mpheap" target --firmware "$module" --ram "$dump@0x0"
bench heap "$mpheap" heap "$dump@0x0" --firmware "$module"
echo "medians of $runs runs (GNU time: 10 ms resolution)"
for key in image target heap; do
  echo "  $key: $(median <"$tmp/$key.e") s wall, $(median <"$tmp/$key.c") s cpu, $(median <"$tmp/$key.m") KiB peak RSS"
done
