// A small DWARF expression evaluator for what a stopped frame needs: the CFA and register rules
// of the call frame information, and parameter locations (registers, frame base, memory, values).
// Anything it does not know (entry values, pieces, TLS, typed stack) is an answer with a reason,
// never a guess.
#pragma once

#include <elfutils/libdw.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "mpheap/target/debug_info.h"

namespace mpheap::target::elf {

struct ExpressionContext {
  const RegisterFile* registers = nullptr;
  const MemoryReader* read = nullptr;
  std::optional<std::uint64_t> cfa;         // for DW_OP_call_frame_cfa
  std::optional<std::uint64_t> frame_base;  // for DW_OP_fbreg
  std::uint64_t load_bias = 0;              // added to DW_OP_addr
  std::uint32_t word_size = 8;              // address size: DW_OP_deref, wrap-around
  bool little_endian = true;
  // DW_OP_entry_value(DW_OP_regN): the register's value when the function was entered, from the
  // caller's call site (nullptr, or nullopt from it: "optimized out").
  const std::function<std::optional<std::uint64_t>(std::uint64_t regno)>* entry_register = nullptr;
  // The attribute the operations came from (libdw gives an entry value's block through it).
  Dwarf_Attribute* attribute = nullptr;
};

// Where an expression puts the object: at an address in memory, in a register, or a value of
// its own (DW_OP_stack_value, or a CFI value rule); `none` with the reason in `missing`.
struct ExpressionResult {
  enum class Kind : std::uint8_t { none, memory, value, register_number };
  Kind kind = Kind::none;
  std::uint64_t number = 0;  // the address, the value or the DWARF register number
  std::string missing;
};

// Evaluates `ops`; `initial` is pushed first (CFI register rules start with the CFA).
ExpressionResult evaluate_expression(std::span<const Dwarf_Op> ops,
                                     const ExpressionContext& context,
                                     std::optional<std::uint64_t> initial = std::nullopt);

// An unsigned integer of `size` bytes (1..8) read through `read`, in the given byte order.
std::optional<std::uint64_t> read_unsigned(const MemoryReader& read, std::uint64_t address,
                                           std::size_t size, bool little_endian);

}  // namespace mpheap::target::elf
