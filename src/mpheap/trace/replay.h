// Replays GcEvents: classifies each (alloc, free, sweep, realloc) and keeps the live allocations.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <vector>

#include "mpheap/trace/gc_event.h"
#include "mpheap/trace/stack_table.h"

namespace mpheap::trace {

enum class EventKind : std::uint8_t { alloc, free, sweep, realloc };
inline constexpr int kEventKinds = 4;
const char* to_string(EventKind kind);

// Why an allocation's life ended. `unlogged`: a later allocation or in-place growth covered
// one of its blocks, so the collector must have freed it without a log entry.
enum class EndCause : std::uint8_t { free, sweep, realloc, unlogged };
const char* to_string(EndCause cause);

struct Allocation {
  std::uint64_t start_block = 0;
  std::uint64_t size = 0;  // blocks
  StackId start_stack = kEmptyStack;
  std::uint64_t start_time = 0;  // event index
};

struct EndedAllocation {
  Allocation allocation;
  StackId end_stack = kEmptyStack;  // the stack of the event that ended it (empty for unlogged)
  std::uint64_t end_time = 0;
  EndCause cause = EndCause::free;
};

// The kind the hook's caller implies, if its name says it: gc_alloc* alloc, gc_free free,
// gc_sweep* / gc_collect* sweep, gc_realloc realloc. A kind that contradicts the length
// (a free with blocks, an allocation of none) is not trusted.
std::optional<EventKind> kind_from_caller(std::string_view caller, std::uint64_t length);

struct ReplayStep {
  EventKind kind = EventKind::alloc;
  bool by_caller = false;  // classified by the caller frame, not the block state
  bool unmatched = false;  // a free/sweep of a block that was not the start of a live allocation
  bool started = false;    // a new allocation began (alloc, realloc)
};

class Replay {
 public:
  explicit Replay(const StackTable& stacks) : stacks_(stacks) {}

  // Applies one event (its index is `time`); allocations it ends are appended to `ended`.
  ReplayStep apply(const GcEvent& event, std::uint64_t time, std::vector<EndedAllocation>& ended);

  [[nodiscard]] std::uint64_t live_blocks() const { return live_blocks_; }
  [[nodiscard]] std::size_t live_allocations() const { return live_.size(); }
  [[nodiscard]] const std::map<std::uint64_t, Allocation>& live() const { return live_; }
  // Live blocks per call stack (index: StackId); entries for stacks never seen may be missing.
  [[nodiscard]] const std::vector<std::int64_t>& live_blocks_by_stack() const { return by_stack_; }
  [[nodiscard]] std::uint64_t unlogged() const { return unlogged_; }
  [[nodiscard]] std::uint64_t unmatched() const { return unmatched_; }

 private:
  void start(const Allocation& a);
  void end(std::map<std::uint64_t, Allocation>::iterator it, StackId stack, std::uint64_t time,
           EndCause cause, std::vector<EndedAllocation>& ended);
  // Ends every live allocation overlapping [first, last) with cause `unlogged`.
  void end_overlapping(std::uint64_t first, std::uint64_t last, std::uint64_t time,
                       std::vector<EndedAllocation>& ended);
  void add_stack_blocks(StackId stack, std::int64_t blocks);

  const StackTable& stacks_;
  std::map<std::uint64_t, Allocation> live_;
  std::vector<std::int64_t> by_stack_;
  std::uint64_t live_blocks_ = 0;
  std::uint64_t unlogged_ = 0;
  std::uint64_t unmatched_ = 0;
};

}  // namespace mpheap::trace
