// One decoded heap snapshot: every area's allocation table and one-bit-per-block tables
// (finaliser, weakref, selective collect), the allocations with the type of their object and
// their table bits, free runs and the totals MicroPython's gc_info() computes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

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

struct HeapObject {
  std::uint32_t area = 0;
  std::uint64_t block = 0;                    // first block within its area
  std::uint64_t blocks = 0;                   // length in blocks
  std::uint64_t address = 0;                  // run-time address of the first byte
  std::optional<std::uint64_t> type_pointer;  // first word, when captured
  std::string type;                           // Python type name, or "" when not known
  std::string class_name;  // for a class defined in Python (a type object on the heap)
  std::string function;    // for a bytecode function: its name and where ("f (<stdin>, line 3)")
  ObjectKind kind = ObjectKind::unknown;  // what it is, for code to branch on
  bool marked = false;                    // the head block carries the GC mark
  // The head block's bits in the area's tables (TableBit::absent when the build has none):
  // a finaliser to run before it is freed (MICROPY_ENABLE_FINALISER: files, sockets, instances
  // with __del__), a weak reference to it (MicroPython's MICROPY_PY_WEAKREF), and whether the
  // collector scans its contents for pointers (CircuitPython's MICROPY_ENABLE_SELECTIVE_COLLECT:
  // clear for buffers allocated with m_malloc_without_collect, such as bytearray data).
  TableBit has_finaliser = TableBit::absent;
  TableBit has_weakref = TableBit::absent;
  TableBit collect = TableBit::absent;
};

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
