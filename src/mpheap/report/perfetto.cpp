// Streams a replayed GC log as Chrome trace-event JSON: counters from the timeline tracker,
// collection instants, allocation slices on lanes (a lane is free again when its allocation
// ends, so slices on one track never overlap).
#include "mpheap/report/perfetto.h"

#include <fmt/format.h>

#include <set>
#include <unordered_map>
#include <vector>

#include "mpheap/trace/replay.h"
#include "mpheap/trace/timeline.h"
#include "mpheap/trace/trace_analysis.h"

namespace mpheap::report {
namespace {

constexpr int kPid = 1;
constexpr int kCounterTid = 1;
constexpr int kFirstLaneTid = 100;

class PerfettoWriter {
 public:
  PerfettoWriter(Output& out, const PerfettoOptions& o) : out_(out), o_(o) {}

  void begin(const std::string& source) {
    std::string& b = out_.buffer();
    b += "{\"displayTimeUnit\": \"ns\", \"otherData\": {\"exporter\": \"mpheap\", \"version\": ";
    fmt::format_to(std::back_inserter(b), "{}, \"source\": ", kPerfettoVersion);
    append_json_string(b, source);
    b += ", \"time_axis\": \"event index (1 event = 1 us)\", \"unit\": ";
    b += o_.block_size ? "\"bytes\"" : "\"blocks\"";
    if (o_.block_size)
      fmt::format_to(std::back_inserter(b), ", \"block_size\": {}", *o_.block_size);
    if (o_.heap_blocks)
      fmt::format_to(std::back_inserter(b), ", \"heap_blocks\": {}", *o_.heap_blocks);
    b += "},\n\"traceEvents\": [\n";
    fmt::format_to(
        std::back_inserter(b),
        "{{\"name\": \"process_name\", \"ph\": \"M\", \"pid\": {}, \"args\": {{\"name\": ", kPid);
    append_json_string(b, o_.process_name);
    fmt::format_to(std::back_inserter(b),
                   "}}}},\n{{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": {}, \"tid\": {}, "
                   "\"args\": {{\"name\": \"heap\"}}}}",
                   kPid, kCounterTid);
  }

  void counter(const char* name, std::uint64_t ts, std::uint64_t blocks, std::uint64_t& last,
               bool& written) {
    if (written && last == blocks) return;
    last = blocks;
    written = true;
    std::uint64_t value = o_.block_size ? blocks * *o_.block_size : blocks;
    fmt::format_to(std::back_inserter(out_.buffer()),
                   ",\n{{\"name\": \"{}\", \"ph\": \"C\", \"ts\": {}, \"pid\": {}, \"tid\": {}, "
                   "\"args\": {{\"{}\": {}}}}}",
                   name, ts, kPid, kCounterTid, o_.block_size ? "bytes" : "blocks", value);
    ++stats_.counter_samples;
  }

  void point(const trace::TimelinePoint& p) {
    counter("VM Heap Used", p.event, p.live_blocks, last_used_, used_written_);
    if (o_.heap_blocks) {
      counter("VM Heap Free", p.event, p.free_blocks, last_free_, free_written_);
      counter("VM Heap Largest Free Run", p.event, p.largest_free_run, last_run_, run_written_);
    }
  }

  // Collections: a run of sweep events, written when it ends.
  void collection_step(std::uint64_t time, bool sweep,
                       std::span<const trace::EndedAllocation> ended, std::uint64_t live_before,
                       std::uint64_t live_after) {
    if (!sweep) {
      if (in_collection_) close_collection();
      return;
    }
    if (!in_collection_) {
      in_collection_ = true;
      first_ = time;
      live_before_ = live_before;
      objects_ = blocks_ = 0;
    }
    last_ = time;
    live_after_ = live_after;
    for (const auto& a : ended) {
      ++objects_;
      blocks_ += a.allocation.size;
    }
  }

  void close_collection() {
    in_collection_ = false;
    ++stats_.collections;
    fmt::format_to(
        std::back_inserter(out_.buffer()),
        ",\n{{\"name\": \"gc collection\", \"cat\": \"gc\", \"ph\": \"i\", \"s\": \"p\", "
        "\"ts\": {}, \"pid\": {}, \"tid\": {}, \"args\": {{\"index\": {}, "
        "\"first_event\": {}, \"last_event\": {}, \"objects_freed\": {}, "
        "\"blocks_freed\": {}, \"live_blocks_before\": {}, \"live_blocks_after\": {}}}}}",
        first_, kPid, kCounterTid, stats_.collections, first_, last_, objects_, blocks_,
        live_before_, live_after_);
  }

  void started(const trace::Allocation& a) {
    std::uint32_t lane;
    if (free_lanes_.empty()) {
      lane = static_cast<std::uint32_t>(stats_.lanes++);
      fmt::format_to(std::back_inserter(out_.buffer()),
                     ",\n{{\"name\": \"thread_name\", \"ph\": \"M\", \"pid\": {}, \"tid\": {}, "
                     "\"args\": {{\"name\": \"allocations {}\"}}}}",
                     kPid, kFirstLaneTid + lane, lane);
    } else {
      lane = *free_lanes_.begin();
      free_lanes_.erase(free_lanes_.begin());
    }
    lanes_[a.start_block] = lane;
  }

  void slice(const trace::Allocation& a, std::uint64_t end_time, const char* cause,
             const trace::StackTable& stacks) {
    auto it = lanes_.find(a.start_block);
    if (it == lanes_.end()) return;
    std::uint32_t lane = it->second;
    lanes_.erase(it);
    free_lanes_.insert(lane);
    std::string& b = out_.buffer();
    b += ",\n{\"name\": ";
    append_json_string(b, site_label(a.start_stack, stacks));
    fmt::format_to(
        std::back_inserter(b),
        ", \"cat\": \"allocation\", \"ph\": \"X\", \"ts\": {}, \"dur\": {}, \"pid\": {}, "
        "\"tid\": {}, \"args\": {{\"start_block\": {}, \"blocks\": {}, \"end\": \"{}\"}}}}",
        a.start_time, end_time - a.start_time, kPid, kFirstLaneTid + lane, a.start_block, a.size,
        cause);
    ++stats_.slices;
  }

  void end() {
    if (in_collection_) close_collection();
    out_.buffer() += "\n]}\n";
  }

  void flush() { out_.maybe_flush(); }
  PerfettoStats stats_;

 private:
  // The allocating call site: "function (file:line)" of the innermost frame outside the
  // allocator, cached per frame.
  const std::string& site_label(trace::StackId stack, const trace::StackTable& stacks) {
    static const std::string kNoStack = "[no stack]";
    auto site = trace::allocation_site(stacks, stack);
    if (!site) return kNoStack;
    if (*site >= labels_.size()) labels_.resize(stacks.frame_count());
    std::string& s = labels_[*site];
    if (s.empty()) {
      const trace::Frame& f = stacks.frame(*site);
      s = fmt::format("{} ({})", f.function, f.location);
    }
    return s;
  }

  Output& out_;
  const PerfettoOptions& o_;
  std::uint64_t last_used_ = 0, last_free_ = 0, last_run_ = 0;
  bool used_written_ = false, free_written_ = false, run_written_ = false;
  bool in_collection_ = false;
  std::uint64_t first_ = 0, last_ = 0, live_before_ = 0, live_after_ = 0, objects_ = 0, blocks_ = 0;
  std::unordered_map<std::uint64_t, std::uint32_t> lanes_;  // live allocation -> lane
  std::set<std::uint32_t> free_lanes_;
  std::vector<std::string> labels_;  // by FrameId
};

}  // namespace

struct PerfettoExport::State {
  State(Output& out, const PerfettoOptions& o, const std::string& source)
      : timeline(source, o.heap_blocks, 0, false), writer(out, o) {}
  trace::TimelineTracker timeline;
  PerfettoWriter writer;
};

PerfettoExport::PerfettoExport(const PerfettoOptions& options, Output& out, std::string source)
    : options_(options),
      source_(std::move(source)),
      state_(std::make_unique<State>(out, options_, source_)) {
  state_->writer.begin(source_);
}

PerfettoExport::~PerfettoExport() = default;

Expected<bool> PerfettoExport::on_event(std::uint64_t time, const trace::GcEvent& event,
                                        const trace::ReplayStep& step,
                                        std::span<const trace::EndedAllocation> ended,
                                        std::uint64_t live_before, const trace::Replay& replay,
                                        const trace::StackTable& stacks) {
  PerfettoWriter& w = state_->writer;
  auto p = state_->timeline.add(time, event, step, ended, replay.live_blocks());
  if (!p) return p.error();
  w.collection_step(time, step.kind == trace::EventKind::sweep, ended, live_before,
                    replay.live_blocks());
  w.point(*p);
  if (options_.slices) {
    for (const trace::EndedAllocation& a : ended)
      w.slice(a.allocation, a.end_time, trace::to_string(a.cause), stacks);
    if (step.started) w.started(replay.live().at(event.start_block));
  }
  w.flush();
  return true;
}

Expected<bool> PerfettoExport::on_end(std::uint64_t events, const trace::Replay& replay,
                                      const trace::StackTable& stacks) {
  PerfettoWriter& w = state_->writer;
  if (events == 0) return Error{source_, 0, 0, "no hook events: nothing to export"};
  // Allocations live at the end last until the end of the trace.
  if (options_.slices)
    for (const auto& [start, a] : replay.live()) w.slice(a, events, "live", stacks);
  w.end();
  w.flush();
  w.stats_.events = events;
  return true;
}

const PerfettoStats& PerfettoExport::stats() const {
  return state_->writer.stats_;
}

}  // namespace mpheap::report
