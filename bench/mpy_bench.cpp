// mpy_bench DIR [--rounds N] [--mpheap PATH] [--mpy-tool PATH]: the .mpy benchmark over every
// .mpy below DIR (e.g. the 600-file v6.3 corpus).
//  * in process: read + disassemble (into one reused buffer, as mpheap mpy --disasm does) +
//    size breakdown, best of N rounds;
//  * whole processes, best of N rounds each, output read through a pipe and counted as a
//    consumer would: `mpheap mpy --disasm DIR`, `mpheap mpy --json DIR` and, with --mpy-tool,
//    `python3 mpy-tool.py -d FILES...` (MicroPython's tools/mpy-tool.py, run once), with
//    their wall time, output MB/s and peak RSS, and mpy-tool's time over mpheap's.
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "mpheap/mpy/disasm.h"
#include "mpheap/mpy/reader.h"
#include "mpheap/mpy/sizes.h"
#include "peak_rss.h"
#include "run_child.h"

namespace {

using Clock = std::chrono::steady_clock;

using ProcessRun = mpheap::bench::ChildRun;
using mpheap::bench::run_child;  // stdout counted through a pipe, stderr dropped

ProcessRun best_of(int rounds, const std::vector<std::string>& args) {
  ProcessRun best;
  for (int i = 0; i < rounds; ++i) {
    ProcessRun r = run_child(args);
    if (i == 0 || r.seconds < best.seconds) best = r;
  }
  return best;
}

void print_run(const char* what, const ProcessRun& r, std::uint64_t input_bytes) {
  fmt::print(
      "{:<24} {:7.3f} s  {:6.1f} MB out ({:7.1f} MB/s)  {:6.2f} MB/s in  peak RSS {:6.1f} MiB{}\n",
      what, r.seconds, static_cast<double>(r.out_bytes) / 1e6,
      static_cast<double>(r.out_bytes) / 1e6 / r.seconds,
      static_cast<double>(input_bytes) / 1e6 / r.seconds, r.peak_rss_mib,
      r.status == 0 ? "" : fmt::format("  (exit status {})", r.status));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: mpy_bench DIR [--rounds N] [--mpheap PATH] [--mpy-tool PATH]\n");
    return 2;
  }
  std::string dir = argv[1];
  int rounds = 3;
  std::string mpheap = MPHEAP_CLI;
  std::string mpy_tool;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    if (opt == "--rounds") {
      rounds = std::max(1, std::atoi(argv[i + 1]));
    } else if (opt == "--mpheap") {
      mpheap = argv[i + 1];
    } else if (opt == "--mpy-tool") {
      mpy_tool = argv[i + 1];
    } else {
      fmt::print(stderr, "mpy_bench: unknown option {}\n", opt);
      return 2;
    }
  }
  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.path().extension() == ".mpy") paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  if (paths.empty()) {
    fmt::print(stderr, "mpy_bench: no .mpy files under {}\n", dir);
    return 1;
  }
  double best = 1e30, best_read = 1e30;
  for (int r = 0; r < rounds; ++r) {
    auto start = Clock::now();
    for (const auto& p : paths) (void)mpheap::mpy::read_mpy_file(p);
    best_read = std::min(best_read, std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::uint64_t bytes = 0, text = 0, raw_codes = 0;
  std::size_t failed = 0;
  std::string out;
  for (int r = 0; r < rounds; ++r) {
    bytes = text = raw_codes = 0;
    failed = 0;
    auto start = Clock::now();
    for (const auto& p : paths) {
      auto f = mpheap::mpy::read_mpy_file(p);
      if (!f) {
        ++failed;
        continue;
      }
      bytes += f->size;
      out.clear();
      mpheap::mpy::append_disassembly(out, *f);
      text += out.size();
      raw_codes += mpheap::mpy::size_breakdown(*f).functions.size();
    }
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  fmt::print("files              {} ({} failed)\n", paths.size(), failed);
  fmt::print("input              {} bytes\n", bytes);
  fmt::print("disassembly        {} bytes of text, {} raw codes\n", text, raw_codes);
  fmt::print(
      "in process, best of {}: {:.3f} s read + disassemble + size breakdown, "
      "{:.0f} files/s, {:.2f} MB/s in, {:.1f} MB/s of text\n",
      rounds, best, static_cast<double>(paths.size()) / best,
      static_cast<double>(bytes) / 1e6 / best, static_cast<double>(text) / 1e6 / best);
  fmt::print(
      "in process, best of {}: {:.3f} s read only; the disassembly adds {:.3f} s, "
      "{:.0f} MB/s of text\n",
      rounds, best_read, best - best_read,
      static_cast<double>(text) / 1e6 / std::max(1e-9, best - best_read));
  fmt::print("peak RSS           {:.1f} MiB\n\n", peak_rss_mib());

  fmt::print("whole processes, best of {} (output through a pipe):\n", rounds);
  ProcessRun disasm = best_of(rounds, {mpheap, "mpy", "--disasm", dir});
  print_run("mpheap mpy --disasm", disasm, bytes);
  ProcessRun json = best_of(rounds, {mpheap, "mpy", "--json", dir});
  print_run("mpheap mpy --json", json, bytes);
  if (!mpy_tool.empty()) {
    std::vector<std::string> args = {"python3", mpy_tool, "-d"};
    args.insert(args.end(), paths.begin(), paths.end());
    ProcessRun tool = run_child(args);  // once: it takes a hundred times longer
    print_run("mpy-tool.py -d (1 run)", tool, bytes);
    fmt::print("mpy-tool.py -d / mpheap mpy --disasm: {:.0f}x\n", tool.seconds / disasm.seconds);
  }
  return failed || disasm.status != 0 || json.status != 0 ? 1 : 0;
}
