// Which RAM a board has, for `capture repl`: reading an address that is not memory makes most
// chips fault (and reset), so the reader only reads what the firmware's description or this
// table says is RAM. The table holds the main SRAM of common MicroPython chips (docs/capture.md).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::capture {

struct RamRange {
  std::uint64_t start = 0, end = 0;  // [start, end)
};

struct ChipRam {
  std::string_view match;  // found in sys.implementation._machine or sys.platform
  std::string_view chip;
  RamRange ram;
  // Where external PSRAM can be mapped (empty: none). Never read by default: how much of the
  // window is fitted is not known, and reading past it faults.
  RamRange psram_window{};
};

std::span<const ChipRam> chip_ram_table();
// The table's row for a board, from its sys.implementation._machine and sys.platform.
const ChipRam* chip_for(std::string_view machine, std::string_view platform);

// Why the heap (at `address`, an object of the board's) is outside the RAM read, and what to
// give instead: a board whose heap is in PSRAM gets the window and the --ram to give.
std::string heap_outside_hint(const ChipRam* chip, std::uint64_t address);

// The RAM a firmware's description names: its RAM, .data, .bss, heap and stack regions,
// merged where they touch or overlap, by address.
std::vector<RamRange> ram_of(const target::Target& t);

// What to read: the `asked` ranges when given (each inside `known` RAM, unless `unchecked`; none
// overlapping), else `fallback` when given, else all of `known`. `known` comes from the
// firmware's description, else the chip table; `why` says which, for messages. Errors name the
// known RAM and what would fit.
struct RamChoice {
  std::vector<RamRange> ranges;  // ascending
  std::string rule;              // "given, inside the ELF's RAM", "all RAM the ELF names", ...
};
Expected<RamChoice> choose_ram(std::vector<RamRange> asked, const std::vector<RamRange>& known,
                               const std::vector<RamRange>& fallback, const std::string& why,
                               bool unchecked);

}  // namespace mpheap::capture
