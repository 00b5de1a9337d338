// Python frames on the C stack, from the snapshot's registers and the ELF's DWARF.
#include "mpheap/heap/python_stack.h"

#include <fmt/format.h>

#include <algorithm>

namespace mpheap::heap {

namespace {
constexpr std::string_view kVm = "mp_execute_bytecode";
}  // namespace

PythonStack python_stack(target::elf::DebugInfo& debug, const target::elf::RegisterFile& registers,
                         const MemoryRead& read, const target::Target& t, std::uint64_t bias) {
  PythonStack out;
  const target::elf::MemoryReader reader = read;
  std::vector<target::elf::DebugInfo::UnwoundFrame> frames = debug.unwind_frames(registers, reader);
  out.native_frames = frames.size();
  PythonFrameReader python(t, bias);
  for (std::size_t i = 0; i < frames.size(); ++i) {
    const auto& at = debug.describe(frames[i].pc, i > 0);
    if (at.empty() || at.back().function != kVm) continue;
    target::elf::ParameterValue code_state = debug.parameter(frames, i, 0, reader);
    if (!code_state.value) {
      out.unresolved.push_back(
          fmt::format("a frame of {} whose code_state is {}", kVm,
                      code_state.missing.empty() ? std::string("not known") : code_state.missing));
      continue;
    }
    out.frames.push_back(python.frame(*code_state.value, read));
    if (!out.frames.back().resolved())
      out.unresolved.push_back(fmt::format("a frame of {} with code_state 0x{:x}: {}", kVm,
                                           *code_state.value, out.frames.back().missing));
  }
  return out;
}

std::size_t name_python_frame_roots(ObjectGraph& g, const PythonStack& stack,
                                    std::uint32_t word_size) {
  std::size_t renamed = 0;
  for (RootRef& r : g.roots) {
    if (!r.stack) continue;
    for (const PythonFrame& f : stack.frames) {
      const std::string slot = f.slot(r.slot, word_size);
      if (slot.empty()) continue;
      const std::string of = f.resolved()
                                 ? fmt::format("`{}` ({}:{})", f.function, f.file, f.line)
                                 : fmt::format("a Python function not named ({})", f.missing);
      r.name = fmt::format("{} of {}", slot, of);
      r.python_frame = true;
      ++renamed;
      break;
    }
  }
  return renamed;
}

}  // namespace mpheap::heap
