// `mpheap capture trace`'s native pipeline: from the ELF and a gdb remote to a log that
// `mpheap trace` reads. It chooses the mode (the hook when the ELF has it, else the collector's
// functions), finds every address and layout it needs in the ELF before touching the target,
// checks that the running code is this ELF, traces, and writes the log (and the optional RAM
// dumps and heap checkpoints) so that a file on disk only ever holds whole stops.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/capture/native_trace.h"
#include "mpheap/capture/rsp_client.h"
#include "mpheap/util/error.h"

namespace mpheap::session {

struct NativeCaptureOptions {
  std::string elf;
  capture::RemoteAddress remote;
  std::string out;  // the log
  std::string hook = "gc_log_change";
  bool no_hook = false;  // trace the collector's functions even if the hook is there
  std::string until;     // a function name; "" = none
  std::optional<std::uint64_t> max_events;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> ram;  // copied after every event
  std::string ram_out;                                         // default: OUT.ram
  std::vector<std::string> heap_at;        // functions where the heap is copied (a checkpoint)
  std::string heap_out;                    // default: OUT.heaps (a snapshot sequence)
  std::optional<std::uint64_t> load_bias;  // default: 0, or from the auxiliary vector for a PIE
  std::optional<double> idle_seconds;      // give up when no stop comes for this long
  // Python frames (`[py]` lines) before each frame of the bytecode VM: the function and line of
  // the Python code it runs.
  bool python_frames = true;
  int timeout_ms = 3000;
};

struct NativeCaptureResult {
  capture::TraceMode mode = capture::TraceMode::hook;
  capture::NativeTraceStats stats;
  std::uint64_t load_bias = 0;
  std::string heap_out;  // where checkpoints went ("" when none)
  std::string ram_out;
  // The link failed or the target stopped answering after events were written: the files hold
  // what came before (the caller exits non-zero).
  std::optional<Error> lost;
};

// `note` receives what the user should know before the capture starts (the mode chosen and
// why, the breakpoints); `progress` about twice a second.
Expected<NativeCaptureResult> run_native_capture(
    const NativeCaptureOptions& options, const std::atomic<bool>* stop,
    const std::function<void(std::string_view)>& note,
    const std::function<void(const capture::NativeTraceStats&)>& progress);

}  // namespace mpheap::session
