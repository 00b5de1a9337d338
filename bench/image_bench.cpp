// image_bench IMAGE [--rounds N] [--base ADDR]: the scan of a firmware image alone (e.g. the
// 296,756-byte Pybricks primehub image in tests/data/pybricks/primehub/firmware-base.bin).
//  * in process, median of N rounds: the load address votes (rank_load_addresses), the qstr
//    pool scan at the found base (find_qstr_pools), the whole read (read_image_file_target:
//    format, inference confirmed by the pool chain, pools, types, version, machine);
//  * whole processes, median of N rounds: `mpheap target --firmware IMAGE --json` without and
//    (when --base is given) with --base, wall time and the child's peak RSS (run_child.h).
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "mpheap/io/file.h"
#include "mpheap/io/firmware_image.h"
#include "mpheap/target/from_image.h"
#include "mpheap/target/load_address.h"
#include "peak_rss.h"
#include "run_child.h"

namespace {

using Clock = std::chrono::steady_clock;

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double median_ms(int rounds, const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < rounds; ++i) {
    auto start = Clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
  }
  return median(t);
}

void print_process(const char* what, int rounds, const std::vector<std::string>& args,
                   std::size_t bytes) {
  std::vector<double> secs, rss;
  int status = 0;
  for (int i = 0; i < rounds; ++i) {
    // Spawned, not forked: a forked child's peak RSS would start from this process's.
    const mpheap::bench::ChildRun r = mpheap::bench::run_child(args);
    secs.push_back(r.seconds);
    rss.push_back(r.peak_rss_mib);
    status = std::max(status, r.status);
  }
  const double s = median(secs);
  fmt::print("{:<44} {:8.1f} ms  {:6.1f} MB/s  peak RSS {:5.1f} MiB{}\n", what, s * 1e3,
             static_cast<double>(bytes) / 1e6 / s, median(rss),
             status == 0 ? "" : fmt::format("  (exit status {})", status));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    fmt::print(stderr, "usage: image_bench IMAGE [--rounds N] [--base ADDR]\n");
    return 2;
  }
  const std::string path = argv[1];
  int rounds = 9;
  std::string base;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string opt = argv[i];
    if (opt == "--rounds") {
      rounds = std::max(1, std::atoi(argv[i + 1]));
    } else if (opt == "--base") {
      base = argv[i + 1];
    } else {
      fmt::print(stderr, "image_bench: unknown option {}\n", opt);
      return 2;
    }
  }
  auto bytes = mpheap::io::read_whole_file(path);
  if (!bytes) {
    fmt::print(stderr, "image_bench: {}\n", bytes.error().message());
    return 1;
  }
  auto found = mpheap::target::read_image_file_target(*bytes, path, std::nullopt, nullptr);
  if (!found) {
    fmt::print(stderr, "image_bench: {}\n", found.error().message());
    return 1;
  }
  const std::uint64_t load = found->target.firmware.load_address.value_or(0);
  fmt::print("{}: {} bytes; load address 0x{:08x}, {} ROM qstrs, {} type objects, version {}\n",
             path, bytes->size(), load, found->target.rom_qstrs.size(), found->target.types.size(),
             found->version.empty() ? std::string("unknown") : found->version);
  mpheap::target::LoadAddressRanking ranking;
  const double votes_ms =
      median_ms(rounds, [&] { ranking = mpheap::target::rank_load_addresses(*bytes); });
  const mpheap::io::MemoryImage placed = mpheap::io::raw_image(*bytes, load, path);
  const double pools_ms =
      median_ms(rounds, [&] { (void)mpheap::target::find_qstr_pools(placed, 4, true); });
  const double whole_ms = median_ms(rounds, [&] {
    (void)mpheap::target::read_image_file_target(*bytes, path, std::nullopt, nullptr);
  });
  const double mb = static_cast<double>(bytes->size()) / 1e6;
  fmt::print("in process, median of {} rounds:\n", rounds);
  fmt::print("  load address votes ({} strings, {} words)   {:8.2f} ms  {:6.1f} MB/s\n",
             ranking.string_starts, ranking.words, votes_ms, mb / votes_ms * 1e3);
  fmt::print("  qstr pool scan at 0x{:08x}               {:8.2f} ms  {:6.1f} MB/s\n", load,
             pools_ms, mb / pools_ms * 1e3);
  fmt::print("  whole read_image_file_target                {:8.2f} ms  {:6.1f} MB/s\n", whole_ms,
             mb / whole_ms * 1e3);
  fmt::print("  peak RSS of this process                    {:8.1f} MiB\n", peak_rss_mib());
  fmt::print("whole processes, median of {} rounds:\n", rounds);
  print_process("  mpheap target --firmware IMAGE --json", rounds,
                {MPHEAP_CLI, "target", "--firmware", path, "--json"}, bytes->size());
  if (!base.empty())
    print_process("  ... --base ADDR (no inference)", rounds,
                  {MPHEAP_CLI, "target", "--firmware", path, "--base", base, "--json"},
                  bytes->size());
  return 0;
}
