// heap8m_bench: one large snapshot (bench/make_heap8m.sh's 8 MiB MicroPython heap) timed in
// process (decode + ownership graph + dominators, can-alloc; median of rounds) and as whole
// `mpheap heap` and `mpheap report` processes (wall time, peak RSS, both against the heap's size;
// bytes written: `heap --json` and the report page carry every object's retainer path, which a
// 14,400-link chain in this heap makes long).
//   heap8m_bench SEQ ELF [LOAD_BIAS] [ROUNDS]
// e.g. heap8m_bench bench-data/heap8m.seq ../shared/fixtures/stock-v1.28/unix-x64/micropython
//      0x555555554000 30
#include <fcntl.h>
#include <fmt/format.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "mpheap/heap/analysis.h"
#include "mpheap/heap/dominators.h"
#include "mpheap/heap/fragmentation.h"
#include "mpheap/heap/graph.h"
#include "mpheap/heap/snapshot.h"
#include "mpheap/session/heap_session.h"
#include "peak_rss.h"
#include "run_child.h"

namespace {

using namespace mpheap;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

struct Timing {
  double median = 0, min = 0;
};

template <typename F>
Timing time_rounds(int rounds, F&& f) {
  std::vector<double> times;
  for (int i = 0; i < rounds; ++i) {
    const auto t0 = Clock::now();
    f();
    times.push_back(ms_since(t0));
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times.front()};
}

using ProcessRun = mpheap::bench::ChildRun;
using mpheap::bench::run_child;  // stdout counted through a pipe, stderr dropped

// The median run by wall time of `rounds`.
ProcessRun median_run(int rounds, const std::vector<std::string>& args) {
  std::vector<ProcessRun> runs;
  for (int i = 0; i < rounds; ++i) runs.push_back(run_child(args));
  std::sort(runs.begin(), runs.end(),
            [](const ProcessRun& a, const ProcessRun& b) { return a.seconds < b.seconds; });
  return runs[runs.size() / 2];
}

// What the whole-process runs need from the in-process part.
struct Facts {
  std::uint64_t heap_bytes = 0;
  std::uint64_t misfit = 0;  // a --can-alloc request that does not fit after a collection
};

// Decode, graph, dominators and can-alloc in this process, timed; prints and fills `out`.
bool in_process(const std::string& seq, const std::string& elf, const std::string& bias, int rounds,
                Facts& out) {
  session::HeapRequest request;
  request.target.elf = elf;
  request.target.load_bias = bias;
  request.dumps = {seq};
  const auto o0 = Clock::now();
  auto opened = session::HeapSession::open(request);
  if (!opened) {
    fmt::print(stderr, "{}\n", opened.error().message());
    return false;
  }
  const double open_ms = ms_since(o0);
  const auto a0 = Clock::now();
  auto analyzed = opened->analyze(0, 0);
  if (!analyzed) {
    fmt::print(stderr, "{}\n", analyzed.error().message());
    return false;
  }
  const double session_ms = ms_since(a0);
  const session::AnalyzedSnapshot& s = **analyzed;
  const target::Target& t = opened->target();
  const heap::Snapshot& snap = s.snapshot;
  std::uint64_t heap_bytes = 0;
  for (const heap::AreaSnapshot& a : snap.areas)
    heap_bytes += a.bounds.pool_end - a.bounds.pool_start;
  const double heap_mib = static_cast<double>(heap_bytes) / 1048576.0;
  fmt::print(
      "snapshot: {} ({} bytes of heap = {:.2f} MiB in {} area(s), {} blocks of {} bytes, {} "
      "objects, {} edges, {} roots; reachable {} bytes, garbage {} objects / {} bytes)\n",
      seq, heap_bytes, heap_mib, snap.areas.size(), snap.totals.blocks, t.block_size,
      snap.objects.size(), s.analysis.graph.edges.size(), s.analysis.graph.roots.size(),
      s.analysis.dominators.total_reachable_bytes, s.analysis.reach.garbage_objects,
      s.analysis.reach.garbage_bytes);
  fmt::print("session: open (ELF, dump) {:.1f} ms; decode + naming + graph + analyses {:.1f} ms\n",
             open_ms, session_ms);

  // In process, on the dump already in memory: what `mpheap heap` does per snapshot.
  std::uint64_t sink = 0;
  const Timing decode = time_rounds(rounds, [&] {
    auto d = heap::decode_snapshot(t, s.memory, snap.load_bias);
    sink += d ? d->objects.size() : 0;
  });
  const Timing graph = time_rounds(rounds, [&] {
    const heap::ObjectGraph g = heap::build_graph(t, s.memory, snap, s.roots);
    sink += g.edges.size();
  });
  const Timing dom = time_rounds(rounds, [&] {
    const heap::DominatorTree d = heap::dominators(snap, s.analysis.graph);
    sink += d.total_reachable_bytes;
  });
  const Timing all = time_rounds(rounds, [&] {
    auto d = heap::decode_snapshot(t, s.memory, snap.load_bias);
    if (!d) return;
    const heap::ObjectGraph g = heap::build_graph(t, s.memory, *d, s.roots);
    const heap::DominatorTree dt = heap::dominators(*d, g);
    sink += dt.total_reachable_bytes;
  });
  fmt::print("in process, median (min) of {} rounds:\n", rounds);
  fmt::print(
      "  decode {:.2f} ({:.2f}) ms, graph {:.2f} ({:.2f}) ms, dominators {:.2f} ({:.2f}) ms\n",
      decode.median, decode.min, graph.median, graph.min, dom.median, dom.min);
  fmt::print("  decode + graph + dominators: {:.2f} ({:.2f}) ms (goal < 60 ms)\n", all.median,
             all.min);
  // A request one block larger than the largest free run after a collection: the whole
  // explainer runs (pinning objects, their retainer paths).
  heap::CanAllocResult res =
      heap::can_alloc(snap, s.analysis.graph, s.analysis.reach, t.block_size);
  const std::uint64_t misfit = (res.largest_free_after_collect + 1) * t.block_size;
  const Timing can = time_rounds(
      rounds, [&] { res = heap::can_alloc(snap, s.analysis.graph, s.analysis.reach, misfit); });
  fmt::print(
      "  can_alloc({} bytes, does not fit): {:.2f} ({:.2f}) ms, {} pinning objects (goal < "
      "10 ms)\n",
      misfit, can.median, can.min, res.pinning.size());
  const std::uint64_t fits = t.block_size * 4;
  const Timing can_fit = time_rounds(
      rounds, [&] { res = heap::can_alloc(snap, s.analysis.graph, s.analysis.reach, fits); });
  fmt::print("  can_alloc({} bytes, fits): {:.2f} ({:.2f}) ms\n", fits, can_fit.median,
             can_fit.min);
  const double in_rss = peak_rss_mib();
  fmt::print("  peak RSS of this process: {:.1f} MiB = {:.2f} x the heap\n", in_rss,
             in_rss / heap_mib);
  out.heap_bytes = heap_bytes;
  out.misfit = misfit;
  return sink != 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    fmt::print(stderr, "usage: heap8m_bench SEQ ELF [LOAD_BIAS] [ROUNDS] [--json]\n");
    return 2;
  }
  const std::string seq = argv[1], elf = argv[2];
  const std::string bias = argc > 3 ? argv[3] : "0x555555554000";
  const int rounds = argc > 4 ? std::max(1, std::atoi(argv[4])) : 30;

  // The in-process part runs in a child: a child's peak RSS (ru_maxrss) starts from its parent's
  // (Linux keeps the high-water mark of the memory image exec replaces, even through
  // posix_spawn), so the whole-process runs below are spawned from this small process.
  std::fflush(stdout);
  int fds[2];
  if (pipe(fds) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    Facts facts;
    const bool ok = in_process(seq, elf, bias, rounds, facts);
    std::fflush(stdout);
    const ssize_t wrote = write(fds[1], &facts, sizeof facts);
    _exit(ok && wrote == static_cast<ssize_t>(sizeof facts) ? 0 : 1);
  }
  close(fds[1]);
  Facts facts;
  const ssize_t got = read(fds[0], &facts, sizeof facts);
  close(fds[0]);
  int st = 0;
  waitpid(child, &st, 0);
  if (got != static_cast<ssize_t>(sizeof facts) || !WIFEXITED(st) || WEXITSTATUS(st) != 0) return 1;
  const double heap_mib = static_cast<double>(facts.heap_bytes) / 1048576.0;
  const std::uint64_t misfit = facts.misfit;

  // Whole processes (no other tool reads MicroPython heap snapshots: no peer to run).
  const int process_rounds = 5;
  struct Mode {
    const char* what;
    std::vector<std::string> args;
  };
  const std::vector<std::string> input = {seq, "--elf", elf, "--load-bias", bias};
  auto with = [&](std::vector<std::string> head, std::vector<std::string> tail) {
    head.insert(head.end(), input.begin(), input.end());
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  const std::vector<Mode> modes = {
      {"mpheap heap (text summary)", with({MPHEAP_CLI, "heap"}, {})},
      {"mpheap heap --can-alloc (does not fit)",
       with({MPHEAP_CLI, "heap"}, {"--can-alloc", std::to_string(misfit)})},
      {"mpheap heap --json", with({MPHEAP_CLI, "heap"}, {"--json"})},
      {"mpheap report --heap (page to stdout)",
       with({MPHEAP_CLI, "report", "--heap"}, {"-o", "-"})},
  };
  fmt::print("whole processes, median of {} runs by wall time:\n", process_rounds);
  for (const Mode& m : modes) {
    const ProcessRun r = median_run(process_rounds, m.args);
    fmt::print("  {}: {:.0f} ms, peak RSS {:.1f} MiB = {:.2f} x the heap, {} bytes out, exit {}\n",
               m.what, r.seconds * 1000, r.peak_rss_mib, r.peak_rss_mib / heap_mib, r.out_bytes,
               r.status);
  }
  return 0;
}
