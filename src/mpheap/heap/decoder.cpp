// Snapshot decoding: allocation tables, allocations, object types and gc_info totals.
#include <fmt/format.h>

#include <algorithm>
#include <string_view>

#include "mpheap/heap/snapshot.h"

namespace mpheap::heap {
namespace {

// gc_info() as py/gc.c computes it, area by area (including its quirk: a free run only ends
// at a head block or the end of an area, so runs separated by tails are not merged).
void add_area_totals(const AreaSnapshot& a, std::uint64_t block_size, HeapTotals& t) {
  t.total += a.bounds.pool_end - a.bounds.pool_start;
  std::uint64_t len = 0, len_free = 0;
  const std::size_t n = a.kinds.size();
  for (std::size_t block = 0; block < n; ++block) {
    switch (a.kinds[block]) {
      case BlockKind::free:
        ++t.free;
        ++len_free;
        len = 0;
        break;
      case BlockKind::head:
        ++t.used;
        ++t.heads;
        len = 1;
        break;
      case BlockKind::tail:
        ++t.used;
        ++t.tails;
        ++len;
        break;
      case BlockKind::mark:
        ++t.marks;
        break;
    }
    bool finish = block + 1 == n;
    BlockKind next = finish ? BlockKind::free : a.kinds[block + 1];
    if (finish || next == BlockKind::free || next == BlockKind::head) {
      if (len == 1) ++t.num_1block;
      if (len == 2) ++t.num_2block;
      t.max_block = std::max(t.max_block, len);
      if (finish || next == BlockKind::head) {
        t.max_free = std::max(t.max_free, len_free);
        len_free = 0;
      }
    }
  }
  t.blocks += n;
  (void)block_size;
}

std::string python_type_name(const target::Target& t, std::uint64_t type_address) {
  if (const target::TypeObject* ty = t.type_at(type_address)) return ty->name;
  return {};
}

}  // namespace

char block_letter(const target::Target& t, const HeapObject& o, std::uint64_t load_bias) {
  if (!o.type_pointer) return 'h';
  struct Letter {
    const char* symbol;
    char letter;
  };
  // py/gc.c gc_dump_alloc_table(), MicroPython 1.x and CircuitPython alike.
  static constexpr Letter kLetters[] = {
      {"mp_type_tuple", 'T'},  {"mp_type_list", 'L'},  {"mp_type_dict", 'D'},
      {"mp_type_str", 'S'},    {"mp_type_bytes", 'S'}, {"mp_type_bytearray", 'A'},
      {"mp_type_array", 'A'},  {"mp_type_float", 'F'}, {"mp_type_fun_bc", 'B'},
      {"mp_type_module", 'M'},
  };
  std::uint64_t link = *o.type_pointer - load_bias;
  for (const Letter& l : kLetters) {
    const target::Symbol* s = t.find_symbol(l.symbol);
    if (s != nullptr && s->address == link) return l.letter;
  }
  // No symbol (a target found in a firmware image, or a target.json without symbols): the type
  // object's own symbol guess, else its Python name when no other type shares it. Shared names
  // are not enough: tuple and attrtuple are both "tuple", and every function type is
  // "function" (1.9.2 has eight); only mp_type_fun_bc is 'B', so a "function" type counts only
  // when the target names it fun_bc (the image finder does, from the heap objects that hold a
  // globals dict as bytecode functions do).
  const target::TypeObject* ty = t.type_at(link);
  if (ty == nullptr || ty->address != link) return 'h';
  for (const Letter& l : kLetters)
    if (ty->symbol == l.symbol) return l.letter;
  if (!ty->symbol.empty() || ty->name == "function") return 'h';
  if (std::count_if(t.types.begin(), t.types.end(),
                    [&](const target::TypeObject& other) { return other.name == ty->name; }) != 1)
    return 'h';
  for (const Letter& l : kLetters)
    if (std::string_view(l.symbol).substr(8) == ty->name) return l.letter;
  return 'h';
}

Expected<Snapshot> decode_snapshot(const target::Target& t, const io::MemoryImage& memory,
                                   std::uint64_t load_bias) {
  Snapshot snap;
  snap.load_bias = load_bias;
  if (!t.mp_state_ctx || !t.state.mem_area) {
    return Error{
        "target", 0, 0,
        "the target does not say where the heap area record is (mp_state_ctx.mem.area): "
        "give an ELF with DWARF, or --map/--nm with a RAM dump that contains mp_state_ctx"};
  }
  std::vector<target::HeapAreaBounds> areas = target::read_heap_areas(t, memory, load_bias);
  if (areas.empty()) {
    return Error{"dumps", 0, 0,
                 fmt::format("the heap area record at 0x{:x} (mp_state_ctx.mem.area) is not in the "
                             "dumps: add a dump that covers mp_state_ctx",
                             *t.mp_state_ctx + load_bias + *t.state.mem_area)};
  }
  const std::uint64_t bs = t.block_size;
  for (std::size_t ai = 0; ai < areas.size(); ++ai) {
    const target::HeapAreaBounds& b = areas[ai];
    AreaSnapshot a;
    a.bounds = b;
    std::uint64_t blocks = b.blocks();
    if (b.pool_end < b.pool_start || (b.pool_end - b.pool_start) / bs < blocks ||
        blocks > (1ULL << 32)) {
      snap.diagnostics.push_back(
          {b.record, fmt::format("area {}: the pool 0x{:x}..0x{:x} cannot hold the {} "
                                 "blocks its allocation table describes; area skipped",
                                 ai + 1, b.pool_start, b.pool_end, blocks)});
      continue;
    }
    auto table = memory.bytes(b.alloc_table, b.alloc_table_bytes);
    if (!table) {
      snap.diagnostics.push_back(
          {b.alloc_table, fmt::format("area {}: allocation table 0x{:x} ({} bytes) is "
                                      "not captured; area skipped",
                                      ai + 1, b.alloc_table, b.alloc_table_bytes)});
      continue;
    }
    a.kinds.resize(blocks);
    for (std::uint64_t i = 0; i < blocks; ++i) {
      auto byte = static_cast<std::uint8_t>((*table)[i / 4]);
      a.kinds[i] = static_cast<BlockKind>((byte >> ((i % 4) * 2)) & 3);
    }
    a.first_object = snap.objects.size();
    for (std::uint64_t i = 0; i < blocks; ++i) {
      if (a.kinds[i] != BlockKind::head && a.kinds[i] != BlockKind::mark) {
        if (a.kinds[i] == BlockKind::tail && (i == 0 || a.kinds[i - 1] == BlockKind::free)) {
          snap.diagnostics.push_back(
              {b.pool_start + i * bs,
               fmt::format("area {} block {}: a tail block with no head before it", ai + 1, i)});
        }
        continue;
      }
      HeapObject o;
      o.area = static_cast<std::uint32_t>(ai);
      o.block = i;
      o.marked = a.kinds[i] == BlockKind::mark;
      std::uint64_t j = i + 1;
      while (j < blocks && a.kinds[j] == BlockKind::tail) ++j;
      o.blocks = j - i;
      o.address = b.pool_start + i * bs;
      o.type_pointer = memory.read(o.address, t.word_size, t.little_endian);
      if (o.type_pointer && *o.type_pointer >= load_bias)
        o.type = python_type_name(t, *o.type_pointer - load_bias);
      snap.objects.push_back(std::move(o));
    }
    a.object_count = snap.objects.size() - a.first_object;
    std::uint64_t headless = 0, first_headless = 0;
    for (std::uint64_t k = a.first_object; k < snap.objects.size(); ++k) {
      if (snap.objects[k].type_pointer) continue;
      if (headless++ == 0) first_headless = snap.objects[k].address;
    }
    if (headless > 0) {
      snap.diagnostics.push_back(
          {first_headless,
           fmt::format("area {}: {} allocations lie in memory the dumps do not cover (from "
                       "0x{:x}): their contents are not captured",
                       ai + 1, headless, first_headless)});
    }
    add_area_totals(a, bs, snap.totals);
    snap.areas.push_back(std::move(a));
  }
  snap.totals.used *= bs;
  snap.totals.free *= bs;
  if (snap.areas.empty()) {
    return Error{"dumps", 0, 0,
                 snap.diagnostics.empty() ? std::string("no heap area could be decoded")
                                          : snap.diagnostics.front().what};
  }
  return snap;
}

}  // namespace mpheap::heap
