// The allocations a trace says were live after a given event, with their call stacks: what a
// heap snapshot taken at that moment can be matched against (start block -> allocating code).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "mpheap/io/line_reader.h"
#include "mpheap/trace/gdb_log_reader.h"
#include "mpheap/trace/replay.h"
#include "mpheap/trace/stack_table.h"
#include "mpheap/util/error.h"

namespace mpheap::trace {

struct LiveAllocations {
  StackTable stacks;
  std::map<std::uint64_t, Allocation> live;  // by start block
  std::uint64_t after_event = 0;             // the state after this event (0-based)
  std::uint64_t events = 0;                  // events read
};

// `event`: nullopt = the end of the log.
Expected<LiveAllocations> live_allocations_at(io::LineReader& input,
                                              std::optional<std::uint64_t> event,
                                              const std::string& hook = "gc_log_change",
                                              FrameView view = FrameView::mixed);

}  // namespace mpheap::trace
