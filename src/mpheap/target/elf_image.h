// A firmware ELF held in memory and opened with libelf: header facts, sections, loadable
// segments, the symbol table with nm-like kind letters, and reads of initialised memory by
// virtual address (what the firmware's flash and .data hold before it runs).
#pragma once

#include <libelf.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::target::elf {

struct ElfSection {
  std::string name;
  std::uint64_t address = 0;
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::uint32_t type = 0;   // SHT_*
  std::uint64_t flags = 0;  // SHF_*
};

struct ElfSegment {
  std::uint64_t vaddr = 0;
  std::uint64_t offset = 0;
  std::uint64_t filesz = 0;
  std::uint64_t memsz = 0;
  std::uint32_t flags = 0;  // PF_*
};

// One .symtab entry we keep, with the ELF facts a reader filters on.
struct ElfSymbol {
  Symbol symbol;
  unsigned type = 0;              // STT_*
  unsigned binding = 0;           // STB_*
  std::size_t section_index = 0;  // index into sections(), or SIZE_MAX for absolute/common
};

class ElfImage {
 public:
  // Checks the header and the extents of the header tables before handing the bytes to
  // libelf, so a truncated or foreign file gets a message rather than a libelf code.
  static Expected<std::unique_ptr<ElfImage>> open(std::string_view bytes, std::string name);
  ~ElfImage();
  ElfImage(const ElfImage&) = delete;
  ElfImage& operator=(const ElfImage&) = delete;

  [[nodiscard]] Elf* elf() const { return elf_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] std::uint32_t word_size() const { return word_size_; }
  [[nodiscard]] bool little_endian() const { return little_endian_; }
  [[nodiscard]] std::uint16_t machine_id() const { return machine_; }
  [[nodiscard]] std::string machine() const;
  [[nodiscard]] const std::vector<ElfSection>& sections() const { return sections_; }
  [[nodiscard]] const std::vector<ElfSegment>& segments() const { return segments_; }
  [[nodiscard]] bool has_symtab() const { return symtab_ != nullptr; }
  [[nodiscard]] bool has_section(std::string_view name) const;

  // The defined symbols of .symtab (no section, file or ARM mapping symbols), with the Thumb
  // bit cleared from ARM function addresses as nm does.
  [[nodiscard]] Expected<std::vector<ElfSymbol>> symbols() const;

  // Initialised bytes at [address, address + size), from a loadable segment's file contents
  // (or an allocated section when there are no program headers); nullopt when any byte is not
  // in the file (unmapped, or .bss).
  [[nodiscard]] std::optional<std::string_view> bytes_at(std::uint64_t address,
                                                         std::uint64_t size) const;
  // The same from the read-only parts alone (segments without PF_W, or allocated sections
  // without SHF_WRITE): bytes the running program cannot have changed (code, constants, frozen
  // bytecode, ROM qstrs), so a reader may take them from the file instead of the target.
  [[nodiscard]] std::optional<std::string_view> read_only_bytes_at(std::uint64_t address,
                                                                   std::uint64_t size) const;
  // An unsigned integer of `size` bytes (1..8) in the ELF's byte order. A word that a
  // position-independent executable's RELATIVE relocation fills at load time reads as its
  // link-time value (lld leaves those words zero in the file; GNU ld writes them too).
  [[nodiscard]] std::optional<std::uint64_t> read_uint(std::uint64_t address,
                                                       std::uint32_t size) const;
  [[nodiscard]] std::optional<std::uint64_t> read_word(std::uint64_t address) const {
    return read_uint(address, word_size_);
  }
  [[nodiscard]] std::uint64_t decode(std::string_view bytes) const;

 private:
  ElfImage() = default;
  [[nodiscard]] Error error(std::uint64_t offset, std::string what) const;
  void read_relative_relocations();

  std::string name_;
  // bytes_at() and read_only_bytes_at(): the segments (or sections) that hold the range,
  // `read_only` skipping the writable ones.
  [[nodiscard]] std::optional<std::string_view> bytes_in(std::uint64_t address, std::uint64_t size,
                                                         bool read_only) const;
  std::string original_;     // the file's bytes, read by bytes_at()
  std::string libelf_copy_;  // libelf may convert byte order in place; it gets its own copy
  Elf* elf_ = nullptr;
  std::uint32_t word_size_ = 4;
  bool little_endian_ = true;
  std::uint16_t machine_ = 0;
  std::vector<ElfSection> sections_;
  std::vector<ElfSegment> segments_;
  Elf_Scn* symtab_ = nullptr;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> relocated_;  // address -> value, sorted
};

}  // namespace mpheap::target::elf
