// Type objects by their shape: see image_types.h.
#include "mpheap/target/image_types.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>

namespace mpheap::target {
namespace {

struct NameField {
  std::uint64_t offset;
  std::uint32_t bytes;
};

// Where a type's name qstr may be: a word at +4 (before 1.20), 16 bits at +6 (1.20+: after the
// flags), at +4 or +8 (forks).
constexpr NameField kNameFields[] = {{4, 4}, {6, 2}, {4, 2}, {8, 2}};
constexpr std::uint64_t kSlotIndices = 12;  // make_new .. locals_dict
constexpr std::uint64_t kLocalsDictSlot = 11;
constexpr std::uint64_t kMakeNewSlot = 0;

bool identifier_like(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return !std::isdigit(static_cast<unsigned char>(s[0]));
}

// The used slots of a 1.20+ type at `a`: slot index byte i -> slot number (1-based), when the
// non-zero indices are exactly 1..k and each used slot points into the image.
std::optional<std::array<std::uint8_t, kSlotIndices>> slot_table(const io::WordReader& w,
                                                                 std::uint64_t a,
                                                                 bool function_indices) {
  auto bytes = w.mem.bytes(a + 8, kSlotIndices);
  if (!bytes) return std::nullopt;
  std::array<std::uint8_t, kSlotIndices> index{};
  std::uint32_t seen = 0, k = 0;
  for (std::uint64_t i = 0; i < kSlotIndices; ++i) {
    index[i] = static_cast<std::uint8_t>((*bytes)[i]);
    if (index[i] == 0) continue;
    if (index[i] > kSlotIndices || (seen & (1u << index[i])) != 0) return std::nullopt;
    seen |= 1u << index[i];
    ++k;
  }
  if (seen != ((1u << (k + 1)) - 2)) return std::nullopt;  // exactly 1..k
  const std::uint64_t slots = a + 8 + kSlotIndices;
  for (std::uint32_t s = 1; s <= k; ++s) {
    auto v = w.at(slots + (s - 1) * w.word);
    if (!v || *v == 0) return std::nullopt;
    if (!w.mem.covers(*v & ~1ULL, 1) && !(function_indices && *v < 0x10000)) return std::nullopt;
  }
  return index;
}

// The qstr index a ROM map key encodes: (q << 3) | 2 (MicroPython >= 1.13 and representation
// C's qstrs too) or (q << 2) | 2 (before).
std::optional<std::uint64_t> key_qstr(std::uint64_t key, std::uint64_t qstr_count) {
  if ((key & 7) == 2 && (key >> 3) < qstr_count) return key >> 3;
  if ((key & 3) == 2 && (key >> 2) < qstr_count) return key >> 2;
  return std::nullopt;
}

// The keys of the ROM dict at `dict` (base &dict, a fixed map), as qstr strings.
std::vector<std::string> dict_keys(const io::WordReader& w, std::uint64_t dict,
                                   std::optional<std::uint64_t> dict_type,
                                   const std::vector<std::string>& rom_qstrs) {
  std::vector<std::string> keys;
  const std::uint64_t W = w.word;
  auto base = w.at(dict), used_word = w.at(dict + W), table = w.at(dict + 3 * W);
  if (!base || !used_word || !table || (dict_type && *base != *dict_type)) return keys;
  const std::uint64_t used = *used_word >> 3;
  for (std::uint64_t i = 0; i < used && i < 256; ++i) {
    auto key = w.at(*table + 2 * W * i);
    auto q = key ? key_qstr(*key, rom_qstrs.size()) : std::nullopt;
    if (!q) return {};
    keys.push_back(rom_qstrs[*q]);
  }
  return keys;
}

}  // namespace

std::string nameless_type_name(std::uint64_t address, const std::vector<std::string>& methods) {
  std::string list;
  for (std::size_t i = 0; i < methods.size() && i < 4; ++i)
    list += fmt::format("{}{}", i == 0 ? "" : ", ", methods[i]);
  if (methods.size() > 4) list += ", ...";
  return fmt::format("<type @0x{:08x}{}>", address, list.empty() ? "" : " {" + list + "}");
}

Expected<TypeSearch> find_type_objects(const io::MemoryImage& flash, std::uint32_t word_size,
                                       bool little_endian,
                                       const std::vector<std::string>& rom_qstrs,
                                       const std::string& image_name, bool function_indices) {
  io::WordReader w{flash, word_size, little_endian};
  const std::uint64_t W = word_size;
  auto qstr_name = [&](std::uint64_t q) -> const std::string* {
    return q < rom_qstrs.size() ? &rom_qstrs[q] : nullptr;
  };
  TypeSearch out;
  std::optional<NameField> name_field;
  for (const io::MemoryRange& r : flash.ranges()) {
    for (std::uint64_t a = (r.address + W - 1) / W * W; a + W <= r.end() && !name_field; a += W) {
      if (a == 0 || w.at(a) != a) continue;
      for (const NameField& nf : kNameFields) {
        auto qi = w.read(a + nf.offset, nf.bytes);
        const std::string* s = qi ? qstr_name(*qi) : nullptr;
        if (s != nullptr && *s == "type") {
          out.type_type = a;
          name_field = nf;
          break;
        }
      }
    }
  }
  if (!name_field) {
    return Error{image_name, 0, 0,
                 "no mp_type_type found: no object in the image points at itself with a name "
                 "field that reads \"type\" (tried name qstrs at +4 as a word, +4, +6, +8 as 16 "
                 "bits)"};
  }
  out.name_offset = name_field->offset;
  out.name_bytes = name_field->bytes;
  out.slot_table = name_field->offset == 6 && name_field->bytes == 2;

  // Every type object: base == &mp_type_type, a name qstr that is an identifier (or none), and
  // the layout's slots checked. Code literal pools that happen to hold &mp_type_type fail these.
  struct Candidate {
    std::uint64_t address;
    bool constructible;
    std::optional<std::uint64_t> locals_dict;
  };
  std::map<std::string, std::vector<Candidate>> by_name;
  std::vector<Candidate> nameless;
  for (const io::MemoryRange& r : flash.ranges()) {
    for (std::uint64_t a = (r.address + W - 1) / W * W; a + W <= r.end(); a += W) {
      if (w.at(a) != out.type_type) continue;
      auto qi = w.read(a + name_field->offset, name_field->bytes);
      const std::string* s = qi ? qstr_name(*qi) : nullptr;
      const bool no_name = qi && *qi <= 1;
      bool ok = s != nullptr && (no_name || identifier_like(*s));
      Candidate c{a, false, std::nullopt};
      if (ok && out.slot_table) {
        auto index = slot_table(w, a, function_indices);
        ok = index.has_value();
        if (ok) {
          c.constructible = (*index)[kMakeNewSlot] != 0;
          if (std::uint8_t d = (*index)[kLocalsDictSlot]; d != 0)
            c.locals_dict = w.at(a + 8 + kSlotIndices + (d - 1) * W);
        }
      } else if (ok && name_field->bytes == W) {
        for (std::uint64_t k = 2; k < 12 && ok; ++k) {
          auto v = w.at(a + k * W);
          ok = v && (*v == 0 || flash.covers(*v, 1));
        }
        if (ok) c.constructible = w.at(a + 3 * W).value_or(0) != 0;
        // Before 1.20 the nameless types are not told apart from data: keep named ones only.
        ok = ok && !no_name;
      } else if (ok) {
        ok = !no_name;
      }
      if (!ok) {
        ++out.rejected;
        continue;
      }
      if (no_name) {
        nameless.push_back(c);
      } else {
        by_name[*s].push_back(c);
      }
    }
  }
  for (auto& [name, candidates] : by_name) {
    // Several types may share a Python name (tuple and attrtuple, the function types). The one
    // Python code can construct (make_new set) is the one the name refers to in builtins.
    std::optional<std::uint64_t> main =
        candidates.size() == 1 ? std::optional(candidates[0].address) : std::nullopt;
    // Since 1.20 the function types are told apart by their heap objects instead
    // (from_image.cpp, mp_type_fun_bc): fun_bc has make_new too where function attributes are
    // enabled (1.27's WebAssembly port).
    if (!main && (out.slot_table || name_field->bytes == W) &&
        !(name == "function" && name_field->bytes != W)) {
      std::vector<std::uint64_t> constructible;
      for (const Candidate& c : candidates)
        if (c.constructible) constructible.push_back(c.address);
      if (constructible.size() == 1) {
        main = constructible[0];
        out.evidence.push_back(fmt::format(
            "{} types are named \"{}\": the one at 0x{:x} has make_new, so it is mp_type_{}",
            candidates.size(), name, *main, name));
      }
    }
    for (const Candidate& c : candidates)
      out.types.push_back(TypeObject{c.address, main == c.address ? "mp_type_" + name : "", name});
  }
  std::optional<std::uint64_t> dict_type;
  for (const TypeObject& t : out.types)
    if (t.symbol == "mp_type_dict") dict_type = t.address;
  for (const Candidate& c : nameless) {
    std::vector<std::string> methods = c.locals_dict
                                           ? dict_keys(w, *c.locals_dict, dict_type, rom_qstrs)
                                           : std::vector<std::string>{};
    out.types.push_back(TypeObject{c.address, "", nameless_type_name(c.address, methods)});
    ++out.nameless;
  }
  std::sort(out.types.begin(), out.types.end(),
            [](const TypeObject& x, const TypeObject& y) { return x.address < y.address; });
  return out;
}

}  // namespace mpheap::target
