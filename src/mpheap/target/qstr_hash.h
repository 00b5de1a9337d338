// MicroPython's qstr hash (py/qstr.c: djb2 with xor), masked to the build's hash width.
#pragma once

#include <cstdint>
#include <string_view>

namespace mpheap::target {

inline std::uint64_t qstr_hash(std::string_view s, std::uint32_t hash_bytes) {
  std::uint64_t h = 5381;
  for (char c : s) h = (h * 33) ^ static_cast<unsigned char>(c);
  std::uint64_t mask = hash_bytes >= 8 ? ~0ULL : (1ULL << (8 * hash_bytes)) - 1;
  h &= mask;
  return h == 0 ? 1 : h;
}

}  // namespace mpheap::target
