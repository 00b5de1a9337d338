// Memory over time for a trace: after every event, the live blocks, the free blocks and the
// largest run of free blocks (what the next large allocation can get), with collections marked.
// Shared by the Perfetto export, the HTML report and anything else that plots a trace.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mpheap/io/line_reader.h"
#include "mpheap/trace/gc_event.h"
#include "mpheap/trace/replay.h"
#include "mpheap/trace/trace_analysis.h"
#include "mpheap/util/error.h"

namespace mpheap::trace {

struct TimelinePoint {
  std::uint64_t event = 0;  // the state after this event (0-based, as --at counts)
  std::uint64_t live_blocks = 0;
  // Only meaningful when the heap's block count is known (Timeline::heap_blocks); 0 otherwise.
  std::uint64_t free_blocks = 0;
  std::uint64_t largest_free_run = 0;
  // The event is a sweep (part of a collection). In a decimated series: a sweep happened at
  // this event or at one of the events left out since the previous point.
  bool collection = false;
};

struct Timeline {
  std::vector<TimelinePoint> points;  // in event order; the last event is always present
  // The heap's size in blocks when it was given or known from the firmware description;
  // without it free_blocks and largest_free_run are not known (and left 0).
  std::optional<std::uint64_t> heap_blocks;
  std::uint64_t events = 0;                            // events in the trace
  bool decimated = false;                              // points were left out (max_points)
  std::uint64_t peak_live_blocks = 0, peak_event = 0;  // over every event, decimated or not
  // The smallest largest-free-run over every event and where (heap_blocks known only).
  std::optional<std::uint64_t> min_largest_free_run, min_largest_free_run_event;
  std::uint64_t collections = 0;  // runs of consecutive sweep events
};

// The free runs of a heap of known size: an ordered set of runs plus a count per run length,
// so allocating, freeing (with merging) and the largest run each cost O(log runs).
class FreeRunSet {
 public:
  explicit FreeRunSet(std::uint64_t heap_blocks);
  // Marks [start, start + length) used; false (and no change) unless it lies in one free run.
  bool allocate(std::uint64_t start, std::uint64_t length);
  // Marks [start, start + length) free again, merging with free neighbours; the caller
  // guarantees it was allocated.
  void release(std::uint64_t start, std::uint64_t length);
  [[nodiscard]] std::uint64_t free_blocks() const { return free_; }
  [[nodiscard]] std::uint64_t largest() const;
  [[nodiscard]] std::size_t run_count() const { return runs_.size(); }

 private:
  void add_run(std::uint64_t start, std::uint64_t length);
  void remove_run(std::map<std::uint64_t, std::uint64_t>::iterator it);

  std::uint64_t heap_blocks_;
  std::uint64_t free_ = 0;
  std::map<std::uint64_t, std::uint64_t> runs_;     // start -> length
  std::map<std::uint64_t, std::uint64_t> lengths_;  // length -> how many runs
};

// Builds the series one event at a time, for a pass that replays a log for other reasons
// too (the Perfetto export). Memory: O(max_points) when decimating, else one point per event.
class TimelineTracker {
 public:
  // `source` names the log in errors. `max_points` 0 keeps every event; else at least 16.
  // Without `keep_points` no series is kept (finish() gives the totals only): for a caller that
  // streams each point out as add() returns it.
  TimelineTracker(std::string source, std::optional<std::uint64_t> heap_blocks,
                  std::size_t max_points = 0, bool keep_points = true);

  // Call after Replay::apply(event, time, ended) with the replay's live blocks after it. An
  // allocation that does not fit in the heap (past its end) is the error.
  Expected<TimelinePoint> add(std::uint64_t time, const GcEvent& event, const ReplayStep& step,
                              std::span<const EndedAllocation> ended, std::uint64_t live_blocks);
  [[nodiscard]] const FreeRunSet* free_runs() const { return free_ ? &*free_ : nullptr; }
  Timeline finish();

 private:
  // A point with the number of sweep events up to and including it: a kept point is marked
  // as a collection when sweeps happened since the point kept before it.
  struct Candidate {
    TimelinePoint point;
    std::uint64_t sweeps = 0;
  };
  struct Bucket {
    bool open = false;
    std::uint64_t index = 0;
    Candidate max_live, min_live, min_run;
  };
  void close_bucket();
  void compact();

  std::string source_;
  std::size_t max_points_;
  bool keep_points_;
  std::optional<FreeRunSet> free_;
  Timeline out_;
  std::vector<Candidate> kept_;
  std::uint64_t width_ = 1;  // events per bucket when decimating
  Bucket bucket_;
  std::uint64_t sweeps_ = 0;
  bool in_collection_ = false;
  std::optional<Candidate> last_;
};

// The series as a rider on analyze_trace's replay (TraceOptions::observers).
class TimelineObserver final : public ReplayObserver {
 public:
  TimelineObserver(std::string source, std::optional<std::uint64_t> heap_blocks,
                   std::size_t max_points)
      : tracker_(std::move(source), heap_blocks, max_points) {}
  Expected<bool> on_event(std::uint64_t time, const GcEvent& event, const ReplayStep& step,
                          std::span<const EndedAllocation> ended, std::uint64_t live_before,
                          const Replay& replay, const StackTable& stacks) override;
  Expected<bool> on_end(std::uint64_t events, const Replay& replay,
                        const StackTable& stacks) override;
  // The series, after the analysis ended.
  Timeline take() { return std::move(timeline_); }

 private:
  TimelineTracker tracker_;
  Timeline timeline_;
};

struct TimelineOptions {
  std::string hook = "gc_log_change";
  std::optional<std::uint64_t> heap_blocks;
  std::size_t max_points = 0;  // 0: one point per event; else at most this many, peaks kept
};

// Reads the whole log and returns its series.
Expected<Timeline> compute_timeline(io::LineReader& input, const TimelineOptions& options);

}  // namespace mpheap::trace
