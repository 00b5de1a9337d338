// export_bench: times the memory-over-time series (trace/timeline) and the streamed Perfetto
// export (report/perfetto) over one log, with the peak RSS after each phase. Phases run in the
// order of the memory they may hold: streamed export, decimated series, full series.
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "mpheap/io/line_reader.h"
#include "mpheap/report/output.h"
#include "mpheap/report/perfetto.h"
#include "mpheap/session/trace_session.h"
#include "mpheap/trace/timeline.h"
#include "peak_rss.h"

namespace {

constexpr double kBytesPerMb = 1e6;
constexpr const char* kUsage =
    "usage: export_bench LOG [--heap-blocks N] [--perfetto PATH] [--max-points N]\n"
    "  (--heap-blocks default 2020, the unix fixture's heap; --perfetto default /dev/null;\n"
    "   --max-points default 2000)\n";

int fail(const mpheap::Error& e) {
  fmt::print(stderr, "export_bench: {}\n", e.message());
  return 1;
}

double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string log, perfetto_path = "/dev/null";
  std::uint64_t heap_blocks = 2020;
  std::size_t max_points = 2000;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--heap-blocks" && i + 1 < argc) {
      heap_blocks = std::stoull(argv[++i]);
    } else if (a == "--perfetto" && i + 1 < argc) {
      perfetto_path = argv[++i];
    } else if (a == "--max-points" && i + 1 < argc) {
      max_points = std::stoull(argv[++i]);
    } else if (a == "-h" || a == "--help" || !log.empty()) {
      fmt::print(a == "-h" || a == "--help" ? stdout : stderr, "{}", kUsage);
      return a == "-h" || a == "--help" ? 0 : 2;
    } else {
      log = a;
    }
  }
  if (log.empty()) {
    fmt::print(stderr, "{}", kUsage);
    return 2;
  }
  fmt::print("log                      {}\n", log);
  fmt::print("heap                     {} blocks\n", heap_blocks);

  std::uint64_t bytes = 0;
  for (bool slices : {false, true}) {
    auto t = std::chrono::steady_clock::now();
    auto input = mpheap::io::LineReader::open(log);
    if (!input) return fail(input.error());
    auto out = mpheap::report::Output::open(perfetto_path);
    if (!out) return fail(out.error());
    mpheap::report::PerfettoOptions o;
    o.heap_blocks = heap_blocks;
    o.block_size = 32;
    o.slices = slices;
    auto stats = mpheap::session::write_perfetto(**input, "gc_log_change", o, **out);
    if (!stats) return fail(stats.error());
    if (auto closed = (*out)->close(); !closed) return fail(closed.error());
    double s = since(t);
    bytes = (*input)->bytes_consumed();
    double mb = static_cast<double>(bytes) / kBytesPerMb;
    fmt::print(
        "perfetto{}  {:.3f} s, {:.0f} MB/s, {:.0f} events/s; {} counter samples, {} "
        "collections, {} slices on {} tracks; peak RSS {:.1f} MiB\n",
        slices ? " + slices" : "         ", s, mb / s, static_cast<double>(stats->events) / s,
        stats->counter_samples, stats->collections, stats->slices, stats->lanes, peak_rss_mib());
  }
  fmt::print("input                    {:.1f} MB\n", static_cast<double>(bytes) / kBytesPerMb);

  for (std::size_t points : {max_points, std::size_t{0}}) {
    auto t = std::chrono::steady_clock::now();
    auto input = mpheap::io::LineReader::open(log);
    if (!input) return fail(input.error());
    mpheap::trace::TimelineOptions o;
    o.heap_blocks = heap_blocks;
    o.max_points = points;
    auto timeline = mpheap::trace::compute_timeline(**input, o);
    if (!timeline) return fail(timeline.error());
    double s = since(t);
    double mb = static_cast<double>((*input)->bytes_consumed()) / kBytesPerMb;
    fmt::print(
        "timeline {:>8} points  {:.3f} s, {:.0f} MB/s, {:.0f} events/s; {} events, peak {} "
        "blocks, smallest largest-free-run {} blocks; peak RSS {:.1f} MiB\n",
        points == 0 ? std::string("all") : fmt::format("<={}", points), s, mb / s,
        static_cast<double>(timeline->events) / s, timeline->events, timeline->peak_live_blocks,
        timeline->min_largest_free_run.value_or(0), peak_rss_mib());
    fmt::print("  kept {} points\n", timeline->points.size());
  }
  return 0;
}
