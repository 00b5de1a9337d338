// The Python functions running on a stopped firmware's C stack, found as a debugger finds them:
// the stack unwound from the snapshot's registers with the ELF's call frame information, each
// frame of the bytecode VM (mp_execute_bytecode) asked for its code_state (parameter 0) and that
// read as a PythonFrame. The stack roots in a frame's state then name the function and line
// instead of an offset ("a local or temporary of `make_counter` (<stdin>:36)").
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mpheap/heap/graph.h"
#include "mpheap/heap/python_frames.h"
#include "mpheap/target/debug_info.h"
#include "mpheap/target/target.h"

namespace mpheap::heap {

struct PythonStack {
  std::vector<PythonFrame> frames;  // innermost first; a frame's state may be off the C stack
  // VM frames that could not be read, and why ("a frame of mp_execute_bytecode whose code_state
  // is optimized out").
  std::vector<std::string> unresolved;
  std::size_t native_frames = 0;  // frames unwound
};

// The VM's frames in the call chain at `registers`. `read` serves the snapshot's memory (and
// the ELF's read-only bytes); `bias` is the load bias.
PythonStack python_stack(target::elf::DebugInfo& debug, const target::elf::RegisterFile& registers,
                         const MemoryRead& read, const target::Target& t, std::uint64_t bias);

// Renames the stack roots whose word lies in a frame's state[0 .. n_state): "argument `self`
// of `__init__` (workload.py:22)", "a local or temporary of `make_counter` (<stdin>:36)", and
// marks them `python_frame`. Returns how many were renamed.
std::size_t name_python_frame_roots(ObjectGraph& g, const PythonStack& stack,
                                    std::uint32_t word_size);

}  // namespace mpheap::heap
