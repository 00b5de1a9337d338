#!/usr/bin/env bash
# Installs the Debian packages mpheap needs to build, test and fuzz, if any are missing.
set -euo pipefail

packages=(
  cmake ninja-build g++ pkg-config
  clang lld libclang-rt-14-dev clang-format   # libFuzzer, sanitizers, format check
  libcli11-dev libfmt-dev nlohmann-json3-dev
  libgtest-dev libbenchmark-dev
  libdw-dev libelf-dev                    # ELF + DWARF target descriptions
  zlib1g-dev                              # tests read gzipped fixture dumps
  gcc-arm-none-eabi                       # tests compile small ARM programs
  graphviz                                # tests render the heap ownership graph
  firmware-microbit-micropython           # a real firmware image (no ELF) for the image tests
  qemu-system-arm gdb-multiarch gdbserver # capture: the micro:bit emulator, gdb, the trace test
  chromium chromium-driver nodejs         # the HTML report's browser tests and lint (npm in web/)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm: Debian's package, unless the installed nodejs brings its own (NodeSource's does).
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "mpheap: installing missing packages: ${missing[*]}" >&2
if [ "$(id -u)" -ne 0 ]; then
  echo "mpheap: run as root (or install these with sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
