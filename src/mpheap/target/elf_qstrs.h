// The ROM qstrs of a firmware ELF: the chain of qstr pools in flash, read from the ELF's
// loadable contents with the pool layout found in the DWARF.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mpheap/target/elf_image.h"
#include "mpheap/target/target.h"

namespace mpheap::target::elf {

struct RomQstrs {
  std::vector<std::string> strings;  // index -> string, the first pool (prev == NULL) first
  std::vector<std::uint64_t> pools;  // pool addresses in the same order
  std::string problem;               // why reading stopped early, "" when it did not
};

// Walks prev pointers from `last_pool` (the newest ROM pool) to the first one and reads every
// pool's strings. New pools (a lengths array) give each length in lengths[i]; older ones store
// hash bytes and length bytes in front of each string's characters.
RomQstrs read_rom_qstrs(const ElfImage& image, const QstrPoolLayout& layout,
                        std::uint64_t last_pool);

// For pools without arrays, where MICROPY_QSTR_BYTES_IN_HASH/LEN are macros the DWARF cannot
// tell: the (hash_bytes, len_bytes) under which the stored hashes match MicroPython's hash of
// the strings, tried on the first strings of the chain. False when no candidate matched (the
// layout is left as it was).
bool detect_prefix_widths(const ElfImage& image, QstrPoolLayout& layout, std::uint64_t last_pool);

}  // namespace mpheap::target::elf
