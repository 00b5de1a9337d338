// Parsing of unsigned numbers as users write them on command lines: "0x..." hex or decimal.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace mpheap {

// The whole of `text` as 0x/0X-prefixed hex or as decimal; nullopt otherwise.
inline std::optional<std::uint64_t> parse_uint(std::string_view text) {
  int base = 10;
  if (text.starts_with("0x") || text.starts_with("0X")) {
    text.remove_prefix(2);
    base = 16;
  }
  std::uint64_t out = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), out, base);
  if (text.empty() || ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return out;
}

}  // namespace mpheap
