// The gdb log reader: assembles stops of the hook (values + frames) into GcEvents, drops
// repeated reports, and decides where the trace ends and whether its last stop is complete.
#include "mpheap/trace/gdb_log_reader.h"

#include <fmt/format.h>

#include "mpheap/trace/gdb_lines.h"

namespace mpheap::trace {

const char* to_string(LogStyle style) {
  switch (style) {
    case LogStyle::backtrace:
      return "backtrace";
    case LogStyle::up:
      return "p/x + up";
    case LogStyle::summary:
      return "one line per stop";
    case LogStyle::unknown:
      break;
  }
  return "values only";
}

GdbLogReader::GdbLogReader(io::LineReader& input, StackTable& stacks, std::string hook,
                           FrameView view)
    : input_(input),
      stacks_(stacks),
      hook_(std::move(hook)),
      view_(view),
      // gdb's parser takes the function up to the first " (" and an address for a leading "0x".
      hook_frame_fast_(!hook_.empty() && hook_.find(' ') == std::string::npos &&
                       !hook_.starts_with("0x")) {}

Error GdbLogReader::error_at(std::uint64_t line, std::string what) const {
  return Error{input_.name(), line, 0, std::move(what)};
}

Expected<std::optional<GcEvent>> GdbLogReader::next() {
  for (;;) {
    if (!ready_.empty()) {
      GcEvent e = ready_.front();
      ready_.pop_front();
      return std::optional<GcEvent>(e);
    }
    if (done_) return std::optional<GcEvent>();
    io::Line line;
    if (ended_ || !input_.next(line)) {
      if (input_.error() != nullptr) return *input_.error();
      if (auto s = flush_wrapped(); !s) return s.error();
      if (auto s = finish_pending(/*at_eof=*/!ended_); !s) return s.error();
      done_ = true;
      if (stats_.stops == 0) {
        return Error{input_.name(), 0, 0,
                     fmt::format("expected stops of gdb at the hook, lines like 'Breakpoint 1, "
                                 "{} (start_block=..., length=...) at .../gc.c:NNN', found none in "
                                 "{} lines",
                                 hook_, input_.lines_read())};
      }
      continue;
    }
    auto step = consume(line);
    if (!step) return step.error();
  }
}

Expected<GdbLogReader::Step> GdbLogReader::flush_wrapped() {
  if (wrapped_.empty()) return Step::more;
  std::string text = std::move(wrapped_);
  wrapped_.clear();
  add_frame_text(text);
  return Step::more;
}

void GdbLogReader::add_frame_text(std::string_view text) {
  // The hook's own frame `#0  HOOK (...`, once per stop: what parse_frame_line would find.
  if (hook_frame_fast_ && text.size() > 3 && text[0] == '#' && text[1] == '0' && text[2] == ' ') {
    std::size_t i = 3;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    std::string_view rest = text.substr(i);
    if (rest.starts_with(hook_) && rest.substr(hook_.size()).starts_with(" (")) {
      stats_.style = LogStyle::backtrace;
      return;
    }
  }
  // Fast path: a return address seen before names the same function and line (one log comes
  // from one build), so the rest of the line need not be parsed.
  if (auto addressed = gdb::frame_line_address(text); addressed && addressed->index > 0) {
    if (auto known = stacks_.find_by_address_value(addressed->value)) {
      last_frame_open_ = stacks_.frame(*known).location == "??";
      if (last_frame_open_) ++stats_.frames_without_source;
      if (stats_.style == LogStyle::unknown) stats_.style = LogStyle::up;
      pending_.frames.push_back(*known);
      pending_.values_last = false;
      return;
    }
  }
  auto parsed = gdb::parse_frame_line(text);
  gdb::FrameText frame;
  std::uint32_t index = 0;
  if (parsed) {
    frame = parsed->frame;
    index = parsed->index;
  } else {
    // "#3  <signal handler called>" and other frames gdb describes in words.
    std::size_t sp = text.find(' ');
    frame.function = sp == std::string_view::npos ? std::string_view("??") : text.substr(sp + 1);
    while (!frame.function.empty() && frame.function.front() == ' ')
      frame.function.remove_prefix(1);
  }
  if (index == 0 && !frame.python && frame.function == hook_) {
    stats_.style = LogStyle::backtrace;
    return;  // the hook's own frame
  }
  if (stats_.style == LogStyle::unknown)
    stats_.style = index == 0 ? LogStyle::backtrace : LogStyle::up;
  if (frame.location.empty()) ++stats_.frames_without_source;
  std::string_view location = frame.location.empty() ? "??" : frame.location;
  std::string_view function = frame.function.empty() ? "??" : frame.function;
  FrameId id = frame.python ? stacks_.intern_python_frame(location, function)
                            : stacks_.intern_frame(frame.address.empty() ? "0x0" : frame.address,
                                                   location, function);
  if (stacks_.frame(id).wide_address) stats_.wide_addresses = true;
  if (frame.python) pending_.python = true;
  // A Python frame is one line; what follows it is never its location.
  last_frame_open_ = !frame.python && frame.location.empty();
  pending_.frames.push_back(id);
  pending_.values_last = false;
}

// gdb may also break a frame line just before its location: "    at ../../py/map.c:95".
void GdbLogReader::attach_wrapped_location(std::string_view text) {
  if (!last_frame_open_ || !pending_.active || pending_.frames.empty()) return;
  last_frame_open_ = false;
  std::size_t i = 0;
  while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
  const std::string frame_text = "f () " + std::string(text.substr(i));
  auto parsed = gdb::parse_frame_text(frame_text);
  if (!parsed || parsed->location.empty()) return;
  const Frame old = stacks_.frame(pending_.frames.back());
  if (old.location == "??" && stats_.frames_without_source > 0) --stats_.frames_without_source;
  pending_.frames.back() = old.python
                               ? stacks_.intern_python_frame(parsed->location, old.function)
                               : stacks_.intern_frame(old.address, parsed->location, old.function);
}

Expected<GdbLogReader::Step> GdbLogReader::consume(const io::Line& line) {
  std::string_view text = line.text;
  if (!wrapped_.empty()) {
    if (!text.empty() && (text[0] == ' ' || text[0] == '\t')) {
      std::size_t i = 0;
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      if (!wrapped_.empty() && wrapped_.back() != ' ') wrapped_.push_back(' ');
      wrapped_.append(text.substr(i));
      if (!line.terminated) pending_.last_line_cut = true;
      return Step::more;
    }
    if (auto s = flush_wrapped(); !s) return s;
  }
  if (pending_.active) pending_.last_line_cut = !line.terminated;
  if (!text.empty() && (text[0] == ' ' || text[0] == '\t')) {
    attach_wrapped_location(text);
    return Step::more;
  }
  last_frame_open_ = false;
  if (text.empty()) {
    if (pending_.active && line.terminated) pending_.terminated = true;
    return Step::more;
  }
  switch (text[0]) {
    case '#':
      // `mpheap capture trace --no-hook` says so on its first line: its stops are in the
      // collector's functions, and frame #0 is the function that changed the heap.
      if (line.number == 1 && text.starts_with(kNoHookHeader)) {
        gc_functions_ = true;
        return Step::more;
      }
      if (!pending_.active) return Step::more;
      if (!gdb::frame_line_looks_complete(text)) {
        wrapped_.assign(text);
        wrapped_line_ = line.number;
        return Step::more;
      }
      add_frame_text(text);
      return Step::more;
    case '$': {
      if (!pending_.active) return Step::more;
      auto v = gdb::parse_value_line(text);
      if (!v) return Step::more;
      auto number = gdb::parse_integer(v->value);
      if (!number) {
        return error_at(
            line.number,
            fmt::format("expected a number (start_block, length or ticks) after '{}', "
                        "found '{}'",
                        text.substr(0, text.size() - v->value.size()), v->value.substr(0, 60)));
      }
      if (pending_.value_count < 3) pending_.values[pending_.value_count] = *number;
      ++pending_.value_count;
      pending_.values_last = true;
      return Step::more;
    }
    case 'B':
    case 'T':
    case 'H':
      return consume_stop(text, line);
    case 's':
      if (text.starts_with("stop ") && text.find(" start_block=") != std::string_view::npos)
        return consume_summary_line(line);
      return Step::more;
    case '[':
      if (text.starts_with("[Inferior ") && (text.find(" exited") != std::string_view::npos ||
                                             text.find(" killed") != std::string_view::npos)) {
        if (stats_.stops == 0) return Step::more;
        ended_ = true;
        stats_.end_reason = fmt::format("the program ended (line {})", line.number);
        if (pending_.active) pending_.terminated = true;
        return finish_pending(false);
      }
      return Step::more;
    case 'C':
    case 'P':
      if (pending_.active &&
          (text.starts_with("Continuing.") || text.starts_with("Program received signal")))
        pending_.terminated = true;
      return Step::more;
    default:
      return Step::more;
  }
}

// What parse_frame_text would find: the function is the hook (its text up to the first " ("), so
// the stop is the hook's; its arguments are parsed only if they are needed.
bool GdbLogReader::is_hook_frame_text(std::string_view frame_text) const {
  if (!hook_frame_fast_) return false;
  std::size_t i = 0;
  while (i < frame_text.size() && (frame_text[i] == ' ' || frame_text[i] == '\t')) ++i;
  frame_text.remove_prefix(i);
  return frame_text.starts_with(hook_) && frame_text.substr(hook_.size()).starts_with(" (");
}

bool GdbLogReader::is_gc_function(std::string_view function) {
  return function == "gc_alloc" || function == "gc_free" || function == "gc_realloc" ||
         function == "gc_collect_end" || function == "gc_sweep_all";
}

std::span<const FrameId> GdbLogReader::view_frames(const Pending& p) {
  if (view_ == FrameView::mixed || !p.python) return p.frames;
  view_frames_.clear();
  for (FrameId f : p.frames)
    if (stacks_.frame(f).python) view_frames_.push_back(f);
  return view_frames_;
}

std::string_view GdbLogReader::stop_args(const Pending& p) {
  if (!p.header_is_frame_text) return p.header_args;
  auto frame = gdb::parse_frame_text(p.header_args);
  return frame ? frame->args : std::string_view{};
}

Expected<GdbLogReader::Step> GdbLogReader::consume_stop(std::string_view text,
                                                        const io::Line& line) {
  auto stop = gdb::split_stop_line(text);
  if (!stop) return Step::more;
  const bool hook_stop = is_hook_frame_text(stop->frame_text);
  std::optional<gdb::FrameText> frame;
  if (!hook_stop) {
    frame = gdb::parse_frame_text(stop->frame_text);
    if (!frame) return Step::more;
  }
  if (pending_.active) pending_.terminated = true;
  if (!hook_stop && frame->function != hook_ &&
      !(gc_functions_ && is_gc_function(frame->function))) {
    if (stats_.stops == 0) return Step::more;  // a stop before the trace starts
    ended_ = true;
    stats_.end_reason = fmt::format("stop at breakpoint {} in {} (line {})", stop->breakpoint,
                                    frame->function, line.number);
    return finish_pending(false);
  }
  auto finished = finish_pending(false);
  if (!finished) return finished;
  ++stats_.stops;
  pending_.clear();
  pending_.active = true;
  pending_.line = line.number;
  pending_.last_line_cut = !line.terminated;
  // Parsed only if the stop prints no values (see finish_pending).
  if (hook_stop) {
    pending_.header_args.assign(stop->frame_text);
    pending_.header_is_frame_text = true;
  } else {
    pending_.header_args.assign(frame->args);
  }
  return finished;
}

// `stop 12 start_block=11 length=2 counts=10,2,0,0 caller=gc_alloc + 247 in section .text`
Expected<GdbLogReader::Step> GdbLogReader::consume_summary_line(const io::Line& line) {
  if (pending_.active) pending_.terminated = true;
  auto finished = finish_pending(false);
  if (!finished) return finished;
  std::string_view text = line.text;
  auto field = [&](std::string_view key) -> std::optional<std::string_view> {
    std::size_t at = text.find(key);
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view v = text.substr(at + key.size());
    return v.substr(0, v.find(' '));
  };
  auto start = field(" start_block=");
  auto length = field(" length=");
  std::optional<std::uint64_t> s = start ? gdb::parse_integer(*start) : std::nullopt;
  std::optional<std::uint64_t> l = length ? gdb::parse_integer(*length) : std::nullopt;
  if (!s || !l) {
    return error_at(line.number,
                    fmt::format("expected 'start_block=N length=N' numbers in the stop summary, "
                                "found '{}'",
                                text.substr(0, 80)));
  }
  ++stats_.stops;
  stats_.style = LogStyle::summary;
  Pending p;
  p.active = true;
  p.line = line.number;
  p.values[0] = *s;
  p.values[1] = *l;
  p.value_count = 2;
  if (auto t = field(" ticks_ms="); t) {
    if (auto tv = gdb::parse_integer(*t)) p.values[p.value_count++] = *tv;
  } else if (auto t2 = field(" ticks="); t2) {
    if (auto tv = gdb::parse_integer(*t2)) p.values[p.value_count++] = *tv;
  }
  if (auto caller = field(" caller="); caller && !caller->empty()) {
    p.frames.push_back(stacks_.intern_frame("0x0", "??", *caller));
  }
  p.terminated = line.terminated;
  p.last_line_cut = !line.terminated;
  pending_ = std::move(p);
  return finish_pending(!line.terminated);
}

bool GdbLogReader::matches_last_shape(const Pending& p) const {
  bool has_values = p.value_count >= 2 || (gdb::argument_integer(stop_args(p), 0) &&
                                           gdb::argument_integer(stop_args(p), 1));
  if (!last_shape_.known) return has_values;
  if (p.value_count != last_shape_.value_count) return false;
  if (!p.frames.empty() != last_shape_.has_frames) return false;
  if (p.values_last != last_shape_.values_last) return false;
  if (p.values_last || p.frames.empty()) return true;
  if (stats_.style == LogStyle::up) return p.frames.size() == last_shape_.frame_count;
  return stacks_.frame(p.frames.back()).function == last_shape_.outermost;
}

Expected<GdbLogReader::Step> GdbLogReader::finish_pending(bool at_eof) {
  if (!pending_.active) return Step::more;
  // Work on the pending stop in place and clear it on the way out (keeping its buffers).
  struct ClearOnExit {
    Pending& p;
    ~ClearOnExit() { p.clear(); }
  } clear_on_exit{pending_};
  const Pending& p = pending_;
  if (at_eof && (!p.terminated || p.last_line_cut)) {
    if (p.last_line_cut || !matches_last_shape(p)) {
      stats_.incomplete_last_event = true;
      stats_.incomplete_line = p.line;
      return Step::more;
    }
  }
  GcEvent ev;
  ev.line = p.line;
  if (p.value_count >= 2) {
    ev.start_block = p.values[0];
    ev.length = p.values[1];
    if (p.value_count >= 3) ev.ticks = p.values[2];
  } else {
    std::string_view args = stop_args(p);
    auto start = gdb::argument_integer(args, 0);
    auto length = gdb::argument_integer(args, 1);
    if (!start || !length) {
      return error_at(p.line,
                      fmt::format("expected start_block and length for this stop in {}: two '$N = "
                                  "value' lines after it or numbers in its argument list, found {}",
                                  hook_, p.value_count == 1 ? "one value" : "neither"));
    }
    ev.start_block = *start;
    ev.length = *length;
  }
  if (ev.start_block > 0xffffffffULL || ev.length > 0xffffffffULL) {
    return error_at(p.line,
                    fmt::format("expected start_block and length below 2^32 (the hook takes "
                                "uint32_t arguments), found {} and {}",
                                ev.start_block, ev.length));
  }
  if (p.python) ++stats_.python_stops;
  ev.stack = stacks_.intern_stack(view_frames(p));
  if (!p.frames.empty()) ev.caller = p.frames.front();
  last_shape_ = Shape{true,
                      p.value_count,
                      !p.frames.empty(),
                      p.values_last,
                      p.frames.size(),
                      p.frames.empty() ? std::string() : stacks_.frame(p.frames.back()).function};
  const bool same_frames = view_ == FrameView::mixed
                               ? last_emitted_ && last_emitted_->stack == ev.stack
                               : last_frames_ == p.frames;
  if (last_emitted_ && last_emitted_->start_block == ev.start_block &&
      last_emitted_->length == ev.length && last_emitted_->ticks == ev.ticks && same_frames) {
    ++stats_.duplicates;
    return Step::more;
  }
  last_emitted_ = ev;
  if (view_ != FrameView::mixed) last_frames_.assign(p.frames.begin(), p.frames.end());
  ready_.push_back(ev);
  ++emitted_;
  return Step::event;
}

}  // namespace mpheap::trace
