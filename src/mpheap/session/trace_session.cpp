// One replay of a log for the report and the exports.
#include "mpheap/session/trace_session.h"

#include "mpheap/trace/timeline.h"

namespace mpheap::session {

Expected<report::TraceReportData> trace_report(io::LineReader& input,
                                               const report::TraceReportOptions& options) {
  report::TraceReportData data;
  trace::TimelineObserver series(input.name(), options.heap_blocks, options.max_timeline_points);
  trace::TraceOptions to;
  to.hook = options.hook;
  to.frame_view = options.frame_view;
  to.block_size = options.block_size;
  to.observers = {&series};
  report::LifespanCollector lifespans(data.allocations);
  auto result = trace::analyze_trace(input, to, &lifespans);
  if (!result) return result.error();
  data.result = std::move(*result);
  data.timeline = series.take();
  report::sort_by_start(data.allocations);
  return data;
}

Expected<report::PerfettoStats> write_perfetto(io::LineReader& input, const std::string& hook,
                                               const report::PerfettoOptions& options,
                                               report::Output& out) {
  report::PerfettoExport perfetto(options, out, input.name());
  trace::TraceOptions to;
  to.hook = hook;
  to.block_size = options.block_size;
  to.observers = {&perfetto};
  auto result = trace::analyze_trace(input, to, nullptr);
  if (!result) return result.error();
  return perfetto.stats();
}

}  // namespace mpheap::session
