// Recognisers for the lines gdb prints while it logs GC activity. Pure functions over one line.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace mpheap::trace::gdb {

// What a frame description says: `[0xADDR in ]function (args)[ at file:line| from lib]`, or a
// Python frame `[py] function at file:line` (see parse_python_frame_text).
struct FrameText {
  std::string_view address;   // "" when gdb printed none (inlined frames, most stop lines)
  std::string_view function;  // "??" when unknown
  std::string_view args;      // text between the parentheses, "" when absent
  std::string_view location;  // "file:line", a library path, or "" when gdb printed none
  bool python = false;        // a `[py]` frame: no address, no arguments
};

// `#N  <frame description>`.
struct FrameLine {
  std::uint32_t index = 0;
  FrameText frame;
};

// `[Thread N "name" hit ][Temporary |Hardware assisted ]Breakpoint N, <frame description>`.
struct StopLine {
  std::uint32_t breakpoint = 0;
  FrameText frame;
};

// `$N = <value>`: the value text after "= ".
struct ValueLine {
  std::string_view value;
};

// Also recognises Python frames (parse_python_frame_text).
std::optional<FrameText> parse_frame_text(std::string_view text);

// What the native tracer writes for a Python frame, just before (innermost of) the
// mp_execute_bytecode frame that runs it:
//   `[py] FUNCTION at FILE:LINE`  (FILE is everything after the first " at " up to the last ':')
//   `[py] ?? (REASON)`            (unresolved: no location; the function keeps the reason)
// nullopt when `text` does not start with the `[py]` marker. Anything after the marker is a
// Python frame: without a well-formed `at FILE:LINE` its location is "" and its function is the
// whole text ("??" when there is none), so nothing printed is lost.
std::optional<FrameText> parse_python_frame_text(std::string_view text);
inline constexpr std::string_view kPythonFrameMarker = "[py]";

// The frame index and address of `#N  0xADDR in ...` without parsing the rest.
struct FrameAddress {
  std::uint32_t index = 0;
  std::string_view address;
  std::uint64_t value = 0;  // the address's value; 0 when it is not 1-16 hex digits
};
std::optional<FrameAddress> frame_line_address(std::string_view line);
std::optional<FrameLine> parse_frame_line(std::string_view line);
std::optional<StopLine> parse_stop_line(std::string_view line);
// A stop line's breakpoint number and its frame description, not yet parsed (parse_stop_line is
// this and parse_frame_text of `frame_text`).
struct StopPrefix {
  std::uint32_t breakpoint = 0;
  std::string_view frame_text;
};
std::optional<StopPrefix> split_stop_line(std::string_view line);
std::optional<ValueLine> parse_value_line(std::string_view line);

// A source line as gdb echoes it after a stop or `up`: digits, then a tab.
bool is_source_line(std::string_view line);

// True when a frame line looks finished; gdb wraps long argument lists over several lines,
// and the first piece then ends inside the argument list.
bool frame_line_looks_complete(std::string_view line);

// An integer as gdb prints it: decimal or 0x-hex, optionally followed by a space and more
// text (gdb appends `<symbol>` or a character literal for some types).
std::optional<std::uint64_t> parse_integer(std::string_view text);

// The n-th (0-based) top-level argument value of an argument list such as
// `start_block=3, length=0` or `start_block=start_block@entry=3, length=<optimized out>`.
std::optional<std::uint64_t> argument_integer(std::string_view args, int n);

}  // namespace mpheap::trace::gdb
