// Bytecode decoding with the opcode table of the file's version, and operand resolution
// (qstrs, constants, children, jump targets).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "mpheap/mpy/model.h"
#include "mpheap/mpy/opcodes.h"

namespace mpheap::mpy {

struct Instruction {
  std::uint32_t offset = 0;  // in RawCode::data
  std::uint32_t size = 0;
  std::uint8_t opcode = 0;
  const OpcodeInfo* info = nullptr;
  std::int64_t arg = 0;  // operand; jumps: the relative offset as encoded (bias removed)
  std::optional<std::uint8_t> extra;
  std::optional<std::uint32_t> target;  // jumps: offset in RawCode::data
  bool truncated = false;               // the operand ran past the end of the data
};

// Decodes the instructions of one bytecode raw code, one at a time (loops need no vector);
// the opcode table and the file's features are looked up once.
class BytecodeDecoder {
 public:
  BytecodeDecoder(const MpyFile& file, const RawCode& rc);
  // The instruction at `ip` (< rc.data.size()); the next one starts at ip + size.
  [[nodiscard]] Instruction at(std::size_t ip) const;

 private:
  const OpcodeTable& table_;
  bool map_caching_;
  std::span<const std::uint8_t> data_;
};
// Decodes the opcodes of a bytecode raw code (empty for native code).
std::vector<Instruction> decode_bytecode(const MpyFile& file, const RawCode& rc);

// "LOAD_CONST_STRING", "LOAD_FAST 3", "BINARY_OP 27 __add__": mpy-tool.py's mnemonic.
std::string mnemonic(const Instruction& in);
void append_mnemonic(std::string& out, const Instruction& in);

// The operand as mpy-tool.py -d prints it: the qstr, repr() of the constant, the number.
std::string operand_text(const MpyFile& file, const RawCode& rc, const Instruction& in);
// The same appended to `out`. `obj_reprs`, when it is object_reprs(file), saves computing
// the repr() of a v6 constant at every use.
void append_operand_text(std::string& out, const MpyFile& file, const RawCode& rc,
                         const Instruction& in, std::span<const std::string> obj_reprs = {});
// repr() of every entry of the v6 object table, in order.
std::vector<std::string> object_reprs(const MpyFile& file);

// The text of qstr `i` of the file; "?" when there is no such qstr.
const std::string& qstr_text(const MpyFile& file, std::uint64_t i);

// What a constant-table index refers to before v6 (argument names, objects, children).
struct ConstRef {
  enum class Kind : std::uint8_t { ArgName, Object, Child, Missing } kind = Kind::Missing;
  std::uint32_t index = 0;
};
ConstRef resolve_const(const MpyFile& file, const RawCode& rc, std::int64_t index);
// The child raw code index a MAKE_FUNCTION/MAKE_CLOSURE operand names, if any.
std::optional<std::uint32_t> child_index(const MpyFile& file, const RawCode& rc, std::int64_t arg);

// "aa:bb:cc"
std::string hex_bytes(std::span<const std::uint8_t> bytes);

// Fills RawCode::name over the tree (called by the reader).
void resolve_names(MpyFile& file);

// The whole file in the spirit of mpy-tool.py -d (disasm_text.cpp).
std::string disassembly_text(const MpyFile& file);
// The same appended to `out`, with no allocation per instruction: for output written in
// large chunks.
void append_disassembly(std::string& out, const MpyFile& file);

}  // namespace mpheap::mpy
