// Load address votes: see load_address.h.
#include "mpheap/target/load_address.h"

#include <algorithm>

namespace mpheap::target {
namespace {

bool printable(unsigned char c) {
  return (c >= 0x20 && c < 0x7f) || c == '\t' || c == '\n';
}

}  // namespace

LoadAddressRanking rank_load_addresses(std::string_view image, std::uint32_t word_size,
                                       bool little_endian, std::uint64_t alignment,
                                       std::size_t keep) {
  LoadAddressRanking out;
  if (alignment == 0 || (alignment & (alignment - 1)) != 0) alignment = 0x100;
  // String starts, bucketed by their offset modulo the alignment: a word v points at start s
  // at base v - s, which is aligned only when v and s agree modulo the alignment.
  std::vector<std::vector<std::uint32_t>> starts(alignment);
  const auto* b = reinterpret_cast<const unsigned char*>(image.data());
  const std::size_t n = image.size();
  for (std::size_t i = 0; i < n;) {
    if (!printable(b[i]) || (i > 0 && b[i - 1] != 0)) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && printable(b[j])) ++j;
    if (j < n && b[j] == 0 && j - i >= 2) {
      starts[i & (alignment - 1)].push_back(static_cast<std::uint32_t>(i));
      ++out.string_starts;
    }
    i = j + 1;
  }
  // Every vote is a candidate base; sorted, equal bases are adjacent and their run is the count
  // (cheaper than a hash map of counters: no node per base, one pass of sorting).
  std::vector<std::uint64_t> bases;
  bases.reserve(n / word_size * 4);
  for (std::size_t at = 0; at + word_size <= n; at += word_size) {
    std::uint64_t v = 0;
    for (std::uint32_t k = 0; k < word_size; ++k)
      v |= static_cast<std::uint64_t>(b[at + k]) << (8 * (little_endian ? k : word_size - 1 - k));
    ++out.words;
    if (v == 0 || v == (word_size >= 8 ? ~0ULL : 0xffffffffULL)) continue;
    for (std::uint32_t s : starts[v & (alignment - 1)])
      if (v >= s) bases.push_back(v - s);
  }
  std::sort(bases.begin(), bases.end());
  std::vector<LoadAddressVotes> all;
  for (std::size_t i = 0; i < bases.size();) {
    std::size_t j = i + 1;
    while (j < bases.size() && bases[j] == bases[i]) ++j;
    if (j - i >= 2) all.push_back({bases[i], j - i});
    i = j;
  }
  const std::size_t k = std::min(keep, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(k), all.end(),
                    [](const LoadAddressVotes& x, const LoadAddressVotes& y) {
                      return x.words != y.words ? x.words > y.words : x.base < y.base;
                    });
  all.resize(k);
  out.best = std::move(all);
  return out;
}

}  // namespace mpheap::target
