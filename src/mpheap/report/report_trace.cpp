// Gathers a trace's lifespans for the HTML report.
#include "mpheap/report/report_trace.h"

#include <algorithm>

namespace mpheap::report {

void LifespanCollector::ended(const trace::EndedAllocation& a,
                              const trace::StackTable& /*stacks*/) {
  out_.push_back({a.allocation.start_block, a.allocation.size, a.allocation.start_time, a.end_time,
                  a.allocation.start_stack, a.cause, false});
}

void LifespanCollector::still_live(const trace::Allocation& a, std::uint64_t end_time,
                                   const trace::StackTable& /*stacks*/) {
  out_.push_back(
      {a.start_block, a.size, a.start_time, end_time, a.start_stack, trace::EndCause::free, true});
}

void sort_by_start(std::vector<TraceAllocation>& allocations) {
  std::stable_sort(allocations.begin(), allocations.end(),
                   [](const TraceAllocation& x, const TraceAllocation& y) {
                     return x.start_time < y.start_time;
                   });
}

}  // namespace mpheap::report
