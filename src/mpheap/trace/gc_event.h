// One call of the firmware's gc_log_change(start_block, length) hook, as read from a log.
#pragma once

#include <cstdint>
#include <optional>

#include "mpheap/trace/stack_table.h"

namespace mpheap::trace {

struct GcEvent {
  std::uint64_t start_block = 0;
  std::uint64_t length = 0;            // blocks; 0 for a free or sweep
  std::optional<std::uint64_t> ticks;  // a third printed value (ticks_ms), when the log has one
  StackId stack = kEmptyStack;         // the hook's callers, innermost first; hook frame excluded
  std::uint64_t line = 0;              // line of the stop in the log (1-based)
  // The innermost frame as logged (the hook's caller, or the collector's function without the
  // hook), whatever frames `stack` keeps (FrameView): it says the event's kind.
  std::optional<FrameId> caller;
};

}  // namespace mpheap::trace
