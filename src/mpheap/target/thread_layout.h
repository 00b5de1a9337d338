// mp_state_thread_t, the first member of mp_state_ctx, as each MicroPython version lays it out
// (py/mpstate.h), and the one place that finds where mp_state_ctx starts and where
// thread.stack_top lies from the words around thread.dict_locals / thread.dict_globals (both
// point at __main__'s dict, vm.dict_main, while code runs at the top level). The map/nm layout
// search and the firmware image search both ask here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "mpheap/io/memory_image.h"

namespace mpheap::target {

// The orders mp_state_thread_t has had.
enum class ThreadOrder : std::uint8_t {
  // MicroPython 1.9.x: dict_locals, dict_globals, nlr_top, stack_top, ...
  dicts_first,
  // MicroPython 1.10 and later, CircuitPython: stack_top, [stack_limit], [pystack_start, _end,
  // _cur], [gc_lock_depth (1.19+)], dict_locals, dict_globals, nlr_top, ...
  stack_top_first,
};

struct ThreadOrderRule {
  ThreadOrder order;
  std::pair<int, int> since;     // first (major, minor) version with this order
  const char* versions;          // for evidence lines
  std::uint32_t stack_top_word;  // stack_top's word offset from dict_locals' (dicts_first)
  // stack_top_first: words from stack_top to the first dict pointer, at most (1.28: stack_top,
  // stack_limit, 3 pystack pointers, gc_lock_depth, then dict_locals; dict_globals one more).
  std::uint32_t max_words_before;
};

// Version -> order, oldest first.
inline constexpr ThreadOrderRule kThreadOrders[] = {
    {ThreadOrder::dicts_first, {1, 0}, "MicroPython 1.9", 3, 0},
    {ThreadOrder::stack_top_first, {1, 10}, "MicroPython 1.10 and later", 0, 7},
};

// The rule for a (major, minor) version; nullopt when the version is not known.
const ThreadOrderRule* thread_order_for(std::optional<std::pair<int, int>> version);

// Where mp_state_ctx starts and thread.stack_top lies.
struct ThreadStart {
  std::uint64_t mp_state_ctx = 0;
  std::optional<std::uint64_t> stack_top_offset;  // from mp_state_ctx
  // MICROPY_ENABLE_PYSTACK: thread.pystack_start from mp_state_ctx (pystack_end and pystack_cur
  // are the next two words).
  std::optional<std::uint64_t> pystack_offset;
  std::string evidence;
};

// `dict_locals_at`: the address of the two equal words pointing at vm.dict_main. `known_ctx`:
// mp_state_ctx's address when a symbol gives it. `stack_tops`: the values a stack top can have
// (the RAM above the heap, exclusive end inclusive). With the version unknown, the order is
// read from the words themselves: a plausible stack top three words after dict_locals with
// nothing at the start means 1.9's order. In the current order, a pystack (three pointers
// start <= cur <= end, then gc_lock_depth, right before dict_locals) fixes where stack_top is
// (one word before them, or two with stack_limit between), wherever the stack lies: the
// WebAssembly port's C stack is below its data, not above the heap.
std::optional<ThreadStart> find_thread_start(const io::WordReader& r, std::uint64_t dict_locals_at,
                                             std::optional<std::uint64_t> known_ctx,
                                             std::optional<std::pair<int, int>> version,
                                             std::pair<std::uint64_t, std::uint64_t> stack_tops);

}  // namespace mpheap::target
