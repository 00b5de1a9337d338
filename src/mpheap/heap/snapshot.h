// One decoded heap snapshot: every area's allocation table and one-bit-per-block tables
// (finaliser, weakref, selective collect), the allocations with the type of their object and
// their table bits, free runs and the totals MicroPython's gc_info() computes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/heap/name_table.h"
#include "mpheap/heap/object_kind.h"
#include "mpheap/io/memory_image.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::heap {

enum class BlockKind : std::uint8_t { free = 0, head = 1, tail = 2, mark = 3 };

// A block's bit in one of the one-bit-per-block tables py/gc.c keeps beside the allocation
// table. "absent" (the build has no such table) and "unknown" (it has one, but the byte is not
// in the dumps or the table's address is unusable) are not "clear".
enum class TableBit : std::uint8_t { absent = 0, unknown = 1, clear = 2, set = 3 };

// One such table of one area: block b is bit b%8 of byte b/8 (FTB_GET in py/gc.c).
struct BlockTable {
  std::optional<std::uint64_t> address;  // run-time address of its first byte, when known
  std::vector<TableBit> bits;            // one per block: unknown, clear or set
  [[nodiscard]] TableBit at(std::uint64_t block) const {
    return block < bits.size() ? bits[block] : TableBit::unknown;
  }
};

// One allocation. Kept small (40 bytes): a large heap has hundreds of thousands of them. Names
// are indices into the Snapshot's NameTable (read them with Snapshot::type_name and friends),
// block numbers fit 32 bits (an area has fewer than 2^32 blocks) and area numbers 16.
struct HeapObject {
  std::uint64_t address = 0;         // run-time address of the first byte
  std::uint64_t first_word = 0;      // the type pointer, when has_type_pointer
  std::uint32_t block = 0;           // first block within its area
  std::uint32_t blocks = 0;          // length in blocks
  NameIndex type = NameIndex::none;  // Python type name, or "" when not known
  // A class's name (a type object on the heap: a class defined in Python), or a bytecode
  // function's name and where ("f (<stdin>, line 3)"): never both. Set with set_class_name
  // or set_function; read with Snapshot::class_name and Snapshot::function_name.
  NameIndex name = NameIndex::none;
  std::uint16_t area = 0;
  ObjectKind kind = ObjectKind::unknown;  // what it is, for code to branch on
  bool marked : 1 = false;                // the head block carries the GC mark
  bool has_type_pointer : 1 = false;      // the first word was captured
  bool name_is_function : 1 = false;      // `name` is a function's description
  // The head block's bits in the area's tables (TableBit::absent when the build has none):
  // a finaliser to run before it is freed (MICROPY_ENABLE_FINALISER: files, sockets, instances
  // with __del__), a weak reference to it (MicroPython's MICROPY_PY_WEAKREF), and whether the
  // collector scans its contents for pointers (CircuitPython's MICROPY_ENABLE_SELECTIVE_COLLECT:
  // clear for buffers allocated with m_malloc_without_collect, such as bytearray data).
  TableBit has_finaliser = TableBit::absent;
  TableBit has_weakref = TableBit::absent;
  TableBit collect = TableBit::absent;

  // The first word, when captured.
  [[nodiscard]] std::optional<std::uint64_t> type_pointer() const {
    return has_type_pointer ? std::optional<std::uint64_t>(first_word) : std::nullopt;
  }
  void set_type_pointer(std::optional<std::uint64_t> word) {
    has_type_pointer = word.has_value();
    first_word = word.value_or(0);
  }
  void set_class_name(NameIndex n) {
    name = n;
    name_is_function = false;
  }
  void set_function(NameIndex n) {
    name = n;
    name_is_function = true;
  }
  [[nodiscard]] NameIndex class_name() const { return name_is_function ? NameIndex::none : name; }
  [[nodiscard]] NameIndex function() const { return name_is_function ? name : NameIndex::none; }
};
static_assert(sizeof(HeapObject) <= 40, "HeapObject is per allocation: keep it small");

struct AreaSnapshot {
  target::HeapAreaBounds bounds;
  std::vector<BlockKind> kinds;                      // one per block
  std::uint64_t first_object = 0, object_count = 0;  // range in Snapshot::objects
  // The tables the target description says the build has (nullopt: no such table).
  std::optional<BlockTable> finaliser_table, weakref_table, collect_table;
};

// gc_info(): bytes for total/used/free, blocks for the others.
struct HeapTotals {
  std::uint64_t total = 0, used = 0, free = 0;
  std::uint64_t num_1block = 0, num_2block = 0, max_block = 0, max_free = 0;
  std::uint64_t heads = 0, tails = 0, marks = 0, blocks = 0;
  // MICROPY_GC_SPLIT_HEAP_AUTO: what the system could still give as a new area (the port's
  // gc_get_max_new_split(), from target::Target when known), printed on the GC: line.
  std::optional<std::uint64_t> max_new_split;
};

struct Diagnostic {
  std::uint64_t address = 0;
  std::string what;
};

struct Snapshot {
  std::uint64_t load_bias = 0;
  std::vector<AreaSnapshot> areas;
  std::vector<HeapObject> objects;  // in address order within each area, areas in chain order
  HeapTotals totals;
  std::vector<Diagnostic> diagnostics;  // problems found; the rest still decoded
  NameTable names;                      // the objects' type, class and function names

  [[nodiscard]] const std::string& type_name(const HeapObject& o) const { return names[o.type]; }
  [[nodiscard]] const std::string& class_name(const HeapObject& o) const {
    return names[o.class_name()];
  }
  [[nodiscard]] const std::string& function_name(const HeapObject& o) const {
    return names[o.function()];
  }
};

// Decodes the areas the target describes from the memory image. Fails only when no area can
// be found at all; damaged parts are reported in Snapshot::diagnostics.
Expected<Snapshot> decode_snapshot(const target::Target& t, const io::MemoryImage& memory,
                                   std::uint64_t load_bias);

// Whether the collector scans this object's contents: false only when the collect table says
// so (unknown or absent bits scan, as every MicroPython build does).
[[nodiscard]] inline bool scanned_by_gc(const HeapObject& o) {
  return o.collect != TableBit::clear;
}

// The letter micropython.mem_info(1) prints for a head block of this type ('h' otherwise).
char block_letter(const target::Target& t, const HeapObject& o, std::uint64_t load_bias);

}  // namespace mpheap::heap
