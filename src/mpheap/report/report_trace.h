// What the HTML report shows of a trace: the analysis, every allocation's lifespan and the
// memory-over-time series, gathered in one place for the page writer. session::trace_report
// fills it in one read of the log.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/trace/timeline.h"
#include "mpheap/trace/trace_analysis.h"
#include "mpheap/util/error.h"

namespace mpheap::report {

// One allocation of the trace, live from the event that started it up to (not after) the one
// that ended it. `live` ones were still live when the log ended (end_time = event count).
struct TraceAllocation {
  std::uint64_t start_block = 0, size = 0;
  std::uint64_t start_time = 0, end_time = 0;
  trace::StackId stack = trace::kEmptyStack;
  trace::EndCause cause = trace::EndCause::free;
  bool live = false;
};

struct TraceReportData {
  trace::TraceResult result;
  std::vector<TraceAllocation> allocations;  // in start order
  trace::Timeline timeline;
};

struct TraceReportOptions {
  std::string hook = "gc_log_change";
  trace::FrameView frame_view = trace::FrameView::mixed;  // the stacks the report shows
  std::optional<std::uint64_t> block_size;
  std::optional<std::uint64_t> heap_blocks;  // free blocks and free runs need it
  std::size_t max_timeline_points = 4096;
};

// Collects every allocation's lifespan while analyze_trace replays the log (its LifespanSink).
class LifespanCollector final : public trace::LifespanSink {
 public:
  explicit LifespanCollector(std::vector<TraceAllocation>& out) : out_(out) {}
  void ended(const trace::EndedAllocation& a, const trace::StackTable& stacks) override;
  void still_live(const trace::Allocation& a, std::uint64_t end_time,
                  const trace::StackTable& stacks) override;

 private:
  std::vector<TraceAllocation>& out_;
};

// Allocations in start order (they are collected in end order).
void sort_by_start(std::vector<TraceAllocation>& allocations);

}  // namespace mpheap::report
