// mpy_bench DIR [--rounds N]: times reading and disassembling every .mpy below DIR (e.g. the
// 600-file v6.3 benchmark corpus) and prints files/s, MB/s (10^6 bytes of .mpy input) and
// peak RSS. The disassembly text is built in memory, as mpheap mpy --disasm builds it.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "mpheap/mpy/disasm.h"
#include "mpheap/mpy/reader.h"
#include "mpheap/mpy/sizes.h"
#include "peak_rss.h"

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: mpy_bench DIR [--rounds N]\n");
    return 2;
  }
  int rounds = 3;
  if (argc >= 4 && std::string(argv[2]) == "--rounds") rounds = std::max(1, std::atoi(argv[3]));
  std::vector<std::string> paths;
  for (const auto& e : std::filesystem::recursive_directory_iterator(argv[1]))
    if (e.path().extension() == ".mpy") paths.push_back(e.path().string());
  std::sort(paths.begin(), paths.end());
  if (paths.empty()) {
    fmt::print(stderr, "mpy_bench: no .mpy files under {}\n", argv[1]);
    return 1;
  }
  double best = 1e30;
  std::uint64_t bytes = 0, text = 0, instructions = 0;
  std::size_t failed = 0;
  for (int r = 0; r < rounds; ++r) {
    bytes = text = instructions = 0;
    failed = 0;
    auto start = std::chrono::steady_clock::now();
    for (const auto& p : paths) {
      auto f = mpheap::mpy::read_mpy_file(p);
      if (!f) {
        ++failed;
        continue;
      }
      bytes += f->size;
      text += mpheap::mpy::disassembly_text(*f).size();
      instructions += mpheap::mpy::size_breakdown(*f).functions.size();
    }
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    best = std::min(best, s);
  }
  fmt::print("files              {} ({} failed)\n", paths.size(), failed);
  fmt::print("input              {} bytes\n", bytes);
  fmt::print("disassembly        {} bytes of text, {} raw codes\n", text, instructions);
  fmt::print("best of {} rounds   {:.3f} s: read + disassemble + size breakdown\n", rounds, best);
  fmt::print("throughput         {:.0f} files/s, {:.2f} MB/s\n",
             static_cast<double>(paths.size()) / best, static_cast<double>(bytes) / 1e6 / best);
  fmt::print("peak RSS           {:.1f} MiB\n", peak_rss_mib());
  return failed ? 1 : 0;
}
