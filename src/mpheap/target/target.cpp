// Target lookups: address -> symbol, name -> symbol, type objects.
#include "mpheap/target/target.h"

#include <fmt/format.h>

#include <algorithm>

namespace mpheap::target {

const char* to_string(RegionKind kind) {
  switch (kind) {
    case RegionKind::flash:
      return "flash";
    case RegionKind::ram:
      return "ram";
    case RegionKind::data:
      return "data";
    case RegionKind::bss:
      return "bss";
    case RegionKind::stack:
      return "stack";
    case RegionKind::heap:
      return "heap";
    case RegionKind::other:
      break;
  }
  return "other";
}

ObjectLayout default_object_layout(std::uint32_t w) {
  ObjectLayout o;
  o.str_hash = w;  // base, hash, len, data
  o.str_len = 2 * w;
  o.str_data = 3 * w;
  o.dict_map = w;  // base, map{flags+used, alloc, table}
  o.map_used_word = w;
  o.map_alloc = 2 * w;
  o.map_table = 3 * w;
  o.list_alloc = w;  // base, alloc, len, items
  o.list_len = 2 * w;
  o.list_items = 3 * w;
  o.tuple_len = w;  // base, len, items[]
  o.tuple_items = 2 * w;
  o.type_name = w + 2;  // base, uint16 flags, uint16 name
  o.type_name_bytes = 2;
  o.map_used_shift = 3;
  o.fun_bc_context = w;
  o.fun_bc_child_table = 2 * w;
  o.fun_bc_bytecode = 3 * w;
  o.fun_bc_bytecode_before_1_19 = 2 * w;
  o.context_globals = w;
  o.context_qstr_table = 2 * w;
  o.context_obj_table = 3 * w;
  o.raw_code_fun_data = w;
  o.code_state_fun_bc = 0;
  o.code_state_ip = w;
  o.code_state_n_state = 3 * w;
  o.code_state_state = 5 * w;  // n_state and exc_sp_idx share a word, old_globals is aligned
  o.raw_code_children = 2 * w;
  o.set_alloc = w;
  o.set_used = 2 * w;
  o.set_table = 3 * w;
  o.mpz_bits = w;
  o.mpz_len = 2 * w;
  o.mpz_digits = 3 * w;
  o.instance_members = w;
  return o;
}

void Target::finalize() {
  if (objects.str_data == 0) objects = default_object_layout(word_size);
  std::sort(symbols.begin(), symbols.end(), [](const Symbol& a, const Symbol& b) {
    return a.address != b.address ? a.address < b.address : a.name < b.name;
  });
  symbols.erase(std::unique(symbols.begin(), symbols.end(),
                            [](const Symbol& a, const Symbol& b) {
                              return a.address == b.address && a.name == b.name;
                            }),
                symbols.end());
  std::sort(types.begin(), types.end(),
            [](const TypeObject& a, const TypeObject& b) { return a.address < b.address; });
  by_name_.resize(symbols.size());
  for (std::uint32_t i = 0; i < by_name_.size(); ++i) by_name_[i] = i;
  std::sort(by_name_.begin(), by_name_.end(),
            [&](std::uint32_t a, std::uint32_t b) { return symbols[a].name < symbols[b].name; });
}

const Symbol* Target::find_symbol(std::string_view name) const {
  auto it =
      std::lower_bound(by_name_.begin(), by_name_.end(), name,
                       [&](std::uint32_t i, std::string_view n) { return symbols[i].name < n; });
  if (it == by_name_.end() || symbols[*it].name != name) return nullptr;
  return &symbols[*it];
}

const Symbol* Target::symbol_at(std::uint64_t address) const {
  // The last symbol starting at or before the address whose extent covers it; symbols of
  // unknown size only match their own address.
  auto it = std::upper_bound(symbols.begin(), symbols.end(), address,
                             [](std::uint64_t a, const Symbol& s) { return a < s.address; });
  const Symbol* best = nullptr;
  for (int steps = 0; it != symbols.begin() && steps < 64; ++steps) {
    --it;
    const Symbol& s = *it;
    bool covers = s.size > 0 ? address - s.address < s.size : address == s.address;
    if (covers && (best == nullptr || (best->size == 0 && s.size > 0))) best = &s;
    if (best != nullptr && best->size > 0) break;
    if (address - s.address > (1u << 20)) break;
  }
  return best;
}

std::string Target::describe(std::uint64_t address) const {
  const Symbol* s = symbol_at(address);
  if (s == nullptr) return fmt::format("0x{:x}", address);
  if (s->address == address) return s->name;
  return fmt::format("{}+{}", s->name, address - s->address);
}

const TypeObject* Target::type_at(std::uint64_t address) const {
  auto it = std::lower_bound(types.begin(), types.end(), address,
                             [](const TypeObject& t, std::uint64_t a) { return t.address < a; });
  return it != types.end() && it->address == address ? &*it : nullptr;
}

Expected<bool> check_target(const Target& t, const std::string& source) {
  if (t.word_size != 4 && t.word_size != 8)
    return Error{source, 0, 0,
                 fmt::format("word size {} bytes: expected 4 (32-bit) or 8 (64-bit)", t.word_size)};
  const std::uint32_t b = t.block_size;
  if (!block_size_fits(b, t.word_size))
    return Error{source, 0, 0,
                 fmt::format("block size {} bytes: expected a power of two from the word size "
                             "({}) to 4096 (MICROPY_BYTES_PER_GC_BLOCK; 4 words by default = {})",
                             b, t.word_size, 4 * t.word_size)};
  const StateLayout& s = t.state;
  if (s.size != 0) {
    const std::pair<const char*, Offset> fields[] = {
        {"mem.area", s.mem_area},
        {"vm.last_pool", s.vm_last_pool},
        {"vm.dict_main", s.vm_dict_main},
        {"vm.mp_loaded_modules_dict", s.vm_mp_loaded_modules_dict},
        {"thread.stack_top", s.thread_stack_top},
        {"thread.pystack_start", s.thread_pystack_start},
        {"thread.pystack_cur", s.thread_pystack_cur}};
    for (const auto& [name, offset] : fields)
      if (offset && *offset + t.word_size > s.size)
        return Error{source, 0, 0,
                     fmt::format("mp_state_ctx.{} at offset {} lies outside the struct's {} bytes",
                                 name, *offset, s.size)};
  }
  return true;
}

}  // namespace mpheap::target
