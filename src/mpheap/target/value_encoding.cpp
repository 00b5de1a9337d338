#include "mpheap/target/value_encoding.h"

#include <fmt/format.h>

#include <bit>

namespace mpheap::target {

DecodedWord decode_word(const ValueEncoding& e, std::uint64_t w, std::uint32_t word_size) {
  const unsigned bits = 8 * word_size;
  auto sign_extend = [&](std::uint64_t v, unsigned shift) {
    return static_cast<std::int64_t>(v << (64 - bits)) >> (64 - bits + shift);
  };
  DecodedWord d;
  const bool imm = e.immediate_objs;
  switch (e.repr) {
    case 'B':
      if ((w & 3) == 1) return {WordKind::small_int, sign_extend(w, 2), 0};
      if (imm ? (w & 7) == 3 : (w & 3) == 3)
        return {WordKind::qstr, static_cast<std::int64_t>(w >> (imm ? 3 : 2)), 0};
      if (imm && (w & 7) == 7) return {WordKind::immediate, static_cast<std::int64_t>(w >> 3), 0};
      return d;
    case 'C': {
      if ((w & 1) == 1) return {WordKind::small_int, sign_extend(w, 1), 0};
      const std::uint64_t mask = imm ? 0xff80000f : 0xff800007;
      if ((w & mask) == 6)
        return {WordKind::qstr, static_cast<std::int64_t>(w >> (imm ? 4 : 3)), 0};
      if (imm && (w & mask) == 0xe)
        return {WordKind::immediate, static_cast<std::int64_t>(w >> 4), 0};
      if ((w & 3) == 2 && word_size == 4) {
        auto u = static_cast<std::uint32_t>((w - 0x80800000U) & ~3ULL);
        return {WordKind::float_value, 0, std::bit_cast<float>(u)};
      }
      return d;
    }
    default:  // 'A'
      if ((w & 1) == 1) return {WordKind::small_int, sign_extend(w, 1), 0};
      if (imm ? (w & 7) == 2 : (w & 3) == 2)
        return {WordKind::qstr, static_cast<std::int64_t>(w >> (imm ? 3 : 2)), 0};
      if (imm && (w & 7) == 6) return {WordKind::immediate, static_cast<std::int64_t>(w >> 3), 0};
      return d;
  }
}

std::optional<char> infer_repr_from_map(const io::MemoryImage& memory, std::uint64_t table,
                                        std::uint64_t alloc, std::uint32_t word_size,
                                        bool little_endian, bool immediate_objs,
                                        std::uint64_t qstr_limit, std::uint64_t* keys_seen) {
  constexpr char kReprs[] = {'A', 'B', 'C'};
  std::uint64_t fits[3] = {0, 0, 0};
  std::uint64_t keys = 0;
  for (std::uint64_t i = 0; i < alloc && i < 4096; ++i) {
    auto k = memory.read(table + 2 * i * word_size, word_size, little_endian);
    if (!k) break;
    if (is_empty_slot_key(*k)) continue;
    ++keys;
    for (int r = 0; r < 3; ++r) {
      DecodedWord d = decode_word(ValueEncoding{kReprs[r], immediate_objs}, *k, word_size);
      if (d.kind == WordKind::qstr && d.value > 0 &&
          static_cast<std::uint64_t>(d.value) < qstr_limit)
        ++fits[r];
    }
  }
  if (keys_seen != nullptr) *keys_seen = keys;
  if (keys == 0) return std::nullopt;
  // Before 1.13 every C qstr (q << 3) | 6 is also an A qstr (an odd one): when all keys fit
  // both, C it is unless there are too few keys for that to be telling (under A, half the
  // qstrs would be even).
  if (fits[0] == keys && fits[2] == keys && fits[1] != keys)
    return keys >= 4 ? std::optional<char>('C') : std::nullopt;
  std::optional<char> found;
  for (int r = 0; r < 3; ++r)
    if (fits[r] == keys) {
      if (found) return std::nullopt;  // ambiguous
      found = kReprs[r];
    }
  return found;
}

std::string describe(const ValueEncoding& e) {
  return fmt::format("object representation {}, {}", e.repr,
                     e.immediate_objs ? "None/False/True immediate (MicroPython >= 1.13)"
                                      : "None/False/True objects in ROM (before MicroPython 1.13)");
}

}  // namespace mpheap::target
