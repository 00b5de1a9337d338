// Reads a Target from a firmware ELF: symbols from .symtab, struct layouts from DWARF (elfutils
// libdw), ROM qstrs and type names from the ELF's loadable sections, regions from the program
// headers and the linker's symbols.
#pragma once

#include <string>

#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::target {

struct ElfOptions {
  // Bytes per GC block; 0 = the MicroPython default of 4 words.
  std::uint32_t block_size = 0;
};

// Errors name the file and say what is missing and what the user can pass instead (a stripped
// ELF: "--map/--nm"; not an ELF; an ELF of another program: no mp_state_ctx).
Expected<Target> read_elf_target(const std::string& path, const ElfOptions& options = {});

}  // namespace mpheap::target
