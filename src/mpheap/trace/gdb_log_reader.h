// Reads the log gdb writes while it stops on gc_log_change and emits GcEvents as a stream.
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/io/line_reader.h"
#include "mpheap/trace/gc_event.h"
#include "mpheap/trace/stack_table.h"
#include "mpheap/util/error.h"

namespace mpheap::trace {

// The first line of a log that `mpheap capture trace --no-hook` wrote: its stops are in the
// collector's functions (gc_alloc, gc_free, gc_realloc, gc_collect_end, gc_sweep_all), not in a
// hook, and frame #0 (that function) is part of each event's stack.
inline constexpr std::string_view kNoHookHeader = "# mpheap capture trace --no-hook";

// How the callers of each stop were printed.
enum class LogStyle {
  unknown,    // no frames at all
  backtrace,  // `backtrace` after (or before) the `$N` values: frames #0..#N
  up,         // CircuitPython's `p/x` values followed by `up` commands: frame + source line each
  summary,    // one line per stop: `stop N start_block=X length=Y ... caller=FUNC ...`
};

const char* to_string(LogStyle style);

// Which frames an event's stack keeps. Chosen once, where the reader builds the stack, so every
// consumer (call trees, lifespans, exports, allocation sites) sees the same stacks.
enum class FrameView : std::uint8_t {
  mixed,        // every frame as logged, C and Python
  python_only,  // a stack with Python frames keeps only those (innermost first); a stack without
                // any (start-up, the compiler) stays as logged
};

struct LogReadStats {
  std::uint64_t stops = 0;             // hook stops read, repeats included
  std::uint64_t duplicates = 0;        // stops dropped as repeats of the one before
  bool incomplete_last_event = false;  // the log ended inside a stop; it was dropped
  std::uint64_t incomplete_line = 0;   // line of that stop
  std::string end_reason = "end of file";
  LogStyle style = LogStyle::unknown;
  bool wide_addresses = false;              // frames printed with 64-bit addresses
  std::uint64_t frames_without_source = 0;  // `?? ()` frames and frames with no file:line
  std::uint64_t python_stops =
      0;  // stops with at least one Python frame (`[py]`), repeats included
};

class GdbLogReader {
 public:
  // `hook` is the function gdb stops in; every other stop after the first hook stop ends the log.
  GdbLogReader(io::LineReader& input, StackTable& stacks, std::string hook = "gc_log_change",
               FrameView view = FrameView::mixed);

  // The next event, std::nullopt at the end of the trace, or the error that stops reading.
  Expected<std::optional<GcEvent>> next();

  [[nodiscard]] const LogReadStats& stats() const { return stats_; }

 private:
  struct Pending {
    bool active = false;
    std::uint64_t line = 0;
    std::string header_args;            // the stop line's argument list ("start_block=3, length=0")
    bool header_is_frame_text = false;  // header_args holds the whole frame text, not yet parsed
    std::uint64_t values[3] = {0, 0, 0};
    int value_count = 0;
    bool values_last = false;    // the last thing printed was a `$N` value
    bool terminated = false;     // something followed the stop's output
    bool last_line_cut = false;  // the stop's last line had no newline
    bool python = false;         // a frame of `frames` is a Python frame
    std::vector<FrameId> frames;

    void clear() {
      active = terminated = last_line_cut = values_last = python = false;
      line = 0;
      header_args.clear();
      header_is_frame_text = false;
      value_count = 0;
      frames.clear();
    }
  };
  struct Shape {
    bool known = false;
    int value_count = 0;
    bool has_frames = false;
    bool values_last = false;
    std::size_t frame_count = 0;
    std::string outermost;
  };

  enum class Step { more, event, end };
  Expected<Step> consume(const io::Line& line);
  Expected<Step> finish_pending(bool at_eof);
  Error error_at(std::uint64_t line, std::string what) const;
  void add_frame_text(std::string_view text);
  void attach_wrapped_location(std::string_view text);
  Expected<Step> flush_wrapped();
  Expected<Step> consume_summary_line(const io::Line& line);
  Expected<Step> consume_stop(std::string_view text, const io::Line& line);
  [[nodiscard]] bool matches_last_shape(const Pending& p) const;
  [[nodiscard]] static std::string_view stop_args(const Pending& p);
  [[nodiscard]] bool is_hook_frame_text(std::string_view frame_text) const;
  [[nodiscard]] static bool is_gc_function(std::string_view function);
  // The frames of `p`'s stack in the reader's view.
  [[nodiscard]] std::span<const FrameId> view_frames(const Pending& p);

  io::LineReader& input_;
  StackTable& stacks_;
  std::string hook_;
  FrameView view_;
  bool hook_frame_fast_ = false;  // `#0  HOOK (` lines can be recognised by their prefix
  std::optional<std::uint32_t> hook_breakpoint_;
  LogReadStats stats_;
  Pending pending_;
  Shape last_shape_;
  std::string wrapped_;  // a frame line gdb wrapped, being joined
  std::uint64_t wrapped_line_ = 0;
  std::deque<GcEvent> ready_;  // finished events not yet returned
  std::optional<GcEvent> last_emitted_;
  // The frames of the last event as logged: in the Python view two stops with different C frames
  // can share a stack, and only a repeat of the whole stop is a repeated report.
  std::vector<FrameId> last_frames_;
  std::vector<FrameId> view_frames_;  // scratch for view_frames
  bool last_frame_open_ = false;      // the last frame line had no location (gdb may wrap it)
  bool ended_ = false;
  bool done_ = false;
  bool gc_functions_ = false;  // a --no-hook log (kNoHookHeader)
  std::uint64_t emitted_ = 0;
};

}  // namespace mpheap::trace
