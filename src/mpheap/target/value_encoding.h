// How an mp_obj_t word encodes small ints, qstrs, floats and None/False/True: the build's
// MICROPY_OBJ_REPR ('A', 'B', 'C'; 'D', NaN boxing, is not decoded) and whether it has
// immediate objects (MicroPython 1.13 and later: None/False/True are tagged words, before
// they were objects in ROM; qstrs then moved one tag bit up).
//
//            small int       qstr (before 1.13)   qstr (1.13+)        immediate (1.13+)
//   A        (i << 1) | 1    (q << 2) | 2          (q << 3) | 2        (v << 3) | 6
//   B        (i << 2) | 1    (q << 2) | 3          (q << 3) | 3        (v << 3) | 7
//   C        (i << 1) | 1    (q << 3) | 6 *        (q << 4) | 6 *      (v << 4) | 0xe *
//   * with the top 9 bits clear; other words with low bits 10 are 30-bit floats.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "mpheap/io/memory_image.h"

namespace mpheap::target {

struct ValueEncoding {
  char repr = 'A';
  bool immediate_objs = true;
  bool operator==(const ValueEncoding&) const = default;
};

enum class WordKind : std::uint8_t { pointer, small_int, qstr, immediate, float_value };

struct DecodedWord {
  WordKind kind = WordKind::pointer;
  std::int64_t value = 0;  // the int, the qstr index, the immediate's number (0 None, 1 False,
                           // 3 True, 4 the sentinel)
  float float_value = 0;   // representation C floats
};

DecodedWord decode_word(const ValueEncoding& e, std::uint64_t word, std::uint32_t word_size);

// A map slot's key that holds no entry: MP_OBJ_NULL (empty) or MP_OBJ_SENTINEL (deleted), which
// is 4 (8 in builds with MICROPY_DEBUG_MP_OBJ_SENTINELS) whatever the representation.
inline bool is_empty_slot_key(std::uint64_t key) {
  return key == 0 || key == 4 || key == 8;
}

// The encoding the keys of one mp_map_t show (`table` with `alloc` slots of key/value words):
// the one representation under which every used key is a qstr below `qstr_limit`, given
// whether the build has immediate objects. nullopt when no key decides it (no keys, or keys
// that fit none or several).
std::optional<char> infer_repr_from_map(const io::MemoryImage& memory, std::uint64_t table,
                                        std::uint64_t alloc, std::uint32_t word_size,
                                        bool little_endian, bool immediate_objs,
                                        std::uint64_t qstr_limit, std::uint64_t* keys_seen);

std::string describe(const ValueEncoding& e);

}  // namespace mpheap::target
