// ELF files read by their program headers alone (a stripped firmware ELF: no symbols, maybe no
// section headers), and ELF files found inside a container (a boot loader, padding, then the
// firmware's ELF): the loadable segments' file bytes placed at their addresses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/util/error.h"

namespace mpheap::io {

struct ElfLoadSegment {
  std::uint64_t vaddr = 0, offset = 0, filesz = 0, memsz = 0;
  std::uint32_t flags = 0;  // PF_X 1, PF_W 2, PF_R 4
};

struct ElfSegments {
  std::uint32_t word_size = 4;  // ELFCLASS32 -> 4, ELFCLASS64 -> 8
  bool little_endian = true;
  std::uint16_t machine = 0;  // e_machine (40 = ARM, 3 = i386, 62 = x86-64, ...)
  std::uint64_t entry = 0;
  std::uint16_t section_count = 0;    // e_shnum (0 when stripped of section headers)
  std::vector<ElfLoadSegment> loads;  // PT_LOAD with file bytes, in header order
  MemoryImage image;                  // those bytes at their virtual addresses
};

// True when `bytes` starts with an ELF identification this reader takes (class 32 or 64, either
// byte order, version 1).
bool looks_like_elf(std::string_view bytes);

// The PT_LOAD segments of the ELF in `bytes`. `base_offset` is where `bytes` starts in the file
// `name`, so errors give file offsets. Checks every header extent against the bytes there.
Expected<ElfSegments> read_elf_segments(std::string_view bytes, const std::string& name,
                                        std::uint64_t base_offset = 0);

// The file offset of an ELF header inside `bytes` (at a 4-byte aligned offset > 0) whose
// program headers read: a firmware ELF embedded in a container. nullopt when there is none.
std::optional<std::uint64_t> find_embedded_elf(std::string_view bytes);

// The name of an ELF machine number ("ARM", "x86-64", ...), or "machine N".
std::string elf_machine_name(std::uint16_t machine);

}  // namespace mpheap::io
