// Replays a log up to one event and keeps the live allocations.
#include "mpheap/trace/live_at.h"

#include <fmt/format.h>

#include "mpheap/trace/gdb_log_reader.h"

namespace mpheap::trace {

Expected<LiveAllocations> live_allocations_at(io::LineReader& input,
                                              std::optional<std::uint64_t> event,
                                              const std::string& hook, FrameView view) {
  LiveAllocations out;
  GdbLogReader reader(input, out.stacks, hook, view);
  Replay replay(out.stacks);
  std::vector<EndedAllocation> ended;
  for (;;) {
    auto e = reader.next();
    if (!e) return e.error();
    if (!e->has_value()) break;
    ended.clear();
    replay.apply(**e, out.events, ended);
    ++out.events;
    if (event && out.events == *event + 1) break;
  }
  if (event && out.events <= *event) {
    return Error{
        input.name(), 0, 0,
        fmt::format("event {} is past the end of the log: it has {} events", *event, out.events)};
  }
  out.after_event = out.events == 0 ? 0 : out.events - 1;
  out.live = replay.live();
  return out;
}

}  // namespace mpheap::trace
