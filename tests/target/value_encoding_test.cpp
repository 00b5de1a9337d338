// Object word decoding for each MICROPY_OBJ_REPR before and since MicroPython 1.13, with words
// built the way py/obj.h's MP_OBJ_NEW_* macros build them; and the representation inferred from
// the keys of a map.
#include "mpheap/target/value_encoding.h"

#include <gtest/gtest.h>

#include <bit>
#include <vector>

namespace mpheap::target {
namespace {

constexpr ValueEncoding kA{'A', true}, kAOld{'A', false}, kB{'B', true}, kBOld{'B', false},
    kC{'C', true}, kCOld{'C', false};

void expect(const ValueEncoding& e, std::uint64_t w, WordKind kind, std::int64_t value,
            std::uint32_t word_size = 4) {
  DecodedWord d = decode_word(e, w, word_size);
  EXPECT_EQ(d.kind, kind) << e.repr << " " << e.immediate_objs << " word " << std::hex << w;
  EXPECT_EQ(d.value, value) << e.repr << " " << e.immediate_objs << " word " << std::hex << w;
}

TEST(ValueEncoding, RepresentationASinceAndBefore1_13) {
  expect(kA, (123u << 1) | 1, WordKind::small_int, 123);
  expect(kA, 0xffffffffu, WordKind::small_int, -1);
  expect(kA, 0xffffffffffffffffULL, WordKind::small_int, -1, 8);
  expect(kA, (300u << 3) | 2, WordKind::qstr, 300);
  expect(kA, (3u << 3) | 6, WordKind::immediate, 3);  // True
  expect(kA, 0x20000490, WordKind::pointer, 0);
  EXPECT_TRUE(is_empty_slot_key(4));  // MP_OBJ_SENTINEL is 4 in every representation
  EXPECT_FALSE(is_empty_slot_key((4u << 3) | 6));
  expect(kAOld, (300u << 2) | 2, WordKind::qstr, 300);
  expect(kAOld, (3u << 3) | 6, WordKind::qstr, 7);  // no immediates before 1.13
}

TEST(ValueEncoding, RepresentationB) {
  expect(kB, (77u << 2) | 1, WordKind::small_int, 77);
  expect(kB, (300u << 3) | 3, WordKind::qstr, 300);
  expect(kB, (1u << 3) | 7, WordKind::immediate, 1);
  expect(kBOld, (300u << 2) | 3, WordKind::qstr, 300);
  expect(kB, 0x20000490, WordKind::pointer, 0);
}

TEST(ValueEncoding, RepresentationCWithImmediateFloats) {
  expect(kCOld, (300u << 3) | 6, WordKind::qstr, 300);
  expect(kC, (300u << 4) | 6, WordKind::qstr, 300);
  expect(kC, (0u << 4) | 0xe, WordKind::immediate, 0);  // None
  expect(kCOld, (5u << 1) | 1, WordKind::small_int, 5);
  // mp_obj_new_float(3.5f): ((bits & ~3) | 2) + 0x80800000.
  std::uint32_t bits = std::bit_cast<std::uint32_t>(3.5f);
  std::uint32_t w = ((bits & ~3u) | 2u) + 0x80800000u;
  DecodedWord d = decode_word(kCOld, w, 4);
  EXPECT_EQ(d.kind, WordKind::float_value);
  EXPECT_EQ(d.float_value, 3.5f);
}

// A map table of key/value words in a little-endian dump at 0x1000.
io::MemoryImage map_of(const std::vector<std::uint32_t>& keys) {
  io::MemoryRange r;
  r.address = 0x1000;
  for (std::uint32_t k : keys)
    for (std::uint32_t word : {k, 1u})
      for (int i = 0; i < 4; ++i) r.bytes.push_back(static_cast<char>((word >> (8 * i)) & 0xff));
  io::MemoryImage m;
  m.add(std::move(r));
  return m;
}

TEST(ValueEncoding, RepresentationFromMapKeys) {
  std::uint64_t keys = 0;
  // qstrs 10, 11, 12, 13 and an empty and a deleted slot, in each encoding.
  auto a = map_of({(10 << 3) | 2, (11 << 3) | 2, 0, (12 << 3) | 2, 4, (13 << 3) | 2});
  EXPECT_EQ(infer_repr_from_map(a, 0x1000, 6, 4, true, true, 1000, &keys), 'A');
  EXPECT_EQ(keys, 4u);
  auto c_old = map_of({(10 << 3) | 6, (11 << 3) | 6, 4, (12 << 3) | 6, (13 << 3) | 6});
  EXPECT_EQ(infer_repr_from_map(c_old, 0x1000, 5, 4, true, false, 1000, &keys), 'C');
  auto a_old = map_of({(10 << 2) | 2, (11 << 2) | 2, (12 << 2) | 2, (13 << 2) | 2});
  EXPECT_EQ(infer_repr_from_map(a_old, 0x1000, 4, 4, true, false, 1000, &keys), 'A');
  auto b = map_of({(10 << 3) | 3, (11 << 3) | 3});
  EXPECT_EQ(infer_repr_from_map(b, 0x1000, 2, 4, true, true, 1000, &keys), 'B');
  // Too few keys to tell old A from old C; and pointers are no qstrs at all.
  auto two_c = map_of({(10 << 3) | 6, (11 << 3) | 6});
  EXPECT_EQ(infer_repr_from_map(two_c, 0x1000, 2, 4, true, false, 1000, &keys), std::nullopt);
  auto pointers = map_of({0x20000490, 0x200004a0});
  EXPECT_EQ(infer_repr_from_map(pointers, 0x1000, 2, 4, true, true, 1000, &keys), std::nullopt);
}

}  // namespace
}  // namespace mpheap::target
