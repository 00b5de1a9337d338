// Bytecode opcode tables, one per bytecode generation of the .mpy format.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace mpheap::mpy {

// The bytecode encodings seen in .mpy files. Opcode numbers changed in v1.12 (mpy v5);
// qstr and jump operands became compact in v1.19 (mpy v6).
enum class BytecodeGen : std::uint8_t {
  V3,  // mpy v3 (MicroPython 1.9.x, CircuitPython 6): old numbering, POP_BLOCK/POP_EXCEPT
  V4,  // mpy v4 (MicroPython 1.11): old numbering, POP_EXCEPT_JUMP
  V5,  // mpy v5 (1.12-1.18, CircuitPython 7-8): new numbering, 16-bit qstrs and jumps
  V6,  // mpy v6.x (1.19+, CircuitPython 9): var-uint qstr indices, 1- or 2-byte jumps
};

// What an opcode's operand means.
enum class Operand : std::uint8_t {
  None,
  Qstr,        // a qstr (16-bit slot before v6, var-uint index into the qstr table in v6)
  UInt,        // var-uint count or local number
  SmallInt,    // signed var-uint
  Const,       // var-uint index of a constant object
  Child,       // var-uint index of a child raw code (MAKE_FUNCTION*, MAKE_CLOSURE*)
  Jump,        // unsigned relative jump
  JumpSigned,  // signed relative jump
  Implicit,    // value folded into the opcode (LOAD_FAST 3, BINARY_OP 27 __add__ ...)
};

struct OpcodeInfo {
  std::string_view name;  // mpy-tool.py's mnemonic; "unknown" for unassigned bytes
  Operand operand = Operand::None;
  bool extra_byte = false;           // one more byte after the operand (closures, unwind)
  bool extra_byte_if_cache = false;  // extra byte when the map-caching feature bit is set
  std::int16_t implicit = 0;         // for Operand::Implicit
  std::string_view op_name;          // unary/binary operator method name, else empty
};

struct OpcodeTable {
  BytecodeGen gen;
  std::array<OpcodeInfo, 256> ops;
  bool compact_operands;  // v6: qstr as var-uint, jumps 1 or 2 bytes
  // The loader of v3/v4 sized UNWIND_JUMP without its extra byte when it scanned bytecode
  // for qstrs; the file layout follows that scan, so readers must too.
  bool loader_skips_unwind_extra;
  std::uint8_t unwind_jump;
};

const OpcodeTable& opcode_table(BytecodeGen gen);

}  // namespace mpheap::mpy
