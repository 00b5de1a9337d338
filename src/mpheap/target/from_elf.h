// Reads a Target from a firmware ELF: symbols from .symtab, struct layouts from DWARF (elfutils
// libdw), ROM qstrs and type names from the ELF's loadable sections, regions from the program
// headers and the linker's symbols.
#pragma once

#include <string>
#include <string_view>

#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::target {

struct ElfOptions {
  // Bytes per GC block; 0 = the MicroPython default of 4 words.
  std::uint32_t block_size = 0;
  // An ELF without DWARF: true gives an error (the CLI then falls back to the map path); false
  // gives a Target with what the ELF alone tells (word size, symbols, regions, mp_state_ctx's
  // address and size) and no layouts, for a caller that completes it with heuristics.
  bool require_dwarf = true;
};

// Errors name the file and say what is missing and what the user can pass instead (a stripped
// ELF: "--map/--nm"; not an ELF; an ELF of another program: no mp_state_ctx).
Expected<Target> read_elf_target(const std::string& path, const ElfOptions& options = {});

// The same from the bytes of an ELF file; `name` is used in errors and provenance.
Expected<Target> read_elf_target_from_memory(std::string_view bytes, const std::string& name,
                                             const ElfOptions& options = {});

}  // namespace mpheap::target
