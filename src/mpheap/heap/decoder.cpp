// Snapshot decoding: allocation tables, the finaliser/weakref/selective-collect tables,
// allocations, object types and gc_info totals.
#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <string_view>

#include "mpheap/heap/snapshot.h"
#include "mpheap/io/load_word.h"

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

// One of the tables py/gc.c keeps beside the allocation table, one bit per block. Which ones a
// build has comes from the target description (the area record's fields), never from a guess.
struct TableSpec {
  const char* name;                             // "finaliser"
  const target::Offset& field;                  // its pointer's offset in the area record
  const std::optional<std::uint64_t>& address;  // that pointer, as read from the record
  std::optional<BlockTable> AreaSnapshot::*table;
  TableBit HeapObject::*bit;
  // py/gc.c clears the bit when it frees a block (gc_free, and the sweep's finaliser pass for
  // unmarked heads); CircuitPython leaves stale collect bits on free blocks.
  bool cleared_on_free;
};

struct Span {
  std::uint64_t start = 0, end = 0;
  std::string what;
};

// Reads one table of area `ai`. Bytes the dumps do not cover leave their blocks' bits unknown;
// an address that is not captured, or whose table would overlap the allocation table, the pool
// or an earlier table, leaves every bit unknown. Each is reported; the rest still decodes.
BlockTable read_block_table(const TableSpec& spec, std::size_t ai, const target::HeapAreaBounds& b,
                            const io::MemoryImage& memory, std::vector<Span>& taken,
                            std::vector<Diagnostic>& diags) {
  const std::uint64_t blocks = b.blocks();
  BlockTable table;
  table.address = spec.address;
  table.bits.assign(blocks, TableBit::unknown);
  if (!spec.address) {
    diags.push_back({b.record, fmt::format("area {}: the {} table's address in the area record "
                                           "0x{:x} is not captured: its bits are unknown",
                                           ai + 1, spec.name, b.record)});
    return table;
  }
  const std::uint64_t start = *spec.address, bytes = (blocks + 7) / 8;
  if (start > std::numeric_limits<std::uint64_t>::max() - bytes) {
    diags.push_back({start, fmt::format("area {}: the {} table 0x{:x} ({} bytes) runs past the "
                                        "end of the address space: its bits are unknown",
                                        ai + 1, spec.name, start, bytes)});
    table.address.reset();
    return table;
  }
  const std::uint64_t end = start + bytes;
  for (const Span& other : taken) {
    if (bytes == 0 || end <= other.start || start >= other.end) continue;
    diags.push_back(
        {start, fmt::format("area {}: the {} table 0x{:x}..0x{:x} overlaps the {} "
                            "0x{:x}..0x{:x}: its bits are unknown",
                            ai + 1, spec.name, start, end, other.what, other.start, other.end)});
    table.address.reset();
    return table;
  }
  taken.push_back({start, end, fmt::format("{} table", spec.name)});
  // Byte i of the table (one byte of the dump) gives the bits of blocks 8i .. 8i+7.
  auto decode_byte = [&](std::uint64_t i, std::string_view byte) {
    for (std::uint64_t k = 0; k < 8 && i * 8 + k < blocks; ++k)
      table.bits[i * 8 + k] = target::block_table_bit(byte, k) ? TableBit::set : TableBit::clear;
  };
  if (auto all = memory.bytes(start, bytes)) {
    for (std::uint64_t i = 0; i < bytes; ++i) decode_byte(i, all->substr(i, 1));
    return table;
  }
  std::uint64_t missing = 0, first_missing = 0;
  for (std::uint64_t i = 0; i < bytes; ++i) {
    if (auto byte = memory.bytes(start + i, 1)) {
      decode_byte(i, *byte);
    } else if (missing++ == 0) {
      first_missing = start + i;
    }
  }
  diags.push_back(
      {first_missing, fmt::format("area {}: {} of the {} table's {} bytes (0x{:x}..0x{:x}) are not "
                                  "captured, from 0x{:x}: those blocks' bits are unknown",
                                  ai + 1, missing, spec.name, bytes, start, end, first_missing)});
  return table;
}

// A bit that py/gc.c clears on free but that sits on a block no allocation starts at.
void check_cleared_on_free(const TableSpec& spec, std::size_t ai, const AreaSnapshot& a,
                           std::vector<Diagnostic>& diags) {
  const BlockTable& table = *(a.*spec.table);
  std::uint64_t stray = 0, first = 0;
  for (std::uint64_t i = 0; i < table.bits.size() && i < a.kinds.size(); ++i) {
    if (table.bits[i] != TableBit::set) continue;
    if (a.kinds[i] == BlockKind::head || a.kinds[i] == BlockKind::mark) continue;
    if (stray++ == 0) first = i;
  }
  if (stray == 0) return;
  diags.push_back(
      {*table.address + first / 8,
       fmt::format("area {}: {} blocks that begin no allocation have their {} bit set (first: "
                   "block {}, {}); py/gc.c clears it when it frees a block, so the tables "
                   "disagree: damaged, or dumped while the collector was running",
                   ai + 1, stray, spec.name, first,
                   a.kinds[first] == BlockKind::free ? "free" : "a tail")});
}

}  // namespace

char block_letter(const target::Target& t, const HeapObject& o, std::uint64_t load_bias) {
  if (!o.has_type_pointer) return 'h';
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
  std::uint64_t link = o.first_word - load_bias;
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
  if (areas.size() > 0xffff)  // HeapObject::area is 16 bits (read_heap_areas follows 64)
    return Error{"dumps", 0, 0, fmt::format("{} heap areas: at most 65,535", areas.size())};
  const std::uint64_t bs = t.block_size;
  for (std::size_t ai = 0; ai < areas.size(); ++ai) {
    const target::HeapAreaBounds& b = areas[ai];
    AreaSnapshot a;
    a.bounds = b;
    std::uint64_t blocks = b.blocks();
    if (b.pool_end < b.pool_start || (b.pool_end - b.pool_start) / bs < blocks ||
        blocks >= (1ULL << 32)) {
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
    for (std::uint64_t i = 0; i < blocks; ++i)
      a.kinds[i] = static_cast<BlockKind>(target::alloc_table_kind(*table, i));
    const TableSpec specs[] = {
        {"finaliser", t.state.area.gc_finaliser_table_start, b.finaliser_table,
         &AreaSnapshot::finaliser_table, &HeapObject::has_finaliser, true},
        {"weakref", t.state.area.gc_weakref_table_start, b.weakref_table,
         &AreaSnapshot::weakref_table, &HeapObject::has_weakref, true},
        {"selective-collect", t.state.area.gc_collect_table_start, b.collect_table,
         &AreaSnapshot::collect_table, &HeapObject::collect, false},
    };
    std::vector<Span> taken{
        {b.alloc_table, b.alloc_table + b.alloc_table_bytes, "allocation table"},
        {b.pool_start, b.pool_end, "pool"}};
    for (const TableSpec& spec : specs) {
      if (!spec.field && !spec.address) continue;
      a.*spec.table = read_block_table(spec, ai, b, memory, taken, snap.diagnostics);
      if (spec.cleared_on_free) check_cleared_on_free(spec, ai, a, snap.diagnostics);
    }
    a.first_object = snap.objects.size();
    snap.objects.reserve(snap.objects.size() + static_cast<std::size_t>(std::count_if(
                                                   a.kinds.begin(), a.kinds.end(), [](BlockKind k) {
                                                     return k == BlockKind::head ||
                                                            k == BlockKind::mark;
                                                   })));
    // The pool as captured in one piece (usually all of it): type words are read from it
    // directly, the rest through the image. Consecutive objects mostly share a type: the last
    // lookup is kept.
    const std::string_view pool = memory.captured_from(b.pool_start);
    std::optional<std::uint64_t> last_pointer;
    const target::TypeObject* last_type = nullptr;
    ObjectKind last_kind = ObjectKind::unknown;
    NameIndex last_name = NameIndex::none;
    // Each type object's name, interned once (indexed like t.types).
    std::vector<std::optional<NameIndex>> type_names(t.types.size());
    for (std::uint64_t i = 0; i < blocks; ++i) {
      if (a.kinds[i] != BlockKind::head && a.kinds[i] != BlockKind::mark) {
        if (a.kinds[i] == BlockKind::tail && (i == 0 || a.kinds[i - 1] == BlockKind::free)) {
          snap.diagnostics.push_back(
              {b.pool_start + i * bs,
               fmt::format("area {} block {}: a tail block with no head before it", ai + 1, i)});
        }
        continue;
      }
      HeapObject& o = snap.objects.emplace_back();
      o.area = static_cast<std::uint16_t>(ai);
      o.block = static_cast<std::uint32_t>(i);
      o.marked = a.kinds[i] == BlockKind::mark;
      std::uint64_t j = i + 1;
      while (j < blocks && a.kinds[j] == BlockKind::tail) ++j;
      o.blocks = static_cast<std::uint32_t>(j - i);
      o.address = b.pool_start + i * bs;
      for (const TableSpec& spec : specs)
        if (const auto& bits = a.*spec.table) o.*spec.bit = bits->at(i);
      const std::uint64_t offset = i * bs;
      o.set_type_pointer(offset <= pool.size() && pool.size() - offset >= t.word_size
                             ? io::load_word(pool.data() + offset, t.word_size, t.little_endian)
                             : memory.read(o.address, t.word_size, t.little_endian));
      if (o.has_type_pointer && o.first_word >= load_bias) {
        if (o.first_word != last_pointer) {
          last_pointer = o.first_word;
          last_type = t.type_at(o.first_word - load_bias);
          if (last_type != nullptr) {
            last_kind = kind_of_type(last_type->symbol, last_type->name);
            auto& name = type_names[static_cast<std::size_t>(last_type - t.types.data())];
            if (!name) name = snap.names.intern(last_type->name);
            last_name = *name;
          }
        }
        if (last_type != nullptr) {
          o.type = last_name;
          o.kind = last_kind;
        }
      }
    }
    a.object_count = snap.objects.size() - a.first_object;
    std::uint64_t headless = 0, first_headless = 0;
    for (std::uint64_t k = a.first_object; k < snap.objects.size(); ++k) {
      if (snap.objects[k].has_type_pointer) continue;
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
  if (t.gc_split_heap_auto) snap.totals.max_new_split = t.gc_max_new_split;
  if (snap.areas.empty()) {
    return Error{"dumps", 0, 0,
                 snap.diagnostics.empty() ? std::string("no heap area could be decoded")
                                          : snap.diagnostics.front().what};
  }
  return snap;
}

}  // namespace mpheap::heap
