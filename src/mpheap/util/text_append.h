// Appending numbers and hex bytes to a text buffer without temporaries, for the presenters'
// per-instruction and per-event loops (a format string parsed a million times costs more
// than the text it writes).
#pragma once

#include <algorithm>
#include <charconv>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>

namespace mpheap {

// Decimal, as std::to_string or fmt's "{}" writes it.
template <std::integral T>
inline void append_int(std::string& out, T v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// Two lowercase hex digits.
inline void append_hex2(std::string& out, std::uint8_t b) {
  static constexpr char kHex[] = "0123456789abcdef";
  const char two[2] = {kHex[b >> 4], kHex[b & 15]};
  out.append(two, 2);
}

// "aa:bb:cc"
inline void append_hex_bytes(std::string& out, std::span<const std::uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Built on the stack and appended in one go: string::resize would zero the bytes first.
  char chunk[3 * 64];
  for (std::size_t i = 0; i < bytes.size();) {
    char* p = chunk;
    for (std::size_t end = std::min(bytes.size(), i + 64); i < end; ++i) {
      if (i) *p++ = ':';
      *p++ = kHex[bytes[i] >> 4];
      *p++ = kHex[bytes[i] & 15];
    }
    out.append(chunk, p);
  }
}

}  // namespace mpheap
