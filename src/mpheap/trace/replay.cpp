// Event classification and the live-allocation set (see docs/trace-semantics.md).
#include "mpheap/trace/replay.h"

namespace mpheap::trace {

const char* to_string(EventKind kind) {
  switch (kind) {
    case EventKind::alloc:
      return "alloc";
    case EventKind::free:
      return "free";
    case EventKind::sweep:
      return "sweep";
    case EventKind::realloc:
      return "realloc";
  }
  return "?";
}

const char* to_string(EndCause cause) {
  switch (cause) {
    case EndCause::free:
      return "free";
    case EndCause::sweep:
      return "sweep";
    case EndCause::realloc:
      return "realloc";
    case EndCause::unlogged:
      return "unlogged";
  }
  return "?";
}

std::optional<EventKind> kind_from_caller(std::string_view caller, std::uint64_t length) {
  std::optional<EventKind> kind;
  if (caller.starts_with("gc_alloc")) {
    kind = EventKind::alloc;
  } else if (caller == "gc_free") {
    kind = EventKind::free;
  } else if (caller.starts_with("gc_sweep") || caller.starts_with("gc_collect")) {
    kind = EventKind::sweep;
  } else if (caller.starts_with("gc_realloc")) {
    kind = EventKind::realloc;
  }
  if (!kind) return std::nullopt;
  bool frees = *kind == EventKind::free || *kind == EventKind::sweep;
  if (frees != (length == 0)) return std::nullopt;
  return kind;
}

void Replay::add_stack_blocks(StackId stack, std::int64_t blocks) {
  if (stack >= by_stack_.size())
    by_stack_.resize(std::max<std::size_t>(stack + 1, by_stack_.size() * 2), 0);
  by_stack_[stack] += blocks;
}

void Replay::start(const Allocation& a) {
  live_.emplace(a.start_block, a);
  live_blocks_ += a.size;
  add_stack_blocks(a.start_stack, static_cast<std::int64_t>(a.size));
}

void Replay::end(std::map<std::uint64_t, Allocation>::iterator it, StackId stack,
                 std::uint64_t time, EndCause cause, std::vector<EndedAllocation>& ended) {
  const Allocation& a = it->second;
  live_blocks_ -= a.size;
  add_stack_blocks(a.start_stack, -static_cast<std::int64_t>(a.size));
  ended.push_back(EndedAllocation{a, stack, time, cause});
  if (cause == EndCause::unlogged) ++unlogged_;
  live_.erase(it);
}

void Replay::end_overlapping(std::uint64_t first, std::uint64_t last, std::uint64_t time,
                             std::vector<EndedAllocation>& ended) {
  if (first >= last) return;
  auto it = live_.upper_bound(first);
  if (it != live_.begin()) {
    auto prev = std::prev(it);
    if (prev->first + prev->second.size > first) it = prev;
  }
  while (it != live_.end() && it->first < last) {
    auto next = std::next(it);
    end(it, kEmptyStack, time, EndCause::unlogged, ended);
    it = next;
  }
}

ReplayStep Replay::apply(const GcEvent& e, std::uint64_t time,
                         std::vector<EndedAllocation>& ended) {
  ReplayStep step;
  std::string_view caller = e.caller ? std::string_view(stacks_.frame(*e.caller).function)
                                     : stacks_.innermost_function(e.stack);
  auto caller_kind = kind_from_caller(caller, e.length);
  auto at = live_.find(e.start_block);
  if (caller_kind) {
    step.kind = *caller_kind;
    step.by_caller = true;
  } else if (at == live_.end()) {
    step.kind = e.length > 0 ? EventKind::alloc : EventKind::free;
  } else {
    step.kind = e.length > 0 ? EventKind::realloc : EventKind::free;
  }

  switch (step.kind) {
    case EventKind::free:
    case EventKind::sweep:
      if (at == live_.end()) {
        step.unmatched = true;
        ++unmatched_;
      } else {
        end(at, e.stack, time, step.kind == EventKind::free ? EndCause::free : EndCause::sweep,
            ended);
      }
      break;
    case EventKind::realloc:
      if (at != live_.end()) {
        std::uint64_t old_end = at->first + at->second.size;
        end(at, e.stack, time, EndCause::realloc, ended);
        end_overlapping(old_end, e.start_block + e.length, time, ended);
        start(Allocation{e.start_block, e.length, e.stack, time});
        step.started = true;
        break;
      }
      [[fallthrough]];  // a resize of a block this log never saw allocated: it starts here
    case EventKind::alloc:
      end_overlapping(e.start_block, e.start_block + e.length, time, ended);
      start(Allocation{e.start_block, e.length, e.stack, time});
      step.started = true;
      break;
  }
  return step;
}

}  // namespace mpheap::trace
