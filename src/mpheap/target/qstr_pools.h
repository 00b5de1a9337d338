// ROM qstr pools found in a firmware image by their shape, in every layout MicroPython has
// had, and named by their place in the chain for the version.
//  - before 1.19: {prev, total_prev_len, alloc, len, qstrs[len]}, each string preceded by its
//    hash and length bytes (1 or 2 each);
//  - 1.19 and later: {prev, total_prev_len, alloc, len, hashes, lengths, qstrs[len]} with the
//    hashes (1 or 2 bytes) and lengths (1 or 2 bytes) in arrays; since 1.22 total_prev_len's top
//    bit is is_sorted;
//  - 1.23 and later with MICROPY_QSTR_BYTES_IN_HASH 0: no hash array, a 5-word header
//    {prev, total_prev_len | is_sorted, alloc, len, lengths, qstrs[len]}: only the lengths (each
//    string's length, NUL-terminated there) can check a candidate.
// A pool flagged sorted must hold its strings in ascending order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "mpheap/io/memory_image.h"

namespace mpheap::target {

struct QstrPoolFinding {
  std::uint64_t address = 0;
  std::uint64_t prev = 0, total_prev_len = 0, alloc = 0, len = 0;
  bool arrays = false;                          // hashes/lengths arrays (MicroPython >= 1.19)
  bool sorted = false;                          // the is_sorted bit (MicroPython >= 1.22)
  std::uint32_t hash_bytes = 2, len_bytes = 1;  // hash_bytes 0: no hash array
  std::vector<std::string> strings;
  std::string name;  // the pool's C name by its place in the chain ("mp_qstr_const_pool")
};

// Every qstr pool in `flash` whose strings all verify, in address order. Bounded work: each
// word-aligned address is looked at once plus the strings of the pools that pass quick checks.
std::vector<QstrPoolFinding> find_qstr_pools(const io::MemoryImage& flash, std::uint32_t word_size,
                                             bool little_endian);

// The ROM chain among `pools`: the largest pool with no predecessor (prev NULL, no qstrs
// before it), then each pool whose prev is the last one and whose total_prev_len counts the
// qstrs before it. Empty when there is no first pool.
std::vector<QstrPoolFinding> rom_pool_chain(const std::vector<QstrPoolFinding>& pools);

// Names the pools of a ROM chain by their place, per version: since 1.22 the first is the
// static pool (mp_qstr_const_pool_static, unsorted), then mp_qstr_const_pool (sorted), then
// the frozen code's pool; before, mp_qstr_const_pool then the frozen pool. Without a version,
// the is_sorted bits tell the layout (a sorted second pool exists only since 1.22). Returns
// what told the layout, for the evidence.
std::string name_rom_pools(std::vector<QstrPoolFinding>& chain,
                           std::optional<std::pair<int, int>> version);

}  // namespace mpheap::target
