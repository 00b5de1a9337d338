// The trace pipeline: log reader -> replay -> accumulators (summary, peak, collections, call
// tree weights), with allocation lifespans streamed to a sink as they end.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mpheap/io/line_reader.h"
#include "mpheap/trace/gdb_log_reader.h"
#include "mpheap/trace/replay.h"
#include "mpheap/trace/stack_table.h"
#include "mpheap/util/error.h"

namespace mpheap::trace {

// Receives allocation lifespans while the log streams (e.g. the allocation_history.json writer).
class LifespanSink {
 public:
  virtual ~LifespanSink() = default;
  virtual void ended(const EndedAllocation& a, const StackTable& stacks) = 0;
  // Called once at the end for every allocation still live, in address order.
  virtual void still_live(const Allocation& a, std::uint64_t end_time,
                          const StackTable& stacks) = 0;
};

// Sees every event of the one replay analyze_trace runs, right after the replay applied it: the
// consumers that need more than the summary (the timeline, the Perfetto export, the HTML
// report's series) ride along instead of reading and replaying the log again.
class ReplayObserver {
 public:
  virtual ~ReplayObserver() = default;
  // `ended`: the allocations this event ended; `live_before`: the replay's live blocks before
  // it. An error stops the analysis with that error.
  virtual Expected<bool> on_event(std::uint64_t time, const GcEvent& event, const ReplayStep& step,
                                  std::span<const EndedAllocation> ended, std::uint64_t live_before,
                                  const Replay& replay, const StackTable& stacks) = 0;
  // Once after the last event, `events` being their number.
  virtual Expected<bool> on_end(std::uint64_t events, const Replay& replay,
                                const StackTable& stacks) = 0;
};

// Statistics of the activity between two collections and of the collection that ended it.
struct Collection {
  std::uint64_t index = 0;                        // 1-based
  std::uint64_t first_event = 0, last_event = 0;  // the run of sweep events
  std::uint64_t objects_freed = 0, blocks_freed = 0;
  std::uint64_t live_blocks_before = 0, live_blocks_after = 0;
  std::uint64_t events_since_previous = 0;  // events between the previous collection and this one
  std::uint64_t allocations_since_previous = 0, blocks_allocated_since_previous = 0;
  std::map<std::uint64_t, std::uint64_t> allocations_by_size;  // blocks -> allocations
  std::map<FrameId, std::pair<std::uint64_t, std::uint64_t>>
      sites;                           // site -> (allocations, blocks)
  std::optional<std::uint64_t> ticks;  // ticks at its first sweep, when the log has them
  std::optional<std::uint64_t> ms_since_previous;
  bool trailing = false;  // not a collection: the activity after the last one, up to the end
};

// Receives each collection as it ends, then (when events follow the last one) the `trailing`
// activity. The analysis keeps none of them: a log's collections grow with its length, so a
// consumer that lists them renders or counts them here (`report::CollectionsText`).
class CollectionSink {
 public:
  virtual ~CollectionSink() = default;
  // `c` and its maps are only valid during the call.
  virtual void collection(const Collection& c, const StackTable& stacks) = 0;
};

// Keeps every collection, maps included: for tests and short logs only (memory grows with the
// number of collections).
class CollectionList final : public CollectionSink {
 public:
  void collection(const Collection& c, const StackTable& /*stacks*/) override { all.push_back(c); }
  std::vector<Collection> all;
};

struct TraceOptions {
  std::string hook = "gc_log_change";
  // python_only: stacks with Python frames keep only those (`mpheap trace --python-only`).
  FrameView frame_view = FrameView::mixed;
  std::optional<std::uint64_t> at_event;    // keep the live tree as it stood after this event
  std::optional<std::uint64_t> block_size;  // bytes per GC block; else 32 for 64-bit logs, else 16
  std::string block_size_source = "--block-size";  // what to call it in the summary
  // Called now and then with (bytes read, events so far); for progress displays.
  std::function<void(std::uint64_t, std::uint64_t)> progress;
  // Further consumers of the same replay, in order (not owned).
  std::vector<ReplayObserver*> observers;
  // Receives every collection with its sizes and sites as it ends (not owned); without one, the
  // analysis only counts collections and keeps no sizes or sites.
  CollectionSink* collection_sink = nullptr;
};

struct TraceSummary {
  std::string file;
  std::uint64_t bytes_read = 0;
  std::uint64_t stops = 0;
  std::uint64_t events = 0;  // hook calls, repeats dropped
  std::uint64_t duplicates = 0;
  std::uint64_t kinds[kEventKinds] = {0, 0, 0, 0};
  std::uint64_t by_caller = 0;  // events classified by their caller frame
  std::uint64_t unlogged = 0;
  std::uint64_t unmatched_frees = 0;
  bool sweeps_logged = false;
  std::uint64_t live_blocks_end = 0;
  std::uint64_t live_allocations_end = 0;
  std::uint64_t peak_live_blocks = 0;
  std::uint64_t peak_event = 0;
  std::map<std::uint64_t, std::uint64_t> size_histogram;  // blocks -> allocations (alloc events)
  bool incomplete_last_event = false;
  std::uint64_t incomplete_line = 0;
  std::string end_reason;
  LogStyle style = LogStyle::unknown;
  bool wide_addresses = false;
  std::uint64_t block_size = 16;
  std::string block_size_source;  // "--block-size", "64-bit addresses in the log", "default"
  bool has_ticks = false;
  std::uint64_t frames_without_source = 0;
  std::uint64_t distinct_frames = 0, distinct_stacks = 0;
  FrameView frame_view = FrameView::mixed;  // the frames the stacks keep
  std::uint64_t python_stops = 0;           // stops with at least one Python frame
};

struct TraceResult {
  TraceSummary summary;
  StackTable stacks;
  // Live blocks per stack at the end (or after TraceOptions::at_event).
  std::vector<std::int64_t> live_by_stack;
  std::uint64_t tree_event = 0;                   // the event the live tree stands after
  std::vector<std::uint64_t> allocated_by_stack;  // blocks ever allocated per stack
  // Allocation events (gc_alloc's) per stack, and their blocks: the run's allocation sites.
  std::vector<std::pair<std::uint64_t, std::uint64_t>> allocations_by_stack;
  // Runs of sweep events (the activity after the last one not counted); the collections
  // themselves go to TraceOptions::collection_sink.
  std::uint64_t collections = 0;
};

// Reads the whole log. `lifespans` may be null.
Expected<TraceResult> analyze_trace(io::LineReader& input, const TraceOptions& options,
                                    LifespanSink* lifespans);

// The allocation sites of the whole run, most allocations first (then most blocks, then the
// first interned): each stack's allocations counted at its allocation_site().
struct AllocationSite {
  FrameId frame = 0;
  std::uint64_t allocations = 0, blocks = 0;
};
std::vector<AllocationSite> allocation_sites(const TraceResult& result);

// The frame that allocated: the innermost one outside py/gc.c and py/malloc.c (in the
// python_only view, the innermost Python frame of a stack that has one).
std::optional<FrameId> allocation_site(const StackTable& stacks, StackId stack);

}  // namespace mpheap::trace
