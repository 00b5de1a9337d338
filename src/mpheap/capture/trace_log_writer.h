// The log of a native trace, in the backtrace style gdb prints (so `mpheap trace` and every
// analysis read it unchanged): a stop line, the frames `#0 ... #N` with addresses where gdb
// prints them, and the two values `$N = 0x..`. A trace without the hook starts with a line that
// says so: its stops are in the collector's functions, frame #0 included in the stack.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

#include "mpheap/capture/native_trace.h"
#include "mpheap/trace/gdb_log_reader.h"
#include "mpheap/util/error.h"

namespace mpheap::capture {

// Writes PATH.part and renames it to PATH at commit(): PATH only ever holds whole stops.
// Without commit() the part file is removed.
class TraceLogWriter {
 public:
  static Expected<TraceLogWriter> create(std::string path, TraceMode mode, std::uint32_t word_size);
  TraceLogWriter(TraceLogWriter&& other) noexcept;
  TraceLogWriter& operator=(TraceLogWriter&&) = delete;
  ~TraceLogWriter();

  Expected<bool> write(const NativeEvent& event);
  // How the trace ended, as gdb logs it, so that the reader names the end: a stop at the end
  // location (`Breakpoint 2, FUNCTION () at FILE:LINE`) or the program's exit.
  void write_end(const NativeTraceStats& stats);
  // Flushes and renames; an empty log (no event) is removed and is an error.
  Expected<bool> commit();
  [[nodiscard]] std::uint64_t events() const { return events_; }

 private:
  TraceLogWriter(std::string path, std::FILE* f, std::uint32_t word_size)
      : path_(std::move(path)), file_(f), word_size_(word_size) {}
  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint32_t word_size_ = 4;
  std::uint64_t events_ = 0;
  std::uint64_t values_ = 0;  // gdb's `$N` history numbers
  std::string buffer_;
};

// One stop as text (exposed for tests).
void format_stop(const NativeEvent& event, std::uint32_t word_size, std::uint64_t first_value,
                 std::string& out);

}  // namespace mpheap::capture
