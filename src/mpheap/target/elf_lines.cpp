// Line-table reading with libdw.
#include "mpheap/target/elf_lines.h"

#include <elfutils/libdw.h>

#include <algorithm>

namespace mpheap::target::elf {

std::vector<LineRow> line_rows(Elf* elf, std::uint64_t low, std::uint64_t high) {
  std::vector<LineRow> rows;
  Dwarf* dwarf = dwarf_begin_elf(elf, DWARF_C_READ, nullptr);
  if (dwarf == nullptr) return rows;
  Dwarf_Die unit;
  bool found = dwarf_addrdie(dwarf, low, &unit) != nullptr;
  // Without .debug_aranges (clang does not write it) look at each unit's ranges.
  Dwarf_Off offset = 0, next = 0;
  std::size_t header_size = 0;
  while (!found &&
         dwarf_nextcu(dwarf, offset, &next, &header_size, nullptr, nullptr, nullptr) == 0) {
    if (dwarf_offdie(dwarf, offset + header_size, &unit) != nullptr && dwarf_haspc(&unit, low) > 0)
      found = true;
    offset = next;
  }
  if (found) {
    Dwarf_Lines* lines = nullptr;
    std::size_t count = 0;
    if (dwarf_getsrclines(&unit, &lines, &count) == 0) {
      for (std::size_t i = 0; i < count; ++i) {
        Dwarf_Line* l = dwarf_onesrcline(lines, i);
        Dwarf_Addr addr = 0;
        if (l == nullptr || dwarf_lineaddr(l, &addr) != 0 || addr < low || addr >= high) continue;
        LineRow r;
        r.address = addr;
        int lineno = 0;
        if (dwarf_lineno(l, &lineno) == 0) r.line = lineno;
        if (const char* src = dwarf_linesrc(l, nullptr, nullptr)) r.file = src;
        bool flag = false;
        if (dwarf_linebeginstatement(l, &flag) == 0) r.is_stmt = flag;
        if (dwarf_lineprologueend(l, &flag) == 0) r.prologue_end = flag;
        if (dwarf_lineendsequence(l, &flag) == 0) r.end_sequence = flag;
        rows.push_back(std::move(r));
      }
    }
  }
  dwarf_end(dwarf);
  return rows;
}

std::optional<LineRow> first_statement(std::span<const LineRow> rows,
                                       std::uint64_t function_start) {
  const LineRow* opening = nullptr;
  for (const LineRow& r : rows)
    if (r.address == function_start && !r.end_sequence) {
      opening = &r;
      break;
    }
  for (const LineRow& r : rows)
    if (r.prologue_end && !r.end_sequence && r.address >= function_start) return r;
  const LineRow* after = nullptr;
  for (const LineRow& r : rows) {
    if (r.address <= function_start || r.end_sequence || !r.is_stmt) continue;
    if (opening == nullptr || r.line != opening->line) {
      // The lowest such address: rows are in table order, which need not be address order.
      if (after == nullptr || r.address < after->address) after = &r;
    }
  }
  if (after != nullptr) {
    // A row of the opening line between the start and `after` would mean the prologue ended
    // earlier; gdb still stops at the start of the next line, and so do we.
    return *after;
  }
  for (const LineRow& r : rows)
    if (r.address > function_start && !r.end_sequence) return r;
  if (opening != nullptr) return *opening;
  return std::nullopt;
}

}  // namespace mpheap::target::elf
