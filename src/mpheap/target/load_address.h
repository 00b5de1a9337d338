// The load address of a raw firmware image that does not say it: the base at which the most
// aligned words of the image point at the starts of NUL-terminated strings in it (firmware is
// full of pointers to its own string literals: qstrs, messages, names). Only bases aligned to
// `alignment` are counted, so each word votes for the few bases at which it would point at a
// string start with the same low bits: linear work in the image size.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace mpheap::target {

struct LoadAddressVotes {
  std::uint64_t base = 0;
  std::uint64_t words = 0;  // aligned words that point at a string start at this base
};

struct LoadAddressRanking {
  std::uint64_t string_starts = 0;     // NUL-terminated printable strings of 2+ bytes
  std::uint64_t words = 0;             // aligned words looked at
  std::vector<LoadAddressVotes> best;  // most votes first, at most `keep`
};

LoadAddressRanking rank_load_addresses(std::string_view image, std::uint32_t word_size = 4,
                                       bool little_endian = true, std::uint64_t alignment = 0x100,
                                       std::size_t keep = 8);

}  // namespace mpheap::target
