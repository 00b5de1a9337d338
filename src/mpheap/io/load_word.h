// Words of a target's size and byte order read from bytes in memory (heap scans, dumps).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>

namespace mpheap::io {

// The unsigned word of `size` bytes (1 to 8) at `p` in the given byte order. Words of 4 and 8
// bytes, what every heap scan reads, are one load (and a byte swap for the other order).
inline std::uint64_t load_word(const char* p, std::uint32_t size, bool little_endian) {
  const bool swap = little_endian != (std::endian::native == std::endian::little);
  if (size == 8) {
    std::uint64_t v = 0;
    std::memcpy(&v, p, 8);
    return swap ? __builtin_bswap64(v) : v;
  }
  if (size == 4) {
    std::uint32_t v = 0;
    std::memcpy(&v, p, 4);
    return swap ? __builtin_bswap32(v) : v;
  }
  std::uint64_t v = 0;
  for (std::uint32_t i = 0; i < size; ++i) {
    auto byte = static_cast<std::uint8_t>(p[little_endian ? size - 1 - i : i]);
    v = (v << 8) | byte;
  }
  return v;
}

}  // namespace mpheap::io
