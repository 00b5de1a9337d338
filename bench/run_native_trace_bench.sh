#!/usr/bin/env bash
# The native tracer against gdb, whole processes, in one run (bench/README.md has the figures):
#   1. the hooked test program (tests/capture/programs/hooked_heap.c "bench N": 20 + 2N hook
#      calls) under gdbserver: `mpheap capture trace` native, then the same with --engine gdb;
#   2. the stock MicroPython 1.28 unix build running the fixture's workload under gdbserver,
#      traced without the hook (native only: gdb cannot trace a build without the hook), and the
#      same run in hook mode with gc_alloc standing in for the hook (the hook mode's cost per
#      event at MicroPython's stack depth, for the ratio of the two modes);
#   3. the stock 1.28 micro:bit ELF in QEMU from reset, the workload run over the raw REPL by
#      `mpheap capture repl --run`: native without the hook, and as gdb's figure for the same
#      stops, gdb-multiarch breaking on gc_alloc/gc_free/gc_realloc with a backtrace at each.
# Each line: events, wall seconds, events/s, round trips and packets per event (native), and
# the tracer's peak RSS (GNU time).
#
#   bench/run_native_trace_bench.sh [--events N] [--no-qemu]
set -euo pipefail

script_dir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd -- "$script_dir/.." && pwd)
cd "$repo"

pairs=5000
qemu=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --events) pairs=$2; shift 2 ;;
    --no-qemu) qemu=0; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "run_native_trace_bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for tool in gdbserver gdb /usr/bin/time gcc; do
  command -v "$tool" > /dev/null || { echo "run_native_trace_bench.sh: needs $tool" >&2; exit 1; }
done
mpheap=$repo/build/release/bin/mpheap
[[ -x $mpheap ]] || cmake --build --preset release -j"${JOBS:-2}" --target mpheap_cli
work=$(mktemp -d /tmp/mpheap-native-bench.XXXXXX)
trap 'pkill -P $$ 2>/dev/null || true; rm -rf "$work"' EXIT

# A port nothing listens on (random, checked).
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 30000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }

# One line from a capture's stderr: events, seconds, events/s, round trips and packets per event.
report() {
  local name=$1 err=$2 rss
  rss=$(sed -n 's/^MAXRSS //p' "$err")
  local events secs rt pk
  events=$(sed -n 's/.* \([0-9]*\) events logged to .*/\1/p' "$err" | tail -1)
  secs=$(sed -n 's/^WALL //p' "$err")
  rt=$(sed -n 's/.*per event \([0-9.]*\) round trips, \([0-9.]*\) packets.*/\1/p' "$err")
  pk=$(sed -n 's/.*per event \([0-9.]*\) round trips, \([0-9.]*\) packets.*/\2/p' "$err")
  printf '%-44s %7s events %7.2f s %8.0f events/s  %5s rt/event %5s packets/event  %6.1f MiB\n' \
    "$name" "${events:-?}" "$secs" "$(echo "${events:-0} / $secs" | bc -l)" "${rt:--}" "${pk:--}" \
    "$(echo "${rss:-0} / 1024" | bc -l)"
}
timed() {  # timed ERRFILE CMD...: runs CMD, appends WALL and MAXRSS lines to ERRFILE
  local err=$1; shift
  /usr/bin/time -f 'WALL %e\nMAXRSS %M' -a -o "$err" "$@" 2>> "$err" > /dev/null
}

gcc -g -O0 -o "$work/hooked" tests/capture/programs/hooked_heap.c
echo "hooked_heap.c bench $pairs under gdbserver ($((20 + 2 * pairs)) hook calls):"
for engine in native gdb; do
  port=$(free_port)
  gdbserver "127.0.0.1:$port" "$work/hooked" bench "$pairs" > "$work/gs.txt" 2>&1 &
  wait_port "$port"; sleep 0.1
  : > "$work/$engine.err"
  timed "$work/$engine.err" "$mpheap" capture trace --engine "$engine" --elf "$work/hooked" \
    --remote "127.0.0.1:$port" --no-until -o "$work/$engine.txt"
  wait || true
  report "  mpheap capture trace --engine $engine" "$work/$engine.err"
done

elf=tests/data/stock-v1.28/unix-x64/micropython
# The Python frames' cost: their count and the reads they needed past the stack window.
python_cost() {
  sed -n 's/^  Python frames: \([0-9]*\) (\([0-9.]*\) per event).* \([0-9]*\) reads for them over the link (\([0-9.]*\) per event)/    Python frames: \1 (\2 per event), reads over the link for them: \3 (\4 per event)/p' "$1"
}

echo "stock MicroPython 1.28 unix, workload.py, no hook, under gdbserver:"
for python in with without; do
  port=$(free_port)
  gdbserver "127.0.0.1:$port" "$elf" -X heapsize=64K tests/data/stock-v1.28/workload.py > "$work/gs.txt" 2>&1 &
  wait_port "$port"; sleep 0.1
  : > "$work/stock.err"
  flag=(); [[ $python == without ]] && flag=(--no-python-frames)
  timed "$work/stock.err" "$mpheap" capture trace --elf "$elf" --remote "127.0.0.1:$port" \
    "${flag[@]}" -o "$work/stock.txt"
  wait || true
  report "  mpheap capture trace ($python Python frames)" "$work/stock.err"
  python_cost "$work/stock.err"
done
# Hook mode on the same firmware, for the ratio: one stop per event with the full stack and two
# arguments read, at gc_alloc's first statement (--hook gc_alloc: the events are only allocations,
# their values gc_alloc's arguments; what matters here is the cost per stop at this stack depth).
port=$(free_port)
gdbserver "127.0.0.1:$port" "$elf" -X heapsize=64K tests/data/stock-v1.28/workload.py > "$work/gs.txt" 2>&1 &
wait_port "$port"; sleep 0.1
: > "$work/proxy.err"
timed "$work/proxy.err" "$mpheap" capture trace --elf "$elf" --hook gc_alloc --no-until \
  --remote "127.0.0.1:$port" -o "$work/proxy.txt"
wait || true
report "  mpheap capture trace --hook gc_alloc (proxy)" "$work/proxy.err"

if [[ $qemu == 1 ]] && command -v qemu-system-arm > /dev/null; then
  elf=tests/data/stock-v1.28/qemu-microbit/firmware.elf
  echo "stock MicroPython 1.28 micro:bit in QEMU, from reset, workload.py over the raw REPL:"
  for engine in native native-no-python gdb; do
    gport=$(free_port); uport=$(free_port)
    qemu-system-arm -M microbit -global nrf51-soc.flash-size=1048576 \
      -global nrf51-soc.sram-size=262144 -kernel "$elf" -semihosting -display none \
      -monitor none -S -gdb "tcp:127.0.0.1:$gport" \
      -chardev "socket,id=uart,host=127.0.0.1,port=$uport,server=on,wait=off" \
      -serial chardev:uart > "$work/qemu.txt" 2>&1 &
    qpid=$!
    wait_port "$uport"
    : > "$work/q$engine.err"
    if [[ $engine == native* ]]; then
      flag=(); [[ $engine == native-no-python ]] && flag=(--no-python-frames)
      /usr/bin/time -f 'MAXRSS %M' -a -o "$work/q$engine.err" \
        "$mpheap" capture trace --elf "$elf" --remote "127.0.0.1:$gport" --no-until \
        "${flag[@]}" -o "$work/qemu.txt.log" 2>> "$work/q$engine.err" &
    else
      cat > "$work/q.gdb" <<EOF
set pagination off
set confirm off
file $elf
target remote 127.0.0.1:$gport
break gc_alloc
break gc_free
break gc_realloc
commands 1-3
bt
continue
end
continue
EOF
      gdb-multiarch -nx -batch -x "$work/q.gdb" > "$work/qemu.gdb.log" 2>> "$work/q$engine.err" &
    fi
    tracer=$!
    start=$(date +%s.%N)
    "$mpheap" capture repl --connect "tcp:127.0.0.1:$uport" \
      --run tests/data/stock-v1.28/workload.py -o "$work/q.seq" > /dev/null 2>> "$work/repl.err" || true
    end=$(date +%s.%N)
    if [[ $engine == native* ]]; then
      pkill -INT -P "$tracer" 2>/dev/null || true  # mpheap, under GNU time
    else
      kill -INT "$tracer" 2>/dev/null || true
    fi
    wait "$tracer" 2>/dev/null || true
    kill "$qpid" 2>/dev/null || true
    wait "$qpid" 2>/dev/null || true
    if [[ $engine == native* ]]; then
      sed -n 's/.*events logged to .*(\([0-9.]*\) s,.*/WALL \1/p' "$work/q$engine.err" >> "$work/q$engine.err"
      report "  mpheap capture trace ($engine)" "$work/q$engine.err"
      python_cost "$work/q$engine.err"
    else
      stops=$(grep -c '^Breakpoint [123], ' "$work/qemu.gdb.log" || true)
      printf '%-44s %7s stops  %7.2f s %8.0f stops/s (boot + workload, wall of the REPL run)\n' \
        "  gdb-multiarch break + bt (gc_alloc/free/realloc)" "$stops" \
        "$(echo "$end - $start" | bc -l)" "$(echo "$stops / ($end - $start)" | bc -l)"
    fi
  done
fi
