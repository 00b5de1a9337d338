// Writing a native trace as gdb's backtrace-style log.
#include "mpheap/capture/trace_log_writer.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace mpheap::capture {
namespace {

void location(const target::elf::SourceFrame& f, std::string& out) {
  if (!f.file.empty() && f.line > 0)
    fmt::format_to(std::back_inserter(out), " at {}:{}", f.file, f.line);
}

}  // namespace

void format_stop(const NativeEvent& e, std::uint32_t word_size, std::uint64_t first_value,
                 std::string& out) {
  auto it = std::back_inserter(out);
  const int digits = word_size == 8 ? 16 : 8;
  out += "\nBreakpoint 1, ";
  const std::string_view function = e.function.empty() ? std::string_view("??") : e.function;
  fmt::format_to(it, "{} ({})", function, e.arguments);
  if (!e.frames.empty()) location(e.frames[0], out);
  out += '\n';
  for (std::size_t i = 0; i < e.frames.size(); ++i) {
    const target::elf::SourceFrame& f = e.frames[i];
    fmt::format_to(it, "#{:<2} ", i);
    if (f.python) {
      // `[py] squares at workload.py:47`, or `[py] ?? (why)` when it could not be named.
      fmt::format_to(it, "[py] {}", f.function.empty() ? "??" : f.function);
      if (!f.file.empty() && f.line > 0) fmt::format_to(it, " at {}:{}", f.file, f.line);
      out += '\n';
      continue;
    }
    // gdb prints a caller's return address, except for the frames an inlined call sits in
    // (they share the pc of the inlined frame printed just before them; a Python frame
    // between them does not count).
    std::size_t before = i;
    while (before > 0 && e.frames[before - 1].python) --before;
    const bool starts_pc = before > 0 && !e.frames[before - 1].inlined;
    if (starts_pc) fmt::format_to(it, "0x{:0{}x} in ", f.pc, digits);
    fmt::format_to(it, "{} ({})", f.function.empty() ? "??" : f.function,
                   i == 0 ? e.arguments : std::string_view());
    location(f, out);
    out += '\n';
  }
  fmt::format_to(it, "${} = {:#x}\n${} = {:#x}\n", first_value, e.start_block, first_value + 1,
                 e.length);
}

Expected<TraceLogWriter> TraceLogWriter::create(std::string path, TraceMode mode,
                                                std::uint32_t word_size) {
  const std::string part = path + ".part";
  std::FILE* f = std::fopen(part.c_str(), "wb");
  if (f == nullptr)
    return Error{path, 0, 0, fmt::format("cannot create {}: {}", part, std::strerror(errno))};
  TraceLogWriter w(std::move(path), f, word_size);
  if (mode == TraceMode::gc_functions)
    w.buffer_ = fmt::format(
        "{}: each stop is one change of the heap in the collector's own function (gc_alloc, "
        "gc_free, gc_realloc; gc_collect_end or gc_sweep_all for the sweep), frame #0 "
        "included\n",
        trace::kNoHookHeader);
  else
    w.buffer_ = "# mpheap capture trace: stops of the GC hook, as gdb's backtrace prints them\n";
  return w;
}

TraceLogWriter::TraceLogWriter(TraceLogWriter&& o) noexcept
    : path_(std::move(o.path_)),
      file_(o.file_),
      word_size_(o.word_size_),
      events_(o.events_),
      values_(o.values_),
      buffer_(std::move(o.buffer_)) {
  o.file_ = nullptr;
}

TraceLogWriter::~TraceLogWriter() {
  if (file_ == nullptr) return;
  std::fclose(file_);
  std::error_code ec;
  std::filesystem::remove(path_ + ".part", ec);
}

Expected<bool> TraceLogWriter::write(const NativeEvent& event) {
  format_stop(event, word_size_, values_ + 1, buffer_);
  values_ += 2;
  ++events_;
  // A stop is written whole: the file never ends inside one.
  if (buffer_.size() >= (1U << 16)) {
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size())
      return Error{path_, 0, 0, fmt::format("cannot write: {}", std::strerror(errno))};
    buffer_.clear();
  }
  return true;
}

void TraceLogWriter::write_end(const NativeTraceStats& stats) {
  auto it = std::back_inserter(buffer_);
  if (stats.end_stop) {
    fmt::format_to(it, "\nBreakpoint 2, {} ()", stats.end_stop->function);
    location(*stats.end_stop, buffer_);
    buffer_ += '\n';
  } else if (stats.exit_status) {
    if (*stats.exit_status == 0)
      buffer_ += "\n[Inferior 1 (process 1) exited normally]\n";
    else
      fmt::format_to(it, "\n[Inferior 1 (process 1) exited with code {:02o}]\n",
                     *stats.exit_status);
  }
}

Expected<bool> TraceLogWriter::commit() {
  if (file_ == nullptr) return true;
  bool ok = std::fwrite(buffer_.data(), 1, buffer_.size(), file_) == buffer_.size();
  buffer_.clear();
  ok = std::fclose(file_) == 0 && ok;
  file_ = nullptr;
  std::error_code ec;
  if (!ok) {
    std::filesystem::remove(path_ + ".part", ec);
    return Error{path_, 0, 0, fmt::format("cannot write: {}", std::strerror(errno))};
  }
  if (events_ == 0) {
    std::filesystem::remove(path_ + ".part", ec);
    return Error{path_, 0, 0, "no event was traced; nothing written"};
  }
  std::filesystem::rename(path_ + ".part", path_, ec);
  if (ec) return Error{path_, 0, 0, fmt::format("cannot rename the part file: {}", ec.message())};
  return true;
}

}  // namespace mpheap::capture
