// Presenters for trace analysis results: summary, live call tree, collections, folded stacks.
#pragma once

#include <string>
#include <string_view>

#include "mpheap/trace/call_tree.h"
#include "mpheap/trace/trace_analysis.h"

namespace mpheap::report {

inline constexpr int kTraceSummaryVersion = 1;
inline constexpr int kCallTreeVersion = 1;

std::string summary_text(const trace::TraceSummary& s, std::size_t collections);
// Warnings a reader of the figures must see (no sweeps logged, incomplete last stop); one per line.
std::string summary_warnings(const trace::TraceSummary& s);
std::string summary_json(const trace::TraceResult& r);

// `file:line function N blocks`, children indented by two spaces, then `N total blocks`.
std::string call_tree_text(const trace::CallTree& tree);
std::string call_tree_json(const trace::CallTree& tree, std::uint64_t at_event,
                           std::uint64_t block_size);

// `--collections`: one collection (or the activity after the last one) with its `top_sites`
// largest allocation sites, rendered as the analysis ends it (see CollectionsText).
std::string collection_text(const trace::Collection& c, const trace::StackTable& stacks,
                            std::size_t top_sites);
// What `--collections` prints instead for a log without sweep events.
inline constexpr std::string_view kCollectionsNotVisible =
    "collections cannot be seen in this log: it has no sweep events (the firmware's collector "
    "does not call the hook)\n";

// `outer;...;inner weight` lines (Brendan Gregg's folded format, read by flamegraph.pl and
// speedscope). Frames are `function (file:line)`.
std::string folded_stacks(const trace::CallTree& tree);

// `mpheap trace --sites N`: the run's top N allocation sites (allocations, blocks, the frame).
std::string allocation_sites_text(const std::vector<trace::AllocationSite>& sites,
                                  const trace::StackTable& stacks, std::size_t top);

}  // namespace mpheap::report
