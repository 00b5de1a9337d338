// The prelude and code info at the start of a bytecode function's bytecode, as they sit in
// memory (heap/functions names the functions on a heap with it; heap/python_frames the running
// ones). Three generations:
//  - before 1.16 n_state and n_exc_stack (var-uints), four argument bytes, the code-info size,
//    the name and source file qstrs, the line table, the cells ending at a 255;
//  - 1.16 to 1.18 the compressed signature and size bytes, then the name and source file;
//  - since 1.19 the name (a qstr, or an index into the module's qstr table) and the argument
//    names, the source file being the module's.
// Readers return nullopt when the bytes do not hold what the generation says.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "mpheap/mpy/model.h"

namespace mpheap::heap {

// How the qstrs of a code info are written.
enum class QstrCoding { var_uint, two_bytes };

struct CodeInfo {
  mpy::Prelude prelude;
  std::uint32_t info_start = 0, info_end = 0;     // code info, within the bytecode bytes
  std::uint32_t lines_start = 0, code_start = 0;  // line table; first opcode
  std::uint64_t name = 0;
  std::optional<std::uint64_t> source_file;  // before 1.19
  std::vector<std::uint64_t> arg_names;      // since 1.19
};

// Before 1.16.
std::optional<CodeInfo> read_code_info_old(std::span<const std::uint8_t> bytes, QstrCoding coding);
// Since 1.16; `with_file`: the code info holds the source file (1.16 to 1.18), else the
// argument names.
std::optional<CodeInfo> read_code_info(std::span<const std::uint8_t> bytes, QstrCoding coding,
                                       bool with_file);

// The source line of the opcode at `bc_offset` bytes past the first opcode, as MicroPython's
// mp_bytecode_get_source_line computes it for a traceback (1 when the table says nothing).
std::uint32_t source_line(std::span<const std::uint8_t> bytes, const CodeInfo& info,
                          std::uint64_t bc_offset);

}  // namespace mpheap::heap
