#!/usr/bin/env bash
# Quick start, step 2 (and CI): the whole test suite.
#  1. release build + all tests
#     then the HTML report's lint and browser tests (web/, tests/browser/)
#  2. debug build with AddressSanitizer + UndefinedBehaviorSanitizer + all tests
#  3. every libFuzzer target for a short run on a copy of its seed corpus
#  4. clang-format check of the sources
# Any failure fails the script. FUZZ_SECONDS (default 60) sets the length of each fuzz run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# End-to-end tests (QEMU micro:bit, gdbserver) fail rather than skip when their tools are missing.
export MPHEAP_REQUIRE_E2E=1
jobs=${JOBS:-2}
fuzz_seconds=${FUZZ_SECONDS:-60}

step() { printf '\n=== %s\n' "$*"; }

step "release build and tests"
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"

step "HTML report: lint and headless-browser tests (Debian chromium, playwright-core)"
(cd web && npm ci --no-audit --no-fund >/dev/null && npm run lint)
MPHEAP="$PWD/build/release/bin/mpheap" MPHEAP_BROWSER_ARTIFACTS="$PWD/build/release/browser-artifacts" \
  node --test-reporter=dot tests/browser/report.test.mjs

step "ASan + UBSan build and tests"
cmake --preset debug >/dev/null
cmake --build --preset debug -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --preset debug -j "$jobs"

step "fuzz targets (${fuzz_seconds}s each)"
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs"
root=$(pwd)
for target in build/fuzz/fuzz/*_fuzz; do
  name=$(basename "$target")
  work=$(mktemp -d)
  mkdir "$work/corpus"
  cp fuzz/corpus/"$name"/* "$work/corpus"/
  echo "--- $name"
  if ! (cd "$work" && "$root/$target" -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 \
          -timeout=10 -print_final_stats=1 corpus >"$work/log" 2>&1); then
    tail -n 60 "$work/log"
    echo "fuzz target $name failed; the failing input is in $work" >&2
    exit 1
  fi
  grep -E "^Done|stat::number_of_executed_units|stat::peak_rss_mb" "$work/log" || true
  rm -rf "$work"
done

step "clang-format check"
git ls-files '*.cpp' '*.h' | xargs clang-format --dry-run --Werror

step "all tests passed"
