#include "mpheap/heap/stack.h"

#include <fmt/format.h>

namespace mpheap::heap {

std::optional<StackTop> find_stack_top(const target::Target& t, const io::MemoryImage& memory,
                                       std::uint64_t load_bias) {
  if (t.mp_state_ctx && t.state.thread_stack_top) {
    const std::uint64_t slot = *t.mp_state_ctx + load_bias + *t.state.thread_stack_top;
    if (auto v = memory.read(slot, t.word_size, t.little_endian); v && *v != 0)
      return StackTop{*v, fmt::format("mp_state_ctx.thread.stack_top = 0x{:x} in the dump", *v)};
  }
  for (const target::MemoryRegion& r : t.regions)
    if (r.kind == target::RegionKind::stack)
      return StackTop{r.end + load_bias,
                      fmt::format("the end of the firmware's stack region {} (0x{:x})", r.name,
                                  r.end + load_bias)};
  return std::nullopt;
}

Expected<AddressRange> stack_range(std::uint64_t sp, const StackTop& top, std::uint64_t max_bytes) {
  if (sp >= top.address)
    return Error{"registers", 0, 0,
                 fmt::format("the stack pointer 0x{:x} is not below the stack's top 0x{:x} ({}): "
                             "are the registers from this dump?",
                             sp, top.address, top.how)};
  if (top.address - sp > max_bytes)
    return Error{"registers", 0, 0,
                 fmt::format("the stack pointer 0x{:x} lies {} bytes below the stack's top 0x{:x} "
                             "({}); expected at most {}: are the registers from this dump?",
                             sp, top.address - sp, top.address, top.how, max_bytes)};
  return AddressRange{sp, top.address};
}

}  // namespace mpheap::heap
