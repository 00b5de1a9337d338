// A fast non-cryptographic 64-bit hash for interning strings in hot loops (8 bytes per step,
// multiply-fold mixing); std::hash<string_view> goes byte by byte.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace mpheap {

__extension__ typedef unsigned __int128 HashWide;

inline std::uint64_t hash_mix(std::uint64_t a, std::uint64_t b) {
  HashWide r = static_cast<HashWide>(a) * b;
  return static_cast<std::uint64_t>(r) ^ static_cast<std::uint64_t>(r >> 64);
}

inline std::uint64_t hash_bytes(std::string_view s, std::uint64_t seed = 0) {
  constexpr std::uint64_t k1 = 0xa0761d6478bd642fULL, k2 = 0xe7037ed1a0b428dbULL;
  const char* p = s.data();
  std::size_t n = s.size();
  std::uint64_t h = hash_mix(seed ^ k1, n ^ k2);
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, 8);
    h = hash_mix(h ^ w, k2);
  }
  if (n > 0) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = hash_mix(h ^ w ^ (static_cast<std::uint64_t>(n) << 56), k1);
  }
  return h;
}

}  // namespace mpheap
