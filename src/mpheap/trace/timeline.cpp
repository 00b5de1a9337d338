// The memory-over-time series: free runs kept in ordered maps, decimation by buckets that keep
// each bucket's highest and lowest live figure and its smallest largest-free-run.
#include "mpheap/trace/timeline.h"

#include <fmt/format.h>

#include <algorithm>

#include "mpheap/trace/gdb_log_reader.h"

namespace mpheap::trace {

FreeRunSet::FreeRunSet(std::uint64_t heap_blocks) : heap_blocks_(heap_blocks) {
  if (heap_blocks > 0) add_run(0, heap_blocks);
}

void FreeRunSet::add_run(std::uint64_t start, std::uint64_t length) {
  runs_.emplace(start, length);
  ++lengths_[length];
  free_ += length;
}

void FreeRunSet::remove_run(std::map<std::uint64_t, std::uint64_t>::iterator it) {
  auto l = lengths_.find(it->second);
  if (--l->second == 0) lengths_.erase(l);
  free_ -= it->second;
  runs_.erase(it);
}

std::uint64_t FreeRunSet::largest() const {
  return lengths_.empty() ? 0 : lengths_.rbegin()->first;
}

bool FreeRunSet::allocate(std::uint64_t start, std::uint64_t length) {
  if (length == 0) return true;
  if (start >= heap_blocks_ || length > heap_blocks_ - start) return false;
  auto it = runs_.upper_bound(start);
  if (it == runs_.begin()) return false;
  --it;
  std::uint64_t run_start = it->first, run_end = it->first + it->second;
  if (start + length > run_end) return false;
  remove_run(it);
  if (start > run_start) add_run(run_start, start - run_start);
  if (start + length < run_end) add_run(start + length, run_end - start - length);
  return true;
}

void FreeRunSet::release(std::uint64_t start, std::uint64_t length) {
  if (length == 0) return;
  std::uint64_t first = start, end = start + length;
  auto next = runs_.lower_bound(start);
  if (next != runs_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == start) {
      first = prev->first;
      remove_run(prev);
    }
  }
  if (next != runs_.end() && next->first == end) {
    end += next->second;
    remove_run(next);
  }
  add_run(first, end - first);
}

TimelineTracker::TimelineTracker(std::string source, std::optional<std::uint64_t> heap_blocks,
                                 std::size_t max_points, bool keep_points)
    : source_(std::move(source)), max_points_(max_points), keep_points_(keep_points) {
  if (max_points_ != 0) max_points_ = std::max<std::size_t>(max_points_, 16);
  out_.heap_blocks = heap_blocks;
  if (heap_blocks) free_.emplace(*heap_blocks);
}

Expected<TimelinePoint> TimelineTracker::add(std::uint64_t time, const GcEvent& event,
                                             const ReplayStep& step,
                                             std::span<const EndedAllocation> ended,
                                             std::uint64_t live_blocks) {
  TimelinePoint p;
  p.event = time;
  p.live_blocks = live_blocks;
  p.collection = step.kind == EventKind::sweep;
  if (free_) {
    for (const EndedAllocation& a : ended)
      free_->release(a.allocation.start_block, a.allocation.size);
    if (step.started && !free_->allocate(event.start_block, event.length)) {
      return Error{source_, event.line, 0,
                   fmt::format("event {} uses blocks {}..{}, which do not fit in a heap of {} "
                               "blocks: is the heap size (--heap-blocks or the firmware's) right?",
                               time, event.start_block, event.start_block + event.length - 1,
                               *out_.heap_blocks)};
    }
    p.free_blocks = free_->free_blocks();
    p.largest_free_run = free_->largest();
    if (!out_.min_largest_free_run || p.largest_free_run < *out_.min_largest_free_run) {
      out_.min_largest_free_run = p.largest_free_run;
      out_.min_largest_free_run_event = time;
    }
  }
  if (p.live_blocks > out_.peak_live_blocks) {
    out_.peak_live_blocks = p.live_blocks;
    out_.peak_event = time;
  }
  if (p.collection) {
    ++sweeps_;
    if (!in_collection_) ++out_.collections;
  }
  in_collection_ = p.collection;
  out_.events = time + 1;

  if (!keep_points_) return p;
  Candidate c{p, sweeps_};
  if (max_points_ == 0) {
    kept_.push_back(c);
    return p;
  }
  last_ = c;
  std::uint64_t index = time / width_;
  if (bucket_.open && bucket_.index != index) close_bucket();
  if (!bucket_.open) {
    bucket_ = Bucket{true, index, c, c, c};
  } else {
    if (p.live_blocks > bucket_.max_live.point.live_blocks) bucket_.max_live = c;
    if (p.live_blocks < bucket_.min_live.point.live_blocks) bucket_.min_live = c;
    if (p.largest_free_run < bucket_.min_run.point.largest_free_run) bucket_.min_run = c;
  }
  return p;
}

void TimelineTracker::close_bucket() {
  Candidate picks[3] = {bucket_.max_live, bucket_.min_live, bucket_.min_run};
  std::sort(std::begin(picks), std::end(picks),
            [](const Candidate& a, const Candidate& b) { return a.point.event < b.point.event; });
  for (std::size_t i = 0; i < 3; ++i)
    if (i == 0 || picks[i].point.event != picks[i - 1].point.event) kept_.push_back(picks[i]);
  bucket_.open = false;
  // One place stays free for the last event, which finish() always adds.
  while (kept_.size() > max_points_ - 1) compact();
}

void TimelineTracker::compact() {
  width_ *= 2;
  std::vector<Candidate> merged;
  merged.reserve(kept_.size());
  std::size_t i = 0;
  while (i < kept_.size()) {
    std::uint64_t index = kept_[i].point.event / width_;
    Bucket b{true, index, kept_[i], kept_[i], kept_[i]};
    std::size_t j = i + 1;
    for (; j < kept_.size() && kept_[j].point.event / width_ == index; ++j) {
      const Candidate& c = kept_[j];
      if (c.point.live_blocks > b.max_live.point.live_blocks) b.max_live = c;
      if (c.point.live_blocks < b.min_live.point.live_blocks) b.min_live = c;
      if (c.point.largest_free_run < b.min_run.point.largest_free_run) b.min_run = c;
    }
    Candidate picks[3] = {b.max_live, b.min_live, b.min_run};
    std::sort(std::begin(picks), std::end(picks),
              [](const Candidate& x, const Candidate& y) { return x.point.event < y.point.event; });
    for (std::size_t k = 0; k < 3; ++k)
      if (k == 0 || picks[k].point.event != picks[k - 1].point.event) merged.push_back(picks[k]);
    i = j;
  }
  kept_ = std::move(merged);
  out_.decimated = true;
}

Timeline TimelineTracker::finish() {
  if (max_points_ != 0) {
    if (bucket_.open) close_bucket();
    if (last_ && (kept_.empty() || kept_.back().point.event != last_->point.event))
      kept_.push_back(*last_);
    if (kept_.size() < out_.events) out_.decimated = true;
  }
  out_.points.clear();
  out_.points.reserve(kept_.size());
  std::uint64_t sweeps_before = 0;
  for (const Candidate& c : kept_) {
    TimelinePoint p = c.point;
    p.collection = c.sweeps > sweeps_before;
    sweeps_before = c.sweeps;
    out_.points.push_back(p);
  }
  kept_.clear();
  return std::move(out_);
}

Expected<bool> TimelineObserver::on_event(std::uint64_t time, const GcEvent& event,
                                          const ReplayStep& step,
                                          std::span<const EndedAllocation> ended,
                                          std::uint64_t /*live_before*/, const Replay& replay,
                                          const StackTable& /*stacks*/) {
  auto p = tracker_.add(time, event, step, ended, replay.live_blocks());
  if (!p) return p.error();
  return true;
}

Expected<bool> TimelineObserver::on_end(std::uint64_t /*events*/, const Replay& /*replay*/,
                                        const StackTable& /*stacks*/) {
  timeline_ = tracker_.finish();
  return true;
}

Expected<Timeline> compute_timeline(io::LineReader& input, const TimelineOptions& options) {
  TimelineObserver series(input.name(), options.heap_blocks, options.max_points);
  TraceOptions to;
  to.hook = options.hook;
  to.observers = {&series};
  auto result = analyze_trace(input, to, nullptr);
  if (!result) return result.error();
  return series.take();
}

}  // namespace mpheap::trace
