// Chrome's trace-event JSON (read by ui.perfetto.dev and chrome://tracing) for a GC log: counter
// tracks for the heap in use ("VM Heap Used", as CircuitPython's own Perfetto tracing names it),
// free and largest free run, an instant event per collection and, if asked, one slice per
// allocation lifespan. The time axis is the event index, one event = 1 microsecond.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "mpheap/report/output.h"
#include "mpheap/trace/trace_analysis.h"
#include "mpheap/util/error.h"

namespace mpheap::report {

inline constexpr int kPerfettoVersion = 1;

struct PerfettoOptions {
  std::optional<std::uint64_t> heap_blocks;  // free / largest free run counters need it
  std::optional<std::uint64_t> block_size;   // counters in bytes when known, else in blocks
  bool slices = false;                       // one "X" slice per allocation lifespan
  std::string process_name = "MicroPython heap";
};

struct PerfettoStats {
  std::uint64_t events = 0;           // hook events replayed
  std::uint64_t counter_samples = 0;  // "C" events written
  std::uint64_t collections = 0;      // "i" events written
  std::uint64_t slices = 0;           // "X" events written
  std::uint64_t lanes = 0;            // slice tracks used (most allocations live at once)
};

// Streams the trace-event JSON to `out` (not closed here) while analyze_trace replays the log
// (TraceOptions::observers). Memory follows the live allocations and distinct call stacks, not
// the log's length. `source` names the log in the output and in errors.
class PerfettoExport final : public trace::ReplayObserver {
 public:
  PerfettoExport(const PerfettoOptions& options, Output& out, std::string source);
  ~PerfettoExport() override;
  PerfettoExport(const PerfettoExport&) = delete;
  PerfettoExport& operator=(const PerfettoExport&) = delete;

  Expected<bool> on_event(std::uint64_t time, const trace::GcEvent& event,
                          const trace::ReplayStep& step,
                          std::span<const trace::EndedAllocation> ended, std::uint64_t live_before,
                          const trace::Replay& replay, const trace::StackTable& stacks) override;
  Expected<bool> on_end(std::uint64_t events, const trace::Replay& replay,
                        const trace::StackTable& stacks) override;
  [[nodiscard]] const PerfettoStats& stats() const;

 private:
  struct State;
  PerfettoOptions options_;
  std::string source_;
  std::unique_ptr<State> state_;
};

}  // namespace mpheap::report
