#!/usr/bin/env bash
# Quick start, step 1: install what is missing, build mpheap (release), and run the main job,
# `mpheap trace`, on the bundled sample log (MicroPython 1.28 unix port, captured with gdb).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release
echo
echo "\$ build/release/bin/mpheap trace examples/unix-x64-gc_log_pup.txt"
build/release/bin/mpheap trace examples/unix-x64-gc_log_pup.txt
