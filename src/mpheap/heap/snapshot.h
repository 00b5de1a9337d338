// One decoded heap snapshot: every area's allocation table, the allocations with the type of
// their object, free runs and the totals MicroPython's gc_info() computes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mpheap/io/memory_image.h"
#include "mpheap/target/layout_heuristics.h"
#include "mpheap/target/target.h"
#include "mpheap/util/error.h"

namespace mpheap::heap {

enum class BlockKind : std::uint8_t { free = 0, head = 1, tail = 2, mark = 3 };

struct HeapObject {
  std::uint32_t area = 0;
  std::uint64_t block = 0;                    // first block within its area
  std::uint64_t blocks = 0;                   // length in blocks
  std::uint64_t address = 0;                  // run-time address of the first byte
  std::optional<std::uint64_t> type_pointer;  // first word, when captured
  std::string type;                           // Python type name, or "" when not known
  std::string class_name;  // for a class defined in Python (a type object on the heap)
  std::string function;    // for a bytecode function: its name and where ("f (<stdin>, line 3)")
  bool marked = false;     // the head block carries the GC mark
};

struct AreaSnapshot {
  target::HeapAreaBounds bounds;
  std::vector<BlockKind> kinds;                      // one per block
  std::uint64_t first_object = 0, object_count = 0;  // range in Snapshot::objects
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

// The letter micropython.mem_info(1) prints for a head block of this type ('h' otherwise).
char block_letter(const target::Target& t, const HeapObject& o, std::uint64_t load_bias);

}  // namespace mpheap::heap
