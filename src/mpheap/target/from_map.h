// Reads symbols and memory regions from a GNU ld map file (-Map) and/or `nm -S` output, and
// ROM qstr lists. Struct layouts are not in these files: see layout_heuristics.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::target {

struct MapContents {
  std::vector<Symbol> symbols;
  std::vector<MemoryRegion> regions;  // from "Memory Configuration" and output sections
  std::uint32_t address_digits = 8;   // hex digits used for addresses (16 on 64-bit builds)
};

// `text` is the whole map file; `name` is used in errors.
Expected<MapContents> parse_gnu_ld_map(std::string_view text, const std::string& name);

// `nm -S [--defined-only]` output: "ADDR [SIZE] TYPE NAME" per line.
struct NmContents {
  std::vector<Symbol> symbols;
  std::uint32_t address_digits = 8;  // 16 when nm printed 64-bit addresses
};
Expected<NmContents> parse_nm(std::string_view text, const std::string& name);

// ROM qstrs, one per line in index order: either the bare string (Python escapes), or
// "index hash len string" columns (hash hex or decimal), or MicroPython's generated
// qstrdefs.generated.h (QDEF0/QDEF1/QDEF lines). '#' lines are comments in the list formats.
Expected<std::vector<std::string>> parse_qstr_list(std::string_view text, const std::string& name);

// Builds a target from any of the three (empty text = not given). Symbols from nm win over the
// map's where both have one (nm knows sizes of all symbols).
Expected<Target> read_map_target(std::string_view map_text, const std::string& map_name,
                                 std::string_view nm_text, const std::string& nm_name,
                                 std::string_view qstr_text, const std::string& qstr_name);

}  // namespace mpheap::target
