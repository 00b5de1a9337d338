// Python values from a snapshot (words decoded as the target's value encoding says).
#include "mpheap/heap/objects.h"

#include <fmt/format.h>

#include <algorithm>

namespace mpheap::heap {

ObjectReader::ObjectReader(const target::Target& t, const io::MemoryImage& memory,
                           const Snapshot& snapshot)
    : t_(t), mem_(memory), snap_(snapshot) {
  read_heap_qstr_pools();
}

std::optional<std::uint64_t> ObjectReader::read_word(std::uint64_t address) const {
  return word(address);
}

std::optional<std::uint64_t> ObjectReader::word(std::uint64_t address) const {
  return mem_.read(address, t_.word_size, t_.little_endian);
}

// Walks the pool chain from vm.last_pool while the pools are in RAM; ROM pools end the walk.
void ObjectReader::read_heap_qstr_pools() {
  const target::QstrPoolLayout& q = t_.qstr_pool;
  if (!t_.mp_state_ctx || !t_.state.vm_last_pool || !q.qstrs || !q.len || !q.total_prev_len) return;
  auto pool = word(*t_.mp_state_ctx + snap_.load_bias + *t_.state.vm_last_pool);
  std::vector<std::pair<std::uint64_t, std::vector<std::string>>> pools;  // (first index, strings)
  for (int depth = 0; pool && *pool != 0 && depth < 256 && mem_.covers(*pool, q.size); ++depth) {
    auto total_prev = word(*pool + *q.total_prev_len);
    auto len = word(*pool + *q.len);
    if (!total_prev || !len || *len > (1u << 20)) break;
    std::uint64_t prev_len = *total_prev & ((t_.word_size >= 8 ? ~0ULL >> 1 : 0x7fffffffULL));
    std::vector<std::string> strings;
    auto lengths = q.lengths ? word(*pool + *q.lengths) : std::nullopt;
    for (std::uint64_t i = 0; i < *len; ++i) {
      auto p = word(*pool + *q.qstrs + i * t_.word_size);
      std::optional<std::string_view> bytes;
      if (p && lengths) {
        auto n = mem_.read(*lengths + i * q.len_bytes, q.len_bytes, t_.little_endian);
        if (n) bytes = mem_.bytes(*p, *n);
      } else if (p) {
        auto n = mem_.read(*p + q.hash_bytes, q.len_bytes, t_.little_endian);
        if (n) bytes = mem_.bytes(*p + q.hash_bytes + q.len_bytes, *n);
      }
      strings.push_back(bytes ? std::string(*bytes) : fmt::format("qstr#{}", prev_len + i));
    }
    pools.emplace_back(prev_len, std::move(strings));
    pool = q.prev ? word(*pool + *q.prev) : std::nullopt;
  }
  if (pools.empty()) return;
  std::sort(pools.begin(), pools.end(), [](auto& a, auto& b) { return a.first < b.first; });
  heap_qstr_base_ = pools.front().first;
  for (auto& [first, strings] : pools) {
    if (first != heap_qstr_base_ + heap_qstrs_.size()) break;  // a gap: stop at what is known
    for (auto& s : strings) heap_qstrs_.push_back(std::move(s));
  }
}

std::optional<std::string> ObjectReader::qstr(std::uint64_t index) const {
  if (index < t_.rom_qstrs.size()) return t_.rom_qstrs[index];
  if (index >= heap_qstr_base_ && index - heap_qstr_base_ < heap_qstrs_.size())
    return heap_qstrs_[index - heap_qstr_base_];
  return std::nullopt;
}

const HeapObject* ObjectReader::object_at(std::uint64_t address) const {
  auto it = std::upper_bound(snap_.objects.begin(), snap_.objects.end(), address,
                             [](std::uint64_t a, const HeapObject& o) { return a < o.address; });
  if (it == snap_.objects.begin()) return nullptr;
  --it;
  return address < it->address + it->blocks * t_.block_size ? &*it : nullptr;
}

bool ObjectReader::is_type(const HeapObject& o, std::string_view symbol) const {
  const target::Symbol* s = t_.find_symbol(symbol);
  return s != nullptr && o.has_type_pointer && o.first_word == s->address + snap_.load_bias;
}

std::string ObjectReader::repr(std::uint64_t w) const {
  target::DecodedWord d = target::decode_word(t_.values, w, t_.word_size);
  switch (d.kind) {
    case target::WordKind::small_int:
      return fmt::format("{}", d.value);
    case target::WordKind::qstr: {
      auto s = qstr(static_cast<std::uint64_t>(d.value));
      return s ? fmt::format("'{}'", *s) : fmt::format("qstr#{}", d.value);
    }
    case target::WordKind::immediate:
      switch (d.value) {
        case 0:
          return "None";
        case 1:
          return "False";
        case 3:
          return "True";
        default:
          return fmt::format("<immediate {:#x}>", w);
      }
    case target::WordKind::float_value:
      return fmt::format("{}", d.float_value);
    case target::WordKind::pointer:
      break;
  }
  if (const HeapObject* o = object_at(w)) {
    if (auto s = str_value(*o)) return fmt::format("'{}'", *s);
    if (o->class_name() != NameIndex::none && o->address == w)
      return fmt::format("<class '{}'>", snap_.class_name(*o));
    if (const std::string& function = snap_.function_name(*o); !function.empty() && o->address == w)
      return fmt::format("<function {} at {:#x}>", function.substr(0, function.find(' ')), w);
    const std::string& type = snap_.type_name(*o);
    return fmt::format("<{} at {:#x}>", type.empty() ? "object" : type, o->address);
  }
  if (w >= snap_.load_bias) {
    std::uint64_t link = w - snap_.load_bias;
    if (const target::TypeObject* ty = t_.type_at(link); ty && ty->address == link)
      return fmt::format("<class '{}'>", ty->name);
    // An object outside the heap: None, False and True before MicroPython 1.13, other ROM objects.
    if (auto base = word(w); base && *base >= snap_.load_bias) {
      if (const target::TypeObject* ty = t_.type_at(*base - snap_.load_bias);
          ty && ty->address == *base - snap_.load_bias) {
        if (ty->name == "NoneType") return "None";
        if (ty->name == "bool") {
          auto v = word(w + t_.word_size);
          if (v && *v <= 1) return *v != 0 ? "True" : "False";
        }
        return fmt::format("<{} at {:#x}>", ty->name, w);
      }
    }
    if (const target::Symbol* sym = t_.symbol_at(link); sym && sym->address == link) {
      if (sym->name == "mp_const_none_obj") return "None";
      if (sym->name == "mp_const_true_obj") return "True";
      if (sym->name == "mp_const_false_obj") return "False";
      return fmt::format("<{}>", sym->name);
    }
  }
  return fmt::format("{:#x}", w);
}

std::optional<std::string> ObjectReader::str_value(const HeapObject& o) const {
  if (!is_type(o, "mp_type_str") && !is_type(o, "mp_type_bytes")) return std::nullopt;
  auto len = word(o.address + t_.objects.str_len);
  auto data = word(o.address + t_.objects.str_data);
  if (!len || !data || *len > (1u << 24)) return std::nullopt;
  auto bytes = mem_.bytes(*data, *len);
  if (!bytes) return std::nullopt;
  return std::string(*bytes);
}

std::vector<std::pair<std::uint64_t, std::uint64_t>> ObjectReader::map_items(
    std::uint64_t map) const {
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  const auto& L = t_.objects;
  auto alloc = word(map + (L.map_alloc - L.map_used_word));
  auto table = word(map + (L.map_table - L.map_used_word));
  if (!alloc || !table || *alloc > (1u << 20)) return out;
  for (std::uint64_t i = 0; i < *alloc; ++i) {
    auto k = word(*table + 2 * i * t_.word_size);
    auto v = word(*table + (2 * i + 1) * t_.word_size);
    if (!k || !v) break;
    // Empty slots hold MP_OBJ_NULL, deleted ones MP_OBJ_SENTINEL.
    if (target::is_empty_slot_key(*k)) continue;
    out.emplace_back(*k, *v);
  }
  return out;
}

std::optional<std::vector<std::pair<std::uint64_t, std::uint64_t>>> ObjectReader::dict_items(
    const HeapObject& o) const {
  if (!is_type(o, "mp_type_dict")) return std::nullopt;
  return map_items(o.address + t_.objects.dict_map);
}

std::optional<std::vector<std::uint64_t>> ObjectReader::sequence_items(const HeapObject& o) const {
  std::optional<std::uint64_t> len, items;
  if (is_type(o, "mp_type_list")) {
    len = word(o.address + t_.objects.list_len);
    items = word(o.address + t_.objects.list_items);
  } else if (is_type(o, "mp_type_tuple")) {
    len = word(o.address + t_.objects.tuple_len);
    items = o.address + t_.objects.tuple_items;
  }
  if (!len || !items || *len > (1u << 20)) return std::nullopt;
  std::vector<std::uint64_t> out;
  for (std::uint64_t i = 0; i < *len; ++i) {
    auto w = word(*items + i * t_.word_size);
    if (!w) return std::nullopt;
    out.push_back(*w);
  }
  return out;
}

std::optional<std::string> ObjectReader::class_name(const HeapObject& o) const {
  if (!is_type(o, "mp_type_type")) return std::nullopt;
  auto q =
      mem_.read(o.address + t_.objects.type_name, t_.objects.type_name_bytes, t_.little_endian);
  if (!q) return std::nullopt;
  return qstr(*q);
}

std::vector<std::pair<std::string, std::uint64_t>> ObjectReader::globals() const {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  if (!t_.mp_state_ctx || !t_.state.vm_dict_main) return out;
  std::uint64_t map =
      *t_.mp_state_ctx + snap_.load_bias + *t_.state.vm_dict_main + t_.objects.dict_map;
  for (auto [k, v] : map_items(map)) {
    std::string name = repr(k);
    if (name.size() >= 2 && name.front() == '\'') name = name.substr(1, name.size() - 2);
    out.emplace_back(std::move(name), v);
  }
  return out;
}

void name_instance_types(Snapshot& s, const ObjectReader& reader, const target::Target& t) {
  (void)t;
  for (HeapObject& o : s.objects) {
    if (auto name = reader.class_name(o)) o.set_class_name(s.names.intern(*name));
  }
  for (HeapObject& o : s.objects) {
    if (o.kind != ObjectKind::unknown || !o.has_type_pointer) continue;
    const HeapObject* cls = reader.object_at(o.first_word);
    if (cls != nullptr && cls->address == o.first_word && cls->class_name() != NameIndex::none) {
      o.type = cls->class_name();
      o.kind = ObjectKind::instance;
    }
  }
}

}  // namespace mpheap::heap

namespace mpheap::heap {

bool label_block(Snapshot& s, const ObjectReader& reader, std::uint64_t address, ObjectKind what) {
  // The reader finds objects of `s` (read-only); the label is written through `s` itself.
  const HeapObject* block = reader.object_at(address);
  if (block == nullptr || block->address != address || block->kind != ObjectKind::unknown)
    return false;
  HeapObject& o = s.objects[static_cast<std::size_t>(block - s.objects.data())];
  o.kind = what;
  o.type = s.names.intern(kind_label(what));
  return true;
}

void label_headerless_blocks(Snapshot& s, const ObjectReader& reader, const target::Target& t) {
  auto word = [&](std::uint64_t a) { return reader.read_word(a); };
  // The reader finds objects of `s` (read-only); the labels are written through `s` itself.
  auto in_s = [&](const HeapObject* p) {
    return &s.objects[static_cast<std::size_t>(p - s.objects.data())];
  };
  auto label = [&](std::optional<std::uint64_t> address, ObjectKind what) {
    if (address) label_block(s, reader, *address, what);
  };
  const target::ObjectLayout& L = t.objects;
  for (const HeapObject& o : s.objects) {
    const ObjectKind k = o.kind;
    if (k == ObjectKind::str || k == ObjectKind::bytes) {
      label(word(o.address + L.str_data), ObjectKind::str_data);
    } else if (k == ObjectKind::list) {
      label(word(o.address + L.list_items), ObjectKind::list_items);
    } else if (k == ObjectKind::dict) {
      label(word(o.address + L.dict_map + (L.map_table - L.map_used_word)), ObjectKind::dict_table);
    } else if (k == ObjectKind::bytearray || k == ObjectKind::array) {
      // {base, typecode+free, len, items}
      label(word(o.address + L.list_items), ObjectKind::bytearray_data);
    } else if (k == ObjectKind::set || k == ObjectKind::frozenset) {
      // {base, mp_set_t {alloc, used, table}}
      auto alloc = word(o.address + L.set_alloc), used = word(o.address + L.set_used);
      if (alloc && used && *used <= *alloc)
        label(word(o.address + L.set_table), ObjectKind::set_table);
    } else if (k == ObjectKind::int_) {
      // A big int (MPZ): {base, mpz_t {neg:1, fixed_dig:1, alloc, len, dig}}; its digits are
      // a block of their own unless fixed. Long-long builds have no pointer there: the shape
      // (len <= alloc, digits not fixed) and a head block at the address keep them out.
      auto bits = word(o.address + L.mpz_bits), len = word(o.address + L.mpz_len);
      if (bits && len && (*bits & 2) == 0 && *len <= (*bits >> 2) && (*bits >> 2) < (1u << 20))
        label(word(o.address + L.mpz_digits), ObjectKind::int_digits);
    } else if (k == ObjectKind::instance) {
      // An instance of a Python class: {base, members map}.
      label(word(o.address + L.instance_members + (L.map_table - L.map_used_word)),
            ObjectKind::instance_members);
    }
  }
  // Lists embedded in mp_state_ctx (sys.argv, sys.path in some builds): a word holding
  // &mp_type_list, then {alloc, len, items} with len <= alloc, their items on the heap.
  if (const target::Symbol* list = t.find_symbol("mp_type_list"); list && t.mp_state_ctx) {
    const std::uint64_t ctx = *t.mp_state_ctx + s.load_bias;
    const std::uint64_t end = ctx + t.state.mem_area.value_or(t.state.size);
    for (std::uint64_t a = ctx; a + L.list_items < end; a += t.word_size) {
      if (word(a) != list->address + s.load_bias) continue;
      auto alloc = word(a + L.list_alloc), len = word(a + L.list_len);
      if (alloc && len && *len <= *alloc) label(word(a + L.list_items), ObjectKind::list_items);
    }
  }
  // The tables of the dicts embedded in mp_state_ctx: __main__'s globals and sys.modules.
  for (const target::Offset& dict : {t.state.vm_dict_main, t.state.vm_mp_loaded_modules_dict}) {
    if (t.mp_state_ctx && dict)
      label(word(*t.mp_state_ctx + s.load_bias + *dict + L.dict_map +
                 (L.map_table - L.map_used_word)),
            ObjectKind::dict_table);
  }
  // Heap qstr pools and the chunks their strings live in.
  const target::QstrPoolLayout& q = t.qstr_pool;
  if (t.mp_state_ctx && t.state.vm_last_pool && q.qstrs && q.len) {
    auto pool = word(*t.mp_state_ctx + s.load_bias + *t.state.vm_last_pool);
    for (int depth = 0; pool && *pool != 0 && depth < 256 && reader.object_at(*pool) != nullptr;
         ++depth) {
      label(pool, ObjectKind::qstr_pool);
      auto len = word(*pool + *q.len);
      for (std::uint64_t i = 0; len && i < *len && i < (1u << 16); ++i) {
        auto str = word(*pool + *q.qstrs + i * t.word_size);
        if (!str) break;
        if (const HeapObject* chunk = reader.object_at(*str);
            chunk && chunk->kind == ObjectKind::unknown) {
          in_s(chunk)->kind = ObjectKind::qstr_chunk;
          in_s(chunk)->type = s.names.intern(kind_label(ObjectKind::qstr_chunk));
        }
      }
      if (q.hashes) label(word(*pool + *q.hashes), ObjectKind::qstr_hashes);
      if (q.lengths) label(word(*pool + *q.lengths), ObjectKind::qstr_lengths);
      pool = q.prev ? word(*pool + *q.prev) : std::nullopt;
    }
  }
}

}  // namespace mpheap::heap
