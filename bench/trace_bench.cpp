// trace_bench: times the trace pipeline (log reader, replay, accumulators and the streamed
// allocation_history.json writer) over one log, as `mpheap trace LOG --history PATH` runs it.
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "mpheap/io/line_reader.h"
#include "mpheap/report/history_json.h"
#include "mpheap/report/output.h"
#include "mpheap/trace/trace_analysis.h"
#include "peak_rss.h"

namespace {

constexpr double kBytesPerMb = 1e6;

int fail(const mpheap::Error& e) {
  fmt::print(stderr, "trace_bench: {}\n", e.message());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string log;
  std::string history_path = "/dev/null";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--history" && i + 1 < argc) {
      history_path = argv[++i];
    } else if (a == "-h" || a == "--help" || !log.empty()) {
      fmt::print(a == "-h" || a == "--help" ? stdout : stderr,
                 "usage: trace_bench LOG [--history PATH]   (history default /dev/null)\n");
      return a == "-h" || a == "--help" ? 0 : 2;
    } else {
      log = a;
    }
  }
  if (log.empty()) {
    fmt::print(stderr, "usage: trace_bench LOG [--history PATH]   (history default /dev/null)\n");
    return 2;
  }

  auto start = std::chrono::steady_clock::now();
  auto input = mpheap::io::LineReader::open(log);
  if (!input) return fail(input.error());
  auto out = mpheap::report::Output::open(history_path);
  if (!out) return fail(out.error());
  mpheap::report::HistoryJsonWriter history(**out);

  mpheap::trace::TraceOptions options;
  auto result = mpheap::trace::analyze_trace(**input, options, &history);
  if (!result) return fail(result.error());
  history.finish();
  if (auto closed = (*out)->close(); !closed) return fail(closed.error());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const mpheap::trace::TraceSummary& s = result->summary;
  double mb = static_cast<double>(s.bytes_read) / kBytesPerMb;
  fmt::print("log                {}\n", log);
  fmt::print("input              {:.1f} MB ({} bytes, {} style)\n", mb, s.bytes_read,
             mpheap::trace::to_string(s.style));
  fmt::print("wall               {:.3f} s\n", seconds);
  fmt::print("throughput         {:.1f} MB/s\n", mb / seconds);
  fmt::print("events             {} ({} stops, {} repeats dropped)\n", s.events, s.stops,
             s.duplicates);
  fmt::print("events/s           {:.0f}\n", static_cast<double>(s.events) / seconds);
  fmt::print("peak RSS           {:.1f} MiB\n", peak_rss_mib());
  fmt::print("distinct frames    {}\n", s.distinct_frames);
  fmt::print("distinct stacks    {}\n", s.distinct_stacks);
  fmt::print("live at end        {} allocations, {} blocks\n", s.live_allocations_end,
             s.live_blocks_end);
  fmt::print("history            {} entries -> {}\n", history.entries(), history_path);
  fmt::print("unlogged/unmatched {} / {}\n", s.unlogged, s.unmatched_frees);
  return 0;
}
