// heap_bench: times decode + ownership graph + dominators (+ can-alloc) on one big snapshot
// and on a sequence of small ones, and prints ms per snapshot and peak RSS.
//   heap_bench BIG_MAP BIG_NM BIG_RAM@ADDR SEQ_MAP SEQ_NM SEQ_FILE@ADDR DUMP_BYTES [COUNT]
// e.g. with ../shared/fixtures: qemu-mps2-splitheap/big256k_firmware.{map,nm}
// big256k_ram.bin@0x1874a0, and qemu-microbit/firmware.{map,nm} ram_seq.bin@0x20000000 16384
// 1000 (the 120 dumps of ram_seq.bin repeated). Only one dump is in memory at a time.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "mpheap/heap/dominators.h"
#include "mpheap/heap/fragmentation.h"
#include "mpheap/heap/graph.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/session/heap_session.h"
#include "mpheap/target/from_map.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/target/ram_heap_search.h"
#include "peak_rss.h"

namespace {

using namespace mpheap;
using Clock = std::chrono::steady_clock;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

Expected<target::Target> load_target(const std::string& map, const std::string& nm) {
  return target::read_map_target(slurp(map), map, slurp(nm), nm, "", "");
}

struct Work {
  std::size_t objects = 0, edges = 0, roots = 0;
  std::uint64_t retained = 0;
};

// The analysis pipeline on one snapshot; returns false when the dump does not decode.
bool analyse(const target::Target& t, const io::MemoryImage& ram, std::uint64_t bias, Work& w) {
  auto snap = heap::decode_snapshot(t, ram, bias);
  if (!snap) return false;
  const heap::ObjectGraph g = heap::build_graph(t, ram, *snap);
  const heap::DominatorTree d = heap::dominators(*snap, g);
  w.objects += snap->objects.size();
  w.edges += g.edges.size();
  w.roots += g.roots.size();
  w.retained += d.total_reachable_bytes;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 8) {
    fmt::print(stderr,
               "usage: heap_bench BIG_MAP BIG_NM BIG_RAM@ADDR SEQ_MAP SEQ_NM SEQ_FILE@ADDR "
               "DUMP_BYTES [COUNT]\n");
    return 2;
  }
  // The big snapshot.
  auto big_t = load_target(argv[1], argv[2]);
  auto big_placed = io::parse_placed_file(argv[3]);
  if (!big_t || !big_placed) {
    fmt::print(stderr, "{}\n", !big_t ? big_t.error().message() : big_placed.error().message());
    return 1;
  }
  auto big_range = io::load_placed_file(*big_placed);
  if (!big_range) {
    fmt::print(stderr, "{}\n", big_range.error().message());
    return 1;
  }
  io::MemoryImage big;
  big.add(std::move(*big_range));
  auto big_layout = target::infer_layout(*big_t, big, std::nullopt);
  if (!big_layout) {
    fmt::print(stderr, "{}\n", big_layout.error().message());
    return 1;
  }
  {
    Work w;
    auto snap = heap::decode_snapshot(*big_t, big, big_layout->load_bias);
    if (!snap) {
      fmt::print(stderr, "{}\n", snap.error().message());
      return 1;
    }
    const heap::ObjectGraph g = heap::build_graph(*big_t, big, *snap);
    const heap::Reachability r = heap::reachability(*snap, g);
    fmt::print(
        "big snapshot: {} objects, {} edges, {} root words, {} reachable / {} garbage bytes\n",
        snap->objects.size(), g.edges.size(), g.roots.size(), r.reachable_bytes, r.garbage_bytes);
    const int rounds = 50;
    std::vector<double> times;
    for (int i = 0; i < rounds; ++i) {
      const auto t0 = Clock::now();
      analyse(*big_t, big, big_layout->load_bias, w);
      times.push_back(ms_since(t0));
    }
    std::sort(times.begin(), times.end());
    fmt::print("  decode + graph + dominators: median {:.3f} ms, min {:.3f} ms ({} rounds)\n",
               times[times.size() / 2], times.front(), rounds);
    const auto t0 = Clock::now();
    auto res = heap::can_alloc(*snap, g, (snap->totals.max_free + 1) * big_t->block_size);
    fmt::print("  can_alloc({} bytes, does not fit): {:.3f} ms, {} pinning objects\n", res.bytes,
               ms_since(t0), res.pinning.size());

    // The heap found in the same dump with no symbols at all (mpheap target --ram).
    std::uint64_t dump_bytes = 0;
    for (const io::MemoryRange& range : big.ranges()) dump_bytes += range.bytes.size();
    std::vector<double> search;
    std::size_t areas = 0;
    for (int i = 0; i < 20; ++i) {
      const auto s0 = Clock::now();
      auto found = target::find_heap_areas_in_ram(big, 4, true);
      search.push_back(ms_since(s0));
      if (!found) {
        fmt::print(stderr, "RAM search: {}\n", found.error().message());
        return 1;
      }
      areas = found->areas.size();
    }
    std::sort(search.begin(), search.end());
    const double median = search[search.size() / 2];
    fmt::print("  heap found in RAM alone ({} bytes, {} area): median {:.3f} ms, {:.0f} MB/s\n",
               dump_bytes, areas, median, static_cast<double>(dump_bytes) / 1e3 / median);
  }

  // The sequence of small snapshots.
  auto seq_t = load_target(argv[4], argv[5]);
  auto seq_placed = io::parse_placed_file(argv[6]);
  const std::uint64_t dump_bytes = std::strtoull(argv[7], nullptr, 0);
  const std::size_t count = argc > 8 ? std::strtoull(argv[8], nullptr, 0) : 1000;
  if (!seq_t || !seq_placed || dump_bytes == 0) {
    fmt::print(stderr, "bad sequence arguments\n");
    return 1;
  }
  std::ifstream in(seq_placed->path, std::ios::binary);
  in.seekg(0, std::ios::end);
  const auto file_bytes = static_cast<std::uint64_t>(in.tellg());
  const std::uint64_t dumps = file_bytes / dump_bytes;
  if (dumps == 0) {
    fmt::print(stderr, "{}: shorter than one dump\n", seq_placed->path);
    return 1;
  }
  auto read_dump = [&](std::uint64_t k) {
    io::MemoryImage img;
    io::MemoryRange r;
    r.address = seq_placed->address;
    r.source = seq_placed->path;
    r.bytes.resize(dump_bytes);
    in.seekg(static_cast<std::streamoff>(k * dump_bytes));
    in.read(reinterpret_cast<char*>(r.bytes.data()), static_cast<std::streamsize>(dump_bytes));
    img.add(std::move(r));
    return img;
  };
  // The layout from the last dump (the heap is set up in all of them).
  auto seq_layout = target::infer_layout(*seq_t, read_dump(dumps - 1), std::nullopt);
  if (!seq_layout) {
    fmt::print(stderr, "{}\n", seq_layout.error().message());
    return 1;
  }
  Work w;
  std::size_t failed = 0;
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < count; ++i) {
    const io::MemoryImage img = read_dump(i % dumps);
    if (!analyse(*seq_t, img, seq_layout->load_bias, w)) ++failed;
  }
  const double total = ms_since(t0);
  fmt::print(
      "sequence: {} snapshots ({} distinct dumps of {} bytes), {} failed: {:.1f} ms total, "
      "{:.4f} ms per snapshot (reading the dump included); {} objects, {} edges in all\n",
      count, dumps, dump_bytes, failed, total, total / static_cast<double>(count), w.objects,
      w.edges);

  // The same file through the pipeline `mpheap heap --snapshot all` and `mpheap report` run
  // (session::HeapSession): per dump decode, naming passes, roots, graph, reachability,
  // dominators and the re-check of the layout found by shapes.
  session::HeapRequest request;
  request.target.map = argv[4];
  request.target.nm = argv[5];
  request.dumps = {argv[6]};
  request.dump_size = dump_bytes;
  const auto s0 = Clock::now();
  auto opened = session::HeapSession::open(request);
  if (!opened) {
    fmt::print(stderr, "{}\n", opened.error().message());
    return 1;
  }
  const double open_ms = ms_since(s0);
  std::size_t named = 0, session_failed = 0;
  const auto s1 = Clock::now();
  for (std::uint64_t i = 0; i < opened->file(0).count(); ++i) {
    auto a = opened->analyze(0, i);
    if (!a) {
      ++session_failed;
      continue;
    }
    for (const heap::HeapObject& o : (*a)->snapshot.objects)
      named += o.kind != heap::ObjectKind::unknown ? 1 : 0;
  }
  const double session_ms = ms_since(s1);
  fmt::print(
      "session pipeline: {} dumps, {} failed: open {:.1f} ms, then {:.1f} ms ({:.3f} ms per "
      "snapshot, naming and layout re-check included); {} objects named\n",
      opened->file(0).count(), session_failed, open_ms, session_ms,
      session_ms / static_cast<double>(opened->file(0).count()), named);
  fmt::print("peak RSS: {:.1f} MiB\n", peak_rss_mib());
  return 0;
}
