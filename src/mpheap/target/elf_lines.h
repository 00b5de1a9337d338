// The DWARF line table of one function, through libdw, and the address a debugger would stop
// at for "the function's first statement" (after the prologue that stores the arguments).
#pragma once

#include <libelf.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace mpheap::target::elf {

struct LineRow {
  std::uint64_t address = 0;
  int line = 0;
  std::string file;
  bool is_stmt = true;
  bool prologue_end = false;
  bool end_sequence = false;
};

// The rows of the compilation unit covering `low` whose addresses lie in [low, high), in table
// order; empty when the ELF has no line table for them.
std::vector<LineRow> line_rows(Elf* elf, std::uint64_t low, std::uint64_t high);

// The first statement of the function starting at `function_start`: a row marked prologue_end
// (clang, newer gcc), else the first statement row after the start whose line differs from the
// opening line (where gcc's prologue ends: the second line of the function in the table), else
// the first row after the start. nullopt when no row lies in the function.
std::optional<LineRow> first_statement(std::span<const LineRow> rows, std::uint64_t function_start);

}  // namespace mpheap::target::elf
