// The C stack range the collector scans as roots: from the stack pointer of the halted target
// to the stack's top. gc_collect() scans exactly this (after pushing the callee-saved registers),
// so objects that only a stack frame holds are live, not garbage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mpheap/heap/graph.h"
#include "mpheap/io/memory_image.h"
#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::heap {

struct StackTop {
  std::uint64_t address = 0;  // run-time, exclusive end of the stack
  std::string how;            // "mp_state_ctx.thread.stack_top in the dump", "symbol _estack"
};

// Where the stack ends, in order of preference: the value of mp_state_ctx.thread.stack_top in
// the dump (what gc_collect scans up to), the end of the target's stack region (a stack-top
// linker symbol such as _estack), nothing.
std::optional<StackTop> find_stack_top(const target::Target& t, const io::MemoryImage& memory,
                                       std::uint64_t load_bias);

// The range SP .. top, checked: SP must lie below the top and within `max_bytes` of it (a
// register file from another run or another firmware fails here, not silently).
Expected<AddressRange> stack_range(std::uint64_t sp, const StackTop& top,
                                   std::uint64_t max_bytes = 16ULL << 20);

}  // namespace mpheap::heap
