// Chrome's trace-event JSON (read by ui.perfetto.dev and chrome://tracing) for a GC log: counter
// tracks for the heap in use ("VM Heap Used", as CircuitPython's own Perfetto tracing names it),
// free and largest free run, an instant event per collection and, if asked, one slice per
// allocation lifespan. The time axis is the event index, one event = 1 microsecond.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mpheap/io/line_reader.h"
#include "mpheap/report/output.h"
#include "mpheap/util/error.h"

namespace mpheap::report {

inline constexpr int kPerfettoVersion = 1;

struct PerfettoOptions {
  std::string hook = "gc_log_change";
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

// Replays the whole log and streams the trace-event JSON to `out` (not closed here). Memory
// follows the live allocations and distinct call stacks, not the log's length.
Expected<PerfettoStats> write_perfetto(io::LineReader& input, const PerfettoOptions& options,
                                       Output& out);

}  // namespace mpheap::report
