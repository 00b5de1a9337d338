// Memory placed at addresses: a set of (address, bytes) ranges with "not captured" holes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mpheap/util/error.h"

namespace mpheap::io {

struct MemoryRange {
  std::uint64_t address = 0;
  std::vector<std::uint8_t> bytes;
  std::string source;  // file it came from
  [[nodiscard]] std::uint64_t end() const { return address + bytes.size(); }
};

class MemoryImage {
 public:
  // Adds a range; where ranges overlap, the one added later is read. For ranges the caller
  // knows to be apart (a dump replacing nothing).
  void add(MemoryRange range);
  // Adds a range that must not overlap any already here: the error names both files, their
  // ranges and where they overlap (two dumps of one address would make every answer depend on
  // which one is read).
  Expected<bool> add_apart(MemoryRange range);
  [[nodiscard]] const std::vector<MemoryRange>& ranges() const { return ranges_; }
  [[nodiscard]] bool covers(std::uint64_t address, std::uint64_t size) const;
  // Bytes at [address, address+size) when all captured.
  [[nodiscard]] std::optional<std::string_view> bytes(std::uint64_t address,
                                                      std::uint64_t size) const;
  // The bytes readable from `address` on in one piece: to the end of the range read there, or
  // to the start of a range that takes over; empty where `address` is not captured.
  [[nodiscard]] std::string_view captured_from(std::uint64_t address) const;
  // The lowest address above `address` where a range starts (UINT64_MAX when none): nothing
  // between an uncaptured `address` and it is captured.
  [[nodiscard]] std::uint64_t next_start_after(std::uint64_t address) const;
  // An unsigned word of `size` bytes (1, 2, 4, 8) in the given byte order; nullopt where not
  // captured.
  [[nodiscard]] std::optional<std::uint64_t> read(std::uint64_t address, std::uint32_t size,
                                                  bool little_endian = true) const;

 private:
  const MemoryRange* find(std::uint64_t address) const;
  std::vector<MemoryRange> ranges_;  // sorted by address (then order of adding)
};

// Words of one size and byte order read from a memory image (a target's pointers and sizes).
struct WordReader {
  const MemoryImage& mem;
  std::uint32_t word;  // bytes
  bool little;
  [[nodiscard]] std::optional<std::uint64_t> at(std::uint64_t address) const {
    return mem.read(address, word, little);
  }
  // An unsigned value of `size` bytes in the same byte order.
  [[nodiscard]] std::optional<std::uint64_t> read(std::uint64_t address, std::uint32_t size) const {
    return mem.read(address, size, little);
  }
};

// "FILE@ADDR" (ADDR hex with 0x or decimal): the whole file placed at ADDR.
struct PlacedFile {
  std::string path;
  std::uint64_t address = 0;
};
Expected<PlacedFile> parse_placed_file(std::string_view spec);
Expected<MemoryRange> load_placed_file(const PlacedFile& placed);
// Parses "FILE@ADDR", reads the file and adds it to `image`, refusing an overlap.
Expected<bool> add_placed_file(MemoryImage& image, std::string_view spec);

}  // namespace mpheap::io
