// Drives one pass over a log: every accumulator updates per event, nothing is kept per event.
#include "mpheap/trace/trace_analysis.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

namespace mpheap::trace {
namespace {

// Follows the collections of a log: a collection is a run of consecutive sweep events. Only the
// one being gathered is held; each is handed to the sink when it ends and then forgotten, so
// memory does not grow with the number of collections. Without a sink, sizes and sites are not
// gathered at all.
class CollectionTracker {
 public:
  CollectionTracker(const StackTable& stacks, CollectionSink* sink)
      : stacks_(stacks), sink_(sink) {}

  void on_event(std::uint64_t time, const GcEvent& e, const ReplayStep& step,
                const std::vector<EndedAllocation>& ended, std::uint64_t live_before,
                std::uint64_t live_after) {
    if (step.kind == EventKind::sweep) {
      if (!in_collection_) {
        current_.first_event = time;
        current_.live_blocks_before = live_before;
        current_.ticks = e.ticks;
        if (e.ticks && last_ticks_)
          current_.ms_since_previous = *e.ticks - std::min(*e.ticks, *last_ticks_);
        in_collection_ = true;
      }
      current_.last_event = time;
      current_.live_blocks_after = live_after;
      for (const EndedAllocation& a : ended) {
        ++current_.objects_freed;
        current_.blocks_freed += a.allocation.size;
      }
      return;
    }
    if (in_collection_) close(false);
    ++current_.events_since_previous;
    if (step.started && step.kind == EventKind::alloc) {
      ++current_.allocations_since_previous;
      current_.blocks_allocated_since_previous += e.length;
      if (sink_ == nullptr) return;
      ++current_.allocations_by_size[e.length];
      if (auto site = allocation_site(stacks_, e.stack)) {
        auto& s = current_.sites[*site];
        ++s.first;
        s.second += e.length;
      }
    }
  }

  // The number of collections (the trailing activity not counted).
  std::uint64_t finish() {
    if (in_collection_) close(false);
    if (current_.events_since_previous > 0 && closed_ > 0) close(true);
    return collections_;
  }

 private:
  void close(bool trailing) {
    current_.index = ++closed_;
    current_.trailing = trailing;
    if (!trailing) {
      ++collections_;
      if (current_.ticks) last_ticks_ = current_.ticks;
    }
    if (sink_ != nullptr) sink_->collection(current_, stacks_);
    current_ = Collection{};
    in_collection_ = false;
  }

  const StackTable& stacks_;
  CollectionSink* sink_;
  Collection current_;
  bool in_collection_ = false;
  std::optional<std::uint64_t> last_ticks_;
  std::uint64_t closed_ = 0;       // collections and the trailing activity handed on
  std::uint64_t collections_ = 0;  // collections alone
};

}  // namespace

std::optional<FrameId> allocation_site(const StackTable& stacks, StackId stack) {
  for (StackId s = stack; s != kEmptyStack; s = stacks.parent(s)) {
    FrameId f = stacks.frame_of(s);
    if (!stacks.frame(f).allocator) return f;
  }
  return std::nullopt;
}

std::vector<AllocationSite> allocation_sites(const TraceResult& result) {
  std::vector<AllocationSite> sites;
  std::vector<std::size_t> index(result.stacks.frame_count(), SIZE_MAX);  // frame -> sites[i]
  for (std::size_t s = 0; s < result.allocations_by_stack.size(); ++s) {
    const auto [allocations, blocks] = result.allocations_by_stack[s];
    if (allocations == 0) continue;
    auto site = allocation_site(result.stacks, static_cast<StackId>(s));
    if (!site) continue;
    if (index[*site] == SIZE_MAX) {
      index[*site] = sites.size();
      sites.push_back({*site, 0, 0});
    }
    sites[index[*site]].allocations += allocations;
    sites[index[*site]].blocks += blocks;
  }
  std::sort(sites.begin(), sites.end(), [](const AllocationSite& a, const AllocationSite& b) {
    if (a.allocations != b.allocations) return a.allocations > b.allocations;
    if (a.blocks != b.blocks) return a.blocks > b.blocks;
    return a.frame < b.frame;
  });
  return sites;
}

Expected<TraceResult> analyze_trace(io::LineReader& input, const TraceOptions& options,
                                    LifespanSink* lifespans) {
  TraceResult result;
  TraceSummary& sum = result.summary;
  sum.file = input.name();
  GdbLogReader reader(input, result.stacks, options.hook, options.frame_view);
  Replay replay(result.stacks);
  CollectionTracker collections(result.stacks, options.collection_sink);
  std::vector<EndedAllocation> ended;
  bool tree_taken = false;
  std::uint64_t time = 0;

  for (;;) {
    auto next = reader.next();
    if (!next) return next.error();
    if (!next->has_value()) break;
    const GcEvent& e = **next;
    ended.clear();
    std::uint64_t live_before = replay.live_blocks();
    ReplayStep step = replay.apply(e, time, ended);
    ++sum.kinds[static_cast<int>(step.kind)];
    if (step.by_caller) ++sum.by_caller;
    if (e.ticks) sum.has_ticks = true;
    if (step.kind == EventKind::alloc) ++sum.size_histogram[e.length];
    if (step.started) {
      if (e.stack >= result.allocated_by_stack.size())
        result.allocated_by_stack.resize(
            std::max<std::size_t>(e.stack + 1, result.allocated_by_stack.size() * 2));
      result.allocated_by_stack[e.stack] += e.length;
      if (step.kind == EventKind::alloc) {
        if (e.stack >= result.allocations_by_stack.size())
          result.allocations_by_stack.resize(
              std::max<std::size_t>(e.stack + 1, result.allocations_by_stack.size() * 2));
        ++result.allocations_by_stack[e.stack].first;
        result.allocations_by_stack[e.stack].second += e.length;
      }
    }
    if (lifespans != nullptr)
      for (const EndedAllocation& a : ended) lifespans->ended(a, result.stacks);
    collections.on_event(time, e, step, ended, live_before, replay.live_blocks());
    for (ReplayObserver* o : options.observers)
      if (auto ok = o->on_event(time, e, step, ended, live_before, replay, result.stacks); !ok)
        return ok.error();
    if (replay.live_blocks() > sum.peak_live_blocks) {
      sum.peak_live_blocks = replay.live_blocks();
      sum.peak_event = time;
    }
    if (options.at_event && *options.at_event == time) {
      result.live_by_stack = replay.live_blocks_by_stack();
      result.tree_event = time;
      tree_taken = true;
    }
    ++time;
    if (options.progress && (time & 0x3fff) == 0) options.progress(input.bytes_consumed(), time);
  }

  const LogReadStats& rs = reader.stats();
  sum.events = time;
  sum.stops = rs.stops;
  sum.duplicates = rs.duplicates;
  sum.incomplete_last_event = rs.incomplete_last_event;
  sum.incomplete_line = rs.incomplete_line;
  sum.end_reason = rs.end_reason;
  sum.style = rs.style;
  sum.wide_addresses = rs.wide_addresses;
  sum.frames_without_source = rs.frames_without_source;
  sum.frame_view = options.frame_view;
  sum.python_stops = rs.python_stops;
  sum.bytes_read = input.bytes_consumed();
  sum.unlogged = replay.unlogged();
  sum.unmatched_frees = replay.unmatched();
  sum.sweeps_logged = sum.kinds[static_cast<int>(EventKind::sweep)] > 0;
  sum.live_blocks_end = replay.live_blocks();
  sum.live_allocations_end = replay.live_allocations();
  sum.distinct_frames = result.stacks.frame_count();
  sum.distinct_stacks = result.stacks.stack_count();
  if (options.block_size) {
    sum.block_size = *options.block_size;
    sum.block_size_source = options.block_size_source;
  } else if (sum.wide_addresses) {
    sum.block_size = 32;
    sum.block_size_source = "64-bit addresses in the log";
  } else {
    sum.block_size = 16;
    sum.block_size_source = "default for 32-bit targets";
  }

  if (options.at_event && !tree_taken) {
    return Error{input.name(), 0, 0,
                 fmt::format("--at {} is past the last event: the log has {} events (0..{})",
                             *options.at_event, time, time == 0 ? 0 : time - 1)};
  }
  if (!tree_taken) {
    result.live_by_stack = replay.live_blocks_by_stack();
    result.tree_event = time == 0 ? 0 : time - 1;
  }
  if (lifespans != nullptr)
    for (const auto& [start, a] : replay.live()) lifespans->still_live(a, time, result.stacks);
  for (ReplayObserver* o : options.observers)
    if (auto ok = o->on_end(time, replay, result.stacks); !ok) return ok.error();
  result.collections = collections.finish();
  if (options.progress) options.progress(input.bytes_consumed(), time);
  return result;
}

}  // namespace mpheap::trace
