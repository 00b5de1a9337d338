#!/usr/bin/env bash
# Makes bench-data/heap8m.seq: one snapshot of an 8 MiB MicroPython heap that
# bench/heap8m_workload.py fills (about 3/4 live, some garbage), taken with
# `mpheap capture snapshots` from the stock 1.28 unix binary running under gdbserver.
#
#   bench/make_heap8m.sh [MPHEAP] [OUT]
#     MPHEAP  the mpheap executable (default build/release/bin/mpheap)
#     OUT     the snapshot sequence written (default bench-data/heap8m.seq)
#   Environment: MICROPYTHON (default ../shared/fixtures/stock-v1.28/unix-x64/micropython beside
#   the repository), HEAP8M_PORT (gdbserver's port, default 23480), HEAP8M_LIVE (percent of
#   the heap the workload keeps live, default 74).
#
# How: gdbserver runs the program with ASLR off, so the PIE loads at 0x555555554000 and the
# heap's malloc lands at the same address in every run. glibc would mmap an 8 MiB block far
# from .data/.bss; GLIBC_TUNABLES raises the mmap threshold so it comes from the brk heap right
# after .bss, and one --ram range holds .data, .bss (mp_state_ctx, the roots) and the whole
# MicroPython heap. A dry run (setarch -R, the same environment) reads the range's end from
# /proc/PID/maps; then the real run stops at the workload's hash() call (mp_builtin_hash) and
# mpheap takes the snapshot there. Then check it:
#   MPHEAP heap bench-data/heap8m.seq --elf MICROPYTHON --load-bias 0x555555554000
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
mpheap=${1:-$repo/build/release/bin/mpheap}
out=${2:-$repo/bench-data/heap8m.seq}
mp=${MICROPYTHON:-}
if [[ -z $mp ]]; then
  c="$repo/../shared/fixtures/stock-v1.28/unix-x64/micropython"
  [[ -x $c ]] && mp=$c
fi
port=${HEAP8M_PORT:-23480}
workload=$here/heap8m_workload.py
tunables=glibc.malloc.mmap_threshold=16777216
base=0x555555554000 # where a PIE loads with ASLR off (x86-64)

# Waits up to 10 s for TEXT to appear in FILE.
wait_for() {
  for _ in $(seq 100); do
    grep -q "$1" "$2" && return 0
    sleep 0.1
  done
  return 1
}

die() {
  echo "make_heap8m: $*" >&2
  exit 1
}
[[ -x $mpheap ]] || die "no mpheap at $mpheap (build it first, or pass its path)"
[[ -n $mp && -x $mp ]] || die "no MicroPython unix binary (set MICROPYTHON)"
for tool in gdbserver setarch nm; do
  command -v $tool > /dev/null || die "$tool is not installed"
done
mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d)
server=
cleanup() {
  [[ -n $server ]] && kill "$server" 2> /dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# Where the program's writable segment starts and the snapshot point, from its symbols.
sym() { nm "$mp" | awk -v s="$1" '$3 == s && !f { print $1; f = 1 }'; }
hash_at=$(sym mp_builtin_hash)
[[ -n $hash_at ]] || die "no mp_builtin_hash symbol in $mp"
hash_at=$(printf '0x%x' $((base + 0x$hash_at)))

# Dry run: the same program, arguments and allocator settings with ASLR off, paused after the
# snapshot point; the mappings from the writable segment to the end of [heap].
HEAP8M_PAUSE=1 GLIBC_TUNABLES=$tunables setarch "$(uname -m)" -R \
  "$mp" -X heapsize=8M "$workload" > "$tmp/dry.txt" 2>&1 &
dry=$!
wait_for "heap8m workload" "$tmp/dry.txt" || die "the dry run did not finish: $(cat "$tmp/dry.txt")"
cp "/proc/$dry/maps" "$tmp/maps"
kill "$dry"
wait "$dry" 2> /dev/null || true
# From the page of the binary's writable LOAD segment (.data, .bss) to the end of [heap]; every
# page in between must be mapped (the brk heap follows .bss directly with ASLR off).
rw=$(readelf -lW "$mp" | awk '$1 == "LOAD" && $7 ~ /RW/ && !f { print $3; f = 1 }')
[[ -n $rw ]] || die "no writable LOAD segment in $mp"
start=$(((base + rw) & ~0xfff))
end=0
covered=$start
while read -r range _; do
  lo=$((0x${range%-*}))
  hi=$((0x${range#*-}))
  ((hi <= start)) && continue
  ((lo > covered)) && break
  covered=$hi
done < "$tmp/maps"
heap_line=$(grep ' \[heap\]$' "$tmp/maps" || true)
[[ -n $heap_line ]] || die "no [heap] mapping in the dry run's maps"
end=$((0x$(echo "$heap_line" | cut -d' ' -f1 | cut -d- -f2)))
((covered >= end)) || die "0x$(printf %x $start)..0x$(printf %x $end) is not all mapped: $(cat "$tmp/maps")"
start=$(printf %x $start)
heap_end=$(printf %x $end)
echo "make_heap8m: RAM 0x$start..0x$heap_end ($(((0x$heap_end - 0x$start) / 1024)) KiB), snapshot at mp_builtin_hash $hash_at"

# The real run under gdbserver.
GLIBC_TUNABLES=$tunables gdbserver "127.0.0.1:$port" "$mp" -X heapsize=8M "$workload" \
  > "$tmp/server.txt" 2>&1 &
server=$!
wait_for "Listening on port" "$tmp/server.txt" ||
  die "gdbserver did not start: $(cat "$tmp/server.txt")"
rm -f "$out"
"$mpheap" capture snapshots --remote "127.0.0.1:$port" --ram "0x$start:0x$heap_end" \
  --on "$hash_at" --breakpoint-kind 1 --count 1 --timeout 20000 -o "$out"
for _ in $(seq 100); do
  kill -0 "$server" 2> /dev/null || break
  sleep 0.1
done
grep "heap8m workload" "$tmp/server.txt" || true
echo "make_heap8m: wrote $out ($(stat -c %s "$out") bytes); check it with:"
echo "  $mpheap heap $out --elf $mp --load-bias $base"
