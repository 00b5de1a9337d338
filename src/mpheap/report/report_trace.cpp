// Gathers a trace's analysis, lifespans and timeline for the HTML report.
#include "mpheap/report/report_trace.h"

#include <algorithm>

#include "mpheap/io/line_reader.h"

namespace mpheap::report {
namespace {

class LifespanCollector final : public trace::LifespanSink {
 public:
  explicit LifespanCollector(std::vector<TraceAllocation>& out) : out_(out) {}
  void ended(const trace::EndedAllocation& a, const trace::StackTable& /*stacks*/) override {
    out_.push_back({a.allocation.start_block, a.allocation.size, a.allocation.start_time,
                    a.end_time, a.allocation.start_stack, a.cause, false});
  }
  void still_live(const trace::Allocation& a, std::uint64_t end_time,
                  const trace::StackTable& /*stacks*/) override {
    out_.push_back({a.start_block, a.size, a.start_time, end_time, a.start_stack,
                    trace::EndCause::free, true});
  }

 private:
  std::vector<TraceAllocation>& out_;
};

}  // namespace

Expected<TraceReportData> build_trace_report(const std::string& log_path,
                                             const TraceReportOptions& options) {
  TraceReportData data;
  {
    auto input = io::LineReader::open(log_path);
    if (!input) return input.error();
    trace::TraceOptions to;
    to.hook = options.hook;
    to.block_size = options.block_size;
    LifespanCollector sink(data.allocations);
    auto result = trace::analyze_trace(**input, to, &sink);
    if (!result) return result.error();
    data.result = std::move(*result);
  }
  std::stable_sort(data.allocations.begin(), data.allocations.end(),
                   [](const TraceAllocation& x, const TraceAllocation& y) {
                     return x.start_time < y.start_time;
                   });
  auto input = io::LineReader::open(log_path);
  if (!input) return input.error();
  trace::TimelineOptions tl;
  tl.hook = options.hook;
  tl.heap_blocks = options.heap_blocks;
  tl.max_points = options.max_timeline_points;
  auto timeline = trace::compute_timeline(**input, tl);
  if (!timeline) return timeline.error();
  data.timeline = std::move(*timeline);
  return data;
}

}  // namespace mpheap::report
